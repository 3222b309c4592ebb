#!/usr/bin/env bash
# Installs what the local IdPs need, idempotently, from package registries only (the same as
# `cargo xtask idps` does through xtask/src/idps.rs; this is for use without cargo):
#   apt: simplesamlphp (SAML IdP; drags in apache2, never started), php-cli + php-xml +
#        php-mbstring (to run it; DOM/XML signatures), xmlsec1 (self-test signature checks),
#        openssl (the IdP signing key)
#   npm: oidc-provider, pinned by oidc/package-lock.json (`npm ci` when node_modules is stale)
# Python 3 (standard library only) and Node.js >= 20 with npm must already be there.
set -euo pipefail
cd "$(dirname "$0")"

pkgs=(simplesamlphp php-cli php-xml php-mbstring xmlsec1 openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=; [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "installing: ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

command -v node >/dev/null && command -v npm >/dev/null || { echo "Node.js >= 20 with npm is needed" >&2; exit 1; }
# npm rewrites node_modules/.package-lock.json on each install: older than the lock = stale.
if [[ ! -f oidc/node_modules/oidc-provider/package.json || oidc/package-lock.json -nt oidc/node_modules/.package-lock.json ]]; then
  echo "npm ci (oidc-provider)"
  (cd oidc && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "IdP harness ready: e2e/idps/selftest.sh checks it"
