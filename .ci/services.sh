#!/usr/bin/env bash
# Installs (when missing) and starts PostgreSQL and MariaDB on 127.0.0.1 with
# the settings the tests expect: PostgreSQL with trust auth for user postgres
# and a database "test"; MariaDB with root and no password, database "test".
# Idempotent: on a machine where both already run it only checks them.
set -euo pipefail

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "$name did not become ready in ${secs}s" >&2
  return 1
}

need_apt=()
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
[ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
wait_for PostgreSQL 30 pg_isready -q -h 127.0.0.1 -p 5432
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  # A fresh install asks for passwords on TCP: trust loopback, as the
  # machines this project runs on do.
  hba=$(su postgres -c "psql -Atc 'show hba_file'")
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  su postgres -c "psql -Atc 'select pg_reload_conf()'" >/dev/null
fi
psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname='test'" | grep -q 1 ||
  psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null

if ! mysqladmin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
wait_for MariaDB 60 mysqladmin -h 127.0.0.1 -uroot ping
if ! mysql -h 127.0.0.1 -uroot -e 'select 1' >/dev/null 2>&1; then
  mysql -uroot -e "ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket" || true
fi
mysql -h 127.0.0.1 -uroot -e 'create database if not exists test'
echo "services: $(psql -h 127.0.0.1 -U postgres -d test -Atc 'show server_version') PostgreSQL, $(mysql -h 127.0.0.1 -uroot -Nse 'select version()') MariaDB"
