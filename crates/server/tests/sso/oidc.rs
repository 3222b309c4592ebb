//! OIDC logins through panva's oidc-provider: JIT, group claims to roles, sessions, and the
//! refusals a browser can trigger (replayed or foreign callbacks, OP errors, mix-up, inactive
//! users, email conflicts), each proven to change nothing.

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, ConnectionKind, Email, LifecycleEvent, Source, UserName};
use roster_store::NewUser;
use serde_json::json;

use crate::idps::{browser, OidcOp, OidcOptions, TokenAuthMethod};
use crate::support::{e2e_enabled, event_id_on_page, session_of, SsoApp};

/// An OIDC connection `corp` authoritative for example.test, with its OP running.
pub(crate) fn oidc_app(
    options: OidcOptions,
    domains: &[&str],
) -> (SsoApp, roster_store::domain::Connection, OidcOp) {
    let app = SsoApp::new();
    let connection = app.connection("corp", ConnectionKind::Oidc, domains);
    let redirect = format!("{}/sso/oidc/{}/callback", app.url(), connection.id);
    let method = options.token_auth_method;
    let op = OidcOp::start(OidcOptions {
        redirect_uris: vec![redirect],
        ..options
    });
    let connection = app.configure(
        &connection,
        json!({
            "issuer": op.issuer(),
            "client_id": op.client_id(),
            "client_secret": op.client_secret(),
            "token_auth_method": method.as_str(),
        }),
    );
    (app, connection, op)
}

fn login_url(app: &SsoApp) -> String {
    format!("{}/sso/acme/login?connection=corp&return_to=%2F", app.url())
}

#[test]
fn first_login_creates_the_user_with_mapped_groups_and_roles() {
    if !e2e_enabled() {
        return;
    }
    let (app, connection, _op) = oidc_app(OidcOptions::default(), &["example.test"]);
    app.map(&connection, "engineering", "Engineering", "engineer");

    let jar = app.jar("alice");
    let outcome = browser(
        &login_url(&app),
        Some(("alice", "alice-password")),
        None,
        &jar,
    );
    assert_eq!(outcome.exit_code, 0, "{}", outcome.json);
    assert!(outcome.json["body"]
        .as_str()
        .unwrap()
        .contains("Signed in as <strong>alice</strong>"));
    let token = session_of(&outcome).expect("session cookie");

    let (status, me) = app.me(&token);
    assert_eq!(status, 200);
    assert_eq!(me["userName"], "alice");
    assert_eq!(me["email"], "alice@example.test");
    assert_eq!(me["givenName"], "Alice");
    assert_eq!(me["familyName"], "Anderson");
    assert_eq!(me["groups"], json!(["Engineering"]));
    assert_eq!(me["roles"], json!(["engineer"]));
    assert_eq!(me["primaryRole"], "engineer");
    assert_eq!(me["workspace"], "acme");

    let user = app
        .db
        .store
        .user_by_user_name(app.workspace.id, "alice")
        .unwrap();
    assert_eq!(user.source, Source::Jit);
    let events = app.login_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "success");
    assert_eq!(events[0].subject.as_deref(), Some("8f2c6b1e-alice"));
    assert_eq!(
        events[0].user_id.as_deref(),
        Some(user.id.to_string().as_str())
    );

    // A second login (the OP remembers the browser) finds the same user.
    let again = browser(&login_url(&app), None, None, &jar);
    assert_eq!(again.exit_code, 0, "{}", again.json);
    assert_eq!(app.user_count(), 1);
    assert_eq!(app.login_events().len(), 2);

    // The JWKS verifies the session token's key id.
    let jwks: serde_json::Value =
        serde_json::from_str(&app.get("/.well-known/jwks.json", None).body).unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
}

#[test]
fn claims_in_the_id_token_and_client_secret_post() {
    if !e2e_enabled() {
        return;
    }
    let (app, connection, _op) = oidc_app(
        OidcOptions {
            claims_in_id_token: true,
            token_auth_method: TokenAuthMethod::ClientSecretPost,
            ..OidcOptions::default()
        },
        &[],
    );
    app.map(&connection, "engineering", "Engineering", "engineer");
    let bob = browser(
        &login_url(&app),
        Some(("bob", "bob-password")),
        None,
        &app.jar("bob"),
    );
    let (status, me) = app.me(&session_of(&bob).expect("bob's session"));
    assert_eq!(status, 200, "{}", bob.json);
    assert_eq!(me["roles"], json!(["engineer"]));

    // carol: no groups, unverified email: created, and gets the default role only.
    let carol = browser(
        &login_url(&app),
        Some(("carol", "carol-password")),
        None,
        &app.jar("carol"),
    );
    let (status, me) = app.me(&session_of(&carol).expect("carol's session"));
    assert_eq!(status, 200);
    assert_eq!(me["groups"], json!([]));
    assert_eq!(me["roles"], json!(["member"]));
    assert_eq!(me["primaryRole"], "member");
}

