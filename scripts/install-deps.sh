#!/bin/sh
# Installs what strata needs from Debian's packages, only when something is missing.
#   scripts/install-deps.sh build   compiler, libraries, test tools (make, make test)
#   scripts/install-deps.sh bench   the peers and load generators of bench/
set -eu

build="gcc make pkg-config clang libclang-rt-14-dev libinih-dev libxxhash-dev
libcmocka-dev libhttp-parser-dev libssl-dev liblmdb-dev openssl python3 python3-pytest python3-requests python3-redis
redis-server redis-tools curl procps iproute2"
bench="haproxy nginx-light wrk redis-server redis-tools gnuplot-nox procps"

case "${1:-build}" in
  build) want=$build ;;
  bench) want=$bench ;;
  *) echo "install-deps: unknown group '$1' (build|bench)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2; exit 2
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
