//! Admin invitations over real HTTP, the password way: the operator invites an email; the page
//! redeems nothing; mismatched or short passwords, a cross-site form, an existing account and a
//! workspace that enforces SSO are refused with nothing written; the right form creates the
//! account, its password and its admin role in one step, the link is then used, and the new
//! admin signs in to the console with that password. (The SSO way: `sso/invitations.rs`.)

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Source};
use serde_json::json;

use crate::common::browser::{agent, session_set_by};
use crate::common::TestApp;
use crate::operator_api::{operator, operator_key};

fn invite(app: &TestApp, email: &str) -> String {
    let key = operator_key(app);
    let created = operator(
        app,
        &key,
        "POST",
        &format!("/workspaces/{}/admins/invitations", app.workspace.slug),
        Some(json!({ "email": email })),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(created.body["email"], email);
    let url = created.body["url"].as_str().unwrap();
    let at = url.find("/invitations/rsai_").expect("an invitation URL");
    url[at..].to_owned()
}

fn post_form(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    site: Option<&str>,
) -> (u16, String) {
    let mut request = agent().post(&format!("{}{path}", app.server.url()));
    if let Some(site) = site {
        request = request.header("sec-fetch-site", site);
    }
    let mut response = request.send_form(fields.iter().copied()).unwrap();
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn get_page(app: &TestApp, path: &str) -> (u16, String) {
    let mut response = agent()
        .get(&format!("{}{path}", app.server.url()))
        .call()
        .unwrap();
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap(),
    )
}

fn users(app: &TestApp) -> i64 {
    app.db.store.count_users(app.workspace.id).unwrap()
}

#[test]
fn an_invited_admin_sets_a_password_once_and_signs_in() {
    let app = TestApp::new();
    let path = invite(&app, "it-admin@acme.test");
    for _ in 0..2 {
        let (status, page) = get_page(&app, &path);
        assert_eq!(status, 200);
        assert!(page.contains("Set a password"), "{page}");
        assert!(page.contains("it-admin@acme.test"), "{page}");
    }
    let before = users(&app);
    let password_path = format!("{path}/password");
    let refused = [
        (
            vec![
                ("password", "correct horse battery"),
                ("confirm", "correct horse batterY"),
            ],
            None,
            400,
        ),
        (vec![("password", "short"), ("confirm", "short")], None, 400),
        (
            vec![
                ("password", "correct horse battery"),
                ("confirm", "correct horse battery"),
            ],
            Some("cross-site"),
            403,
        ),
    ];
    for (fields, site, status) in refused {
        let (got, page) = post_form(&app, &password_path, &fields, site);
        assert_eq!(got, status, "{fields:?}: {page}");
    }
    assert_eq!(users(&app), before, "a refused form created someone");

    let fields = [
        ("password", "correct horse battery"),
        ("confirm", "correct horse battery"),
    ];
    let (status, page) = post_form(&app, &password_path, &fields, Some("same-origin"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are an admin"), "{page}");
    let user = app
        .db
        .store
        .user_by_user_name(app.workspace.id, "it-admin@acme.test")
        .unwrap();
    assert_eq!(user.source, Source::Invited);
    assert_eq!(
        user.email.as_ref().map(|e| e.as_str()),
        Some("it-admin@acme.test")
    );
    let roles = app
        .db
        .store
        .effective_roles(&app.db.store.workspace(app.workspace.id).unwrap(), user.id)
        .unwrap();
    assert!(
        roles.roles.iter().any(|r| r.as_str() == "admin"),
        "{roles:?}"
    );

    // Used: the page and the form say so, and nothing more is created.
    let (status, page) = post_form(&app, &password_path, &fields, None);
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("<code>used</code>"), "{page}");
    assert_eq!(get_page(&app, &path).0, 410);
    assert_eq!(users(&app), before + 1);

    // The new admin signs in with the password and reaches the admin API.
    let response = agent()
        .post(&format!("{}/login/password", app.server.url()))
        .send_form([
            ("workspace", app.workspace.slug.as_str()),
            ("user_name", "it-admin@acme.test"),
            ("password", "correct horse battery"),
            ("return_to", "/admin"),
        ])
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let session = session_set_by(&response).expect("a session");
    let cookie = format!("roster_session={session}");
    let me = app.raw(
        "GET",
        "/api/v1/admin/session",
        None,
        &[("cookie", cookie.as_str())],
    );
    assert_eq!(me.status, 200, "{:#}", me.body);

    // Audited: created by the operator, accepted as the new user.
    let trail: Vec<(String, String)> = app
        .db
        .store
        .audit_events(app.workspace.id, None, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.target_kind == "admin_invitation")
        .map(|e| (e.action, e.actor_kind))
        .collect();
    assert!(
        trail.contains(&("admin_invitation.created".to_owned(), "operator".to_owned())),
        "{trail:?}"
    );
    assert!(
        trail.contains(&("admin_invitation.accepted".to_owned(), "admin".to_owned())),
        "{trail:?}"
    );
}

#[test]
fn an_invitation_never_sets_an_existing_accounts_password_nor_a_password_under_sso() {
    let app = TestApp::new();
    let existing = app.store_user("ann@acme.test", "ann@acme.test", Source::Jit);
    let path = invite(&app, "ann@acme.test");
    let fields = [
        ("password", "correct horse battery"),
        ("confirm", "correct horse battery"),
    ];
    let (status, page) = post_form(&app, &format!("{path}/password"), &fields, None);
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("account_exists"), "{page}");
    let ann = app.db.store.user(app.workspace.id, existing.id).unwrap();
    assert_eq!(
        ann.version, existing.version,
        "the existing account changed"
    );
    // The invitation is still open (nothing was written), for the SSO way.
    assert_eq!(get_page(&app, &path).0, 200);

    // A workspace that enforces SSO offers no password.
    app.db
        .store
        .set_sso_enforced(&Actor::Cli, app.workspace.id, true)
        .unwrap();
    let other = invite(&app, "new-admin@acme.test");
    let (status, page) = get_page(&app, &other);
    assert_eq!(status, 200);
    assert!(!page.contains("Set password"), "{page}");
    let before = users(&app);
    let (status, page) = post_form(&app, &format!("{other}/password"), &fields, None);
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("sso_required"), "{page}");
    assert_eq!(users(&app), before);
}

