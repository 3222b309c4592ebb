//! The apps a user is signed into and "sign out everywhere", through the admin API over real
//! HTTP: the listing shows exactly the user's live grants and no token; signing out ends the
//! user's cookie session (`/api/v1/me` 401) and every grant (refresh `invalid_grant`, userinfo
//! 401 at the provider's own endpoints); a non-admin, a cookie write without its CSRF token and
//! another workspace's admin are refused and nothing changes.
//!
//! Codes are issued through the store, bound as the authorization endpoint binds them, and
//! redeemed at `/oauth2/token` as a product would.

use base64::Engine;
use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Source, Timestamp, User};
use roster_store::testing::test_app;
use roster_store::{CodeBinding, NewOAuthGrant, OAuthApp, RevokeReason};
use serde_json::{json, Value};

use crate::admin_policy::{signed_in_member, with_session};
use crate::common::browser::agent;
use crate::common::{Reply, TestApp};

const REDIRECT: &str = "https://catalog.example/oidc/callback";

/// A registered product: the app and its client secret.
struct Product {
    app: OAuthApp,
    secret: String,
}

fn register(app: &TestApp, name: &str) -> Product {
    let (registered, secret) = app.db.register_app(&test_app(name, REDIRECT));
    Product {
        app: registered,
        secret: secret.unwrap(),
    }
}

/// POST `/oauth2/token` as `product`, with HTTP Basic client authentication.
fn token(app: &TestApp, product: &Product, form: &[(&str, &str)]) -> Reply {
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", product.app.client_id, product.secret));
    Reply::read(
        agent()
            .post(&format!("{}/oauth2/token", app.server.url()))
            .header("Authorization", &format!("Basic {credentials}"))
            .send_form(form.iter().copied())
            .unwrap(),
    )
}

