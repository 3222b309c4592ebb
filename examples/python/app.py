"""A small product that signs its users in with Roster, using only standard libraries: Authlib's
Flask client for the login (authorization code + PKCE, ID token validation, userinfo, refresh)
and joserfc (the JOSE library Authlib itself verifies ID tokens with) for back-channel logout
tokens.

Configuration (environment):
  ROSTER_ISSUER   Roster's issuer, e.g. https://id.example.com (its server.public_url)
  CLIENT_ID       from `roster app create`
  CLIENT_SECRET   from `roster app create` (shown once)
  PORT            where this product listens (default 5000, on 127.0.0.1; HOST to change)
  REDIRECT_URI    registered redirect URI (default http://127.0.0.1:PORT/callback)
  SECRET_KEY      signs this product's session cookie (default: random at each start)

Routes:
  GET  /                    who is signed in (HTML)
  GET  /login               starts a sign-in; ?workspace=SLUG, ?login_hint=EMAIL or
                            ?connection=ID tell Roster which workspace (none: Roster asks)
  GET  /callback            the redirect URI: code exchange, ID token validation, session
  GET  /me                  the validated ID token claims of this session (JSON)
  GET  /userinfo            Roster's userinfo for this session's access token (JSON)
  POST /refresh             a refresh_token grant for this session (JSON)
  POST /logout              ends this session here, then sends the browser to Roster's
                            end_session_endpoint (RP-initiated logout), which comes back to
                            /signed-out
  GET  /signed-out          where Roster sends the browser after signing out
  POST /backchannel-logout  Roster's back-channel logout: ends the sessions a valid token names
  GET  /status              the back-channel logouts received (JSON; for demos and tests)
"""

import html
import json
import os
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from importlib.metadata import version
from urllib.parse import urlencode

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, jsonify, redirect, request, session
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from requests import RequestException

SCOPE = "openid profile email roles groups attributes offline_access"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYP = "logout+jwt"
CLOCK_LEEWAY_SECS = 60


def required(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set (see README.md)")
    return value


ISSUER = required("ROSTER_ISSUER").rstrip("/")
CLIENT_ID = required("CLIENT_ID")
CLIENT_SECRET = required("CLIENT_SECRET")
PORT = int(os.environ.get("PORT", "5000"))
HOST = os.environ.get("HOST", "127.0.0.1")
REDIRECT_URI = os.environ.get("REDIRECT_URI", f"http://127.0.0.1:{PORT}/callback")
POST_LOGOUT_REDIRECT_URI = os.environ.get(
    "POST_LOGOUT_REDIRECT_URI", f"http://127.0.0.1:{PORT}/signed-out"
)
LIBRARY = f"Authlib {version('authlib')}"

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_hex(32),
    SESSION_COOKIE_NAME="python_product_session",
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    SESSION_COOKIE_SECURE=REDIRECT_URI.startswith("https://"),
)