#[test]
fn revoked_and_unknown_invitations_are_refused() {
    let app = TestApp::new();
    let key = app.api_key();
    let created = app.admin(
        &key,
        "POST",
        "/admins/invitations",
        Some(json!({"email": "x@acme.test"})),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let revoked = app.admin(&key, "DELETE", &format!("/admins/invitations/{id}"), None);
    assert_eq!(
        (revoked.status, &revoked.body["state"]),
        (200, &json!("revoked"))
    );
    let url = created.body["url"].as_str().unwrap();
    let path = &url[url.find("/invitations/").unwrap()..];
    assert_eq!(get_page(&app, path).0, 410);
    let fields = [
        ("password", "correct horse battery"),
        ("confirm", "correct horse battery"),
    ];
    assert_eq!(
        post_form(&app, &format!("{path}/password"), &fields, None).0,
        410
    );
    assert_eq!(get_page(&app, "/invitations/rsai_nothing").0, 404);
    let listed = app.admin(&key, "GET", "/admins/invitations", None);
    assert_eq!(listed.body["invitations"][0]["state"], "revoked");
    assert!(listed.body["invitations"][0].get("url").is_none());
    for bad in [
        json!({"email": "not an email"}),
        json!({"email": "a@acme.test", "expires_in": 5}),
        json!({}),
    ] {
        let reply = app.admin(&key, "POST", "/admins/invitations", Some(bad.clone()));
        assert_eq!(reply.status, 400, "{bad}: {:#}", reply.body);
    }
}
