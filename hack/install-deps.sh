#!/usr/bin/env bash
# Installs the Debian packages the tests use: a real python3 with pandas and
# numpy, a real MariaDB server, headless Chromium, sqlglot for the SQL
# guard benchmark. Idempotent: skips apt when everything is present.
set -euo pipefail

packages=(
  python3 python3-pandas python3-numpy python3-sqlglot
  mariadb-server mariadb-client
  chromium
  iproute2 util-linux procps ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The tests start their own MariaDB; the package's service is not needed.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mariadb >/dev/null 2>&1 || true; fi
