//! The token endpoint's store operations against a real database (SQLite by default, PostgreSQL
//! when `TEST_DATABASE_URL` is set): codes (single use, bound, short-lived), refresh-token
//! rotation with reuse detection, revocation with the user's lifecycle, and userinfo liveness.
//! The clock is injected: no test sleeps.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use roster_store::testing::test_app;
use std::sync::Barrier;

use diesel::prelude::*;
use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, Lifecycle, LifecycleEvent, SecretToken, Source, Timestamp, User, UserName, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::{
    CodeBinding, CodeRedemption, GrantNotLive, InvalidGrant, NewOAuthGrant, NewUser, OAuthApp,
    OAuthGrant, RevokeReason, Store,
};

const REDIRECT: &str = "https://app.example/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kSn4-1K2E5wEHgA0H7J2dGkIhNo-verifier";
/// `BASE64URL(SHA256(VERIFIER))`, computed independently (Python's hashlib).
const CHALLENGE: &str = "bom-kBzocdot6rY4UXL5MZaXipSu9hYtMIx9o8fDd2o";

struct Fixture {
    db: TestStore,
    workspace: Workspace,
    user: User,
    app: OAuthApp,
    other_app: OAuthApp,
}

fn app(db: &TestStore, name: &str) -> OAuthApp {
    db.register_app(&test_app(name, REDIRECT)).0
}

fn fixture() -> Fixture {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let user = db
        .store
        .create_user(
            &Actor::Cli,
            &NewUser::minimal(workspace.id, UserName::parse("ada").unwrap(), Source::Scim),
        )
        .unwrap();
    let app_a = app(&db, "Product");
    let other_app = app(&db, "Other product");
    Fixture {
        db,
        workspace,
        user,
        app: app_a,
        other_app,
    }
}

impl Fixture {
    fn store(&self) -> &Store {
        &self.db.store
    }

    fn new_grant(&self, app: &OAuthApp, offline: bool) -> NewOAuthGrant {
        NewOAuthGrant {
            client_id: app.client_id.clone(),
            workspace_id: self.workspace.id,
            user_id: self.user.id,
            connection_id: None,
            session_id: Some("session-1".to_owned()),
            sid: format!("sid-{}", app.client_id),
            scope: if offline {
                "openid email offline_access".to_owned()
            } else {
                "openid email".to_owned()
            },
            offline,
            auth_time: Timestamp::from_micros(1_000_000),
            amr: vec!["pwd".to_owned()],
            acr: None,
        }
    }

    /// A code for `app`, with a PKCE challenge and a nonce, issued at `now`.
    fn code(&self, app: &OAuthApp, offline: bool, now: Timestamp) -> (OAuthGrant, SecretToken) {
        self.store()
            .issue_authorization_code(
                &Actor::System,
                &self.new_grant(app, offline),
                &CodeBinding {
                    redirect_uri: REDIRECT.to_owned(),
                    code_challenge: Some(CHALLENGE.to_owned()),
                    nonce: Some("n-0S6_WzA2Mj".to_owned()),
                },
                now,
            )
            .unwrap()
    }

    fn redeem(
        &self,
        code: &str,
        client_id: &str,
        now: Timestamp,
    ) -> Result<roster_store::RedeemedCode, InvalidGrant> {
        self.store()
            .redeem_authorization_code(
                &Actor::System,
                &CodeRedemption {
                    code,
                    client_id,
                    redirect_uri: REDIRECT,
                    code_verifier: Some(VERIFIER),
                },
                now,
            )
            .unwrap()
    }

    fn code_used_at(&self, grant_id: &str) -> Option<i64> {
        use roster_store::schema::oauth_codes;
        self.db
            .read_rows(|conn| {
                Ok(oauth_codes::table
                    .filter(oauth_codes::grant_id.eq(grant_id))
                    .select(oauth_codes::used_at)
                    .get_result(conn)?)
            })
            .unwrap()
    }

