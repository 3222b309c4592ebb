//! "Sign out everywhere" against a real database (SQLite by default, PostgreSQL when
//! `TEST_DATABASE_URL` is set): one call ends the user's Roster sessions (the epoch moves) and
//! every live grant, with its audit and directory events, and touches nobody else; a user of
//! another workspace is not found and nothing changes.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Source, Timestamp, User, UserId, UserName, Workspace};
use roster_store::testing::test_app;
use roster_store::testing::TestStore;
use roster_store::{
    CodeBinding, CodeRedemption, InvalidGrant, NewOAuthGrant, NewUser, OAuthApp, OAuthGrant,
    RevokeReason, StoreError,
};
use serde_json::{json, Value};

const REDIRECT: &str = "https://app.example/callback";

fn app(db: &TestStore, name: &str) -> OAuthApp {
    db.register_app(&test_app(name, REDIRECT)).0
}

fn user(db: &TestStore, workspace: &Workspace, name: &str) -> User {
    db.store
        .create_user(
            &Actor::Cli,
            &NewUser::minimal(workspace.id, UserName::parse(name).unwrap(), Source::Scim),
        )
        .unwrap()
}

/// A grant of `app` for `user` issued at `at`, its code redeemed: (grant, refresh token when
/// `offline`).
fn signed_in(
    db: &TestStore,
    user: &User,
    app: &OAuthApp,
    offline: bool,
    at: Timestamp,
) -> (OAuthGrant, Option<String>) {
    let (grant, code) = db
        .store
        .issue_authorization_code(
            &Actor::System,
            &NewOAuthGrant {
                client_id: app.client_id.clone(),
                workspace_id: user.workspace_id,
                user_id: user.id,
                connection_id: None,
                session_id: Some("session-1".to_owned()),
                sid: format!("sid-{}", app.client_id),
                scope: if offline {
                    "openid email offline_access".to_owned()
                } else {
                    "openid email".to_owned()
                },
                offline,
                auth_time: at,
                amr: vec!["pwd".to_owned()],
                acr: None,
            },
            &CodeBinding {
                redirect_uri: REDIRECT.to_owned(),
                code_challenge: None,
                nonce: None,
            },
            at,
        )
        .unwrap();
    let redeemed = db
        .store
        .redeem_authorization_code(
            &Actor::System,
            &CodeRedemption {
                code: code.expose(),
                client_id: &app.client_id,
                redirect_uri: REDIRECT,
                code_verifier: None,
            },
            at,
        )
        .unwrap()
        .unwrap();
    (grant, redeemed.refresh_token.map(|t| t.expose().to_owned()))
}

/// What a sign-out may change, for one user: epoch, version, live grant ids, and the workspace's
/// audit and event counts.
fn state(db: &TestStore, workspace: &Workspace, user: UserId) -> Value {
    let stored = db.store.user(workspace.id, user).unwrap();
    json!({
        "epoch": stored.session_epoch,
        "version": stored.version,
        "live": db.store.user_oauth_apps(workspace.id, user).unwrap()
            .into_iter().map(|app| app.grant_id).collect::<Vec<_>>(),
        "audit": db.store.audit_events(workspace.id, None, 100_000).unwrap().len(),
        "events": db.store.events(workspace.id, 0, 100_000, &[]).unwrap().len(),
    })
}