#[test]
fn deactivation_ends_sessions_and_refuses_the_next_login() {
    if !e2e_enabled() {
        return;
    }
    let (app, _connection, _op) = oidc_app(OidcOptions::default(), &[]);
    let jar = app.jar("alice");
    let outcome = browser(
        &login_url(&app),
        Some(("alice", "alice-password")),
        None,
        &jar,
    );
    let token = session_of(&outcome).unwrap();
    assert_eq!(app.me(&token).0, 200);

    let user = app
        .db
        .store
        .user_by_user_name(app.workspace.id, "alice")
        .unwrap();
    app.db
        .store
        .change_lifecycle(
            &Actor::Cli,
            app.workspace.id,
            user.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    assert_eq!(
        app.me(&token).0,
        401,
        "a deactivated user's session ends at once"
    );

    let refused = browser(&login_url(&app), None, None, &jar);
    assert_eq!(refused.json["status"], 403, "{}", refused.json);
    let body = refused.json["body"].as_str().unwrap();
    assert!(body.contains("user_inactive"), "{body}");
    assert_eq!(session_of(&refused), Some(token.clone()), "no new session");
    assert_eq!(app.me(&token).0, 401);
    let event_id = event_id_on_page(body).expect("the page names its login event");
    let event = app
        .db
        .store
        .login_event(app.workspace.id, &event_id)
        .unwrap();
    assert_eq!(event.outcome, "failure");
    assert_eq!(event.reason.as_deref(), Some("user_inactive"));
    assert_eq!(app.user_count(), 1);

    // Admins see both attempts, newest first, with the reason of the refusal.
    let (status, log) = app.admin_get("/login-events");
    assert_eq!(status, 200);
    let events = log["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["outcome"], "failure");
    assert_eq!(events[0]["reason"], "user_inactive");
    assert_eq!(events[0]["id"], event_id.as_str());
    assert_eq!(events[1]["outcome"], "success");
    let (_, failures) = app.admin_get("/login-events?outcome=failure");
    assert_eq!(failures["events"].as_array().unwrap().len(), 1);
    assert_eq!(app.admin_get("/login-events?outcome=maybe").0, 400);
}

#[test]
fn logout_revokes_the_session_server_side() {
    if !e2e_enabled() {
        return;
    }
    let (app, _connection, _op) = oidc_app(OidcOptions::default(), &[]);
    let outcome = browser(
        &login_url(&app),
        Some(("alice", "alice-password")),
        None,
        &app.jar("a"),
    );
    let token = session_of(&outcome).unwrap();
    assert_eq!(app.me(&token).0, 200);
    let reply = app.post_form("/logout", &[], Some(&format!("roster_session={token}")));
    assert_eq!(reply.status, 303);
    assert_eq!(
        app.me(&token).0,
        401,
        "a copied cookie stops working after logout"
    );
    assert_eq!(app.me("not-a-token").0, 401);
}

#[test]
fn callbacks_are_bound_to_the_browser_and_single_use() {
    if !e2e_enabled() {
        return;
    }
    let (app, connection, _op) = oidc_app(OidcOptions::default(), &[]);
    let callback = format!("{}/sso/oidc/{}/callback", app.url(), connection.id);
    let jar = app.jar("victim");
    let stopped = browser(
        &login_url(&app),
        Some(("alice", "alice-password")),
        Some(&callback),
        &jar,
    );
    assert_eq!(stopped.exit_code, 0, "{}", stopped.json);
    let url = stopped.json["url"].as_str().unwrap().to_owned();
    let path = url.strip_prefix(&app.url()).unwrap().to_owned();
    let binding = stopped.json["cookies"]["127.0.0.1"]["roster_sso"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another browser (no binding cookie, or another one) cannot finish this login.
    let foreign = app.get(&path, None);
    assert_eq!(foreign.status, 400);
    assert!(foreign.body.contains("unknown_request"), "{}", foreign.body);
    assert_eq!(app.user_count(), 0);

    // The browser that started it can, once.
    let cookie = format!("roster_sso={binding}");
    let first = get_with_cookie(&app, &path, &cookie);
    assert_eq!(first, 302);
    assert_eq!(app.user_count(), 1);
    let replay = get_with_cookie(&app, &path, &cookie);
    assert_eq!(replay, 400);
    assert_eq!(app.user_count(), 1);
    let reasons: Vec<_> = app
        .login_events()
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert_eq!(
        reasons,
        vec!["unknown_request".to_owned(), "unknown_request".to_owned()]
    );
}

fn get_with_cookie(app: &SsoApp, path: &str, cookie: &str) -> u16 {
    crate::support::agent()
        .get(&format!("{}{path}", app.url()))
        .header("Cookie", cookie)
        .call()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn op_errors_and_issuer_mix_up_are_refused_cleanly() {
    if !e2e_enabled() {
        return;
    }
    let (app, connection, _op) = oidc_app(OidcOptions::default(), &[]);
    let base = format!("/sso/oidc/{}/callback", connection.id);
    let denied = app.get(&format!("{base}?error=access_denied&state=abc"), None);
    assert_eq!(denied.status, 400);
    assert!(denied.body.contains("idp_error"), "{}", denied.body);
    let mixed = app.get(
        &format!("{base}?code=x&state=abc&iss=http%3A%2F%2Fevil.test"),
        None,
    );
    assert_eq!(mixed.status, 400);
    assert!(mixed.body.contains("invalid_response"), "{}", mixed.body);
    let unknown = app.get(
        "/sso/oidc/00000000-0000-0000-0000-000000000000/callback?code=x",
        None,
    );
    assert_eq!(unknown.status, 404);
    let bad_return = app.get(
        "/sso/acme/login?connection=corp&return_to=https%3A%2F%2Fevil.test",
        None,
    );
    assert_eq!(bad_return.status, 400);
    assert!(bad_return.body.contains("bad_return_to"));
    assert_eq!(app.user_count(), 0);
}

#[test]
fn an_existing_email_is_linked_only_by_an_authoritative_connection() {
    if !e2e_enabled() {
        return;
    }
    // Not authoritative for example.test: alice's existing account is not taken over.
    let (app, _connection, _op) = oidc_app(OidcOptions::default(), &[]);
    let mut invited = NewUser::minimal(
        app.workspace.id,
        UserName::parse("alice.invited").unwrap(),
        Source::Invited,
    );
    invited.email = Some(Email::parse("alice@example.test").unwrap());
    let existing = app.db.store.create_user(&Actor::Cli, &invited).unwrap();
    let refused = browser(
        &login_url(&app),
        Some(("alice", "alice-password")),
        None,
        &app.jar("a"),
    );
    assert_eq!(refused.json["status"], 403, "{}", refused.json);
    assert!(refused.json["body"]
        .as_str()
        .unwrap()
        .contains("email_conflict"));
    assert_eq!(app.user_count(), 1);

    // Authoritative (domain listed, and verified by the workspace) and the OP says the email is
    // verified: linked.
    let (app2, _c, _op2) = oidc_app(OidcOptions::default(), &["example.test"]);
    let existing2 = app2
        .db
        .store
        .create_user(
            &Actor::Cli,
            &NewUser {
                workspace_id: app2.workspace.id,
                ..invited.clone()
            },
        )
        .unwrap();
    // Listing the domain is not enough: without the workspace's proof (its verified domain
    // taken away here), the same login is refused and nothing is linked.
    let example = roster_store::domain::Domain::parse("example.test").unwrap();
    app2.db
        .store
        .delete_domain(&Actor::Cli, app2.workspace.id, &example)
        .unwrap();
    let unproven = browser(
        &login_url(&app2),
        Some(("alice", "alice-password")),
        None,
        &app2.jar("unproven"),
    );
    assert_eq!(unproven.json["status"], 403, "{}", unproven.json);
    assert!(unproven.json["body"]
        .as_str()
        .unwrap()
        .contains("email_conflict"));
    assert_eq!(app2.user_count(), 1);
    let added = app2
        .db
        .store
        .add_domain(&Actor::Cli, app2.workspace.id, &example)
        .unwrap();
    app2.db
        .store
        .record_domain_check(
            &Actor::Cli,
            app2.workspace.id,
            &example,
            &added.challenge,
            roster_store::domain::domain_proof::Check::Found,
            roster_store::domain::domain_proof::Trigger::Request,
        )
        .unwrap();
    let linked = browser(
        &login_url(&app2),
        Some(("alice", "alice-password")),
        None,
        &app2.jar("a"),
    );
    let (status, me) = app2.me(&session_of(&linked).expect("linked session"));
    assert_eq!(status, 200);
    assert_eq!(me["id"], existing2.id.to_string());
    assert_eq!(app2.user_count(), 1);
    let _ = existing;
}

#[test]
fn a_login_started_on_one_replica_finishes_on_another() {
    if !e2e_enabled() {
        return;
    }
    let (app, connection, _op) = oidc_app(OidcOptions::default(), &[]);
    // A second replica on the same database, behind the same public URL (as behind a load
    // balancer): pending logins, session keys and revocations live in the database.
    let mut settings = roster_server::settings::Settings::default();
    settings.security.allow_private_network_urls = true;
    settings.server.public_url = Some(app.url());
    let replica =
        roster_server::http::BackgroundServer::start(&settings, app.db.store.clone()).unwrap();

    let callback = format!("{}/sso/oidc/{}/callback", app.url(), connection.id);
    let jar = app.jar("browser");
    let stopped = browser(
        &login_url(&app),
        Some(("alice", "alice-password")),
        Some(&callback),
        &jar,
    );
    let url = stopped.json["url"].as_str().unwrap().to_owned();
    let path = url.strip_prefix(&app.url()).unwrap();
    let binding = stopped.json["cookies"]["127.0.0.1"]["roster_sso"]
        .as_str()
        .unwrap();
    let mut response = crate::support::agent()
        .get(&format!("{}{path}", replica.url()))
        .header("Cookie", &format!("roster_sso={binding}"))
        .call()
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        302,
        "{}",
        response.body_mut().read_to_string().unwrap_or_default()
    );
    let token = crate::support::session_set_by(&response).unwrap();
    // The session signed by the replica is valid on the first server, and a logout on one ends
    // it on both.
    assert_eq!(app.me(&token).0, 200);
    let logout = crate::support::agent()
        .post(&format!("{}/logout", replica.url()))
        .header("Cookie", &format!("roster_session={token}"))
        .send_empty()
        .unwrap();
    assert_eq!(logout.status().as_u16(), 303);
    assert_eq!(app.me(&token).0, 401);
    assert_eq!(app.user_count(), 1);
}

/// A workspace that lists its domains admits only emails the IdP vouches for: carol's address
/// is in the domain, but the OP says it is unverified (`email_verified: false`), so her login is
/// refused with `email_unverified` and creates nobody; alice (verified) gets in.
#[test]
fn an_unverified_email_cannot_claim_the_workspace_domain() {
    if !e2e_enabled() {
        return;
    }
    use roster_store::domain::{DisplayName, Domain, GroupSync, ProfileSync, Slug, Vendor};
    let app = SsoApp::new();
    let store = &app.db.store;
    let restricted = store
        .create_workspace(
            &Actor::Cli,
            roster_store::NewWorkspace {
                slug: Slug::parse("restricted").unwrap(),
                name: "restricted".to_owned(),
                domains: vec![Domain::parse("example.test").unwrap()],
            },
        )
        .unwrap();
    let connection = store
        .create_connection(
            &Actor::Cli,
            roster_store::NewConnection {
                workspace_id: restricted.id,
                name: DisplayName::parse("corp").unwrap(),
                kind: ConnectionKind::Oidc,
                vendor: Vendor::Generic,
                protocol_config: "{}".to_owned(),
                domains: Vec::new(),
                scim_enabled: false,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
    let op = OidcOp::start(OidcOptions {
        redirect_uris: vec![format!("{}/sso/oidc/{}/callback", app.url(), connection.id)],
        ..OidcOptions::default()
    });
    store
        .update_connection_config(
            &Actor::Cli,
            restricted.id,
            connection.id,
            &json!({
                "issuer": op.issuer(),
                "client_id": op.client_id(),
                "client_secret": op.client_secret(),
            })
            .to_string(),
        )
        .unwrap();
    let login = format!(
        "{}/sso/restricted/login?connection=corp&return_to=%2F",
        app.url()
    );

    let carol = browser(
        &login,
        Some(("carol", "carol-password")),
        None,
        &app.jar("carol"),
    );
    assert_eq!(carol.json["status"], 403, "{}", carol.json);
    let body = carol.json["body"].as_str().unwrap();
    assert!(body.contains("email_unverified"), "{body}");
    assert_eq!(session_of(&carol), None, "no session");
    assert_eq!(
        store.count_users(restricted.id).unwrap(),
        0,
        "nobody created"
    );
    let event = store
        .login_event(restricted.id, &event_id_on_page(body).unwrap())
        .unwrap();
    assert_eq!(
        (event.protocol.as_str(), event.reason.as_deref()),
        ("oidc", Some("email_unverified"))
    );
    assert_eq!(event.email.as_deref(), Some("carol@example.test"));
    let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(
        detail,
        json!({
            "reason": "email_unverified",
            "claim": "email_verified",
            "want": true,
            "got": false,
            "email_domain": "example.test"
        })
    );

    // The same connection signs in a user whose address the OP has verified.
    let alice = browser(
        &login,
        Some(("alice", "alice-password")),
        None,
        &app.jar("alice"),
    );
    assert_eq!(alice.exit_code, 0, "{}", alice.json);
    assert!(session_of(&alice).is_some());
    assert_eq!(store.count_users(restricted.id).unwrap(), 1);
}