    fn grant(&self, id: &str) -> OAuthGrant {
        self.store().oauth_grant(id).unwrap()
    }

    fn refresh(
        &self,
        token: &str,
        client_id: &str,
        now: Timestamp,
    ) -> Result<roster_store::RotatedRefreshToken, InvalidGrant> {
        self.store()
            .rotate_refresh_token(&Actor::System, token, client_id, None, now)
            .unwrap()
    }

    fn audit_actions(&self) -> Vec<String> {
        self.store()
            .audit_events(self.workspace.id, None, 1000)
            .unwrap()
            .into_iter()
            .map(|event| event.action)
            .filter(|action| action.starts_with("oauth_grant."))
            .collect()
    }
}

#[test]
fn a_code_is_stored_hashed_bound_to_its_request_and_redeemed_once() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant, code) = f.code(&f.app, false, now);
    assert_eq!(code.expose().len(), 64, "256 random bits in hex");

    use roster_store::schema::oauth_codes;
    let (hash, expires_at): (String, i64) =
        f.db.read_rows(|conn| {
            Ok(oauth_codes::table
                .select((oauth_codes::code_hash, oauth_codes::expires_at))
                .get_result(conn)?)
        })
        .unwrap();
    assert_eq!(hash, code.hash().0, "only the SHA-256 is stored");
    assert_eq!(expires_at, now.plus_seconds(60).as_micros(), "60 s");

    let redeemed = f.redeem(code.expose(), &f.app.client_id, now).unwrap();
    assert_eq!(redeemed.grant, grant);
    assert_eq!(redeemed.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(redeemed.session_epoch, f.user.session_epoch);
    assert!(redeemed.refresh_token.is_none(), "no offline_access");
    assert_eq!(grant.amr, r#"["pwd"]"#);
    assert_eq!(grant.auth_time, 1_000_000);
    assert_eq!(f.code_used_at(&grant.id), Some(now.as_micros()));
    assert_eq!(
        f.audit_actions(),
        vec!["oauth_grant.created", "oauth_grant.code_redeemed"]
    );
    // No audit detail carries the code.
    let events = f.store().audit_events(f.workspace.id, None, 1000).unwrap();
    assert!(events
        .iter()
        .all(|event| !event.detail.contains(code.expose()) && !event.detail.contains(&hash)));

    assert_eq!(
        f.redeem("not-a-code", &f.app.client_id, now).unwrap_err(),
        InvalidGrant::Unknown
    );
}

/// OP11: a second use of a code is refused and revokes the grant the first use issued, with
/// its refresh token.
#[test]
fn a_code_used_twice_revokes_its_grant() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant, code) = f.code(&f.app, true, now);
    let first = f.redeem(code.expose(), &f.app.client_id, now).unwrap();
    let refresh = first.refresh_token.expect("offline_access grant");

    let later = now.plus_seconds(1);
    assert_eq!(
        f.redeem(code.expose(), &f.app.client_id, later)
            .unwrap_err(),
        InvalidGrant::CodeReused
    );
    let revoked = f.grant(&grant.id);
    assert_eq!(revoked.revoked_at, Some(later.as_micros()));
    assert_eq!(revoked.revoked_reason.as_deref(), Some("code_reuse"));
    assert_eq!(
        f.refresh(refresh.expose(), &f.app.client_id, later)
            .unwrap_err(),
        InvalidGrant::GrantRevoked
    );
    assert_eq!(
        f.store()
            .oauth_grant_subject(&grant.id, Some(first.session_epoch))
            .unwrap()
            .unwrap_err(),
        GrantNotLive::Revoked,
        "the first redemption's access token stops working at userinfo"
    );
    assert_eq!(
        f.audit_actions(),
        vec![
            "oauth_grant.created",
            "oauth_grant.code_redeemed",
            "oauth_grant.revoked"
        ]
    );
}

