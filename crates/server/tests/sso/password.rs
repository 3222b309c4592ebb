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
