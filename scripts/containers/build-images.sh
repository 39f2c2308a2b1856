#!/usr/bin/env bash
# Builds local PostgreSQL and MariaDB images from Debian's packages, for a
# Docker engine that cannot pull the official images (air-gapped CI, or no
# registry at all). One debootstrap root holds both servers; it is imported
# twice, with entrypoint.sh set up for one server each.
#
#   scripts/containers/build-images.sh            build when missing, print the names
#   scripts/containers/build-images.sh --env      print DBTEST_*_IMAGE=... lines
#
# The images are tagged with a hash of this script, entrypoint.sh, the suite
# and the package list, so a second run finds them and takes a second.
# Needs root, debootstrap and a Docker engine (DOCKER_HOST is honoured).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=postgresql-15,mariadb-server
repo=${IMAGE_REPO:-dbharness}
cache=${DEBOOTSTRAP_CACHE:-/var/cache/dbharness-debootstrap}

tag=$({ cat "$here/build-images.sh" "$here/entrypoint.sh"; echo "$suite $packages"; } | sha256sum | cut -c1-12)
pg=$repo/postgres:$tag
my=$repo/mariadb:$tag

print() {
  if [ "${1:-}" = --env ]; then
    echo "DBTEST_POSTGRES_IMAGE=$pg"
    echo "DBTEST_MYSQL_IMAGE=$my"
  else
    echo "$pg"
    echo "$my"
  fi
}

if docker image inspect "$pg" "$my" >/dev/null 2>&1; then
  print "${1:-}"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "build-images: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
mkdir -p "$cache"
root=$(mktemp -d /var/tmp/dbharness-rootfs.XXXXXX)
cleanup() {
  # The second stage mounts /proc and /sys in the root; never leave them.
  for m in "$root/proc" "$root/sys"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
  done
  rm -rf "$root"
}
trap cleanup EXIT

start=$(date +%s)
echo "build-images: debootstrap $suite with $packages into $root" >&2
# Two stages, so that the packages' maintainer scripts run with a
# policy-rc.d that keeps them from starting servers on this machine.
debootstrap --variant=minbase --foreign --include="$packages" --cache-dir="$cache" \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
mkdir -p "$root/usr/sbin"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
DEBIAN_FRONTEND=noninteractive chroot "$root" /debootstrap/debootstrap --second-stage \
  >>"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
# The security and point-release updates, as the machine's own packages.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $suite-security main
SOURCES
mkdir -p "$cache/updates"
cp "$cache/updates/"*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq' \
  >>"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$cache/updates/"*.deb
cp "$root/var/cache/apt/archives/"*.deb "$cache/updates/" 2>/dev/null || true
chroot "$root" apt-get clean
rm -f "$root.log" "$root/etc/resolv.conf"

# What the packages set up for a system service is not used: the entrypoint
# initialises its own data directory.
rm -rf "$root"/var/lib/postgresql/* "$root"/etc/postgresql/* "$root"/var/lib/mysql/*
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
install -m 755 "$here/entrypoint.sh" "$root/usr/local/bin/dbharness-entrypoint"

tar=$root.tar
tar -C "$root" --numeric-owner -cf "$tar" .
trap 'cleanup; rm -f "$tar"' EXIT
docker import \
  --change 'ENV DBHARNESS_SERVER=postgres PGDATA=/var/lib/postgresql/data' \
  --change 'ENTRYPOINT ["/usr/local/bin/dbharness-entrypoint"]' \
  --change 'CMD ["postgres"]' \
  --change 'EXPOSE 5432' \
  --message "PostgreSQL from Debian $suite packages" "$tar" "$pg" >/dev/null
docker import \
  --change 'ENV DBHARNESS_SERVER=mariadbd' \
  --change 'ENTRYPOINT ["/usr/local/bin/dbharness-entrypoint"]' \
  --change 'CMD ["mariadbd"]' \
  --change 'EXPOSE 3306' \
  --message "MariaDB from Debian $suite packages" "$tar" "$my" >/dev/null
echo "build-images: built $pg and $my in $(( $(date +%s) - start ))s" >&2
# Images of earlier versions of these scripts are of no use any more.
for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo/postgres"; docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo/mariadb"); do
  case "$old" in "$pg"|"$my") ;; *) docker image rm "$old" >/dev/null 2>&1 || true ;; esac
done
print "${1:-}"