/// OP13, OP14 and PKCE: a code presented by another client, to another redirect URI, or with a
/// missing or wrong verifier is refused and NOT consumed; its owner can still redeem it.
#[test]
fn refusals_before_the_update_leave_the_code_usable() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant, code) = f.code(&f.app, false, now);
    let attempt = CodeRedemption {
        code: code.expose(),
        client_id: &f.app.client_id,
        redirect_uri: REDIRECT,
        code_verifier: Some(VERIFIER),
    };
    let cases = [
        (
            CodeRedemption {
                client_id: &f.other_app.client_id,
                ..attempt
            },
            InvalidGrant::WrongClient,
        ),
        (
            CodeRedemption {
                redirect_uri: "https://app.example/callback/",
                ..attempt
            },
            InvalidGrant::RedirectUriMismatch,
        ),
        (
            CodeRedemption {
                code_verifier: None,
                ..attempt
            },
            InvalidGrant::VerifierMissing,
        ),
        (
            CodeRedemption {
                code_verifier: Some("another-verifier-another-verifier-another-v"),
                ..attempt
            },
            InvalidGrant::VerifierMismatch,
        ),
    ];
    for (refused, reason) in cases {
        assert_eq!(
            f.store()
                .redeem_authorization_code(&Actor::System, &refused, now)
                .unwrap()
                .unwrap_err(),
            reason
        );
        assert_eq!(
            f.code_used_at(&grant.id),
            None,
            "{reason:?} burned the code"
        );
        assert_eq!(f.grant(&grant.id).revoked_at, None, "{reason:?} revoked");
    }
    assert_eq!(f.audit_actions(), vec!["oauth_grant.created"]);
    assert!(f.redeem(code.expose(), &f.app.client_id, now).is_ok());
}

/// OP15: at 60 s the code is expired (the clock is injected), and stays unused.
#[test]
fn a_code_expires_after_sixty_seconds() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant, code) = f.code(&f.app, false, now);
    assert_eq!(
        f.redeem(code.expose(), &f.app.client_id, now.plus_seconds(60))
            .unwrap_err(),
        InvalidGrant::Expired
    );
    assert_eq!(f.code_used_at(&grant.id), None);
    let (_, fresh) = f.code(&f.app, false, now);
    assert!(f
        .redeem(fresh.expose(), &f.app.client_id, now.plus_seconds(59))
        .is_ok());
}

/// OP12: of 20 concurrent redemptions of one code exactly one succeeds; the others are reuse.
#[test]
fn twenty_concurrent_redemptions_of_one_code_yield_one_success() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant, code) = f.code(&f.app, true, now);
    let start = Barrier::new(20);
    let outcomes: Vec<Result<_, InvalidGrant>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    f.redeem(code.expose(), &f.app.client_id, now)
                        .map(|redeemed| redeemed.refresh_token.is_some())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let successes = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(successes, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().err())
        .all(|reason| *reason == InvalidGrant::CodeReused));
    use roster_store::schema::oauth_refresh_tokens;
    let issued: i64 =
        f.db.read_rows(|conn| Ok(oauth_refresh_tokens::table.count().get_result(conn)?))
            .unwrap();
    assert_eq!(issued, 1, "one redemption issued tokens");
    assert_eq!(
        f.grant(&grant.id).revoked_reason.as_deref(),
        Some("code_reuse")
    );
}

