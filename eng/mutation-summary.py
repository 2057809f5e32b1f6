#!/usr/bin/env python3
"""Summarises a Stryker.NET JSON report: per mutated file, the mutants by status, the score, and the survivors.

    eng/mutation-summary.py <path to mutation-report.json> [--survivors] [--only GLOB]

Score = (killed + timeout) / (killed + timeout + survived + no coverage), as Stryker computes it; compile errors and
ignored mutants are not counted. Files with no tested mutant (outside the run's --mutate) are left out.
"""
import fnmatch
import json
import sys


def main() -> int:
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0]
    survivors = "--survivors" in args
    only = args[args.index("--only") + 1] if "--only" in args else None
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    rows = []
    totals = {"Killed": 0, "Survived": 0, "Timeout": 0, "NoCoverage": 0, "CompileError": 0}
    for name, file in sorted(report["files"].items()):
        if only and not fnmatch.fnmatch(name, only):
            continue
        counts = {k: 0 for k in totals}
        for m in file["mutants"]:
            if m["status"] in counts:
                counts[m["status"]] += 1
        if counts["Killed"] + counts["Survived"] + counts["Timeout"] + counts["NoCoverage"] == 0:
            continue
        for k in totals:
            totals[k] += counts[k]
        rows.append((name, counts))
        if survivors:
            lines = file["source"].splitlines()
            for m in sorted(file["mutants"], key=lambda m: m["location"]["start"]["line"]):
                if m["status"] in ("Survived", "NoCoverage"):
                    line = m["location"]["start"]["line"]
                    src = lines[line - 1].strip() if line - 1 < len(lines) else ""
                    print(f"  {m['status']:10} {name.split('/src/')[-1]}:{line} [{m['mutatorName']}] {m.get('replacement', '')[:90]!r}  <- {src[:90]}")

    def score(c):
        detected = c["Killed"] + c["Timeout"]
        valid = detected + c["Survived"] + c["NoCoverage"]
        return f"{100 * detected / valid:.1f} %" if valid else "n/a"

    print("| file | killed | survived | timeout | no coverage | compile errors | score |")
    print("|---|---|---|---|---|---|---|")
    for name, c in rows:
        short = name.split("/src/")[-1]
        print(f"| {short} | {c['Killed']} | {c['Survived']} | {c['Timeout']} | {c['NoCoverage']} | {c['CompileError']} | {score(c)} |")
    print(f"| **total** | {totals['Killed']} | {totals['Survived']} | {totals['Timeout']} | {totals['NoCoverage']} | {totals['CompileError']} | **{score(totals)}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
