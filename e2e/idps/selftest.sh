#!/usr/bin/env bash
# Self-test of the e2e IdP harness, without Roster: starts SimpleSAMLphp, two oidc-provider
# instances (default settings, and the other settings) and a stand-in SP (selftest_sp.py) on
# free loopback ports with everything in a temp dir, logs in through each IdP with browser.py,
# checks what comes back (xmlsec1 for SAML signatures, oidc/rp.py for the code exchange and the
# ID token signature), stops them all and prints "N passed, N failed".
#
#   e2e/idps/selftest.sh            (after `cargo xtask idps` or e2e/idps/setup.sh)
#   SELFTEST_KEEP=1 e2e/idps/selftest.sh   keeps the temp dir (logs, responses) for a look
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
work=$(mktemp -d "${TMPDIR:-/tmp}/roster-idps-selftest.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [[ -n ${SELFTEST_KEEP:-} ]]; then echo "evidence kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pass=0 fail=0
check() { # check NAME COMMAND...: run it (output to the log), count and report
  echo "--- $1" >>"$work/selftest.log"
  if "${@:2}" >>"$work/selftest.log" 2>&1; then
    echo "ok   $1"; pass=$((pass + 1))
  else
    echo "FAIL $1 (see $work/selftest.log)"; fail=$((fail + 1)); SELFTEST_KEEP=1
  fi
}
exits() { "${@:2}" >/dev/null; [[ $? -eq $1 ]]; }  # exits N COMMAND...: COMMAND exits with N
# j FILE EXPR: a Python expression over the JSON in FILE (as d)
j() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for URL PID NAME: until URL answers 200 (60 s: a busy machine is slow)
  for _ in $(seq 600); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "$3 exited:"; tail -20 "$work/$3.log"; exit 1; }
    sleep 0.1
  done
  echo "$3 did not answer at $1:"; tail -20 "$work/$3.log"; exit 1
}

saml_port=$(free_port) op_port=$(free_port) op2_port=$(free_port) sp_port=$(free_port)
IDP=http://127.0.0.1:$saml_port
OP=http://127.0.0.1:$op_port
OP2=http://127.0.0.1:$op2_port
SP=http://127.0.0.1:$sp_port
SP_ENTITY=$SP/sso/saml/metadata ACS=$SP/sso/saml/acs CB=$SP/sso/oidc/callback

SAML_IDP_PORT=$saml_port SAML_IDP_DATA_DIR=$work/saml/data SAML_IDP_KEY_DIR=$work/saml/keys \
  SAML_SP_ENTITY_ID=$SP_ENTITY SAML_SP_ACS_URL=$ACS saml/start.sh >"$work/saml.log" 2>&1 &
pids+=($!)
OP_PORT=$op_port OP_DATA_DIR=$work/op OP_REDIRECT_URIS=$CB node oidc/op.mjs >"$work/op.log" 2>&1 &
pids+=($!)
# The other settings: claims in the ID token, client_secret_post, PKCE optional, own client.
OP_PORT=$op2_port OP_DATA_DIR=$work/op2 OP_REDIRECT_URIS="http://127.0.0.1:1/unused,$CB" \
  OP_CLIENT_ID=second OP_CLIENT_SECRET=second-secret OP_TOKEN_AUTH_METHOD=client_secret_post \
  OP_PKCE_REQUIRED=0 OP_CLAIMS_IN_ID_TOKEN=1 node oidc/op.mjs >"$work/op2.log" 2>&1 &
pids+=($!)
wait_for "$IDP/saml2/idp/metadata.php" "${pids[0]}" saml
wait_for "$OP/.well-known/openid-configuration" "${pids[1]}" op
wait_for "$OP2/.well-known/openid-configuration" "${pids[2]}" op2

authn() { saml/authn_request.py --idp-sso-url "$IDP/saml2/idp/SSOService.php" --sp-entity-id "$SP_ENTITY" --acs-url "$ACS" "$@"; }
# The stand-in SP's login routes redirect to a fresh AuthnRequest / authorization URL.
oidc/rp.py authorize "$OP" roster-e2e "$CB" >"$work/sp-authz.json"
python3 selftest_sp.py "$sp_port" "$(authn --id _via_sp)" "$(j "$work/sp-authz.json" "d['url']")" >"$work/sp.log" 2>&1 &
pids+=($!)

echo "== SAML 2.0: SimpleSAMLphp at $IDP"
curl_get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1"; }
curl_get "$IDP/saml2/idp/metadata.php" >"$work/metadata.xml"
check "metadata: entity ID and the generated signing certificate" python3 - "$work/metadata.xml" "$IDP" "$work/saml/keys/idp.crt" <<'PY'
import re, sys
xml, idp, pem = open(sys.argv[1]).read(), sys.argv[2], open(sys.argv[3]).read()
assert f'entityID="{idp}/saml2/idp/metadata.php"' in xml
cert = "".join(l for l in pem.splitlines() if "-----" not in l)
assert cert in re.sub(r"\s", "", xml), "certificate not in metadata"
PY