/// K3 / OP19: each use rotates the token; the rotated one presented again revokes the grant,
/// and with it the newest child.
#[test]
fn refresh_tokens_rotate_and_reuse_revokes_the_grant() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant, code) = f.code(&f.app, true, now);
    let first = f
        .redeem(code.expose(), &f.app.client_id, now)
        .unwrap()
        .refresh_token
        .unwrap();
    let second = f.refresh(first.expose(), &f.app.client_id, now).unwrap();
    assert_eq!(second.grant.id, grant.id);
    assert_eq!(second.scope, "openid email offline_access");
    assert_ne!(second.refresh_token.expose(), first.expose());
    let third = f
        .refresh(second.refresh_token.expose(), &f.app.client_id, now)
        .unwrap();

    use roster_store::schema::oauth_refresh_tokens;
    let family: Vec<(String, Option<String>, Option<i64>)> =
        f.db.read_rows(|conn| {
            Ok(oauth_refresh_tokens::table
                .order(oauth_refresh_tokens::created_at)
                .select((
                    oauth_refresh_tokens::token_hash,
                    oauth_refresh_tokens::parent_hash,
                    oauth_refresh_tokens::used_at,
                ))
                .load(conn)?)
        })
        .unwrap();
    assert_eq!(family.len(), 3);
    let by_hash = |hash: &str| family.iter().find(|row| row.0 == hash).unwrap().clone();
    assert_eq!(by_hash(&first.hash().0).2, Some(now.as_micros()));
    assert_eq!(
        by_hash(&second.refresh_token.hash().0).1,
        Some(first.hash().0),
        "child linked to parent"
    );
    assert_eq!(by_hash(&third.refresh_token.hash().0).2, None);

    let later = now.plus_seconds(5);
    assert_eq!(
        f.refresh(first.expose(), &f.app.client_id, later)
            .unwrap_err(),
        InvalidGrant::RefreshTokenReused
    );
    let revoked = f.grant(&grant.id);
    assert_eq!(
        revoked.revoked_reason.as_deref(),
        Some("refresh_token_reuse")
    );
    assert_eq!(
        f.refresh(third.refresh_token.expose(), &f.app.client_id, later)
            .unwrap_err(),
        InvalidGrant::GrantRevoked,
        "the live child dies with its grant"
    );
}

/// OP20: app B presenting app A's refresh token is refused and the token is not consumed; a
/// wider scope is refused too.
#[test]
fn a_refresh_token_of_another_app_or_a_wider_scope_is_refused() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant, code) = f.code(&f.app, true, now);
    let token = f
        .redeem(code.expose(), &f.app.client_id, now)
        .unwrap()
        .refresh_token
        .unwrap();
    assert_eq!(
        f.refresh(token.expose(), &f.other_app.client_id, now)
            .unwrap_err(),
        InvalidGrant::WrongClient
    );
    assert_eq!(
        f.store()
            .rotate_refresh_token(
                &Actor::System,
                token.expose(),
                &f.app.client_id,
                Some("openid groups"),
                now
            )
            .unwrap()
            .unwrap_err(),
        InvalidGrant::ScopeWidened
    );
    assert_eq!(f.grant(&grant.id).revoked_at, None);
    let narrower = f
        .store()
        .rotate_refresh_token(
            &Actor::System,
            token.expose(),
            &f.app.client_id,
            Some("openid"),
            now,
        )
        .unwrap()
        .unwrap();
    assert_eq!(narrower.scope, "openid");
    assert_eq!(
        f.refresh("unknown", &f.app.client_id, now).unwrap_err(),
        InvalidGrant::Unknown
    );
}

