#!/usr/bin/env bash
# Mutation testing of the money and limit code with Stryker.NET (a local tool pinned in .config/dotnet-tools.json).
# Not part of CI or `dotnet test`: it takes tens of minutes on 2 cores.
#
#   eng/mutation.sh [core|ef|all] [more dotnet-stryker options]
#
#   eng/mutation.sh core                                    # every money and limit file of src/UsageBilling
#   eng/mutation.sh core --mutate "**/Credits/CreditManager.cs" --mutate "**/Money.cs"   # just these files
#   source /tmp/pgenv; eng/mutation.sh ef                   # the EF credit store (SQLite, and PostgreSQL when configured)
#
# What is mutated and what is ignored (ConfigureAwait, log calls) is in each test project's stryker-config.json.
# Reports land in <test project>/StrykerOutput/<timestamp>/reports (html and json); the score is printed at the end.
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
