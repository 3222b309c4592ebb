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

/// A full answer to a password login: status, headers (lowercase names, without the ones that
/// differ per request by design), body, and the session it set.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    session: Option<String>,
}

/// `POST /login/password` for workspace `acme` with extra request headers.
fn login_with(app: &SsoApp, headers: &[(&str, &str)], user: &str, password: &str) -> Answer {
    let mut request = crate::support::agent().post(&format!("{}/login/password", app.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request
        .send_form([
            ("workspace", "acme"),
            ("user_name", user),
            ("password", password),
            ("return_to", "/"),
        ])
        .unwrap();
    let session = crate::support::session_set_by(&response);
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .filter(|(n, _)| n != "date" && n != "x-request-id")
        .collect();
    headers.sort();
    Answer {
        status: response.status().as_u16(),
        headers,
        body: response.body_mut().read_to_string().unwrap_or_default(),
        session,
    }
}

#[test]
fn under_sso_enforcement_every_password_and_user_name_gets_one_answer_without_argon2() {
    let app = SsoApp::new();
    password_user(&app, "ops", "correct horse", false);
    app.db
        .store
        .set_sso_enforced(&Actor::Cli, app.workspace.id, true)
        .unwrap();
    let before = verifications(&app);

    let mut answers = Vec::new();
    let mut events = Vec::new();
    for (user, password) in [
        ("ops", "correct horse"),
        ("ops", "wrong"),
        ("nobody", "correct horse"),
        ("nobody", ""),
    ] {
        let mut answer = login_with(&app, &[], user, password);
        let event_id = event_id_on_page(&answer.body).expect("the page names its login event");
        answer.body = answer.body.replace(&event_id, "EVENT");
        answers.push(answer);
        events.push(
            app.db
                .store
                .login_event(app.workspace.id, &event_id)
                .unwrap(),
        );
    }
    // Byte for byte the same answer (but for the event id), and no session.
    assert_eq!(answers[0].status, 403, "{}", answers[0].body);
    assert!(answers[0].body.contains("sso_required"));
    assert_eq!(answers[0].session, None);
    for answer in &answers[1..] {
        assert_eq!(answer, &answers[0]);
    }
    assert_eq!(verifications(&app), before, "no password was verified");

    // Each attempt is in the login log as sso_required, with its user when it exists.
    let ops = app
        .db
        .store
        .user_by_user_name(app.workspace.id, "ops")
        .unwrap()
        .id
        .to_string();
    let recorded: Vec<(&str, Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.protocol.as_str(),
                e.reason.as_deref(),
                e.user_id.as_deref(),
            )
        })
        .collect();
    let sso = Some("sso_required");
    assert_eq!(
        recorded,
        [
            ("password", sso, Some(ops.as_str())),
            ("password", sso, Some(ops.as_str())),
            ("password", sso, None),
            ("password", sso, None),
        ]
    );
}

#[test]
fn a_password_form_posted_from_another_origin_signs_nobody_in() {
    let app = SsoApp::new();
    password_user(&app, "ops", "correct horse", false);
    let us = app.url();
    let before = verifications(&app);

    for headers in [
        vec![("Origin", "http://evil.test")],
        vec![("Origin", "null")],
        vec![("Origin", us.as_str()), ("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Referer", "http://evil.test/login?next=x")],
        vec![("Origin", "http://evil.test"), ("Referer", us.as_str())],
    ] {
        let answer = login_with(&app, &headers, "ops", "correct horse");
        assert_eq!(answer.status, 403, "{headers:?}: {}", answer.body);
        assert!(answer.body.contains("cross_origin"), "{}", answer.body);
        assert_eq!(answer.session, None, "{headers:?} signed someone in");
        let event = app
            .db
            .store
            .login_event(app.workspace.id, &event_id_on_page(&answer.body).unwrap())
            .unwrap();
        assert_eq!(
            (event.protocol.as_str(), event.reason.as_deref()),
            ("password", Some("cross_origin"))
        );
    }
    assert_eq!(
        verifications(&app),
        before,
        "refused before any password work"
    );
    assert!(app.login_events().iter().all(|e| e.outcome == "failure"));
    let first: serde_json::Value =
        serde_json::from_str(&app.login_events().last().unwrap().detail).unwrap();
    assert_eq!(
        first,
        serde_json::json!({ "header": "Origin", "want": us, "got": "http://evil.test" })
    );

    // From Roster's own pages it goes through: Origin, `null` with the browser's same-origin
    // word for it (a page served with `Referrer-Policy: no-referrer`), or the Referer alone.
    // A client that sends none of these headers is not a browser and is let in too.
    let console = format!("{us}/admin");
    for headers in [
        vec![("Origin", us.as_str()), ("Sec-Fetch-Site", "same-origin")],
        vec![("Origin", "null"), ("Sec-Fetch-Site", "same-origin")],
        vec![("Referer", console.as_str())],
        vec![],
    ] {
        let answer = login_with(&app, &headers, "ops", "correct horse");
        assert_eq!(answer.status, 303, "{headers:?}: {}", answer.body);
        assert!(answer.session.is_some());
    }
}
