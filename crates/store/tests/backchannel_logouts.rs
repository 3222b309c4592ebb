//! Back-channel logouts queued by the store, against a real database (SQLite by default,
//! PostgreSQL when `TEST_DATABASE_URL` is set): which revocations queue them (one per app and
//! `sid`, only for apps with a back-channel URI, in the revoking transaction and only if it
//! commits), which do not, and the outbox's claim, lease and outcomes.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use roster_store::testing::test_app;
use std::collections::BTreeSet;
use std::time::Duration;

use diesel::prelude::*;
use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, LifecycleEvent, SecretToken, Source, Timestamp, User, UserName, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::{
    BackchannelLogout, CodeBinding, CodeRedemption, DeliveryOutcome, InvalidGrant, NewOAuthApp,
    NewOAuthGrant, NewProvisioningEntry, NewUser, OAuthApp, OAuthGrant, RevokeReason, ScimScope,
    SigningAlg, Store, StoreError, UserUpdate,
};

const REDIRECT: &str = "https://app.example/callback";
const NOTIFIED_URI: &str = "https://app.example/backchannel-logout";

struct Fixture {
    db: TestStore,
    workspace: Workspace,
    scope: ScimScope,
    user: User,
    bystander: User,
    /// Two apps with a back-channel logout URI, one without.
    notified: OAuthApp,
    second: OAuthApp,
    silent: OAuthApp,
}

fn app(db: &TestStore, name: &str, backchannel_logout_uri: Option<&str>) -> OAuthApp {
    db.register_app(&NewOAuthApp {
        id_token_alg: SigningAlg::Es256,
        backchannel_logout_uri: backchannel_logout_uri.map(str::to_owned),
        ..test_app(name, REDIRECT)
    })
    .0
}

fn fixture() -> Fixture {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "idp", true, false);
    let scope = ScimScope {
        workspace_id: workspace.id,
        connection_id: connection.id,
    };
    let scim_user = |name: &str| {
        let mut new = NewUser::minimal(workspace.id, UserName::parse(name).unwrap(), Source::Scim);
        new.managing_connection_id = Some(connection.id);
        db.store
            .scim_create_user(&Actor::System, scope, &new, |_| {
                provisioning_entry(&workspace, &connection.id.to_string())
            })
            .unwrap()
            .0
    };
    let user = scim_user("ada");
    let bystander = scim_user("grace");
    let notified = app(&db, "Catalog", Some(NOTIFIED_URI));
    let second = app(
        &db,
        "Billing",
        Some("https://billing.example/logout?tenant=1"),
    );
    let silent = app(&db, "Wiki", None);
    Fixture {
        db,
        workspace,
        scope,
        user,
        bystander,
        notified,
        second,
        silent,
    }
}