B=(./browser.py)
"${B[@]}" "$(authn --id _selftest1)" --user alice --password alice-password --stop-at "$ACS" \
  --cookies "$work/saml-cookies.json" >"$work/acs.json" 2>>"$work/selftest.log"
check "alice logs in; the browser stops at the ACS with a POSTed SAMLResponse" python3 - "$work/acs.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["method"] == "POST" and d["params"]["SAMLResponse"] and d["params"]["RelayState"] == "/after-login", d
PY
j "$work/acs.json" "d['params']['SAMLResponse']" | base64 -d >"$work/response.xml"
xmlsec() { # xmlsec ELEMENT: verify that element's own signature against the generated cert only
  xmlsec1 --verify --trusted-pem "$work/saml/keys/idp.crt" \
    --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response \
    --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
    --node-xpath "/*[local-name()='Response']$1/*[local-name()='Signature']" "$work/response.xml"
}
check "xmlsec1: Response signature verifies against the IdP cert" xmlsec ""
check "xmlsec1: Assertion signature verifies against the IdP cert" xmlsec "/*[local-name()='Assertion']"
check "Response: RSA-SHA256, InResponseTo, Destination, Audience, persistent NameID, attributes" \
  python3 - "$work/response.xml" "$ACS" "$SP_ENTITY" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"p": "urn:oasis:names:tc:SAML:2.0:protocol", "a": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
