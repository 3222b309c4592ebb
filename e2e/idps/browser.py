#!/usr/bin/env python3
"""Scripted browser for Roster's SSO end-to-end tests (Python 3 standard library only).

    browser.py URL [--user U --password P] [--stop-at PREFIX] [--cookies FILE]
               [--form-field NAME=VALUE ...] [-v]

GETs URL (Roster's login route, an IdP SSO URL carrying a SAMLRequest, or an OIDC authorization
URL) and then behaves like a browser with JavaScript off:
  * follows redirects (301/302/303 become GET; 307/308 keep method and body);
  * keeps cookies per host, NOT per port, as browsers do: Roster on 127.0.0.1:<port> and the IdPs
    on 127.0.0.1:<other ports> share one jar, so Roster's own cookies (roster_sso, the browser
    binding of a login in flight) come back to it after the IdP round trip. Secure cookies are
    kept and sent on plain http://127.0.0.1 / localhost, which browsers treat as secure contexts.
    SameSite is not enforced (on loopback the IdP and the SP are same-site anyway);
  * fills the first form that has a password field with --user/--password (the first text/email
    field is the user name);
  * submits forms that need no typing: SAML HTTP-POST forms (hidden SAMLResponse/SAMLRequest
    + RelayState), consent and form_post pages;
  * --form-field NAME=VALUE sets that field in any form that has it (also hidden ones), and
    lets a form with that visible field be submitted;
  * sends the submitting page's Origin with every form POST, as browsers do.

Output (stdout, JSON):
  * with --stop-at PREFIX, the first request whose URL starts with PREFIX is NOT sent; printed
    instead as {"method", "url", "params"} (params: query and form body merged, e.g. code/state
    for an OIDC callback, SAMLResponse/RelayState for a SAML ACS);
  * otherwise the last response: {"status", "url", "headers" (lower-case names; repeated ones
    joined with ", ", except set-cookie, joined with "\\n"), "body"}.
Both also carry "cookies": {host: {name: value}} as the jar holds them at the end.

Exit codes: 0 ok; 1 the last response is an HTTP error (>= 400); 2 a page it cannot handle
(a form needing input it does not have, no form while --stop-at was not reached, too many
steps, a connection error); 3 login rejected (the password form came back after submitting it).
"""
import argparse
import email.utils
import ipaddress
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

OK, HTTP_ERROR, UNHANDLED, LOGIN_REJECTED = 0, 1, 2, 3


class CookieJar:
    """A minimal browser cookie store: cookies belong to a host (never a port), match by domain
    and path, expire by Max-Age/Expires. Saved as JSON for --cookies."""

    def __init__(self):
        # (domain, path, name) -> {"value", "host_only", "secure", "expires" (epoch or None)}
        self.cookies = {}

    @staticmethod
    def _is_ip(host):
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            return False

    def load(self, path):
        try:
            with open(path) as f:
                for c in json.load(f):
                    self.cookies[(c["domain"], c["path"], c["name"])] = c
        except FileNotFoundError:
            pass

    def save(self, path):
        with open(path, "w") as f:
            json.dump(sorted(self.cookies.values(), key=lambda c: (c["domain"], c["path"], c["name"])), f, indent=1)

    def store(self, url, set_cookie_headers):
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        default_path = parts.path.rsplit("/", 1)[0] or "/" if parts.path.startswith("/") else "/"
        for header in set_cookie_headers:
            name_value, _, attrs = header.partition(";")
            name, eq, value = name_value.partition("=")
            name, value = name.strip(), value.strip()
            if not eq or not name:
                continue
            cookie = {"name": name, "value": value, "domain": host, "path": default_path,
                      "host_only": True, "secure": False, "expires": None}
            max_age = None
            for attr in attrs.split(";"):
                key, _, val = attr.partition("=")
                key, val = key.strip().lower(), val.strip()
                if key == "path" and val.startswith("/"):
                    cookie["path"] = val
                elif key == "domain" and val:
                    domain = val.lstrip(".").lower()
                    # Domain cookies only for names (an IP address can only be host-only), and
                    # only for the host itself or a parent of it.
                    if not self._is_ip(host) and (host == domain or host.endswith("." + domain)):
                        cookie["domain"], cookie["host_only"] = domain, False
                    elif domain != host:
                        cookie = None
                        break
                elif key == "secure":
                    cookie["secure"] = True
                elif key == "max-age":
                    try:
                        max_age = int(val)
                    except ValueError:
                        pass
                elif key == "expires" and cookie["expires"] is None:
                    try:
                        cookie["expires"] = email.utils.parsedate_to_datetime(val).timestamp()
                    except (TypeError, ValueError):
                        pass
            if cookie is None:
                continue
            if max_age is not None:  # Max-Age wins over Expires
                cookie["expires"] = time.time() + max_age
            key = (cookie["domain"], cookie["path"], name)
            if cookie["expires"] is not None and cookie["expires"] <= time.time():
                self.cookies.pop(key, None)  # deletion
            else:
                self.cookies[key] = cookie

    def header(self, url):
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        trustworthy = parts.scheme == "https" or host in ("localhost", "::1") or host.startswith("127.")
        now = time.time()
        matches = []
        for (domain, cpath, name), c in list(self.cookies.items()):
            if c["expires"] is not None and c["expires"] <= now:
                del self.cookies[(domain, cpath, name)]
                continue
            if c["host_only"] and host != domain:
                continue
            if not c["host_only"] and not (host == domain or host.endswith("." + domain)):
                continue
            if not (path == cpath or path.startswith(cpath.rstrip("/") + "/")):
                continue
            if c["secure"] and not trustworthy:
                continue
            matches.append((-len(cpath), name, c["value"]))
        return "; ".join(f"{name}={value}" for _, name, value in sorted(matches))

    def snapshot(self):
        out = {}
        for (domain, _, name), c in sorted(self.cookies.items()):
            out.setdefault(domain, {})[name] = c["value"]
        return out


