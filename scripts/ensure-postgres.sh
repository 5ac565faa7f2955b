#!/usr/bin/env bash
# Make sure the PostgreSQL that the tests use answers. Starts the local cluster when it is
# installed but stopped; in CI (CI=true, as root) installs it from Debian's packages first.
# Otherwise it fails and says what to set.
set -euo pipefail

url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/restaurant}"
hostport="${url#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5432

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$host" -p "$port"
  else
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
  fi
}

ensure_database() {
  # The suite creates test_<name> itself; <name> should exist too (makemigrations --check
  # reads its migration history). Create it when missing; never fail the run over it.
  command -v psql >/dev/null 2>&1 || return 0
  local userinfo="${url#*://}"; userinfo="${userinfo%@*}"
  local user="${userinfo%%:*}" name="${url##*/}"; name="${name%%\?*}"
  [ -n "$name" ] || return 0
  if [[ "$userinfo" == *:* ]]; then export PGPASSWORD="${userinfo#*:}"; fi
  if ! psql -h "$host" -p "$port" -U "$user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" 2>/dev/null | grep -q 1; then
    psql -h "$host" -p "$port" -U "$user" -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null 2>&1 \
      && echo "Created database $name."
  fi
  return 0
}

if answers; then ensure_database; exit 0; fi

local_host=false
case "$host" in 127.0.0.1|localhost|::1) local_host=true ;; esac

if $local_host && ! command -v pg_ctlcluster >/dev/null 2>&1 && [ "${CI:-}" = "true" ] && [ "$(id -u)" = 0 ]; then
  echo "PostgreSQL is not installed; installing Debian's postgresql package (CI)."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  sed -i 's/^\(local\|host\)\(.*\)\(peer\|scram-sha-256\|md5\)$/\1\2trust/' "/etc/postgresql/$version/main/pg_hba.conf"
fi

if $local_host && command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    echo "Starting the local PostgreSQL $version cluster..."
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do answers && { ensure_database; exit 0; }; sleep 1; done
fi

cat >&2 <<MSG
PostgreSQL does not answer at $host:$port, and no local cluster could be started.
The tests run on PostgreSQL. Install and start it, or point DATABASE_URL at one, e.g.
  DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/restaurant make test
(the user needs CREATEDB: the suite creates and drops test_<name>).
MSG
exit 1
