#!/bin/sh
# Entrypoint of the local PostgreSQL and MariaDB images that
# build-images.sh makes from Debian's packages. It speaks the interface of
# the official images, which is what dbtest and Testcontainers' postgres and
# mysql modules use:
#
#   postgres:  POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, PGPORT;
#              arguments "postgres -c name=value ..." go to the server.
#   mariadb:   MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD=yes),
#              MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD, MYSQL_TCP_PORT;
#              arguments that start with "-" go to the server.
#
# The data directory is initialised on first start (it is usually a tmpfs, so
# that is every start). The server then replaces this script as process 1,
# so the stop signal reaches it directly.
set -eu

server=${DBHARNESS_SERVER:?DBHARNESS_SERVER is not set in the image}
case "${1:-}" in
  -*|"") ;;
  postgres|mariadbd|mysqld) shift ;;
  *) exec "$@" ;; # any other command, as the official images allow
esac

case "$server" in
postgres)
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  : "${PGDATA:=/var/lib/postgresql/data}"
  : "${PGPORT:=5432}"
  export PGDATA PGPORT
  mkdir -p "$PGDATA" /run/postgresql
  chown postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
      echo "entrypoint: POSTGRES_PASSWORD is not set" >&2
      exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    setpriv --reuid=postgres --regid=postgres --init-groups \
      "$bin/initdb" --username="$POSTGRES_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
      printf 'CREATE DATABASE "%s"\n' "$POSTGRES_DB" |
        setpriv --reuid=postgres --regid=postgres --init-groups \
          "$bin/postgres" --single -j -D "$PGDATA" postgres >/dev/null
    fi
    echo "entrypoint: initialised $PGDATA for $POSTGRES_USER, database $POSTGRES_DB"
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups \
    "$bin/postgres" -D "$PGDATA" -p "$PGPORT" -c listen_addresses='*' "$@"
  ;;
mariadbd)
  : "${MYSQL_TCP_PORT:=3306}"
  datadir=/var/lib/mysql
  mkdir -p "$datadir" /run/mysqld
  chown mysql:mysql "$datadir" /run/mysqld
  if [ ! -d "$datadir/mysql" ]; then
    if [ -n "${MYSQL_ROOT_PASSWORD:-}" ]; then
      rootpw=$MYSQL_ROOT_PASSWORD
    elif [ "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" = yes ]; then
      rootpw=
    else
      echo "entrypoint: set MYSQL_ROOT_PASSWORD or MYSQL_ALLOW_EMPTY_PASSWORD=yes" >&2
      exit 1
    fi
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
      --auth-root-authentication-method=normal >/dev/null
    # quote makes an SQL string literal of $1.
    quote() {
      printf "'%s'" "$(printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/''/g")"
    }
    {
      # Only root@localhost keeps its name; root@'%' replaces the others
      # (127.0.0.1, ::1, the host name), which would match first.
      echo "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';"
      echo "FLUSH PRIVILEGES;"
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(quote "$rootpw");"
      echo "CREATE USER 'root'@'%' IDENTIFIED BY $(quote "$rootpw");"
      echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
      fi
      if [ -n "${MYSQL_USER:-}" ] && [ "$MYSQL_USER" != root ]; then
        echo "CREATE USER $(quote "$MYSQL_USER")@'%' IDENTIFIED BY $(quote "${MYSQL_PASSWORD:-}");"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
          echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(quote "$MYSQL_USER")@'%';"
        fi
      fi
    } | mariadbd --bootstrap --user=mysql --datadir="$datadir" --skip-networking >/dev/null
    echo "entrypoint: initialised $datadir"
  fi
  exec mariadbd --user=mysql --datadir="$datadir" --port="$MYSQL_TCP_PORT" \
    --bind-address=0.0.0.0 --socket=/run/mysqld/mysqld.sock --skip-name-resolve \
    --skip-log-bin "$@"
  ;;
*)
  echo "entrypoint: unknown server $server" >&2
  exit 1
  ;;
esac
