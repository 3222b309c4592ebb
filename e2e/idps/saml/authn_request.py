#!/usr/bin/env python3
"""Prints the URL an SP redirects the browser to for SAML login: the IdP's SSO endpoint with an
unsigned AuthnRequest in the HTTP-Redirect binding (raw DEFLATE, base64, URL-encoded), as Roster
sends it. Standard library only. For testing the IdP without an SP, e.g. in selftest.sh:

    ./browser.py "$(saml/authn_request.py --idp-sso-url http://127.0.0.1:9080/saml2/idp/SSOService.php \\
        --id _req1)" --user alice --password alice-password --stop-at http://127.0.0.1:8080/sso/saml/acs

The Response must answer with InResponseTo equal to --id.
"""
import argparse
import base64
import datetime
import urllib.parse
import uuid
import zlib

FORMATS = {
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "email": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--idp-sso-url", default="http://127.0.0.1:9080/saml2/idp/SSOService.php")
p.add_argument("--sp-entity-id", default="http://127.0.0.1:8080/sso/saml/metadata")
p.add_argument("--acs-url", default="http://127.0.0.1:8080/sso/saml/acs")
p.add_argument("--nameid-format", choices=sorted(FORMATS), help="ask for this NameID format")
p.add_argument("--relay-state", default="/after-login", help="empty: none")
p.add_argument("--force-authn", action="store_true", help="ask the IdP to log in again despite its session")
p.add_argument("--id", default="_" + uuid.uuid4().hex, help="request ID (an XML ID: must not start with a digit)")
a = p.parse_args()

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
policy = f'<samlp:NameIDPolicy Format="{FORMATS[a.nameid_format]}" AllowCreate="true"/>' if a.nameid_format else ""
xml = (
    '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
    f'ID="{esc(a.id)}" Version="2.0" IssueInstant="{now}" Destination="{esc(a.idp_sso_url)}" '
    f'AssertionConsumerServiceURL="{esc(a.acs_url)}" '
    'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"'
    + (' ForceAuthn="true"' if a.force_authn else "") + ">"
    f"<saml:Issuer>{esc(a.sp_entity_id)}</saml:Issuer>{policy}</samlp:AuthnRequest>"
)
deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE (no zlib header), as the binding says
query = {"SAMLRequest": base64.b64encode(deflate.compress(xml.encode()) + deflate.flush()).decode()}
if a.relay_state:
    query["RelayState"] = a.relay_state
sep = "&" if "?" in a.idp_sso_url else "?"
print(a.idp_sso_url + sep + urllib.parse.urlencode(query))