class MemoryCache:
    """Keeps Authlib's per-login state (PKCE verifier, nonce) on the server; the cookie then
    holds only its key."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items = {}

    def get(self, key):
        with self._lock:
            value, expires = self._items.get(key, (None, 0))
            return value if expires > time.time() else None

    def set(self, key, value, expires=None):
        with self._lock:
            self._items[key] = (value, time.time() + (expires or 600))

    def delete(self, key):
        with self._lock:
            self._items.pop(key, None)


oauth = OAuth(app, cache=MemoryCache())
# Discovery: every endpoint and the JWKS come from Roster's metadata.
roster = oauth.register(
    "roster",
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    server_metadata_url=f"{ISSUER}/.well-known/openid-configuration",
    client_kwargs={
        "scope": SCOPE,
        "code_challenge_method": "S256",
        "token_endpoint_auth_method": "client_secret_basic",
    },
)
metadata = roster.load_server_metadata()
if metadata.get("issuer") != ISSUER:
    sys.exit(f"discovery names issuer {metadata.get('issuer')!r}, not {ISSUER!r}")

# Sessions live in this process (a real product keeps them in its database), so that a
# back-channel logout can end them: id -> {"claims", "token", "sub", "sid"}. The cookie holds
# the id only.
lock = threading.Lock()
sessions = {}
logouts = []
refused_logouts = []
# Logout token ids already processed (until their exp), so a replayed token ends nothing twice.
seen_logout_jtis = {}


def now_iso():
    return datetime.now(timezone.utc).isoformat()


def current_session():
    session_id = session.get("id")
    with lock:
        return session_id, sessions.get(session_id) if session_id else None


def signed_in():
    """(session id, session) or (None, the 401 answer)."""
    session_id, data = current_session()
    if data is None:
        return None, (jsonify(error="not_signed_in"), 401)
    return session_id, data


def end_session():
    session_id = session.pop("id", None)
    if session_id:
        with lock:
            sessions.pop(session_id, None)


@app.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@app.get("/")
def home():
    _, data = current_session()
    if data:
        claims = data["claims"]
        body = (
            f"<p>Signed in as <strong>{html.escape(str(claims.get('email', claims['sub'])))}"
            f"</strong> in workspace <strong>{html.escape(str(claims.get('workspace')))}</strong>"
            f" (validated by {html.escape(LIBRARY)}).</p>"
            f"<pre>{html.escape(json.dumps(claims, indent=2))}</pre>"
            '<p><a href="/userinfo">userinfo</a></p>'
        )
    else:
        body = (
            "<p>Not signed in.</p>"
            '<form action="/login"><label>Workspace <input name="workspace"></label>'
            "<button>Sign in with Roster</button></form>"
        )
    return f"<!doctype html><title>Python example product</title>{body}"


@app.get("/login")
def login():
    end_session()
    # Roster's ways of choosing the workspace: its slug, the user's email, or a connection id.
    hints = {
        name: request.args[name]
        for name in ("workspace", "login_hint", "connection")
        if request.args.get(name)
    }
    # Authlib adds state, nonce and the PKCE S256 challenge, and keeps them for /callback.
    return roster.authorize_redirect(REDIRECT_URI, **hints)


@app.get("/callback")
def callback():
    try:
        # RFC 9207: Roster names itself in the response; a different issuer is a mix-up.
        if request.args.get("iss") != metadata["issuer"]:
            raise OAuthError(error="invalid_request", description="iss does not name Roster")
        # Checks state, exchanges the code with the PKCE verifier and validates the ID token:
        # signature (JWKS), iss, aud, exp, iat, nonce, at_hash.
        token = roster.authorize_access_token()
    except (OAuthError, JoseError, RequestException) as error:
        end_session()
        return jsonify(error=getattr(error, "error", "invalid_request"), error_description=str(error)), 400
    claims = dict(token["userinfo"])
    # A new session id once signed in (no fixation of the pre-login cookie).
    session.clear()
    session_id = secrets.token_urlsafe(32)
    with lock:
        sessions[session_id] = {
            "claims": claims,
            "token": dict(token),
            "sub": claims["sub"],
            "sid": claims.get("sid"),
        }
    session["id"] = session_id
    return redirect("/")


@app.get("/me")
def me():
    _, data = signed_in()
    if isinstance(data, tuple):
        return data
    return jsonify(validated_by=LIBRARY, claims=data["claims"])


@app.get("/userinfo")
def userinfo():
    _, data = signed_in()
    if isinstance(data, tuple):
        return data
    try:
        info = roster.userinfo(token=data["token"])
    except RequestException as error:
        return jsonify(error="invalid_token", error_description=str(error)), 401
    if info.get("sub") != data["sub"]:
        return jsonify(error="invalid_token", error_description="userinfo names another user"), 401
    return jsonify(dict(info))


@app.post("/refresh")
def refresh():
    session_id, data = signed_in()
    if isinstance(data, tuple):
        return data
    old = data["token"]
    try:
        token = roster.fetch_access_token(
            grant_type="refresh_token", refresh_token=old["refresh_token"]
        )
        # The refreshed ID token is validated like the first one (no nonce this time), and must
        # name the same user (OpenID Connect Core §12.2).
        claims = roster.parse_id_token(token, nonce=None) if "id_token" in token else None
        if claims is not None and claims["sub"] != data["sub"]:
            raise OAuthError(error="invalid_grant", description="the refreshed ID token names another user")
    except (OAuthError, JoseError, RequestException) as error:
        return jsonify(error=getattr(error, "error", "invalid_grant"), error_description=str(error)), 401
    with lock:
        data["token"] = {**old, **dict(token)}
        if claims is not None:
            data["claims"] = dict(claims)
    return jsonify(
        claims=data["claims"],
        refresh_token_rotated=token.get("refresh_token") not in (None, old["refresh_token"]),
        expires_in=token.get("expires_in"),
    )


@app.post("/logout")
def logout():
    """RP-Initiated Logout 1.0: the local session ends here; Roster then ends its own session
    (and tells every other product that session signed into, by back-channel logout) and sends
    the browser back to the registered post-logout URI."""
    with lock:
        data = sessions.get(session.get("id"), {})
    id_token = data.get("token", {}).get("id_token")
    end_session()
    if not id_token:
        return redirect("/signed-out", code=303)
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": POST_LOGOUT_REDIRECT_URI,
            "state": secrets.token_urlsafe(16),
        }
    )
    return redirect(f"{metadata['end_session_endpoint']}?{query}", code=303)


@app.get("/signed-out")
def signed_out():
    return "<!doctype html><title>Python example product</title><p>Signed out.</p>"


def verify_logout_token(logout_token):
    """The claims of a valid logout token (OpenID Connect Back-Channel Logout 1.0 §2.6), or
    JoseError / ValueError."""
    algorithms = metadata.get("id_token_signing_alg_values_supported")
    try:
        keys = KeySet.import_key_set(roster.fetch_jwk_set())
        token = jwt.decode(logout_token, keys, algorithms=algorithms)
    except InvalidKeyIdError:
        # A key Roster published after we fetched the set: fetch it again, once.
        keys = KeySet.import_key_set(roster.fetch_jwk_set(force=True))
        token = jwt.decode(logout_token, keys, algorithms=algorithms)
    if token.header.get("typ") != LOGOUT_TOKEN_TYP:
        raise ValueError("typ is not logout+jwt")
    jwt.JWTClaimsRegistry(
        leeway=CLOCK_LEEWAY_SECS,
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
        events={"essential": True},
    ).validate(token.claims)
    claims = token.claims
    events = claims["events"]
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise ValueError("events has no back-channel logout event")
    if "nonce" in claims:
        raise ValueError("a logout token must not carry a nonce")
    if not isinstance(claims.get("sub"), str) and not isinstance(claims.get("sid"), str):
        raise ValueError("neither sub nor sid")
    return claims


def names(claims, data):
    """Whether a logout token ends this session: with `sid`, that session (of that user, when
    `sub` is given too); without, every session of the user."""
    sub, sid = claims.get("sub"), claims.get("sid")
    if sid is not None:
        return data["sid"] == sid and (sub is None or data["sub"] == sub)
    return data["sub"] == sub


@app.post("/backchannel-logout")
def backchannel_logout():
    try:
        logout_token = request.form.get("logout_token")
        if not logout_token:
            raise ValueError("no logout_token")
        claims = verify_logout_token(logout_token)
    except (JoseError, ValueError, RequestException) as error:
        reason = str(error) or type(error).__name__
        with lock:
            refused_logouts.append({"received_at": now_iso(), "reason": reason})
        return jsonify(error="invalid_request", error_description=reason), 400

    sub, sid = claims.get("sub"), claims.get("sid")
    with lock:
        now = time.time()
        for jti, exp in list(seen_logout_jtis.items()):
            if exp < now:
                del seen_logout_jtis[jti]
        if claims["jti"] in seen_logout_jtis:
            refused_logouts.append({"received_at": now_iso(), "reason": "this logout token was already used"})
            return jsonify(error="invalid_request", error_description="this logout token was already used"), 400
        seen_logout_jtis[claims["jti"]] = claims["exp"]
        ended = [session_id for session_id, data in sessions.items() if names(claims, data)]
        for session_id in ended:
            del sessions[session_id]
        logouts.append(
            {
                "received_at": now_iso(),
                "validated_by": f"joserfc {version('joserfc')}",
                "iss": claims["iss"],
                "sub": sub,
                "sid": sid,
                "jti": claims["jti"],
                "sessions_ended": len(ended),
            }
        )
    return "", 200


@app.get("/status")
def status():
    with lock:
        return jsonify(sessions=len(sessions), logouts=logouts, refused_logouts=refused_logouts)


if __name__ == "__main__":
    print(f"Python example product on http://{HOST}:{PORT}/ (issuer {ISSUER}, {LIBRARY})", flush=True)
    app.run(host=HOST, port=PORT, threaded=True)
