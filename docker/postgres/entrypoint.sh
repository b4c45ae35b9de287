#!/bin/sh
# PostgreSQL for the customer store: initialise the cluster on first start, apply init.sql
# (roles, database, grants; idempotent) on a temporary socket-only server, then run the real
# server in the foreground as PID 1. Passwords are read from files (POSTGRES_SECRETS_DIR) by
# psql itself: they never appear on a command line or in the environment.
#
# `postgres-entrypoint bootstrap` runs no server: it applies init.sql to a remote one (the RDS
# instance; the store-bootstrap ECS task, terraform/store.tf) as PGUSER/PGPASSWORD on PGHOST,
# with the two store passwords from STORE_WRITER_PASSWORD and STORE_READER_PASSWORD.
set -eu
CONFIG=/etc/churn-postgres

if [ "${1:-}" = "bootstrap" ]; then
  : "${PGHOST:?bootstrap needs PGHOST}" "${PGUSER:?bootstrap needs PGUSER}"
  : "${STORE_WRITER_PASSWORD:?bootstrap needs STORE_WRITER_PASSWORD}"
  : "${STORE_READER_PASSWORD:?bootstrap needs STORE_READER_PASSWORD}"
  umask 077
  POSTGRES_SECRETS_DIR=$(mktemp -d)
  export POSTGRES_SECRETS_DIR
  trap 'rm -rf "$POSTGRES_SECRETS_DIR"' EXIT
  printf %s "$STORE_WRITER_PASSWORD" >"$POSTGRES_SECRETS_DIR/writer_password"
  printf %s "$STORE_READER_PASSWORD" >"$POSTGRES_SECRETS_DIR/reader_password"
  unset STORE_WRITER_PASSWORD STORE_READER_PASSWORD MLFLOW_DB_PASSWORD
  psql --no-psqlrc --quiet --dbname="${PGDATABASE:-postgres}" --file="$CONFIG/init.sql"
  echo "postgres: roles and database churn_store ready on $PGHOST"
  exit 0
fi

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_SECRETS_DIR:=/run/secrets}"
export PGDATA POSTGRES_SECRETS_DIR
SOCKETS=/run/postgresql
# The init step's temporary server has no TCP listener and its socket elsewhere: the health
# check (pg_isready on $SOCKETS) passes only once the real server runs, after init.sql.
INIT_SOCKETS=/tmp

for name in writer_password reader_password; do
  if [ ! -s "$POSTGRES_SECRETS_DIR/$name" ]; then
    echo "postgres: $POSTGRES_SECRETS_DIR/$name is missing: start the stack with" \
      "\`docker compose up\` (the secrets service generates it)" >&2
    exit 1
  fi
done

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres: initialising a new cluster in $PGDATA"
  # No superuser password: the superuser only logs in through the socket (pg_hba.conf: peer).
  initdb --username=postgres --encoding=UTF8 --no-locale --data-checksums \
    --auth-local=peer --auth-host=scram-sha-256 --no-instructions >/dev/null
fi
major=$(postgres --version | sed -E 's/.* ([0-9]+)\..*/\1/')
if [ "$(cat "$PGDATA/PG_VERSION")" != "$major" ]; then
  echo "postgres: $PGDATA holds a PostgreSQL $(cat "$PGDATA/PG_VERSION") cluster; this server" \
    "is $major. Dump and restore it, or start over with \`docker compose down -v\`." >&2
  exit 1
fi

# The server's settings, the same for the init step and the real server.
set -- -c "hba_file=$CONFIG/pg_hba.conf" -c password_encryption=scram-sha-256 \
  -c log_min_duration_statement=1000 -c max_connections=50 -c shared_buffers=64MB "$@"

pg_ctl --silent --wait --timeout=60 start \
  --options="-c listen_addresses='' -c unix_socket_directories=$INIT_SOCKETS $(printf "%s " "$@")" \
  --log=/tmp/postgres-init.log ||
  { cat /tmp/postgres-init.log >&2; exit 1; }
if ! psql --no-psqlrc --quiet --host="$INIT_SOCKETS" --username=postgres --dbname=postgres \
  --file="$CONFIG/init.sql"; then
  pg_ctl --silent --wait stop -m fast
  exit 1
fi
pg_ctl --silent --wait stop -m fast
echo "postgres: roles and database churn_store ready"

exec postgres -c listen_addresses='*' -c "unix_socket_directories=$SOCKETS" "$@"
