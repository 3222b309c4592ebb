//! Setup links over real HTTP: the operator makes one for a workspace; its page says what it is
//! for and redeems nothing (mail scanners fetch links); its Continue button opens a setup session
//! once — a second press, two browsers at once, a revoked or an expired link are refused with a
//! page saying which and change nothing; revoking the link ends the session it opened; "Done"
//! ends it too and answers the operator's `return_url`. Each step is in the audit trail, the
//! session's actions as the link. (Which routes a setup session reaches is walked route by route
//! in `admin_policy`.)

use std::sync::{Arc, Barrier};

use pretty_assertions::assert_eq;
use roster_store::domain::setup_link::SetupIntent;
use roster_store::domain::Actor;
use roster_store::NewSetupLink;
use serde_json::{json, Value};

use crate::admin_policy::with_setup;
use crate::common::browser::{agent, cookie_set_by};
use crate::common::TestApp;
use crate::operator_api::{operator, operator_key};

/// What pressing Continue answers: status, the `roster_setup` cookie, `Location`, the page.
struct Pressed {
    status: u16,
    cookie: Option<String>,
    location: Option<String>,
    page: String,
}

fn press_continue(app: &TestApp, path: &str, fetch_site: Option<&str>) -> Pressed {
    let mut request = agent().post(&format!("{}{path}", app.server.url()));
    if let Some(site) = fetch_site {
        request = request.header("sec-fetch-site", site);
    }
    let mut response = request.send_empty().unwrap();
    Pressed {
        status: response.status().as_u16(),
        cookie: cookie_set_by(&response, "roster_setup").filter(|c| !c.is_empty()),
        location: response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        page: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// A `GET` of a page as a browser opens it: status and HTML.
pub(crate) fn open_page(app: &TestApp, path: &str) -> (u16, String) {
    let mut response = agent()
        .get(&format!("{}{path}", app.server.url()))
        .call()
        .unwrap();
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap(),
    )
}

/// The link's path on the server, from the URL the operator got.
fn link_path(created: &Value) -> String {
    let url = created["url"].as_str().unwrap();
    let at = url.find("/setup/").expect("a /setup/ URL");
    url[at..].to_owned()
}

fn trail(app: &TestApp) -> Vec<(String, String)> {
    let mut events: Vec<(String, String)> = app
        .db
        .store
        .audit_events(app.workspace.id, None, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.target_kind == "setup_link")
        .map(|e| (e.action, e.actor_kind))
        .collect();
    events.sort_by_key(|(action, _)| {
        [
            "setup_link.created",
            "setup_link.redeemed",
            "setup_link.finished",
        ]
        .iter()
        .position(|a| a == action)
    });
    events
}

#[test]
fn an_it_admin_opens_a_setup_link_once_and_finishes_back_at_the_product() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let slug = app.workspace.slug.to_string();
    let created = operator(
        &app,
        &key,
        "POST",
        &format!("/workspaces/{slug}/setup-links"),
        Some(json!({
            "intent": "sso",
            "expires_in": 3600,
            "return_url": "https://app.example.com/settings/sso"
        })),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(created.body["intent"], "sso");
    assert_eq!(
        created.body["returnUrl"],
        "https://app.example.com/settings/sso"
    );
    let url = created.body["url"].as_str().unwrap();
    assert!(url.contains("/setup/rssl_"), "{url}");
    let path = link_path(&created.body);

    // The page, twice (a mail scanner, then the person): it says what the link is for and
    // consumes nothing.
    for _ in 0..2 {
        let (status, page) = open_page(&app, &path);
        assert_eq!(status, 200);
        assert!(page.contains("single sign-on"), "{page}");
        assert!(page.contains("method=\"post\""), "{page}");
    }
    // A cross-site form cannot open the session in the visitor's browser.
    let forged = press_continue(&app, &path, Some("cross-site"));
    assert_eq!((forged.status, forged.cookie.is_some()), (403, false));

    let pressed = press_continue(&app, &path, Some("same-origin"));
    assert_eq!(pressed.status, 303, "{}", pressed.page);
    assert_eq!(pressed.location.as_deref(), Some("/admin#setup"));
    let cookie = pressed.cookie.expect("the setup session's cookie");
    assert!(cookie.starts_with("rsss_"));

    // Pressed again (the back button, a second tab): used.
    let again = press_continue(&app, &path, None);
    assert_eq!((again.status, again.cookie.is_some()), (410, false));
    assert!(again.page.contains("already used"), "{}", again.page);
    let (status, page) = open_page(&app, &path);
    assert_eq!(status, 410);
    assert!(page.contains("<code>used</code>"), "{page}");

    // The session is the workspace's, for its intent.
    let session = (cookie, String::new());
    let me = with_setup(&app, &session, "GET", "/session", None);
    assert_eq!(me.status, 200, "{:#}", me.body);
    assert_eq!(me.body["setup"]["intent"], "sso");
    assert_eq!(me.body["setup"]["workspace"]["slug"], slug.as_str());
    assert_eq!(me.body["workspaceId"], app.workspace.id.to_string());
    let session = (session.0, me.body["csrfToken"].as_str().unwrap().to_owned());
    // A write without the CSRF token is refused.
    let no_csrf = with_setup(
        &app,
        &(session.0.clone(), String::new()),
        "POST",
        "/connections",
        Some(json!({"name": "Okta", "kind": "saml"})),
    );
    assert_eq!(
        (no_csrf.status, &no_csrf.body["code"]),
        (403, &json!("csrf"))
    );

    // The operator sees it redeemed.
    let listed = operator(
        &app,
        &key,
        "GET",
        &format!("/workspaces/{slug}/setup-links"),
        None,
    );
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    assert_eq!(listed.body["setupLinks"][0]["state"], "redeemed");
    assert!(
        listed.body["setupLinks"][0].get("url").is_none(),
        "the URL is shown once"
    );

    // Done: the session ends and the browser goes back to the product.
    let done = with_setup(&app, &session, "POST", "/setup/finish", None);
    assert_eq!(done.status, 200, "{:#}", done.body);
    assert_eq!(
        done.body["returnUrl"],
        "https://app.example.com/settings/sso"
    );
    assert_eq!(
        with_setup(&app, &session, "GET", "/session", None).status,
        401
    );
    let listed = operator(
        &app,
        &key,
        "GET",
        &format!("/workspaces/{slug}/setup-links"),
        None,
    );
    assert_eq!(listed.body["setupLinks"][0]["state"], "finished");

    assert_eq!(
        trail(&app),
        [
            ("setup_link.created".to_owned(), "operator".to_owned()),
            ("setup_link.redeemed".to_owned(), "setup_link".to_owned()),
            ("setup_link.finished".to_owned(), "setup_link".to_owned()),
        ]
    );
}

#[test]
fn revoked_expired_and_unknown_links_are_refused_and_change_nothing() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let slug = app.workspace.slug.to_string();
    let links = |intent: &str| {
        let created = operator(
            &app,
            &key,
            "POST",
            &format!("/workspaces/{slug}/setup-links"),
            Some(json!({ "intent": intent })),
        );
        assert_eq!(created.status, 201, "{:#}", created.body);
        created.body
    };

    // Revoked before use: refused.
    let revoked = links("domain");
    let gone = operator(
        &app,
        &key,
        "DELETE",
        &format!(
            "/workspaces/{slug}/setup-links/{}",
            revoked["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(
        (gone.status, &gone.body["state"]),
        (200, &json!("revoked")),
        "{:#}",
        gone.body
    );
    let pressed = press_continue(&app, &link_path(&revoked), None);
    assert_eq!((pressed.status, pressed.cookie.is_some()), (410, false));
    assert!(
        pressed.page.contains("<code>revoked</code>"),
        "{}",
        pressed.page
    );

    // Revoked while in use: the session ends at once.
    let in_use = links("domain");
    let pressed = press_continue(&app, &link_path(&in_use), None);
    let session = (pressed.cookie.expect("a session"), String::new());
    assert_eq!(
        with_setup(&app, &session, "GET", "/domains", None).status,
        200
    );
    let gone = operator(
        &app,
        &key,
        "DELETE",
        &format!(
            "/workspaces/{slug}/setup-links/{}",
            in_use["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(gone.status, 200);
    assert_eq!(
        with_setup(&app, &session, "GET", "/domains", None).status,
        401
    );

    // Expired (a link made to live one second).
    let (_, token) = app
        .db
        .store
        .create_setup_link(
            &Actor::Cli,
            NewSetupLink {
                workspace_id: app.workspace.id,
                intent: SetupIntent::Scim,
                lifetime_seconds: 1,
                return_url: None,
            },
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let expired = press_continue(&app, &format!("/setup/{}", token.expose()), None);
    assert_eq!((expired.status, expired.cookie.is_some()), (410, false));
    assert!(
        expired.page.contains("<code>expired</code>"),
        "{}",
        expired.page
    );

    // Unknown, or a token of another kind.
    for path in ["/setup/rssl_nothing", "/setup/rsak_notalink"] {
        let pressed = press_continue(&app, path, None);
        assert_eq!(
            (pressed.status, pressed.cookie.is_some()),
            (404, false),
            "{path}"
        );
    }
    // No refused press redeemed anything.
    let redeemed: Vec<_> = app
        .db
        .store
        .setup_links(app.workspace.id)
        .unwrap()
        .into_iter()
        .filter(|l| l.redeemed_at.is_some())
        .map(|l| l.id.to_string())
        .collect();
    assert_eq!(redeemed, [in_use["id"].as_str().unwrap()]);
}

#[test]
fn two_browsers_pressing_continue_at_once_get_one_session() {
    let app = Arc::new(TestApp::new());
    let created = app.admin(
        &app.api_key(),
        "POST",
        "/setup-links",
        Some(json!({"intent": "all"})),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let path = link_path(&created.body);
    let barrier = Arc::new(Barrier::new(8));
    let presses: Vec<_> = (0..8)
        .map(|_| {
            let (app, path, barrier) = (app.clone(), path.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                press_continue(&app, &path, None).status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = presses.into_iter().map(|p| p.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 410, 410, 410, 410, 410, 410, 410]);
}

#[test]
fn setup_link_requests_are_checked_and_a_setup_session_cannot_make_links() {
    let app = TestApp::new();
    let key = app.api_key();
    let bad = [
        json!({"intent": "admin"}),
        json!({"intent": "sso", "expires_in": 30}),
        json!({"intent": "sso", "expires_in": 604_801}),
        json!({"intent": "sso", "return_url": "http://app.example.com/"}),
        json!({"intent": "sso", "return_url": "javascript:alert(1)"}),
        json!({"intent": "sso", "returnUrl": "https://app.example.com/"}),
        json!({}),
    ];
    for body in bad {
        let reply = app.admin(&key, "POST", "/setup-links", Some(body.clone()));
        assert_eq!(reply.status, 400, "{body}: {:#}", reply.body);
    }
    assert!(app
        .db
        .store
        .setup_links(app.workspace.id)
        .unwrap()
        .is_empty());
    // A workspace admin's key on the operator's route: the wrong level.
    let reply = operator(
        &app,
        &key,
        "POST",
        &format!("/workspaces/{}/setup-links", app.workspace.slug),
        Some(json!({"intent": "sso"})),
    );
    assert_eq!(reply.status, 403, "{:#}", reply.body);
    // A setup session cannot mint itself more links.
    let session = crate::admin_policy::setup_session(&app, "all");
    let reply = with_setup(
        &app,
        &session,
        "POST",
        "/setup-links",
        Some(json!({"intent": "all"})),
    );
    assert_eq!(
        (reply.status, &reply.body["detail"]["refusal"]),
        (403, &json!("setup_scope"))
    );
    assert_eq!(app.db.store.setup_links(app.workspace.id).unwrap().len(), 1);
}
