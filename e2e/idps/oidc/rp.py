#!/usr/bin/env python3
"""The relying-party half of an OpenID Connect login, by hand, for selftest.sh (Python standard
library only; Roster does this itself in the real tests):

    rp.py authorize ISSUER CLIENT_ID REDIRECT_URI [--no-pkce] [--scope S]
        -> JSON {"url", "state", "nonce", "verifier"}: the authorization URL (code flow, S256 PKCE)
    rp.py token ISSUER CLIENT_ID SECRET REDIRECT_URI CODE VERIFIER [--post]
        -> the token endpoint's JSON (client_secret_basic, or client_secret_post with --post)
    rp.py verify ISSUER CLIENT_ID NONCE ID_TOKEN
        -> the ID token's claims, after checking its RS256 signature against the OP's JWKS,
           iss, aud, exp and nonce (exit 1 and a message when any check fails)
    rp.py userinfo ISSUER ACCESS_TOKEN -> userinfo JSON
"""
import base64
import hashlib
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def get_json(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
        return json.load(r)


def discovery(issuer):
    return get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")


def authorize(issuer, client_id, redirect_uri, *flags):
    scope = flags[flags.index("--scope") + 1] if "--scope" in flags else "openid email profile groups"
    state, nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
             "scope": scope, "state": state, "nonce": nonce}
    if "--no-pkce" not in flags:
        query["code_challenge"] = b64url(hashlib.sha256(verifier.encode()).digest())
        query["code_challenge_method"] = "S256"
    url = discovery(issuer)["authorization_endpoint"] + "?" + urllib.parse.urlencode(query)
    return {"url": url, "state": state, "nonce": nonce, "verifier": verifier}


def token(issuer, client_id, secret, redirect_uri, code, verifier, *flags):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:  # "" when the authorization request had no PKCE
        form["code_verifier"] = verifier
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if "--post" in flags:
        form.update(client_id=client_id, client_secret=secret)
    else:  # RFC 6749 2.3.1: form-urlencode both parts before base64
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    req = urllib.request.Request(discovery(issuer)["token_endpoint"], data=urllib.parse.urlencode(form).encode(),
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return {"http_status": e.code, **json.load(e)}


def verify(issuer, client_id, nonce, id_token):
    head_b64, body_b64, sig_b64 = id_token.split(".")
    header, claims = json.loads(unb64url(head_b64)), json.loads(unb64url(body_b64))
    if header.get("alg") != "RS256":
        sys.exit(f"id_token: alg {header.get('alg')}, expected RS256")
    keys = get_json(discovery(issuer)["jwks_uri"])["keys"]
    key = next((k for k in keys if k.get("kid") == header.get("kid")), None)
    if key is None:
        sys.exit(f"id_token: no key {header.get('kid')} in the JWKS")
    # RSASSA-PKCS1-v1_5 with SHA-256, by hand: s^e mod n must be the padded DigestInfo.
    n, e = int.from_bytes(unb64url(key["n"]), "big"), int.from_bytes(unb64url(key["e"]), "big")
    size = (n.bit_length() + 7) // 8
    em = pow(int.from_bytes(unb64url(sig_b64), "big"), e, n).to_bytes(size, "big")
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420")
    digest = hashlib.sha256(f"{head_b64}.{body_b64}".encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (size - 3 - len(digest_info) - len(digest)) + b"\x00" + digest_info + digest
    if em != expected:
        sys.exit("id_token: bad signature")
    if claims.get("iss") != issuer:
        sys.exit(f"id_token: iss {claims.get('iss')} != {issuer}")
    if client_id not in ([claims.get("aud")] if isinstance(claims.get("aud"), str) else claims.get("aud", [])):
        sys.exit(f"id_token: aud {claims.get('aud')} lacks {client_id}")
    if claims.get("exp", 0) < time.time():
        sys.exit("id_token: expired")
    if claims.get("nonce") != nonce:
        sys.exit(f"id_token: nonce {claims.get('nonce')} != {nonce}")
    return claims


def userinfo(issuer, access_token):
    return get_json(discovery(issuer)["userinfo_endpoint"], {"Authorization": f"Bearer {access_token}"})


if __name__ == "__main__":
    commands = {"authorize": authorize, "token": token, "verify": verify, "userinfo": userinfo}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    print(json.dumps(commands[sys.argv[1]](*sys.argv[2:]), indent=2))
