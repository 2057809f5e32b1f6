#!/usr/bin/env bash
# Mutation testing of the money and limit code with Stryker.NET (a local tool pinned in .config/dotnet-tools.json).
# Not part of CI or `dotnet test`: the whole scope takes well over an hour on 2 shared cores. Run it per file or per
# small group, in the background, with `nice`, and not under a shared build lock.
#
#   eng/mutation.sh [core|ef|all] [more dotnet-stryker options]
#
#   eng/mutation.sh core                                    # every money and limit file of src/UsageBilling
#   eng/mutation.sh core --mutate "**/Credits/CreditManager.cs" --mutate "**/Money.cs" -L  # just these files, with a log
#   eng/mutation.sh ef --mutate "**/Stores/EfCoreCreditStore.cs"   # the EF stores: SQLite, and PostgreSQL when
#                                                           # USAGEBILLING_POSTGRES is set (source /tmp/pgenv)
#   eng/mutation-summary.py <test project>/StrykerOutput/<run>/reports/mutation-report.json --survivors
#
# Reports land in <test project>/StrykerOutput/<timestamp>/reports (html and json). Results: eng/mutation-results.md;
# mutants left alive and why: eng/mutation-survivors.md.
#
# What each stryker-config.json leaves out, and why (none of it hides a mutant of money logic):
#  - additional-timeout 20000 (ms, added to Stryker's timeout of each test session, which it derives from the first
#    test run): on 2 shared cores a session of the integration tests can take twice its first run's time without any
#    mutant hanging it; 20 s more keeps such sessions from being counted as timeouts (which score as killed).
#  - ignore-methods ConfigureAwait: flipping ConfigureAwait(false) changes no result (no synchronization context).
#  - ignore-methods Log.* (core): the [LoggerMessage] calls only write logs.
#  - test-case-filter (core): the test classes of other features (auth, admin HTTP shapes, OpenAPI, generated clients,
#    analytics, the usage log, webhooks, tokenizer, LiteLLM catalogue, health checks, sample start-up) are not run
#    against mutants. They reach money code only in passing, and cost two thirds of the suite's time. Running fewer
#    tests can only turn a killed mutant into a survivor, never hide one, so the score is if anything understated.
#  - `--mutate` on the command line replaces the config's list. Stryker 5.1 still mutates and compiles the whole
#    project and drops mutants outside the list afterwards: the "compile errors" it prints are project-wide (about
#    1,000, of which about 270 in the money files), and the compile rounds take 1-2 minutes, not the bulk of a run.
#
# Work that runs on a background thread (PendingCompletions' retry loop, the group writers' later batches) is credited
# by Stryker's per-test coverage to whichever test happens to be running, so a mutant there can be reported Survived
# although a test kills it (checked by hand: PendingCompletions' `Max` and GroupWriter's `onCaller || …`). Measure
# those files with "coverage-analysis": "all" in the config (every test runs against every covered mutant; with the
# unit tests only, that is about 15 s a mutant) — eng/mutation-results.md says which runs did.
#
# Compile errors are Stryker 5.1 failing on C# it duplicates, not on our mutants: pattern variables (`is { } x`,
# `out var x`) copied into both arms of its mutant switch ("already defined", "unassigned"), object initialisers of
# records with `required` members emptied, `.Count` properties taken for LINQ calls. Those mutants are not counted in
# the score. When Stryker cannot tell which mutant broke the build it drops a whole method ("Safe Mode"); that happens
# to CallCompletions.LandedAsync (see eng/mutation-survivors.md). A run stopped before its end writes no report:
# eng/mutation-log-verdicts.py reads the verdicts it logged.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suite="${1:-core}"
[[ $# -gt 0 ]] && shift

cd "$root"
dotnet tool restore >/dev/null

# Read by the test projects: their tests run one at a time (eng/xunit.runner.mutation.json), or Stryker's per-test
# coverage credits a mutant to the wrong tests and reports mutants that the suite kills as survivors.
export UsageBillingMutationRun=true

run() {
  local project="$1"
  shift
  echo "== Stryker: $project"
  (cd "$root/$project" && dotnet tool run dotnet-stryker --config-file stryker-config.json "$@")
}

case "$suite" in
  core) run tests/UsageBilling.Tests "$@" ;;
  ef) run tests/UsageBilling.EfCore.Tests "$@" ;;
  all)
    run tests/UsageBilling.Tests "$@"
    run tests/UsageBilling.EfCore.Tests "$@"
    ;;
  *)
    echo "usage: eng/mutation.sh [core|ef|all] [dotnet-stryker options]" >&2
    exit 2
    ;;
esac