/// OP21 / P10: deactivating the user revokes every grant in the same transaction: refresh and
/// userinfo stop at once; reactivation brings nothing back.
#[test]
fn deactivating_a_user_revokes_their_grants_at_once() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant_a, code_a) = f.code(&f.app, true, now);
    let (grant_b, _) = f.code(&f.other_app, false, now);
    let redeemed = f.redeem(code_a.expose(), &f.app.client_id, now).unwrap();
    let token = redeemed.refresh_token.unwrap();
    assert_eq!(
        f.store()
            .oauth_grant_subject(&grant_a.id, Some(redeemed.session_epoch))
            .unwrap()
            .unwrap()
            .grant
            .id,
        grant_a.id
    );
    let names: Vec<String> = f
        .store()
        .user_oauth_apps(f.workspace.id, f.user.id)
        .unwrap()
        .into_iter()
        .map(|app| app.app_name)
        .collect();
    assert_eq!(names, vec!["Other product", "Product"]);

    let user = f
        .store()
        .change_lifecycle(
            &Actor::Cli,
            f.workspace.id,
            f.user.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    assert_eq!(user.lifecycle, Lifecycle::Deactivated);
    for grant in [&grant_a, &grant_b] {
        assert_eq!(
            f.grant(&grant.id).revoked_reason.as_deref(),
            Some("user_deactivated")
        );
    }
    assert_eq!(
        f.refresh(token.expose(), &f.app.client_id, now)
            .unwrap_err(),
        InvalidGrant::GrantRevoked
    );
    assert!(f
        .store()
        .user_oauth_apps(f.workspace.id, f.user.id)
        .unwrap()
        .is_empty());
    f.store()
        .change_lifecycle(
            &Actor::Cli,
            f.workspace.id,
            f.user.id,
            LifecycleEvent::Reactivate,
        )
        .unwrap();
    assert_eq!(
        f.store()
            .oauth_grant_subject(&grant_a.id, Some(redeemed.session_epoch))
            .unwrap()
            .unwrap_err(),
        GrantNotLive::Revoked
    );
}

/// "Sign out everywhere" and single revocation record their reason; an epoch moved since the
/// token was issued fails liveness even on a live grant.
#[test]
fn revocation_records_its_reason_and_liveness_checks_the_epoch() {
    let f = fixture();
    let now = Timestamp::now();
    let (grant_a, _) = f.code(&f.app, false, now);
    let (grant_b, _) = f.code(&f.other_app, false, now);
    assert_eq!(
        f.store()
            .oauth_grant_subject(&grant_a.id, Some(f.user.session_epoch + 1))
            .unwrap()
            .unwrap_err(),
        GrantNotLive::EpochMoved
    );
    assert_eq!(
        f.store()
            .oauth_grant_subject("no-such-grant", Some(0))
            .unwrap()
            .unwrap_err(),
        GrantNotLive::Unknown
    );
    assert!(f
        .store()
        .revoke_oauth_grant(&Actor::Cli, &grant_a.id, RevokeReason::Logout, now)
        .unwrap());
    assert!(
        !f.store()
            .revoke_oauth_grant(&Actor::Cli, &grant_a.id, RevokeReason::Admin, now)
            .unwrap(),
        "already revoked: the first reason stays"
    );
    assert_eq!(
        f.grant(&grant_a.id).revoked_reason.as_deref(),
        Some("logout")
    );
    assert_eq!(
        f.store()
            .revoke_user_oauth_grants(
                &Actor::Cli,
                f.workspace.id,
                f.user.id,
                RevokeReason::Admin,
                now
            )
            .unwrap()
            .into_iter()
            .map(|grant| grant.id)
            .collect::<Vec<_>>(),
        vec![grant_b.id.clone()],
        "the grants revoked, for back-channel logout"
    );
    assert_eq!(
        f.grant(&grant_b.id).revoked_reason.as_deref(),
        Some("admin")
    );
    let revocations = f
        .store()
        .audit_events(f.workspace.id, None, 1000)
        .unwrap()
        .into_iter()
        .filter(|event| event.action == "oauth_grant.revoked")
        .count();
    assert_eq!(revocations, 2);
}

fn provisioning_entry(
    workspace: &Workspace,
    connection: &str,
) -> roster_store::NewProvisioningEntry {
    roster_store::NewProvisioningEntry {
        workspace_id: workspace.id.to_string(),
        connection_id: connection.to_owned(),
        occurred_at: Timestamp::now().as_micros(),
        request_id: "request".to_owned(),
        method: "PATCH".to_owned(),
        path: "/Users".to_owned(),
        status: 200,
        duration_us: 1,
        resource_id: None,
        error: None,
        warnings: None,
        query: None,
    }
}