#[test]
fn sign_out_everywhere_ends_sessions_and_every_live_grant_of_that_user_only() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let ada = user(&db, &acme, "ada");
    let bob = user(&db, &acme, "bob");
    let catalog = app(&db, "Data Catalog");
    let billing = app(&db, "Billing");
    let t0 = Timestamp::now();
    let (catalog_grant, refresh) = signed_in(&db, &ada, &catalog, true, t0);
    let (billing_grant, _) = signed_in(&db, &ada, &billing, false, t0.plus_seconds(1));
    // A grant the app already ended keeps its reason.
    let (ended, _) = signed_in(&db, &ada, &billing, false, t0.plus_seconds(2));
    assert!(db
        .store
        .revoke_oauth_grant(&Actor::System, &ended.id, RevokeReason::Logout, t0)
        .unwrap());
    let (bob_grant, _) = signed_in(&db, &bob, &catalog, false, t0);
    let bob_before = state(&db, &acme, bob.id);

    let listed: Vec<(String, String, String, bool)> = db
        .store
        .user_oauth_apps(acme.id, ada.id)
        .unwrap()
        .into_iter()
        .map(|app| (app.grant_id, app.app_name, app.scope, app.offline))
        .collect();
    let expected = vec![
        (
            billing_grant.id.clone(),
            "Billing".to_owned(),
            "openid email".to_owned(),
            false,
        ),
        (
            catalog_grant.id.clone(),
            "Data Catalog".to_owned(),
            "openid email offline_access".to_owned(),
            true,
        ),
    ];
    assert_eq!(listed, expected, "the live grants, newest first");

    let admin = Actor::Admin {
        id: "api_key:test".to_owned(),
    };
    let out = db
        .store
        .sign_out_everywhere(&admin, acme.id, ada.id, t0.plus_seconds(5))
        .unwrap();
    let ended_apps: Vec<(String, String, String, bool)> = out
        .apps
        .iter()
        .map(|app| {
            (
                app.grant_id.clone(),
                app.app_name.clone(),
                app.scope.clone(),
                app.offline,
            )
        })
        .collect();
    assert_eq!(ended_apps, expected, "it answers with what it ended");
    assert_eq!(out.user.session_epoch, ada.session_epoch + 1);
    let stored = db.store.user(acme.id, ada.id).unwrap();
    assert_eq!(
        (stored.session_epoch, stored.version, stored.lifecycle),
        (ada.session_epoch + 1, ada.version, ada.lifecycle),
        "the epoch moved; the user is otherwise as it was"
    );
    assert!(db
        .store
        .user_oauth_apps(acme.id, ada.id)
        .unwrap()
        .is_empty());
    for grant in [&catalog_grant, &billing_grant] {
        assert_eq!(
            db.store
                .oauth_grant(&grant.id)
                .unwrap()
                .revoked_reason
                .as_deref(),
            Some("admin")
        );
    }
    assert_eq!(
        db.store
            .oauth_grant(&ended.id)
            .unwrap()
            .revoked_reason
            .as_deref(),
        Some("logout")
    );
    // The refresh token is dead with its grant.
    assert_eq!(
        db.store
            .rotate_refresh_token(
                &Actor::System,
                &refresh.unwrap(),
                &catalog.client_id,
                None,
                t0.plus_seconds(6),
            )
            .unwrap()
            .unwrap_err(),
        InvalidGrant::GrantRevoked
    );
    // Bob is untouched.
    assert_eq!(state(&db, &acme, bob.id)["live"], bob_before["live"]);
    assert_eq!(state(&db, &acme, bob.id)["epoch"], bob_before["epoch"]);
    assert!(db
        .store
        .oauth_grant(&bob_grant.id)
        .unwrap()
        .revoked_at
        .is_none());

    // Audited with what it ended, and announced as `session.revoked`.
    let audit = db.store.audit_events(acme.id, None, 100_000).unwrap();
    let signed_out = audit
        .iter()
        .find(|event| event.action == "user.signed_out_everywhere")
        .unwrap();
    assert_eq!(
        (
            signed_out.actor_id.as_deref(),
            signed_out.target_id.clone(),
            serde_json::from_str::<Value>(&signed_out.detail).unwrap()
        ),
        (
            Some("api_key:test"),
            ada.id.to_string(),
            json!({
                "sessions_revoked": true,
                "grants_revoked": [billing_grant.id, catalog_grant.id],
                "client_ids": [billing.client_id, catalog.client_id],
            })
        )
    );
    let revocations = audit
        .iter()
        .filter(|event| {
            event.action == "oauth_grant.revoked" && event.detail.contains("\"reason\":\"admin\"")
        })
        .count();
    assert_eq!(revocations, 2);
    let events = db.store.events(acme.id, 0, 100_000, &[]).unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "session.revoked" && e.resource_id == ada.id.to_string())
            .count(),
        1
    );

    // Again: the epoch moves again, nothing is left to revoke.
    let again = db
        .store
        .sign_out_everywhere(&admin, acme.id, ada.id, t0.plus_seconds(7))
        .unwrap();
    assert!(again.apps.is_empty());
    assert_eq!(again.user.session_epoch, ada.session_epoch + 2);
}

#[test]
fn another_workspace_s_user_or_an_unknown_one_is_not_found_and_nothing_changes() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let globex = db.workspace("globex");
    let ada = user(&db, &acme, "ada");
    let catalog = app(&db, "Data Catalog");
    signed_in(&db, &ada, &catalog, true, Timestamp::now());
    let before = state(&db, &acme, ada.id);
    let globex_audit = db
        .store
        .audit_events(globex.id, None, 100_000)
        .unwrap()
        .len();

    for (workspace, user) in [
        (globex.id, ada.id),
        (
            acme.id,
            "0190c0de-0000-7000-8000-000000000000".parse().unwrap(),
        ),
    ] {
        let refused = db.store.sign_out_everywhere(
            &Actor::Admin {
                id: "api_key:other".to_owned(),
            },
            workspace,
            user,
            Timestamp::now(),
        );
        assert!(
            matches!(refused, Err(StoreError::NotFound { what: "user" })),
            "{refused:?}"
        );
        assert!(db
            .store
            .user_oauth_apps(workspace, user)
            .unwrap()
            .is_empty());
    }
    assert_eq!(state(&db, &acme, ada.id), before, "nothing of acme changed");
    assert_eq!(
        db.store
            .audit_events(globex.id, None, 100_000)
            .unwrap()
            .len(),
        globex_audit
    );
}
