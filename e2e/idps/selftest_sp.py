#!/usr/bin/env python3
"""A stand-in SP for selftest.sh (standard library only): just enough to prove that browser.py
carries an SP's cookie across the IdP round trip, as Roster's browser-binding cookie must be.

    selftest_sp.py PORT SAML_LOGIN_URL OIDC_LOGIN_URL

GET /saml/login and /oidc/login set `roster_sso=binding-<n>` (Path=/, HttpOnly, SameSite=Lax,
Secure: browsers send Secure cookies to http://127.0.0.1 too) and redirect to the given IdP URL.
POST /sso/saml/acs and GET /sso/oidc/callback answer 200 JSON: the roster_sso cookie they got
and the SAMLResponse / code parameters' presence, and set roster_session.
"""
import http.server
import itertools
import json
import sys
import urllib.parse

PORT, SAML_LOGIN, OIDC_LOGIN = int(sys.argv[1]), sys.argv[2], sys.argv[3]
counter = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def cookies(self):
        pairs = (c.strip().partition("=") for c in self.headers.get("Cookie", "").split(";") if c.strip())
        return {name: value for name, _, value in pairs}

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def login(self, target):
        self.send_response(302)
        self.send_header("Set-Cookie", f"roster_sso=binding-{next(counter)}; Path=/; HttpOnly; SameSite=Lax; Secure")
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def done(self, params):
        self.reply(200, {"roster_sso": self.cookies().get("roster_sso"), "params": sorted(params)},
                   [("Set-Cookie", "roster_session=s1; Path=/; HttpOnly")])

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/saml/login":
            return self.login(SAML_LOGIN)
        if path == "/oidc/login":
            return self.login(OIDC_LOGIN)
        if path == "/sso/oidc/callback":
            return self.done(dict(urllib.parse.parse_qsl(query)))
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path == "/sso/saml/acs":
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            return self.done(dict(urllib.parse.parse_qsl(body)))
        self.reply(404, {"error": "not found"})


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