/// OP21: SCIM `active=false` and SCIM DELETE revoke the user's grants in their own transaction.
#[test]
fn scim_deactivation_and_delete_revoke_grants() {
    let f = fixture();
    let connection = f.db.scim_connection(f.workspace.id, "idp", true, false);
    let scope = roster_store::ScimScope {
        workspace_id: f.workspace.id,
        connection_id: connection.id,
    };
    let connection_id = connection.id.to_string();
    let new_user = |name: &str| {
        let mut new =
            NewUser::minimal(f.workspace.id, UserName::parse(name).unwrap(), Source::Scim);
        new.managing_connection_id = Some(connection.id);
        f.store()
            .scim_create_user(&Actor::System, scope, &new, |_| {
                provisioning_entry(&f.workspace, &connection_id)
            })
            .unwrap()
            .0
    };
    let deactivated = new_user("grace");
    let deleted = new_user("linus");
    let now = Timestamp::now();
    let grant_of = |user: &User| {
        f.store()
            .issue_authorization_code(
                &Actor::System,
                &NewOAuthGrant {
                    user_id: user.id,
                    ..f.new_grant(&f.app, true)
                },
                &CodeBinding {
                    redirect_uri: REDIRECT.to_owned(),
                    code_challenge: None,
                    nonce: None,
                },
                now,
            )
            .unwrap()
            .0
    };
    let grant_deactivated = grant_of(&deactivated);
    let grant_deleted = grant_of(&deleted);
    let grant_untouched = f.code(&f.app, false, now).0;

    f.store()
        .scim_modify_user::<roster_store::StoreError>(
            &Actor::System,
            scope,
            &deactivated.id.to_string(),
            None,
            |_| {
                Ok(Some(roster_store::UserUpdate {
                    given_name: None,
                    family_name: None,
                    display_name: None,
                    external_id: None,
                    email: None,
                    active: false,
                    scim_attributes: "{}".to_owned(),
                    attributes: Vec::new(),
                    changed: vec!["active".to_owned()],
                    note: serde_json::json!({}),
                }))
            },
            |_| provisioning_entry(&f.workspace, &connection_id),
        )
        .unwrap();
    f.store()
        .scim_delete_user(&Actor::System, scope, &deleted.id.to_string(), None, |_| {
            provisioning_entry(&f.workspace, &connection_id)
        })
        .unwrap();
    for grant in [&grant_deactivated, &grant_deleted] {
        assert_eq!(
            f.grant(&grant.id).revoked_reason.as_deref(),
            Some("user_deactivated")
        );
    }
    assert_eq!(
        f.grant(&grant_untouched.id).revoked_at,
        None,
        "another user's grant"
    );
}

/// Logout of a Roster session revokes that session's grants except `offline_access` ones
/// (Back-Channel Logout §2.7), and no other session's.
#[test]
fn session_logout_revokes_the_sessions_online_grants_only() {
    let f = fixture();
    let now = Timestamp::now();
    let (online, _) = f.code(&f.app, false, now);
    let (offline, _) = f.code(&f.other_app, true, now);
    let (elsewhere, _) = f
        .store()
        .issue_authorization_code(
            &Actor::System,
            &NewOAuthGrant {
                session_id: Some("session-2".to_owned()),
                ..f.new_grant(&f.app, false)
            },
            &CodeBinding {
                redirect_uri: REDIRECT.to_owned(),
                code_challenge: None,
                nonce: None,
            },
            now,
        )
        .unwrap();
    let revoked: Vec<String> = f
        .store()
        .revoke_session_oauth_grants(&Actor::System, "session-1", now)
        .unwrap()
        .into_iter()
        .map(|grant| grant.id)
        .collect();
    assert_eq!(revoked, vec![online.id.clone()]);
    assert_eq!(
        f.grant(&online.id).revoked_reason.as_deref(),
        Some("logout")
    );
    assert_eq!(f.grant(&offline.id).revoked_at, None);
    assert_eq!(f.grant(&elsewhere.id).revoked_at, None);
}