/// `user` signs in to `product` (a grant and its code, as the authorization endpoint issues
/// them) and the product redeems the code: (grant id, the token response).
fn sign_in(app: &TestApp, user: &User, product: &Product, offline: bool) -> (String, Value) {
    let scope = if offline {
        "openid email offline_access"
    } else {
        "openid email"
    };
    let (grant, code) = app
        .db
        .store
        .issue_authorization_code(
            &Actor::System,
            &NewOAuthGrant {
                client_id: product.app.client_id.clone(),
                workspace_id: user.workspace_id,
                user_id: user.id,
                connection_id: None,
                session_id: None,
                sid: format!("sid-{}", product.app.client_id),
                scope: scope.to_owned(),
                offline,
                auth_time: Timestamp::now(),
                amr: vec!["pwd".to_owned()],
                acr: None,
            },
            &CodeBinding {
                redirect_uri: REDIRECT.to_owned(),
                code_challenge: None,
                nonce: None,
            },
            Timestamp::now(),
        )
        .unwrap();
    let redeemed = token(
        app,
        product,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(redeemed.status, 200, "{:#}", redeemed.body);
    (grant.id, redeemed.body)
}

fn refresh(app: &TestApp, product: &Product, refresh_token: &str) -> Reply {
    token(
        app,
        product,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
}

fn userinfo(app: &TestApp, access_token: &str) -> u16 {
    app.raw(
        "GET",
        "/oauth2/userinfo",
        None,
        &[("authorization", &format!("Bearer {access_token}"))],
    )
    .status
}

fn me(app: &TestApp, session: &str) -> u16 {
    app.raw(
        "GET",
        "/api/v1/me",
        None,
        &[("cookie", &format!("roster_session={session}"))],
    )
    .status
}

/// What a refused sign-out must leave as it was: the user's epoch and live grants, and the
/// workspace's audit trail and events.
fn snapshot(app: &TestApp, user: &User) -> Value {
    let store = &app.db.store;
    json!({
        "epoch": store.user(app.workspace.id, user.id).unwrap().session_epoch,
        "grants": store.user_oauth_apps(app.workspace.id, user.id).unwrap().iter()
            .map(|a| a.grant_id.clone()).collect::<Vec<_>>(),
        "audit": store.audit_events(app.workspace.id, None, 100_000).unwrap().len(),
        "events": store.events(app.workspace.id, 0, 100_000, &[]).unwrap().len(),
    })
}

#[test]
fn an_admin_sees_the_apps_a_user_is_signed_into_and_signs_them_out_everywhere() {
    let app = TestApp::new();
    let store = &app.db.store;
    let catalog = register(&app, "Data Catalog");
    let billing = register(&app, "Billing");

    // Ada: signed in to Roster (a cookie session) and to two products; a third sign-in the
    // product already ended is not listed.
    let (ada_id, ada_session) = signed_in_member(&app, "ada");
    let ada = store.user(app.workspace.id, ada_id).unwrap();
    let (catalog_grant, catalog_tokens) = sign_in(&app, &ada, &catalog, true);
    let (billing_grant, billing_tokens) = sign_in(&app, &ada, &billing, false);
    let (ended_grant, _) = sign_in(&app, &ada, &billing, false);
    store
        .revoke_oauth_grant(
            &Actor::System,
            &ended_grant,
            RevokeReason::ClientRevoked,
            Timestamp::now(),
        )
        .unwrap();
    // Bob is signed in to the catalog too, and stays signed in.
    let bob = app.store_user("bob", "bob@acme.test", Source::Invited);
    let (bob_grant, _) = sign_in(&app, &bob, &catalog, false);
    // The admin works in the console: a cookie session with its CSRF token.
    let (root_id, root) = signed_in_member(&app, "root");
    store
        .assign_role(&Actor::Cli, app.workspace.id, root_id, "admin")
        .unwrap();

    // The refresh token works before (and rotates).
    let rotated = refresh(
        &app,
        &catalog,
        catalog_tokens["refresh_token"].as_str().unwrap(),
    );
    assert_eq!(rotated.status, 200, "{:#}", rotated.body);
    let refresh_token = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    let access_token = billing_tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access_token), 200);
    assert_eq!(me(&app, &ada_session.0), 200);

    // The listing: exactly the live grants, newest first, and never a token.
    let listed = with_session(&app, &root, "GET", &format!("/users/{ada_id}/apps"), None);
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    let apps = listed.body["apps"].as_array().unwrap();
    let summary: Vec<Value> = apps
        .iter()
        .map(|a| {
            json!([
                a["grantId"],
                a["appName"],
                a["clientId"],
                a["scopes"],
                a["offline"]
            ])
        })
        .collect();
    let expected_apps = vec![
        json!([
            billing_grant,
            "Billing",
            billing.app.client_id,
            ["openid", "email"],
            false
        ]),
        json!([
            catalog_grant,
            "Data Catalog",
            catalog.app.client_id,
            ["openid", "email", "offline_access"],
            true
        ]),
    ];
    assert_eq!(summary, expected_apps);
    assert_eq!(listed.body["userId"], ada_id.to_string());
    let mut fields: Vec<&str> = apps[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["appName", "clientId", "grantId", "offline", "scopes", "since"]
    );
    assert!(apps[0]["since"].as_str().unwrap().contains('T'));
    let text = listed.body.to_string();
    for secret in [
        refresh_token.as_str(),
        access_token.as_str(),
        catalog.secret.as_str(),
    ] {
        assert!(!text.contains(secret), "the listing shows a secret");
    }
    // The user's page offers the action.
    let page = with_session(&app, &root, "GET", &format!("/users/{ada_id}"), None);
    assert_eq!(page.status, 200, "{:#}", page.body);
    assert_eq!(page.body["actions"]["signOutEverywhere"]["allowed"], true);

    // A cookie write without the CSRF token is refused; nothing changes.
    let before = snapshot(&app, &ada);
    let no_csrf = app.raw(
        "POST",
        &format!("/api/v1/admin/users/{ada_id}/sign-out-everywhere"),
        None,
        &[("cookie", &format!("roster_session={}", root.0))],
    );
    assert_eq!(
        (no_csrf.status, &no_csrf.body["code"]),
        (403, &json!("csrf"))
    );
    assert_eq!(snapshot(&app, &ada), before);

    // Signing out everywhere answers with what it ended.
    let out = with_session(
        &app,
        &root,
        "POST",
        &format!("/users/{ada_id}/sign-out-everywhere"),
        None,
    );
    assert_eq!(out.status, 200, "{:#}", out.body);
    assert_eq!(out.body["userId"], ada_id.to_string());
    assert_eq!(out.body["rosterSessionsEnded"], true);
    assert_eq!(out.body["appsSignedOut"], json!(apps));

    // Every sign-in ended: the cookie session, the refresh token, the access token.
    assert_eq!(me(&app, &ada_session.0), 401, "the Roster session ended");
    let refused = refresh(&app, &catalog, &refresh_token);
    assert_eq!(
        (refused.status, &refused.body["error"]),
        (400, &json!("invalid_grant")),
        "{:#}",
        refused.body
    );
    assert!(refused.body.get("access_token").is_none());
    assert_eq!(userinfo(&app, &access_token), 401);
    let after = with_session(&app, &root, "GET", &format!("/users/{ada_id}/apps"), None);
    assert_eq!(after.body["apps"], json!([]));
    // Bob and the admin are still signed in.
    assert_eq!(
        store
            .user_oauth_apps(app.workspace.id, bob.id)
            .unwrap()
            .iter()
            .map(|a| a.grant_id.clone())
            .collect::<Vec<_>>(),
        vec![bob_grant]
    );
    assert_eq!(me(&app, &root.0), 200);

    // Audited, with the admin who did it.
    let audit = store.audit_events(app.workspace.id, None, 100_000).unwrap();
    let event = audit
        .iter()
        .find(|e| e.action == "user.signed_out_everywhere")
        .unwrap();
    assert_eq!(
        (event.actor_id.clone(), event.target_id.clone()),
        (Some(format!("user:{root_id}")), ada_id.to_string())
    );
}