fn provisioning_entry(workspace: &Workspace, connection_id: &str) -> NewProvisioningEntry {
    NewProvisioningEntry {
        workspace_id: workspace.id.to_string(),
        connection_id: connection_id.to_owned(),
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

fn deactivation() -> UserUpdate {
    UserUpdate {
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
    }
}

impl Fixture {
    fn store(&self) -> &Store {
        &self.db.store
    }

    /// A grant of `app` for `user` in Roster session `session`, with the `sid` that app saw.
    fn grant(
        &self,
        user: &User,
        app: &OAuthApp,
        session: &str,
        sid: &str,
        offline: bool,
    ) -> (OAuthGrant, SecretToken) {
        self.store()
            .issue_authorization_code(
                &Actor::System,
                &NewOAuthGrant {
                    client_id: app.client_id.clone(),
                    workspace_id: self.workspace.id,
                    user_id: user.id,
                    connection_id: None,
                    session_id: Some(session.to_owned()),
                    sid: sid.to_owned(),
                    scope: if offline {
                        "openid offline_access".to_owned()
                    } else {
                        "openid".to_owned()
                    },
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
            .unwrap()
    }

    /// An online grant of `app` for the user, revoked by an operator for `reason`.
    fn revoked(&self, app: &OAuthApp, session: &str, sid: &str, reason: RevokeReason) {
        let (grant, _) = self.grant(&self.user, app, session, sid, false);
        self.store()
            .revoke_oauth_grant(&Actor::Cli, &grant.id, reason, Timestamp::now())
            .unwrap();
    }

    /// Redeems a code: the first refresh token of an offline grant.
    fn redeem(&self, app: &OAuthApp, code: &SecretToken) -> Result<Option<String>, InvalidGrant> {
        self.store()
            .redeem_authorization_code(
                &Actor::System,
                &CodeRedemption {
                    code: code.expose(),
                    client_id: &app.client_id,
                    redirect_uri: REDIRECT,
                    code_verifier: None,
                },
                Timestamp::now(),
            )
            .unwrap()
            .map(|redeemed| redeemed.refresh_token.map(|t| t.expose().to_owned()))
    }

    fn refresh(&self, app: &OAuthApp, token: &str) -> Result<String, InvalidGrant> {
        self.store()
            .rotate_refresh_token(
                &Actor::System,
                token,
                &app.client_id,
                None,
                Timestamp::now(),
            )
            .unwrap()
            .map(|rotated| rotated.refresh_token.expose().to_owned())
    }

    fn deactivate_over_scim(&self, user: &User, log_connection: &str) -> Result<User, StoreError> {
        self.store().scim_modify_user::<StoreError>(
            &Actor::System,
            self.scope,
            &user.id.to_string(),
            None,
            |_| Ok(Some(deactivation())),
            |_| provisioning_entry(&self.workspace, log_connection),
        )
    }

    fn reactivate_over_scim(&self, user: &User) {
        self.store()
            .scim_modify_user::<StoreError>(
                &Actor::System,
                self.scope,
                &user.id.to_string(),
                None,
                |_| {
                    Ok(Some(UserUpdate {
                        active: true,
                        ..deactivation()
                    }))
                },
                |_| provisioning_entry(&self.workspace, &self.scope.connection_id.to_string()),
            )
            .unwrap();
    }

    fn delete_over_scim(&self, user: &User) {
        self.store()
            .scim_delete_user(
                &Actor::System,
                self.scope,
                &user.id.to_string(),
                None,
                |_| provisioning_entry(&self.workspace, &self.scope.connection_id.to_string()),
            )
            .unwrap();
    }

    fn disable_as_admin(&self, user: &User) {
        self.store()
            .change_lifecycle(
                &Actor::Admin { id: "admin".into() },
                self.workspace.id,
                user.id,
                LifecycleEvent::Deactivate,
            )
            .unwrap();
    }

    fn logouts(&self, user: &User) -> Vec<BackchannelLogout> {
        self.store()
            .user_backchannel_logouts(self.workspace.id, user.id)
            .unwrap()
    }

    /// Every queued logout, as (app, sid, reason).
    fn queued(&self) -> BTreeSet<(String, String, String)> {
        use roster_store::schema::backchannel_logouts;
        self.db
            .read_rows(|conn| {
                Ok(backchannel_logouts::table
                    .select((
                        backchannel_logouts::client_id,
                        backchannel_logouts::sid,
                        backchannel_logouts::reason,
                    ))
                    .load::<(String, String, String)>(conn)?)
            })
            .unwrap()
            .into_iter()
            .collect()
    }

    fn live_grants(&self, user: &User) -> usize {
        self.store()
            .user_oauth_apps(self.workspace.id, user.id)
            .unwrap()
            .len()
    }

    /// Claims at most one due logout.
    fn claim_one(&self, lease_secs: i64) -> Option<roster_store::BackchannelClaim> {
        let mut claimed = self
            .store()
            .claim_backchannel_logouts(lease_secs, 1)
            .unwrap();
        assert!(claimed.len() <= 1);
        claimed.pop()
    }

    /// Whether a commit rang the worker's wake-up call since `seen`.
    fn woken(&self, seen: &mut u64) -> bool {
        self.store()
            .outbox_wake()
            .wait(seen, Duration::from_millis(1))
    }
}

fn expect(app: &OAuthApp, sid: &str, reason: &str) -> (String, String, String) {
    (app.client_id.clone(), sid.to_owned(), reason.to_owned())
}

/// The contract's central case: SCIM `active=false` revokes every grant of the user and, in the
/// same commit, queues exactly one logout per app with a back-channel URI and `sid` — two grants
/// in one session of one app are one logout; an app without a URI gets none; another user's
/// grants are untouched. The commit wakes the worker.
#[test]
fn a_scim_deactivation_queues_one_logout_per_app_and_sid_in_the_revoking_commit() {
    let f = fixture();
    let (_, offline_code) = f.grant(&f.user, &f.notified, "session-1", "sid-a1", true);
    let refresh_token = f.redeem(&f.notified, &offline_code).unwrap().unwrap();
    f.grant(&f.user, &f.notified, "session-1", "sid-a1", false);
    f.grant(&f.user, &f.notified, "session-2", "sid-a2", false);
    f.grant(&f.user, &f.second, "session-1", "sid-b1", true);
    f.grant(&f.user, &f.silent, "session-1", "sid-c1", false);
    let (_, bystander_code) = f.grant(&f.bystander, &f.notified, "session-9", "sid-a9", true);
    let bystander_refresh = f.redeem(&f.notified, &bystander_code).unwrap().unwrap();
    let mut seen = 0;
    assert!(!f.woken(&mut seen), "issuing grants queues nothing");
    assert_eq!(f.queued(), BTreeSet::new());

    f.deactivate_over_scim(&f.user, &f.scope.connection_id.to_string())
        .unwrap();

    assert!(f.woken(&mut seen), "the commit woke the delivery worker");
    assert_eq!(
        f.queued(),
        BTreeSet::from([
            expect(&f.notified, "sid-a1", "user_deactivated"),
            expect(&f.notified, "sid-a2", "user_deactivated"),
            expect(&f.second, "sid-b1", "user_deactivated"),
        ])
    );
    for logout in f.logouts(&f.user) {
        assert_eq!(logout.user_id, f.user.id.to_string());
        assert_eq!(logout.workspace_id, f.workspace.id.to_string());
        assert_eq!((logout.attempts, logout.delivered_at), (0, None));
    }
    assert_eq!(f.live_grants(&f.user), 0, "every grant revoked");
    assert_eq!(
        f.refresh(&f.notified, &refresh_token),
        Err(InvalidGrant::GrantRevoked),
        "the refresh token died in the same commit"
    );
    assert_eq!(f.logouts(&f.bystander), vec![]);
    assert!(f.refresh(&f.notified, &bystander_refresh).is_ok());
}

/// A deactivation whose transaction fails after the revocation (here its provisioning-log row
/// names a connection that does not exist) leaves no logout queued, no grant revoked, the
/// refresh token working, and the worker asleep.
#[test]
fn a_failed_deactivation_queues_nothing_and_revokes_nothing() {
    let f = fixture();
    let (_, code) = f.grant(&f.user, &f.notified, "session-1", "sid-a1", true);
    let refresh_token = f.redeem(&f.notified, &code).unwrap().unwrap();
    f.grant(&f.user, &f.second, "session-1", "sid-b1", false);
    let mut seen = 0;
    f.woken(&mut seen);

    let failed = f.deactivate_over_scim(&f.user, &uuid_like_missing_connection());
    assert!(failed.is_err(), "{failed:?}");

    assert!(!f.woken(&mut seen), "a rolled-back write wakes nobody");
    assert_eq!(f.queued(), BTreeSet::new());
    assert_eq!(f.live_grants(&f.user), 2);
    assert!(f
        .store()
        .user(f.workspace.id, f.user.id)
        .unwrap()
        .lifecycle
        .is_active());
    assert!(f.refresh(&f.notified, &refresh_token).is_ok());
}

fn uuid_like_missing_connection() -> String {
    "00000000-0000-7000-8000-000000000000".to_owned()
}

/// Every other way a user's access ends queues logouts the same way: an admin disabling the
/// user (`change_lifecycle`), SCIM DELETE, and "sign out everywhere" (reason `admin`).
#[test]
fn admin_disable_scim_delete_and_sign_out_everywhere_queue_logouts() {
    let f = fixture();
    f.grant(&f.user, &f.notified, "session-1", "sid-disabled", false);
    f.disable_as_admin(&f.user);
    f.grant(
        &f.bystander,
        &f.notified,
        "session-2",
        "sid-everywhere",
        false,
    );
    f.grant(&f.bystander, &f.silent, "session-2", "sid-silent", false);
    let revoked = f
        .store()
        .revoke_user_oauth_grants(
            &Actor::Admin { id: "admin".into() },
            f.workspace.id,
            f.bystander.id,
            RevokeReason::Admin,
            Timestamp::now(),
        )
        .unwrap();
    assert_eq!(revoked.len(), 2, "both grants revoked, one logout queued");
    f.grant(&f.bystander, &f.second, "session-3", "sid-deleted", false);
    f.delete_over_scim(&f.bystander);
    assert_eq!(
        f.queued(),
        BTreeSet::from([
            expect(&f.notified, "sid-disabled", "user_deactivated"),
            expect(&f.notified, "sid-everywhere", "admin"),
            expect(&f.second, "sid-deleted", "user_deactivated"),
        ])
    );
}

/// Every way a user's sessions end is audited alike (one writer, `write_lifecycle`): the entry
/// of the change says the sessions were revoked and names the grants it revoked and their apps,
/// as "sign out everywhere" always did.
#[test]
fn every_end_of_a_user_s_sessions_audits_the_grants_it_revoked() {
    let f = fixture();
    let (disabled, _) = f.grant(&f.user, &f.notified, "session-1", "sid-1", false);
    f.disable_as_admin(&f.user);
    let (patched, _) = f.grant(&f.bystander, &f.second, "session-2", "sid-2", false);
    f.deactivate_over_scim(&f.bystander, &f.scope.connection_id.to_string())
        .unwrap();
    f.reactivate_over_scim(&f.bystander);
    let (deleted, _) = f.grant(&f.bystander, &f.silent, "session-3", "sid-3", false);
    f.delete_over_scim(&f.bystander);

    let audited: Vec<(String, String, serde_json::Value)> = f
        .store()
        .audit_events(f.workspace.id, None, 1000)
        .unwrap()
        .into_iter()
        .filter(|event| event.target_kind == "user" && event.action != "user.created")
        .map(|event| {
            let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
            let facts = ["sessions_revoked", "grants_revoked", "client_ids"]
                .map(|fact| (fact.to_owned(), detail[fact].clone()));
            (event.action, event.target_id, facts.into_iter().collect())
        })
        .collect();
    let ended = |grant: &OAuthGrant| {
        serde_json::json!({
            "sessions_revoked": true,
            "grants_revoked": [grant.id],
            "client_ids": [grant.client_id],
        })
    };
    let (ada, grace) = (f.user.id.to_string(), f.bystander.id.to_string());
    assert_eq!(
        audited,
        vec![
            ("user.deactivated".to_owned(), ada, ended(&disabled)),
            (
                "user.deactivated".to_owned(),
                grace.clone(),
                ended(&patched)
            ),
            (
                "user.reactivated".to_owned(),
                grace.clone(),
                serde_json::json!({
                    "sessions_revoked": false,
                    "grants_revoked": null,
                    "client_ids": null,
                })
            ),
            ("user.deprovisioned".to_owned(), grace, ended(&deleted)),
        ]
    );
}

/// Logout of a Roster session (`revoke_session`, what `POST /logout` and RP-initiated logout
/// call) ends it at every app it signed into — each gets its logout — in the same transaction as
/// the session's revocation; the session's grants are revoked except `offline_access` ones,
/// whose refresh tokens keep working; other sessions are untouched.
#[test]
fn ending_a_session_queues_a_logout_for_each_app_it_signed_into() {
    let f = fixture();
    let (online, _) = f.grant(&f.user, &f.notified, "session-1", "sid-a1", false);
    let (offline, offline_code) = f.grant(&f.user, &f.second, "session-1", "sid-b1", true);
    let offline_refresh = f.redeem(&f.second, &offline_code).unwrap().unwrap();
    let (elsewhere, _) = f.grant(&f.user, &f.notified, "session-2", "sid-a2", false);
    let mut seen = 0;
    f.woken(&mut seen);

    f.store()
        .revoke_session("session-1", Timestamp::now().plus_seconds(3600))
        .unwrap();

    assert!(f.store().is_session_revoked("session-1").unwrap());
    assert!(f.woken(&mut seen));
    assert_eq!(
        f.queued(),
        BTreeSet::from([
            expect(&f.notified, "sid-a1", "logout"),
            expect(&f.second, "sid-b1", "logout"),
        ])
    );
    let grant = |id: &str| f.store().oauth_grant(id).unwrap();
    assert_eq!(grant(&online.id).revoked_reason.as_deref(), Some("logout"));
    assert_eq!(
        grant(&offline.id).revoked_at,
        None,
        "offline_access outlives the session"
    );
    assert!(f.refresh(&f.second, &offline_refresh).is_ok());
    assert_eq!(grant(&elsewhere.id).revoked_at, None);

    // The same session ended again (RP-initiated logout after POST /logout), even after the
    // first logouts went out: nothing more.
    while let Some(claim) = f.claim_one(60) {
        f.store()
            .finish_backchannel_logout(&claim, &outcome(200, None, false))
            .unwrap();
    }
    f.store()
        .revoke_session_oauth_grants(&Actor::System, "session-1", Timestamp::now())
        .unwrap();
    f.store()
        .revoke_session("session-1", Timestamp::now().plus_seconds(3600))
        .unwrap();
    assert_eq!(f.queued().len(), 2);
}

/// Revocations the app itself caused tell it nothing: a code presented twice, a rotated refresh
/// token reused, the app revoking its own token (RFC 7009).
#[test]
fn reuse_and_the_apps_own_revocation_queue_no_logout() {
    let f = fixture();
    let (code_grant, code) = f.grant(&f.user, &f.notified, "session-1", "sid-code", false);
    f.redeem(&f.notified, &code).unwrap();
    assert_eq!(f.redeem(&f.notified, &code), Err(InvalidGrant::CodeReused));

    let (reuse_grant, code) = f.grant(&f.user, &f.notified, "session-1", "sid-reuse", true);
    let first = f.redeem(&f.notified, &code).unwrap().unwrap();
    f.refresh(&f.notified, &first).unwrap();
    assert_eq!(
        f.refresh(&f.notified, &first),
        Err(InvalidGrant::RefreshTokenReused)
    );

    let (own_grant, code) = f.grant(&f.user, &f.notified, "session-1", "sid-own", true);
    let token = f.redeem(&f.notified, &code).unwrap().unwrap();
    assert!(f
        .store()
        .revoke_grant_of_refresh_token(
            &Actor::System,
            &token,
            &f.notified.client_id,
            Timestamp::now()
        )
        .unwrap());

    for grant in [&code_grant, &reuse_grant, &own_grant] {
        assert!(f
            .store()
            .oauth_grant(&grant.id)
            .unwrap()
            .revoked_at
            .is_some());
    }
    assert_eq!(f.queued(), BTreeSet::new());
}

fn outcome(status: u16, retry_in_secs: Option<i64>, give_up: bool) -> DeliveryOutcome {
    let delivered = (200..300).contains(&status);
    DeliveryOutcome {
        status_code: Some(status),
        duration_ms: 3,
        error: (!delivered).then(|| format!("the endpoint answered HTTP {status}")),
        retry_at: retry_in_secs.map(|secs| Timestamp::now().plus_seconds(secs)),
        give_up,
    }
}

/// The outbox: a claim carries the app's URI and algorithm and holds a lease; a failure is
/// retried when due, an expired lease is claimed again, a success is final, and while a logout
/// of an app and `sid` waits, another revocation of that session queues no second one.
#[test]
fn the_outbox_leases_retries_and_finishes_each_logout() {
    let f = fixture();
    f.revoked(&f.notified, "session-1", "sid-a1", RevokeReason::Admin);

    let claim = f.claim_one(60).unwrap();
    assert_eq!(claim.uri, NOTIFIED_URI);
    assert_eq!(claim.id_token_alg, SigningAlg::Es256);
    assert_eq!(
        (claim.logout.client_id.as_str(), claim.logout.sid.as_str()),
        (f.notified.client_id.as_str(), "sid-a1")
    );
    assert!(f.claim_one(60).is_none(), "leased");

    // Another grant of the same app session revoked while the first logout waits: no second row.
    f.revoked(&f.notified, "session-1", "sid-a1", RevokeReason::Admin);
    assert_eq!(f.logouts(&f.user).len(), 1);

    // A failure, due again at once: claimed again with the attempt counted.
    f.store()
        .finish_backchannel_logout(&claim, &outcome(500, Some(0), false))
        .unwrap();
    let logout = &f.logouts(&f.user)[0];
    assert_eq!(
        (logout.attempts, logout.last_status, logout.delivered_at),
        (1, Some(500), None)
    );
    assert_eq!(
        logout.last_error.as_deref(),
        Some("the endpoint answered HTTP 500")
    );
    // A worker that died holding a lease (zero seconds here): the logout is claimed again.
    let retried = f.claim_one(0).unwrap();
    assert_eq!(retried.logout.id, claim.logout.id);
    assert_eq!(retried.logout.attempts, 1);
    let again = f.claim_one(60).unwrap();
    assert_eq!(again.logout.id, claim.logout.id);

    f.store()
        .finish_backchannel_logout(&again, &outcome(204, None, false))
        .unwrap();
    let logout = &f.logouts(&f.user)[0];
    assert_eq!((logout.attempts, logout.last_status), (2, Some(204)));
    assert!(logout.delivered_at.is_some());
    assert!(f.claim_one(0).is_none(), "delivered is final");

    // Delivered, the session may be logged out again (a new grant in it, revoked).
    f.revoked(&f.notified, "session-1", "sid-a1", RevokeReason::Admin);
    assert_eq!(f.logouts(&f.user).len(), 2);
}

/// A failure the retry policy gives up on abandons the logout (audited); a logout whose app was
/// deleted goes with the app; one whose app no longer has a URI is abandoned at its claim.
#[test]
fn given_up_and_orphaned_logouts_leave_the_outbox() {
    let f = fixture();
    f.revoked(&f.notified, "session-1", "sid-a1", RevokeReason::Logout);
    let claim = f.claim_one(60).unwrap();
    f.store()
        .finish_backchannel_logout(&claim, &outcome(503, Some(0), true))
        .unwrap();
    let logout = &f.logouts(&f.user)[0];
    assert!(logout.abandoned_at.is_some());
    assert_eq!(logout.delivered_at, None);
    assert!(f.claim_one(0).is_none());
    let actions: Vec<String> = f
        .store()
        .audit_events(f.workspace.id, None, 100)
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect();
    assert!(
        actions.contains(&"backchannel_logout.abandoned".to_owned()),
        "{actions:?}"
    );

    f.revoked(&f.second, "session-1", "sid-b1", RevokeReason::Logout);
    f.store()
        .delete_oauth_app(&Actor::Cli, &f.second.client_id)
        .unwrap();
    assert!(f.claim_one(0).is_none());
    assert_eq!(
        f.logouts(&f.user).len(),
        1,
        "the deleted app's logout went with it"
    );

    // No operation removes a URI today; a later one would leave this row to abandon.
    f.revoked(&f.notified, "session-2", "sid-a2", RevokeReason::Logout);
    f.db.read_rows(|conn| {
        use roster_store::schema::oauth_apps;
        diesel::update(oauth_apps::table.find(&f.notified.client_id))
            .set(oauth_apps::backchannel_logout_uri.eq(None::<String>))
            .execute(conn)?;
        Ok(())
    })
    .unwrap();
    assert!(f.claim_one(0).is_none());
    let orphan = &f.logouts(&f.user)[0];
    assert_eq!(orphan.sid, "sid-a2");
    assert!(orphan.abandoned_at.is_some());

    // Pruning keeps what is still to send and drops what is done.
    assert_eq!(
        f.store()
            .prune_backchannel_logouts(Timestamp::now().plus_seconds(1))
            .unwrap(),
        2
    );
    assert_eq!(f.logouts(&f.user), vec![]);
}

/// A claim takes as many due logouts as asked, oldest first, and leases each: a second claim
/// finds none of them.
#[test]
fn a_claim_takes_up_to_its_limit_and_leases_each() {
    let f = fixture();
    for sid in ["sid-1", "sid-2", "sid-3"] {
        f.revoked(&f.notified, sid, sid, RevokeReason::Logout);
    }
    let first = f.store().claim_backchannel_logouts(60, 2).unwrap();
    let sids: Vec<&str> = first
        .iter()
        .map(|claim| claim.logout.sid.as_str())
        .collect();
    assert_eq!(
        sids,
        vec!["sid-1", "sid-2"],
        "oldest first, no more than asked"
    );
    let rest = f.store().claim_backchannel_logouts(60, 10).unwrap();
    let sids: Vec<&str> = rest.iter().map(|claim| claim.logout.sid.as_str()).collect();
    assert_eq!(sids, vec!["sid-3"]);
    assert!(f
        .store()
        .claim_backchannel_logouts(60, 10)
        .unwrap()
        .is_empty());
    assert!(f
        .store()
        .claim_backchannel_logouts(0, 0)
        .unwrap()
        .is_empty());
}