class Forms(HTMLParser):
    """Collects the <form>s of a page with their <input>, <button>, <select> and <textarea>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").upper() or "GET",
                          "fields": []}
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag in ("input", "button"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            self._form["fields"].append({"type": kind, "name": a.get("name", ""), "value": a.get("value", ""),
                                         "checked": "checked" in a, "disabled": "disabled" in a})
        elif tag == "select":
            self._select = {"type": "select", "name": a.get("name", ""), "value": None, "checked": True,
                            "disabled": "disabled" in a}
            self._form["fields"].append(self._select)
        elif tag == "option" and self._select is not None:
            if self._select["value"] is None or "selected" in a:
                self._select["value"] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = {"type": "textarea", "name": a.get("name", ""), "value": "", "checked": True,
                              "disabled": "disabled" in a}
            self._form["fields"].append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def fill(form, user, password, overrides):
    """The (name, value) pairs to submit, and whether this is a login form; None when the form
    needs input we don't have (e.g. a search box), so it is not ours to submit."""
    fields = [f for f in form["fields"] if f["name"] and not f["disabled"]]
    is_login = any(f["type"] == "password" for f in fields)
    data, user_done, submit_done = [], False, False
    for f in fields:
        name, kind = f["name"], f["type"]
        if name in overrides:
            if kind in ("submit", "image", "button"):
                continue  # never "click" a button just because its name was given
            data.append((name, overrides[name]))
        elif kind == "password":
            if password is None:
                return None
            data.append((name, password))
        elif kind in ("text", "email") and is_login and not user_done:
            if user is None:
                return None
            data.append((name, user))
            user_done = True
        elif kind in ("submit", "image"):
            if not submit_done:  # click the first named submit button
                data.append((name, f["value"]))
                submit_done = True
        elif kind in ("checkbox", "radio"):
            if f["checked"]:
                data.append((name, f["value"] or "on"))
        elif kind in ("hidden", "select"):
            data.append((name, f["value"] or ""))
        elif kind in ("button", "reset"):
            continue
        elif kind == "textarea" or (kind in ("text", "email", "search", "url", "tel", "number") and not f["value"]):
            return None  # visible input that needs typing
        else:
            data.append((name, f["value"]))  # prefilled visible input
    return data, is_login


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # redirects are followed by hand, one hop at a time, with our own cookie jar


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url", help="where the browser starts (GET)")
    p.add_argument("--user", help="user name for a login form")
    p.add_argument("--password", help="password for a login form")
    p.add_argument("--stop-at", help="URL prefix (e.g. the SP's callback or ACS): print that request instead")
    p.add_argument("--cookies", help="JSON cookie file, loaded and saved (keeps IdP/SP sessions between runs)")
    p.add_argument("--form-field", action="append", default=[], metavar="NAME=VALUE",
                   help="value for a form field wherever it appears (repeatable)")
    p.add_argument("--max-steps", type=int, default=30)
    p.add_argument("-v", "--verbose", action="store_true", help="log each request to stderr")
    args = p.parse_args()
    overrides = {}
    for item in args.form_field:
        name, eq, value = item.partition("=")
        if not eq:
            p.error(f"--form-field wants NAME=VALUE, not {item!r}")
        overrides[name] = value

    jar = CookieJar()
    if args.cookies:
        jar.load(args.cookies)

    def finish(result, code):
        result["cookies"] = jar.snapshot()
        print(json.dumps(result, indent=2))
        if args.cookies:
            jar.save(args.cookies)
        return code

    opener = urllib.request.build_opener(NoRedirect)
    method, url, body, login_submitted = "GET", args.url, None, False
    form_origin = None  # the origin of the page whose form is being submitted
    for _ in range(args.max_steps):
        if args.stop_at and url.startswith(args.stop_at):
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))
            if body:
                params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            return finish({"method": method, "url": url, "params": params}, OK)
        if args.verbose:
            print(f"> {method} {url}", file=sys.stderr)
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("User-Agent", "roster-e2e-browser/1.0")
        req.add_header("Accept", "text/html,application/xhtml+xml,*/*")
        cookie = jar.header(url)
        if cookie:
            req.add_header("Cookie", cookie)
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
            if form_origin:
                # Browsers send the Origin of the page that submitted a form on every POST.
                req.add_header("Origin", form_origin)
        try:
            resp = opener.open(req, timeout=30)
        except urllib.error.HTTPError as e:
            resp = e  # 3xx (not followed by urllib) and 4xx/5xx arrive here
        except (urllib.error.URLError, OSError) as e:
            print(f"cannot {method} {url}: {e}", file=sys.stderr)
            return finish({"status": 0, "url": url, "headers": {}, "body": str(e)}, UNHANDLED)
        status = resp.status
        text = resp.read().decode("utf-8", "replace")
        jar.store(url, resp.headers.get_all("Set-Cookie") or [])
        location = resp.headers.get("Location")
        if args.verbose:
            print(f"< {status} {location or ''}", file=sys.stderr)
        if status in (301, 302, 303, 307, 308) and location:
            if status not in (307, 308):
                method, body, form_origin = "GET", None, None
            url = urllib.parse.urljoin(url, location)
            continue

        headers = {}
        for name, value in resp.headers.items():
            name = name.lower()
            sep = "\n" if name == "set-cookie" else ", "
            headers[name] = headers[name] + sep + value if name in headers else value
        final = {"status": status, "url": url, "headers": headers, "body": text}
        if status >= 400:
            return finish(final, HTTP_ERROR)

        parser = Forms()
        parser.feed(text)
        step = None
        # A login form comes first: a page with one may have other forms (language switch...).
        ordered = sorted(parser.forms, key=lambda fm: not any(f["type"] == "password" for f in fm["fields"]))
        for form in ordered:
            filled = fill(form, args.user, args.password, overrides)
            if filled is not None:
                step = form, filled
                break
        if step is None:
            if any(f["type"] == "password" for form in parser.forms for f in form["fields"]):
                print(f"login form at {url} but no --user/--password", file=sys.stderr)
                return finish(final, UNHANDLED)
            if args.stop_at:
                print(f"stopped at {url} before reaching {args.stop_at}", file=sys.stderr)
                return finish(final, UNHANDLED)
            return finish(final, OK)  # the end of the chain: e.g. Roster's page after login
        form, (data, is_login) = step
        if is_login:
            if login_submitted:
                print(f"login rejected for {args.user!r} at {url}", file=sys.stderr)
                return finish(final, LOGIN_REJECTED)
            login_submitted = True
        target = urllib.parse.urljoin(url, form["action"]) if form["action"] else url
        page = urllib.parse.urlsplit(url)
        form_origin = f"{page.scheme}://{page.netloc}"
        encoded = urllib.parse.urlencode(data)
        if form["method"] == "POST":
            method, url, body = "POST", target, encoded.encode()
        else:
            method, url, body = "GET", urllib.parse.urlsplit(target)._replace(query=encoded).geturl(), None
    print(f"gave up after {args.max_steps} steps at {url}", file=sys.stderr)
    return finish({"status": 0, "url": url, "headers": {}, "body": ""}, UNHANDLED)


if __name__ == "__main__":
    sys.exit(main())
