#!/usr/bin/env python3
"""Reads the verdicts Stryker.NET 5.1 logged per test session (StrykerOutput/<run>/logs/log-*.txt, DBG level) when a run
was stopped before it wrote its report. Prints, per file of the EF scope below, killed / survived / timeout (sessions
Stryker retried after its "computer slept" heuristic) and the mutants not covered, with the original and mutated code.

    eng/mutation-log-verdicts.py <log file> [file ending ...]

Only a stop-gap: the report of a finished run is what counts (eng/mutation-summary.py).
"""
import re, sys, collections
log = sys.argv[1]
files = {}; info = {}
cur = None
sessions = []
pending_testing = None
# The files whose verdicts are printed: the arguments after the log (path endings), or the EF credit and group files.
scope = tuple(sys.argv[2:]) or ('Stores/EfCoreCreditStore.cs', 'Stores/AdmissionGroup.cs', 'Stores/GroupStatements.cs')
nocov = set()
slept = False
for line in open(log, encoding='utf-8', errors='replace'):
    m = re.search(r'Mutating "([^"]+)"', line)
    if m:
        cur = m.group(1); continue
    m = re.search(r'Mutant (\d+) created "(.*)" -> "(.*)" using "Stryker\.Core\.Mutators\.(\w+)"', line)
    if m:
        i = int(m.group(1)); files[i] = cur; info[i] = (m.group(2), m.group(3), m.group(4)); continue
    m = re.search(r'Mutant (\d+) is not covered by any test', line)
    if m:
        nocov.add(int(m.group(1))); continue
    if 'the computer slept during the testing' in line:
        slept = True; continue
    m = re.search(r'Test run for "([^"]*)" is "(\w+)"', line)
    if m:
        ids = [int(x.split(':')[0]) for x in m.group(1).split(', ')]
        sessions.append((ids, 'timeout' if slept else m.group(2)))
        slept = False
status = {}
last_index = {}
for n, (ids, res) in enumerate(sessions):
    for i in ids:
        last_index[i] = n
for n, (ids, res) in enumerate(sessions):
    for i in ids:
        if last_index[i] != n: continue
        if res == 'success': status[i] = 'Survived'
        elif res == 'failed':
            if len(ids) == 1 or n < len(sessions) - 1: status[i] = 'Killed'
            else: status[i] = 'Pending'
        else: status[i] = 'Timeout'
byfile = collections.defaultdict(collections.Counter)
surv = []
for i, st in status.items():
    f = files.get(i, '?')
    if not f.endswith(scope): continue
    byfile[f.split('/')[-1]][st] += 1
    if st != 'Killed': surv.append((f.split('/')[-1], i, st, info[i]))
for f in sorted(set(files[i].split('/')[-1] for i in nocov if files.get(i,'').endswith(scope))):
    byfile[f]['NoCoverage(all, incl. ignored)'] = sum(1 for i in nocov if files.get(i,'').endswith(f))
for f, c in sorted(byfile.items()): print(f, dict(c))
for s in sorted(surv): print(s[0], s[1], s[2], s[3][2], repr(s[3][0])[:100], '->', repr(s[3][1])[:80])
# in-scope mutants that will be tested (covered) but have no verdict yet
tested_against = set()
for line in open(log, encoding='utf-8', errors='replace'):
    m = re.search(r'Mutant (\d+) will be tested against', line)
    if m: tested_against.add(int(m.group(1)))
todo = collections.Counter()
for i in tested_against:
    f = files.get(i, '')
    if f.endswith(scope) and i not in status:
        todo[f.split('/')[-1]] += 1
print('covered, no verdict yet (incl. mutants Stryker will drop as compile errors/ignored):', dict(todo))
print('--- not covered, in scope:')
for i in sorted(nocov):
    f = files.get(i, '')
    if f.endswith(scope):
        print(f.split('/')[-1], i, info[i][2], repr(info[i][0])[:110], '->', repr(info[i][1])[:60])
