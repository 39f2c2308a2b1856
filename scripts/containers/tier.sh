#!/usr/bin/env bash
# The container tier of .ci/run: every test against PostgreSQL and MariaDB
# containers that dbtest starts with Testcontainers, on a Docker engine this
# script brings up for the purpose and stops at the end.
#
# The engine has no bridge network and no iptables rules (dockerd
# --bridge=none): containers use host networking, PostgreSQL on 25432 and
# MariaDB on 23306 (loopback only). Its images are built here from Debian's
# packages (build-images.sh), as no registry is reachable.
#
# It fails when the engine does not start, when a test fails, when a
# "go test ./..." starts more than one container per backend, when a
# container or a bridge network is left, and when dockerd does not stop.
#
#   scripts/containers/tier.sh [packages]    default ./...
set -euo pipefail
cd "$(dirname "$0")/../.."
packages=("${@:-./...}")

sock=/run/dbharness-docker.sock
data_root=/var/lib/dbharness-docker
exec_root=/run/dbharness-docker
pidfile=/run/dbharness-docker.pid
work=$(mktemp -d "${TMPDIR:-/tmp}/dbharness-tier.XXXXXX")
dockerd_log=$work/dockerd.log

fail() { echo "container tier: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# poll SECONDS COMMAND...: run COMMAND until it succeeds or time is up.
poll() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# --- the engine -------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  # Keep the packages from starting a Docker daemon of their own (with
  # its bridge network): invoke-rc.d asks policy-rc.d first.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

# One tier at a time on a machine: they share the daemon's socket, pid file
# and data root. A second one waits for the first.
exec 9>"$exec_root.lock"
if ! flock -n 9; then
  echo "waiting for another container tier on this machine"
  flock -w 1800 9 || fail "another container tier has held $exec_root.lock for 30 minutes"
fi

# A daemon left by an earlier, killed tier: stop it first (only if the
# pid file still names a dockerd).
if [ -s "$pidfile" ]; then
  old_pid=$(cat "$pidfile")
  if [ "$(cat "/proc/$old_pid/comm" 2>/dev/null)" = dockerd ]; then
    kill "$old_pid"
    poll 30 sh -c "! kill -0 $old_pid" || fail "an earlier dockerd ($old_pid) does not stop"
  fi
  rm -f "$pidfile"
fi

# no_containers: the engine lists no container at all.
no_containers() { [ -z "$(docker ps -aq)" ]; }

dockerd_pid=
stop_dockerd() {
  [ -n "$dockerd_pid" ] || return 0
  # After a failure, companions may still be removing containers: let them
  # finish, then remove what is left, so no state outlives the daemon.
  if ! poll 30 no_containers; then
    docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true
  fi
  kill "$dockerd_pid" 2>/dev/null || true
  if ! poll 30 sh -c "! kill -0 $dockerd_pid"; then
    kill -9 "$dockerd_pid" 2>/dev/null || true
  fi
  dockerd_pid=
}
trap 'stop_dockerd; rm -rf "$work"' EXIT

echo "== starting dockerd on unix://$sock (no bridge, no iptables)"
t=$(now)
mkdir -p "$data_root" "$exec_root"
dockerd --bridge=none --iptables=false --ip-masq=false \
  --data-root "$data_root" --exec-root "$exec_root" --pidfile "$pidfile" \
  -H "unix://$sock" >"$dockerd_log" 2>&1 &
dockerd_pid=$!
export DOCKER_HOST=unix://$sock
if ! poll 60 docker version; then
  tail -20 "$dockerd_log" >&2
  fail "dockerd did not answer within 60s"
fi
echo "dockerd $(docker version --format '{{.Server.Version}}') answered after $(since "$t")"
# Containers of an earlier, killed tier (the data root is kept for the images).
leftover=$(docker ps -aq)
[ -z "$leftover" ] || docker rm -f $leftover >/dev/null 2>&1 || true

# --- the images -------------------------------------------------------------
echo "== images (scripts/containers/build-images.sh)"
t=$(now)
images=$(scripts/containers/build-images.sh --env)
eval "export $(echo $images)"
echo "$DBTEST_POSTGRES_IMAGE and $DBTEST_MYSQL_IMAGE ready after $(since "$t")"

# --- the tests --------------------------------------------------------------
unset DBTEST_POSTGRES_DSN DBTEST_MYSQL_DSN
export DBTEST_REQUIRE=postgres,mysql
export DBTEST_DOCKER_NETWORK=host
export TESTCONTAINERS_RYUK_DISABLED=true
export DBTEST_CONTAINER_LOG=$work/containers.log

echo "== go test -race ${packages[*]} against containers"
no_containers || { docker ps -a >&2; fail "containers before the run"; }
t=$(now)
go test -race -count=1 "${packages[@]}"
echo "go test ${packages[*]} took $(since "$t")"
poll 60 no_containers || { docker ps -a >&2; fail "containers left 60s after go test ${packages[*]}"; }

# One container per backend for the whole run: the engine's own record
# (create events), and each test binary's line in DBTEST_CONTAINER_LOG.
created=$(docker events --since "$t" --until "$(now)" --filter type=container --filter event=create \
  --format '{{.Actor.Attributes.image}} {{.Actor.Attributes.name}} {{.Actor.ID}}')
echo "containers created: $(wc -l <<<"$created")"; echo "$created" | sed 's/^/  /' 
for b in postgres mysql; do
  case $b in postgres) image=$DBTEST_POSTGRES_IMAGE ;; mysql) image=$DBTEST_MYSQL_IMAGE ;; esac
  n_created=$(awk -v i="$image" '$1 == i' <<<"$created" | wc -l)
  n_ids=$(awk -v b=$b '$1 == b { print $3 }' "$DBTEST_CONTAINER_LOG" | sort -u | wc -l)
  n_started=$(awk -v b=$b '$1 == b && $4 == "started"' "$DBTEST_CONTAINER_LOG" | wc -l)
  n_binaries=$(awk -v b=$b '$1 == b { print $6 }' "$DBTEST_CONTAINER_LOG" | sort -u | wc -l)
  echo "$b: $n_created container(s) created, used by $n_binaries test binaries: $(awk -v b=$b '$1 == b { sub("exe=", "", $6); printf "%s ", $6 }' "$DBTEST_CONTAINER_LOG")"
  [ "$n_created" -eq 1 ] && [ "$n_ids" -eq 1 ] && [ "$n_started" -eq 1 ] ||
    { cat "$DBTEST_CONTAINER_LOG" >&2; fail "$b: want one container for the run, got $n_created created, $n_ids used, $n_started started"; }
  [ "$n_binaries" -ge 3 ] || { cat "$DBTEST_CONTAINER_LOG" >&2; fail "$b: want at least 3 test binaries on the container, got $n_binaries"; }
done

echo "== the container provider's own tests (DBTEST_CONTAINER_TIER=1)"
t=$(now)
DBTEST_CONTAINER_TIER=1 go test -race -count=1 -v -run 'TestContainer|TestNoDockerEngine' ./dbtest/ 2>&1 |
  grep -E '^(---|ok|FAIL|PASS)|containers_tier_test.go|containers_test.go' | grep -v '^    --- PASS'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "the container provider's tests failed"
echo "took $(since "$t")"
poll 60 no_containers || { docker ps -a >&2; fail "containers left 60s after the provider's tests"; }

echo "== after the run: no bridge network, no container"
DBTEST_CONTAINER_TIER=1 go test -count=1 -run '^TestContainerTierNoBridgeNetwork$' ./dbtest/
no_containers || { docker ps -a >&2; fail "containers left after the run"; }

stop_dockerd
if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  fail "dockerd still runs"
fi
echo "container tier: passed; dockerd stopped"
