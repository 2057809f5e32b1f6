# Starts the local PostgreSQL server for the UsageBilling.EfCore tests and exports USAGEBILLING_POSTGRES.
#
# Source it from .ci/run (as root, on Debian):   . .ci/postgres.sh || exit 1
# It installs the server only when it is missing, starts cluster $PG_VERSION/main (default 15), waits until it
# accepts connections, and creates the role and database idempotently (safe to run again). The role may create
# databases: the tests make a fresh one per test class and drop it afterwards. Without USAGEBILLING_POSTGRES the
# PostgreSQL tests are skipped, not failed, so a run that forgets this script still says so (as skipped tests).

usagebilling_postgres_start() {
    local version="${PG_VERSION:-15}" port="${PG_PORT:-5432}"
    local role=usagebilling password=usagebilling database=usagebilling_tests

    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d "/etc/postgresql/$version/main" ]; then
        echo "postgres.sh: installing postgresql-$version" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$version" >/dev/null || return 1
    fi

    if [ ! -d "/etc/postgresql/$version/main" ]; then
        pg_createcluster "$version" main >/dev/null || return 1
    fi

    if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
        pg_ctlcluster "$version" main start || return 1
    fi

    local waited=0
    until pg_isready -q -h 127.0.0.1 -p "$port"; do
        waited=$((waited + 1))
        if [ "$waited" -ge 60 ]; then
            echo "postgres.sh: PostgreSQL $version did not accept connections on port $port within 30 s" >&2
            return 1
        fi
        sleep 0.5
    done

    # psql as the postgres superuser over the local socket; cd / so that it does not complain about root's home.
    local psql=(runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA)
    (cd / && "${psql[@]}" -c "DO \$\$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
                CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password';
            ELSE
                ALTER ROLE $role LOGIN CREATEDB PASSWORD '$password';
            END IF;
        END \$\$;") || return 1
    if [ "$(cd / && "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != "1" ]; then
        (cd / && "${psql[@]}" -c "CREATE DATABASE $database OWNER $role") || return 1
    fi

    export USAGEBILLING_POSTGRES="Host=127.0.0.1;Port=$port;Username=$role;Password=$password;Database=$database"
    echo "postgres.sh: PostgreSQL $version is up; USAGEBILLING_POSTGRES is set" >&2
}

usagebilling_postgres_start
