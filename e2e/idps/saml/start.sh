#!/usr/bin/env bash
# Runs SimpleSAMLphp (Debian package `simplesamlphp`) as a SAML 2.0 IdP on PHP's built-in web
# server, in the foreground (exec: the PID you started is php's; kill it to stop).
#
#   SAML_IDP_HOST, SAML_IDP_PORT   listen address (127.0.0.1, 9080); every URL follows it
#   SAML_IDP_DATA_DIR              sessions, cache, logs (e2e/idps/saml/data)
#   SAML_IDP_KEY_DIR               idp.key + idp.crt, made here with openssl if missing
#                                  (e2e/idps/saml/keys)
#   SAML_SP_ENTITY_ID, SAML_SP_ACS_URL, SAML_SP_METADATA_FILE, SAML_NAMEID_FORMAT: see README.md
#
# Tests give each instance its own port and temp data/key dirs, so several run side by side.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The Debian package's document root; SimpleSAMLphp's own entry points (saml2/idp/*.php,
# module.php/…) live there and PATH_INFO works under `php -S`, so no router script is needed.
www=/usr/share/simplesamlphp/www
[[ -f $www/module.php ]] || { echo "simplesamlphp is not installed: run e2e/idps/setup.sh or cargo xtask idps" >&2; exit 1; }

export SAML_IDP_HOST="${SAML_IDP_HOST:-127.0.0.1}"
export SAML_IDP_PORT="${SAML_IDP_PORT:-9080}"
export SAML_IDP_BASE_URL="http://$SAML_IDP_HOST:$SAML_IDP_PORT/"
export SAML_IDP_DATA_DIR="${SAML_IDP_DATA_DIR:-$here/data}"
export SAML_IDP_KEY_DIR="${SAML_IDP_KEY_DIR:-$here/keys}"
# The Debian package reads its configuration from /etc/simplesamlphp unless told otherwise.
export SIMPLESAMLPHP_CONFIG_DIR="$here/config"

mkdir -p "$SAML_IDP_DATA_DIR/tmp" "$SAML_IDP_DATA_DIR/sessions" "$SAML_IDP_KEY_DIR"
if [[ ! -f $SAML_IDP_KEY_DIR/idp.key || ! -f $SAML_IDP_KEY_DIR/idp.crt ]]; then
  # Self-signed RSA 2048 / SHA-256, 10 years; made in a temp name and moved, so that two
  # instances sharing a key dir never read a half-written key.
  tmp=$(mktemp -d "$SAML_IDP_KEY_DIR/.gen.XXXXXX")
  openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 -subj "/CN=roster-e2e-saml-idp" \
    -keyout "$tmp/idp.key" -out "$tmp/idp.crt" 2>/dev/null
  chmod 644 "$tmp/idp.key" "$tmp/idp.crt"
  mv "$tmp/idp.key" "$tmp/idp.crt" "$SAML_IDP_KEY_DIR/" && rmdir "$tmp"
fi

echo "SAML IdP: ${SAML_IDP_BASE_URL}saml2/idp/metadata.php (SP ${SAML_SP_ENTITY_ID:-http://127.0.0.1:8080/sso/saml/metadata})" >&2
# One process (no PHP_CLI_SERVER_WORKERS), so killing the PID stops the whole IdP; it serves one
# request at a time, which is plenty for a scripted browser.
exec php \
  -d session.save_path="$SAML_IDP_DATA_DIR/sessions" \
  -d display_errors=stderr -d log_errors=0 -d variables_order=EGPCS \
  -S "$SAML_IDP_HOST:$SAML_IDP_PORT" -t "$www"
