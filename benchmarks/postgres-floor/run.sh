#!/usr/bin/env bash
# The PostgreSQL floor of the store protocol: how much PostgreSQL CPU a metered call's rows cost when nothing else runs
# (no HTTP, no UsageBilling, tables with their primary keys only), and the ceiling that puts on a metered endpoint's
# throughput as a ratio to a bare endpoint on the same machine. See benchmarks/README.md, "PostgreSQL floor".
#
#   source .ci/postgres.sh   # or export USAGEBILLING_POSTGRES='Host=...;Username=...;Password=...;Database=...'
#   bash benchmarks/postgres-floor/run.sh [seconds per configuration, default 10]
#
# Needs pgbench and psql (Debian: postgresql-client) and a local server (its CPU is read from /proc). BARE_US is the
# CPU a bare endpoint's call costs on this machine, host and load generator together (the load benchmark prints both;
# default 52 µs, this repository's 2-core machine); the ceiling is BARE_US / (BARE_US + PostgreSQL µs per call): the
# ratio to bare a metered call could reach if its host cost nothing more than a bare call's. REPEAT (default 3): how
# many times each configuration is measured; FLOOR_GROUPS (for example "16 32"): only the 64-account, five-window
# configuration, at those group sizes; FLOOR_HOLDS=0: no hold row per call (credit leased to the instance).
set -euo pipefail
seconds="${1:-10}"
warmup=3
bare_us="${BARE_US:-52}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

: "${USAGEBILLING_POSTGRES:?set USAGEBILLING_POSTGRES (source .ci/postgres.sh)}"
value() { tr ';' '\n' <<<"$USAGEBILLING_POSTGRES" | awk -F= -v k="$1" 'tolower($1) == tolower(k) { sub(/^[^=]*=/, ""); print; exit }'; }
export PGHOST="$(value Host)" PGPORT="$(value Port)" PGUSER="$(value Username)" PGPASSWORD="$(value Password)"
export PGPORT="${PGPORT:-5432}" PGOPTIONS="-c client_min_messages=warning"
admin_db="$(value Database)"
db=usagebilling_floor
psql -qX -d "$admin_db" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -qX -d "$admin_db" -c "DROP DATABASE IF EXISTS $db (FORCE)" >/dev/null' EXIT

# CPU ticks (1/100 s) of every postgres process on this machine.
postgres_ticks() {
    local total=0 stat stat_line rest
    for stat in /proc/[0-9]*/stat; do
        { read -r stat_line <"$stat"; } 2>/dev/null || continue
        [[ "$stat_line" == *"(postgres)"* ]] || continue
        rest="${stat_line##*) }"
        set -- $rest
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}
calls() { psql -qXtA -d "$db" -c "SELECT count(*) FROM floor_usage"; }

repeat="${REPEAT:-3}"
printf '| accounts | limit windows | calls per group | calls/s (median of %s) | PostgreSQL CPU µs/call (median; range) | ceiling × bare |\n|--:|--:|--:|--:|--:|--:|\n' "$repeat"
# One measurement: "<calls/s> <PostgreSQL CPU µs per call>".
measure() {
    local accounts="$1" windows="$2" group="$3"
    psql -qX -d "$db" -f "$here/schema.sql" >/dev/null
    pgbench -n -M prepared -c 4 -j 2 -T $((warmup + seconds + 2)) -D r="$RANDOM$RANDOM" -D n=0 -D g="$group" \
        -D accounts="$accounts" -D windows="$windows" -D holds="${FLOOR_HOLDS:-1}" -f "$here/group.sql" "$db" >/tmp/usagebilling-floor.log 2>&1 &
    local bench=$!
    sleep "$warmup"
    local c0 t0 c1 t1
    c0=$(calls); t0=$(postgres_ticks)
    sleep "$seconds"
    c1=$(calls); t1=$(postgres_ticks)
    wait "$bench" || { cat /tmp/usagebilling-floor.log >&2; return 1; }
    awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v s="$seconds" 'BEGIN { printf "%.0f %.0f\n", c / s, t * 10000 / c }'
}
run() {
    local i
    for ((i = 0; i < repeat; i++)); do measure "$@"; done | sort -n -k2 | awk -v a="$1" -v w="$2" -v g="$3" -v n="$repeat" -v bare="$bare_us" '
        { rate[NR] = $1; us[NR] = $2 }
        END {
            m = int((n + 1) / 2)
            printf "| %d | %d | %d | %d | %d (%d–%d) | %.2f |\n", a, w, g, rate[m], us[m], us[1], us[n], bare / (bare + us[m])
        }'
}
for group in ${FLOOR_GROUPS:-16 32 64}; do run 64 5 "$group"; done
[ -n "${FLOOR_GROUPS:-}" ] || for group in 16 32; do run 1 5 "$group"; done
[ -n "${FLOOR_GROUPS:-}" ] || for group in 16 64; do run 64 0 "$group"; done