r, acs, sp = ET.parse(sys.argv[1]).getroot(), sys.argv[2], sys.argv[3]
assert r.get("InResponseTo") == "_selftest1" and r.get("Destination") == acs
assert r.find("p:Status/p:StatusCode", ns).get("Value").endswith(":Success")
methods = {m.get("Algorithm") for m in r.iterfind(".//ds:SignatureMethod", ns)}
assert methods == {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"}, methods
a = r.find("a:Assertion", ns)
assert a.find("a:Conditions/a:AudienceRestriction/a:Audience", ns).text == sp
nameid = a.find("a:Subject/a:NameID", ns)
assert nameid.text == "8f2c6b1e-alice" and nameid.get("Format").endswith(":persistent"), nameid.attrib
attrs = {x.get("Name"): [v.text for v in x.iterfind("a:AttributeValue", ns)]
         for x in a.iterfind("a:AttributeStatement/a:Attribute", ns)}
assert attrs == {"email": ["alice@example.test"], "givenName": ["Alice"], "surname": ["Anderson"],
                 "displayName": ["Alice Anderson"], "uid": ["alice"], "groups": ["engineering", "admins"],
                 "department": ["Engineering"], "title": ["Staff Engineer"], "employeeNumber": ["1001"]}, attrs
PY
check "IdP session: the next login with the same cookies needs no password" \
  exits 0 "${B[@]}" "$(authn)" --stop-at "$ACS" --cookies "$work/saml-cookies.json"
check "a login form without credentials is an unhandled page (exit 2)" \
  exits 2 "${B[@]}" "$(authn)" --stop-at "$ACS" --cookies "$work/fresh1.json"
check "wrong password is rejected (exit 3)" \
  exits 3 "${B[@]}" "$(authn)" --user alice --password nope --stop-at "$ACS" --cookies "$work/fresh2.json"
"${B[@]}" "$(authn --nameid-format email)" --user carol --password carol-password --stop-at "$ACS" \
  --cookies "$work/fresh3.json" >"$work/acs-carol.json" 2>>"$work/selftest.log"
check "carol: email NameID on request, no groups attribute" python3 - "$work/acs-carol.json" <<'PY'
import base64, json, sys
x = base64.b64decode(json.load(open(sys.argv[1]))["params"]["SAMLResponse"]).decode()
assert 'nameid-format:emailAddress">carol@example.test</saml:NameID>' in x, x
assert 'Name="groups"' not in x and 'Name="email"' in x
PY
"${B[@]}" "$SP/saml/login" --user bob --password bob-password --cookies "$work/sp-saml.json" \
  >"$work/sp-saml-done.json" 2>>"$work/selftest.log"
check "through the stand-in SP: its Secure cookie comes back to its ACS after the IdP" \
  python3 - "$work/sp-saml-done.json" "$sp_port" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
body = json.loads(d["body"])
assert d["status"] == 200 and d["url"].endswith(f":{sys.argv[2]}/sso/saml/acs"), d
assert body["roster_sso"] and body["roster_sso"].startswith("binding-") and "SAMLResponse" in body["params"], body
# One jar for the host: the SP's cookies next to SimpleSAMLphp's (store.type phpsession: its
# session is the PHP session cookie SSPIDP_PHPSESSID, plus SimpleSAMLAuthToken once logged in).
jar = d["cookies"]["127.0.0.1"]
assert jar["roster_session"] == "s1" and "SSPIDP_PHPSESSID" in jar and "SimpleSAMLAuthToken" in jar, jar
PY

echo "== OpenID Connect: oidc-provider at $OP (and $OP2 with the other settings)"
curl_get "$OP/.well-known/openid-configuration" >"$work/discovery.json"
check "discovery: issuer, S256 only, groups scope" test "$(j "$work/discovery.json" \
  "(d['issuer'], d['code_challenge_methods_supported'], 'groups' in d['scopes_supported'])")" = "('$OP', ['S256'], True)"
oidc/rp.py authorize "$OP" roster-e2e "$CB" >"$work/authz.json"
"${B[@]}" "$(j "$work/authz.json" "d['url']")" --user alice --password alice-password --stop-at "$CB" \
  --cookies "$work/oidc-cookies.json" >"$work/callback.json" 2>>"$work/selftest.log"
check "alice logs in; the callback carries code, state and iss" test \
  "$(j "$work/callback.json" "(bool(d['params'].get('code')), d['params']['state'], d['params']['iss'])")" \
  = "(True, '$(j "$work/authz.json" "d['state']")', '$OP')"
code=$(j "$work/callback.json" "d['params'].get('code', '')")
oidc/rp.py token "$OP" roster-e2e roster-e2e-secret "$CB" "$code" "$(j "$work/authz.json" "d['verifier']")" \
  >"$work/token.json" 2>>"$work/selftest.log"
check "token endpoint: the code (PKCE, client_secret_basic) buys an id_token" grep -q '"id_token"' "$work/token.json"
oidc/rp.py verify "$OP" roster-e2e "$(j "$work/authz.json" "d['nonce']")" "$(j "$work/token.json" "d.get('id_token', '')")" \
  >"$work/id_token.json" 2>>"$work/selftest.log"
check "id_token: RS256 signature (JWKS), iss, aud, nonce; sub only by default" test \
  "$(j "$work/id_token.json" "(d['sub'], 'email' in d)")" = "('8f2c6b1e-alice', False)"
oidc/rp.py userinfo "$OP" "$(j "$work/token.json" "d.get('access_token', '')")" >"$work/userinfo.json" 2>>"$work/selftest.log"
check "userinfo: email, names, groups, HR claims" test \
  "$(j "$work/userinfo.json" "(d['email'], d['email_verified'], d['given_name'], d['family_name'], d['groups'], d['department'], d['title'], d['employeeNumber'])")" \
  = "('alice@example.test', True, 'Alice', 'Anderson', ['engineering', 'admins'], 'Engineering', 'Staff Engineer', '1001')"
oidc/rp.py token "$OP" roster-e2e roster-e2e-secret "$CB" "$code" "$(j "$work/authz.json" "d['verifier']")" \
  >"$work/token-again.json" 2>>"$work/selftest.log"
check "a code is single-use" test "$(j "$work/token-again.json" "d.get('error')")" = invalid_grant
oidc/rp.py authorize "$OP" roster-e2e "$CB" --no-pkce >"$work/authz-nopkce.json"
"${B[@]}" "$(j "$work/authz-nopkce.json" "d['url']")" --stop-at "$CB" --cookies "$work/oidc-cookies.json" \
  >"$work/callback-nopkce.json" 2>>"$work/selftest.log"
check "PKCE is required by default (error=invalid_request at the callback)" \
  test "$(j "$work/callback-nopkce.json" "d['params'].get('error')")" = invalid_request
check "wrong password is rejected (exit 3)" exits 3 "${B[@]}" "$(j "$work/authz.json" "d['url']")" \
  --user alice --password nope --stop-at "$CB" --cookies "$work/fresh4.json"
oidc/rp.py authorize "$OP2" second "$CB" --no-pkce >"$work/authz2.json"
"${B[@]}" "$(j "$work/authz2.json" "d['url']")" --user dave --password dave-password --stop-at "$CB" \
  --cookies "$work/fresh5.json" >"$work/callback2.json" 2>>"$work/selftest.log"
oidc/rp.py token "$OP2" second second-secret "$CB" "$(j "$work/callback2.json" "d['params'].get('code', '')")" "" --post \
  >"$work/token2.json" 2>>"$work/selftest.log"
oidc/rp.py verify "$OP2" second "$(j "$work/authz2.json" "d['nonce']")" "$(j "$work/token2.json" "d.get('id_token', '')")" \
  >"$work/id_token2.json" 2>>"$work/selftest.log"
check "OP_CLAIMS_IN_ID_TOKEN, client_secret_post, PKCE optional: dave's claims in the id_token" test \
  "$(j "$work/id_token2.json" "(d['sub'], d['email'], d['groups'], d['given_name'])")" \
  = "('77aa01d2-dave', 'dave@other.test', ['engineering'], 'Dave')"
"${B[@]}" "$SP/oidc/login" --user alice --password alice-password --cookies "$work/sp-oidc.json" \
  >"$work/sp-oidc-done.json" 2>>"$work/selftest.log"
check "through the stand-in SP: its cookie comes back to its callback after the OP" \
  python3 - "$work/sp-oidc-done.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
body = json.loads(d["body"])
assert d["status"] == 200 and body["roster_sso"].startswith("binding-") and "code" in body["params"], d
PY

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
