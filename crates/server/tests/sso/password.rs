//! The one non-SSO login: local passwords, refused once the workspace enforces SSO. No IdP is
//! involved, so these tests always run.

use pretty_assertions::assert_eq;
use roster_store::domain::Actor;

use crate::support::{event_id_on_page, password_login, password_user, SsoApp};

#[test]
fn passwords_work_until_sso_is_enforced() {
    let app = SsoApp::new();
    password_user(&app, "ops", "correct horse", false);

    let (status, token, _) = password_login(&app, "ops", "correct horse");
    assert_eq!(status, 303);
    let (me_status, me) = app.me(&token.unwrap());
    assert_eq!(me_status, 200);
    assert_eq!(me["userName"], "ops");

    // Wrong password and unknown user: one answer, no session.
    for (user, password) in [("ops", "wrong"), ("nobody", "correct horse")] {
        let (status, token, body) = password_login(&app, user, password);
        assert_eq!(status, 401, "{body}");
        assert!(token.is_none());
        assert!(body.contains("invalid_credentials"));
    }

    // An API key is not an SSO session, so it may not toggle enforcement (it could lock the
    // workspace out: docs/policy.md); an admin signed in through SSO can (the store call below).
    let (_, key) = app
        .db
        .store
        .create_api_key(&Actor::Cli, app.workspace.id, "t")
        .unwrap();
    let response = crate::support::agent()
        .put(&format!("{}/api/v1/admin/sso-enforcement", app.url()))
        .header("Authorization", &format!("Bearer {}", key.expose()))
        .header("Content-Type", "application/json")
        .send(r#"{"enforced": true}"#)
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    app.db
        .store
        .set_sso_enforced(&Actor::Cli, app.workspace.id, true)
        .unwrap();
    let (status, token, body) = password_login(&app, "ops", "correct horse");
    assert_eq!(status, 403);
    assert!(token.is_none());
    assert!(body.contains("sso_required"), "{body}");
    let event = app
        .db
        .store
        .login_event(app.workspace.id, &event_id_on_page(&body).unwrap())
        .unwrap();
    assert_eq!(event.protocol, "password");
    assert_eq!(event.reason.as_deref(), Some("sso_required"));

    let bad_return = crate::support::agent()
        .post(&format!("{}/login/password", app.url()))
        .send_form([
            ("workspace", "acme"),
            ("user_name", "ops"),
            ("password", "x"),
            ("return_to", "//evil.test"),
        ])
        .unwrap();
    assert_eq!(bad_return.status().as_u16(), 400);
}

/// `POST /login/password` for workspace `acme`: (status, Retry-After, body).
fn attempt(app: &SsoApp, user: &str, password: &str) -> (u16, Option<u64>, String) {
    let mut response = crate::support::agent()
        .post(&format!("{}/login/password", app.url()))
        .send_form([
            ("workspace", "acme"),
            ("user_name", user),
            ("password", password),
        ])
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), retry_after, body)
}

/// How many password hashes the server has verified (Argon2 runs), from `/metrics`.
fn verifications(app: &SsoApp) -> u64 {
    let metrics = app.get("/metrics", None).body;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("roster_password_verifications_total "))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn failed_passwords_lock_the_account_without_argon2_and_spare_other_accounts() {
    let mut settings = roster_server::settings::Settings::default();
    settings.sso.password_max_failures = 3;
    let app = SsoApp::with_settings(settings);
    password_user(&app, "ops", "correct horse", false);
    password_user(&app, "dev", "battery staple", false);

    // A success clears the count.
    for _ in 0..2 {
        assert_eq!(attempt(&app, "ops", "wrong").0, 401);
    }
    assert_eq!(attempt(&app, "ops", "correct horse").0, 303);
    for _ in 0..3 {
        assert_eq!(attempt(&app, "ops", "wrong").0, 401);
    }

    // Locked: even the right password is refused, with Retry-After, and no hash is verified.
    let before = verifications(&app);
    let (status, retry_after, body) = attempt(&app, "OPS", "correct horse");
    assert_eq!(status, 429, "{body}");
    assert!(retry_after.is_some_and(|s| (1..=901).contains(&s)));
    assert!(body.contains("too_many_attempts"), "{body}");
    assert_eq!(verifications(&app), before, "no Argon2 while locked");
    let event = app
        .db
        .store
        .login_event(app.workspace.id, &event_id_on_page(&body).unwrap())
        .unwrap();
    assert_eq!(
        (event.protocol.as_str(), event.reason.as_deref()),
        ("password", Some("too_many_attempts"))
    );

    // Another account is unaffected.
    assert_eq!(attempt(&app, "dev", "battery staple").0, 303);
    assert_eq!(verifications(&app), before + 1);
}

#[test]
fn failed_passwords_from_one_address_lock_that_address() {
    let mut settings = roster_server::settings::Settings::default();
    settings.sso.password_max_failures_per_address = 2;
    let app = SsoApp::with_settings(settings);
    password_user(&app, "ops", "correct horse", false);
    assert_eq!(attempt(&app, "a", "x").0, 401);
    assert_eq!(attempt(&app, "b", "x").0, 401);
    let (status, retry_after, body) = attempt(&app, "ops", "correct horse");
    assert_eq!(status, 429, "{body}");
    assert!(retry_after.is_some());
}