#[test]
fn a_non_admin_and_another_workspace_s_admin_are_refused_and_nothing_changes() {
    let app = TestApp::new();
    let store = &app.db.store;
    let catalog = register(&app, "Data Catalog");
    let (ada_id, ada_session) = signed_in_member(&app, "ada");
    let ada = store.user(app.workspace.id, ada_id).unwrap();
    let (_, tokens) = sign_in(&app, &ada, &catalog, true);
    let (_, member) = signed_in_member(&app, "mallory");
    let other_key = app.other_workspace_api_key("globex");
    let before = snapshot(&app, &ada);

    for path in [
        format!("/users/{ada_id}/apps"),
        format!("/users/{ada_id}/sign-out-everywhere"),
    ] {
        let method = if path.ends_with("apps") {
            "GET"
        } else {
            "POST"
        };
        // A user of the workspace who is not an admin: the policy's refusal.
        let reply = with_session(&app, &member, method, &path, None);
        assert_eq!(
            (
                reply.status,
                &reply.body["code"],
                &reply.body["detail"]["refusal"]
            ),
            (403, &json!("forbidden"), &json!("not_admin")),
            "{method} {path}: {:#}",
            reply.body
        );
        // Another workspace's admin: the user does not exist for them.
        let reply = app.admin(&other_key, method, &path, None);
        assert_eq!(
            (reply.status, &reply.body["code"]),
            (404, &json!("not_found")),
            "{method} {path}: {:#}",
            reply.body
        );
        assert!(!reply.body.to_string().contains(&catalog.app.client_id));
    }
    assert_eq!(snapshot(&app, &ada), before, "nothing changed");
    assert_eq!(me(&app, &ada_session.0), 200, "ada is still signed in");
    let still = refresh(&app, &catalog, tokens["refresh_token"].as_str().unwrap());
    assert_eq!(still.status, 200, "{:#}", still.body);

    // Unknown and malformed ids are 404 in the admin API's format.
    let key = app.api_key();
    for id in ["0190c0de-0000-7000-8000-000000000000", "not-an-id"] {
        for (method, path) in [
            ("GET", format!("/users/{id}/apps")),
            ("POST", format!("/users/{id}/sign-out-everywhere")),
            ("GET", format!("/users/{id}")),
        ] {
            let reply = app.admin(&key, method, &path, None);
            assert_eq!(reply.status, 404, "{method} {path}: {:#}", reply.body);
            assert_eq!(reply.body["code"], "not_found");
            assert!(reply.body["message"].is_string());
            assert!(reply.body.get("detail").is_some());
        }
    }
}

#[test]
fn a_scim_managed_user_can_be_signed_out_though_not_disabled_in_the_app() {
    let app = TestApp::new();
    let key = app.api_key();
    let catalog = register(&app, "Data Catalog");
    let id = app.create_user("grace", "e-grace");
    let grace = app.user(&id);
    sign_in(&app, &grace, &catalog, false);

    let disable = app.admin(&key, "POST", &format!("/users/{id}/disable"), None);
    assert_eq!(disable.body["detail"]["refusal"], "scim_managed_user");
    let out = app.admin(
        &key,
        "POST",
        &format!("/users/{id}/sign-out-everywhere"),
        None,
    );
    assert_eq!(out.status, 200, "{:#}", out.body);
    assert_eq!(out.body["appsSignedOut"][0]["appName"], "Data Catalog");
    let after = app.user(&id);
    assert_eq!(
        (after.session_epoch, after.lifecycle, after.version),
        (grace.session_epoch + 1, grace.lifecycle, grace.version),
        "signed out, still active, its SCIM version unchanged"
    );
}
