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
