//! The admin API with a browser session instead of an API key: any user of the workspace
//! authenticates, the policy lets only admins in (`not_admin` otherwise), writes need the
//! session's CSRF token, and the policy sees whether the session came from SSO.

use pretty_assertions::assert_eq;
use roster_store::domain::ConnectionKind;
use serde_json::{json, Value};

use crate::idps::{browser, OidcOp, OidcOptions};
use crate::support::{agent, e2e_enabled, password_login, password_user, session_of, SsoApp};

/// A password user, made an admin when `admin`, signed in; returns its session token.
fn password_session(app: &SsoApp, name: &str, admin: bool) -> String {
    password_user(app, name, "pw-123456", admin);
    let (status, token, body) = password_login(app, name, "pw-123456");
    assert_eq!(status, 303, "{body}");
    token.unwrap()
}

/// An admin API call with the session cookie (and a CSRF header when given).
fn call(
    app: &SsoApp,
    token: &str,
    method: &str,
    path: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/v1/admin{path}", app.url());
    let cookie = format!("roster_session={token}");
    let mut response = match (method, body) {
        ("GET", _) => {
            let mut request = agent().get(&url).header("Cookie", &cookie);
            if let Some(csrf) = csrf {
                request = request.header("X-CSRF-Token", csrf);
            }
            request.call().unwrap()
        }
        (_, body) => {
            let mut request = agent()
                .request_builder_for(method, &url)
                .header("Cookie", &cookie)
                .header("Content-Type", "application/json");
            if let Some(csrf) = csrf {
                request = request.header("X-CSRF-Token", csrf);
            }
            request.send(body.unwrap_or(json!({})).to_string()).unwrap()
        }
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

trait RequestFor {
    fn request_builder_for(
        &self,
        method: &str,
        url: &str,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody>;
}

impl RequestFor for ureq::Agent {
    fn request_builder_for(
        &self,
        method: &str,
        url: &str,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        match method {
            "PUT" => self.put(url),
            "PATCH" => self.patch(url),
            _ => self.post(url),
        }
    }
}

#[test]
fn admin_sessions_need_the_admin_role_and_a_csrf_token_for_writes() {
    let app = SsoApp::new();
    let admin = password_session(&app, "root", true);
    let member = password_session(&app, "member", false);

    let (status, session) = call(&app, &admin, "GET", "/session", None, None);
    assert_eq!(status, 200);
    assert_eq!(session["signedInWithSso"], false);
    let csrf = session["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);

    // A session of a user who is not an admin authenticates, and the policy refuses it, reads
    // and its own session included (the console shows the reason).
    for path in ["/users", "/session"] {
        let (status, body) = call(&app, &member, "GET", path, None, None);
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["code"], "forbidden", "{body}");
        assert_eq!(body["detail"]["refusal"], "not_admin", "{body}");
        assert_eq!(
            body["message"], "only workspace admins can do this",
            "{body}"
        );
    }

    // A write with the cookie alone (what a cross-site form can do) is refused, nothing written.
    let users_before = app.user_count();
    let invite = json!({ "email": "new@example.test" });
    let (status, body) = call(&app, &admin, "POST", "/users", None, Some(invite.clone()));
    assert_eq!(status, 403);
    assert_eq!(body["code"], "csrf");
    let (status, _) = call(
        &app,
        &admin,
        "POST",
        "/users",
        Some("0".repeat(64).as_str()),
        Some(invite.clone()),
    );
    assert_eq!(status, 403);
    assert_eq!(app.user_count(), users_before);
    // With the session's token it goes through.
    let (status, body) = call(&app, &admin, "POST", "/users", Some(&csrf), Some(invite));
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.user_count(), users_before + 1);

    // A password session may not toggle SSO enforcement (it could lock everyone out).
    let (status, body) = call(
        &app,
        &admin,
        "PUT",
        "/sso-enforcement",
        Some(&csrf),
        Some(json!({"enforced": true})),
    );
    assert_eq!(status, 403, "{body}");

    // After logout the cookie is worthless for the admin API too.
    let response = agent()
        .post(&format!("{}/logout", app.url()))
        .header("Cookie", &format!("roster_session={admin}"))
        .send_empty()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(call(&app, &admin, "GET", "/session", None, None).0, 401);
}

#[test]
fn an_admin_signed_in_through_sso_may_enforce_sso() {
    if !e2e_enabled() {
        return;
    }
    let app = SsoApp::new();
    let connection = app.connection("corp", ConnectionKind::Oidc, &[]);
    let op = OidcOp::start(OidcOptions {
        redirect_uris: vec![format!("{}/sso/oidc/{}/callback", app.url(), connection.id)],
        ..OidcOptions::default()
    });
    let connection = app.configure(
        &connection,
        json!({ "issuer": op.issuer(), "client_id": op.client_id(), "client_secret": op.client_secret() }),
    );
    app.map(&connection, "admins", "Admins", "admin");
    let outcome = browser(
        &format!("{}/sso/acme/login?connection=corp", app.url()),
        Some(("alice", "alice-password")),
        None,
        &app.jar("alice"),
    );
    let token = session_of(&outcome).expect("alice's session");
    let (status, session) = call(&app, &token, "GET", "/session", None, None);
    assert_eq!(status, 200);
    assert_eq!(session["signedInWithSso"], true);
    let csrf = session["csrfToken"].as_str().unwrap().to_owned();
    let (status, body) = call(
        &app,
        &token,
        "PUT",
        "/sso-enforcement",
        Some(&csrf),
        Some(json!({"enforced": true})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ssoEnforced"], true);
    assert!(
        app.db
            .store
            .workspace(app.workspace.id)
            .unwrap()
            .sso_enforced
    );
}

/// `/logout` with the session cookie and these request headers: (status, headers, body).
fn logout(
    app: &SsoApp,
    method: &str,
    session: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let url = format!("{}/logout", app.url());
    let cookie = format!("roster_session={session}");
    let mut response = if method == "GET" {
        let mut request = agent().get(&url).header("Cookie", &cookie);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.call().unwrap()
    } else {
        let mut request = agent().post(&url).header("Cookie", &cookie);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send_empty().unwrap()
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn signing_out_takes_a_post_from_roster_s_own_pages_and_a_get_only_asks() {
    let app = SsoApp::new();
    let session = password_session(&app, "ops", false);
    let us = app.url();

    // GET asks, with a form that posts; it changes nothing and is neither cached nor framed.
    let (status, headers, body) = logout(&app, "GET", &session, &[]);
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"<form method="post" action="/logout">"#),
        "{body}"
    );
    assert_eq!(header(&headers, "cache-control"), ["no-store"]);
    assert_eq!(header(&headers, "x-frame-options"), ["DENY"]);
    assert!(header(&headers, "content-security-policy")[0].contains("frame-ancestors 'none'"));
    assert!(header(&headers, "set-cookie").is_empty());
    assert_eq!(app.me(&session).0, 200, "a GET signs nobody out");

    // A POST from a page of another site: 403 with the reason, still signed in.
    for refused in [
        vec![("Origin", "http://evil.test")],
        vec![("Origin", "null")],
        vec![("Origin", us.as_str()), ("Sec-Fetch-Site", "cross-site")],
        vec![("Referer", "http://evil.test/page")],
    ] {
        let (status, headers, body) = logout(&app, "POST", &session, &refused);
        assert_eq!(status, 403, "{refused:?}: {body}");
        assert!(body.contains("cross_origin"), "{body}");
        assert!(body.contains(r#"<form method="post" action="/logout">"#));
        assert_eq!(header(&headers, "x-frame-options"), ["DENY"]);
        assert!(header(&headers, "set-cookie").is_empty(), "{refused:?}");
        assert_eq!(app.me(&session).0, 200, "{refused:?} signed the user out");
    }

    // The landing page's "Sign out" leads to that confirmation page.
    let mut landing = agent()
        .get(&format!("{us}/"))
        .header("Cookie", &format!("roster_session={session}"))
        .call()
        .unwrap();
    assert_eq!(
        landing
            .headers()
            .get("x-frame-options")
            .unwrap()
            .to_str()
            .unwrap(),
        "DENY"
    );
    let landing = landing.body_mut().read_to_string().unwrap();
    assert!(
        landing.contains("Signed in as <strong>ops</strong>"),
        "{landing}"
    );
    assert!(
        landing.contains(r#"<a href="/logout">Sign out</a>"#),
        "{landing}"
    );

    // From Roster's own page: signed out, server-side too.
    let (status, headers, _) = logout(
        &app,
        "POST",
        &session,
        &[("Origin", us.as_str()), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(status, 303);
    assert!(header(&headers, "set-cookie")[0].starts_with("roster_session=;"));
    assert_eq!(app.me(&session).0, 401);

    // A client that holds its token as a bearer token needs no proof: no page of another site
    // can send that header.
    let (_, token, _) = password_login(&app, "ops", "pw-123456");
    let token = token.unwrap();
    let response = agent()
        .post(&format!("{us}/logout"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Origin", "http://evil.test")
        .send_empty()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(app.me(&token).0, 401);
}
