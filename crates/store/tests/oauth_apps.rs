//! Apps of the OpenID Provider and its signing keys against a real database: SQLite by default,
//! PostgreSQL when `TEST_DATABASE_URL` is set.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, AuditEvent, Timestamp};
use roster_store::testing::TestStore;
use roster_store::{
    ClientAuthMethod, NewOAuthApp, SigningAlg, SigningKeyRecord, SigningKeyStatus, Store,
    StoreError,
};

fn confidential(name: &str) -> NewOAuthApp {
    NewOAuthApp {
        name: name.to_owned(),
        auth_method: ClientAuthMethod::ClientSecretBasic,
        id_token_alg: SigningAlg::Rs256,
        redirect_uris: vec![
            "https://app.example/callback".to_owned(),
            "https://app.example/other?tenant=1".to_owned(),
        ],
        post_logout_redirect_uris: vec!["https://app.example/bye".to_owned()],
        backchannel_logout_uri: Some("https://app.example/backchannel".to_owned()),
    }
}

fn public(name: &str) -> NewOAuthApp {
    NewOAuthApp {
        auth_method: ClientAuthMethod::None,
        id_token_alg: SigningAlg::Es256,
        redirect_uris: vec!["http://127.0.0.1/callback".to_owned()],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
        ..confidential(name)
    }
}

/// The deployment-level audit trail, oldest first.
fn system_audit(store: &Store) -> Vec<AuditEvent> {
    let mut events = store.system_audit_events(1000).unwrap();
    events.reverse();
    events
}

#[test]
fn a_confidential_app_gets_a_secret_shown_once_and_stored_hashed() {
    let db = TestStore::new();
    let now = Timestamp::now();
    let (app, secret) = db
        .store
        .create_oauth_app(&Actor::Cli, &confidential("Product"), now)
        .unwrap();
    let secret = secret.expect("a confidential app has a secret");
    assert!(
        secret.expose().starts_with("rscs_"),
        "recognisable by scanners"
    );
    assert_eq!(secret.expose().len(), 5 + 43);
    assert_eq!(app.name, "Product");
    assert_eq!(app.auth_method, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(app.id_token_alg, SigningAlg::Rs256);
    assert_eq!(
        app.redirect_uris,
        [
            "https://app.example/callback",
            "https://app.example/other?tenant=1"
        ],
        "in the order registered, exactly as given"
    );
    assert_eq!(app.post_logout_redirect_uris, ["https://app.example/bye"]);
    assert_eq!(
        app.backchannel_logout_uri.as_deref(),
        Some("https://app.example/backchannel")
    );
    assert_eq!(app.secret_hint.as_deref(), Some(secret.hint().as_str()));
    assert_eq!(app.previous_secret_until, None);
    assert_eq!(db.store.oauth_app(&app.client_id).unwrap(), app);

    // The secret authenticates; nothing else does, and every refusal looks the same.
    let authenticated = db
        .store
        .authenticate_oauth_client(&app.client_id, secret.expose(), now)
        .unwrap();
    assert_eq!(authenticated, app);
    for (client_id, presented) in [
        (app.client_id.as_str(), "rscs_wrong"),
        (app.client_id.as_str(), ""),
        (app.client_id.as_str(), &secret.hash().0),
        ("unknown-client", secret.expose()),
    ] {
        assert!(matches!(
            db.store
                .authenticate_oauth_client(client_id, presented, now),
            Err(StoreError::Unauthorized)
        ));
    }

    let audit = system_audit(&db.store);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "oauth_app.created");
    assert_eq!(audit[0].target_kind, "oauth_app");
    assert_eq!(audit[0].target_id, app.client_id);
    assert_eq!(audit[0].workspace_id, None, "apps are deployment-level");
    assert!(!audit[0].detail.contains(secret.expose()));
    assert!(!audit[0].detail.contains(&secret.hash().0));
}

#[test]
fn a_public_app_has_no_secret_and_never_authenticates_with_one() {
    let db = TestStore::new();
    let now = Timestamp::now();
    let (app, secret) = db
        .store
        .create_oauth_app(&Actor::Cli, &public("Spa"), now)
        .unwrap();
    assert!(secret.is_none());
    assert_eq!(app.auth_method, ClientAuthMethod::None);
    assert_eq!(app.secret_hint, None);
    assert_eq!(app.id_token_alg, SigningAlg::Es256);
    for presented in ["", "anything"] {
        assert!(matches!(
            db.store
                .authenticate_oauth_client(&app.client_id, presented, now),
            Err(StoreError::Unauthorized)
        ));
    }

    // A public app has no secret to rotate: refused, nothing written.
    let before = system_audit(&db.store).len();
    assert!(matches!(
        db.store
            .rotate_oauth_app_secret(&Actor::Cli, &app.client_id, now, now),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(db.store.oauth_app(&app.client_id).unwrap(), app);
    assert_eq!(system_audit(&db.store).len(), before);
}

#[test]
fn a_rotated_secret_keeps_the_previous_one_valid_for_its_grace_only() {
    let db = TestStore::new();
    let created_at = Timestamp::now();
    let (app, first) = db
        .store
        .create_oauth_app(&Actor::Cli, &confidential("Product"), created_at)
        .unwrap();
    let first = first.unwrap();
    let rotated_at = created_at.plus_seconds(60);
    let grace_end = rotated_at.plus_seconds(3600);
    let (rotated, second) = db
        .store
        .rotate_oauth_app_secret(&Actor::Cli, &app.client_id, rotated_at, grace_end)
        .unwrap();
    assert_ne!(second.expose(), first.expose());
    assert_eq!(rotated.secret_hint.as_deref(), Some(second.hint().as_str()));
    assert_eq!(rotated.previous_secret_until, Some(grace_end));
    assert_eq!(rotated.redirect_uris, app.redirect_uris);

    let authenticates = |secret: &str, at: Timestamp| {
        db.store
            .authenticate_oauth_client(&app.client_id, secret, at)
            .is_ok()
    };
    let just_before_the_end = grace_end.plus_seconds(-1);
    assert!(authenticates(second.expose(), rotated_at));
    assert!(authenticates(first.expose(), rotated_at));
    assert!(authenticates(first.expose(), just_before_the_end));
    assert!(
        !authenticates(first.expose(), grace_end),
        "the grace is over"
    );
    assert!(authenticates(
        second.expose(),
        grace_end.plus_seconds(86_400)
    ));

    // A second rotation (a leak: the previous one ends at once) replaces the previous secret:
    // the first stops at once, the second ends at the time given.
    let (_, third) = db
        .store
        .rotate_oauth_app_secret(&Actor::Cli, &app.client_id, rotated_at, rotated_at)
        .unwrap();
    assert!(authenticates(third.expose(), rotated_at));
    assert!(!authenticates(first.expose(), rotated_at));
    assert!(!authenticates(second.expose(), rotated_at));

    let audit = system_audit(&db.store);
    let actions: Vec<&str> = audit.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "oauth_app.created",
            "oauth_app.secret_rotated",
            "oauth_app.secret_rotated"
        ]
    );
    for event in &audit {
        for secret in [&first, &second, &third] {
            assert!(!event.detail.contains(secret.expose()));
        }
    }

    assert!(matches!(
        db.store
            .rotate_oauth_app_secret(&Actor::Cli, "unknown-client", rotated_at, grace_end),
        Err(StoreError::NotFound { what: "app" })
    ));
    assert_eq!(system_audit(&db.store).len(), 3, "nothing written");
}

#[test]
fn apps_are_listed_oldest_first_and_deleted_for_good() {
    let db = TestStore::new();
    let now = Timestamp::now();
    let (first, _) = db
        .store
        .create_oauth_app(&Actor::Cli, &confidential("First"), now)
        .unwrap();
    let (second, _) = db
        .store
        .create_oauth_app(&Actor::Cli, &public("Second"), now.plus_seconds(1))
        .unwrap();
    assert_eq!(
        db.store.oauth_apps().unwrap(),
        [first.clone(), second.clone()]
    );

    let deleted = db
        .store
        .delete_oauth_app(&Actor::Cli, &first.client_id)
        .unwrap();
    assert_eq!(
        (deleted.client_id.as_str(), deleted.name.as_str()),
        (first.client_id.as_str(), "First")
    );
    assert!(matches!(
        db.store.oauth_app(&first.client_id),
        Err(StoreError::NotFound { what: "app" })
    ));
    assert_eq!(db.store.oauth_apps().unwrap(), [second]);
    assert!(matches!(
        db.store.delete_oauth_app(&Actor::Cli, &first.client_id),
        Err(StoreError::NotFound { what: "app" })
    ));
    let audit = system_audit(&db.store);
    assert_eq!(audit.last().unwrap().action, "oauth_app.deleted");
    assert_eq!(audit.last().unwrap().target_id, first.client_id);
    assert_eq!(audit.len(), 3);
}

#[test]
fn a_uri_listed_twice_is_a_conflict_and_writes_nothing() {
    let db = TestStore::new();
    let mut app = confidential("Product");
    app.redirect_uris = vec![
        "https://app.example/callback".to_owned(),
        "https://app.example/callback".to_owned(),
    ];
    assert!(matches!(
        db.store
            .create_oauth_app(&Actor::Cli, &app, Timestamp::now()),
        Err(StoreError::Conflict { what: "app", .. })
    ));
    assert_eq!(db.store.oauth_apps().unwrap(), []);
    assert_eq!(system_audit(&db.store).len(), 0);
}

fn key(kid: &str, alg: SigningAlg, at: Timestamp) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        algorithm: alg.as_str().to_owned(),
        private_pem: format!("private {kid}"),
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at: at.as_micros(),
        signs_from: at.as_micros(),
        retired_at: None,
        verify_until: None,
    }
}

fn statuses(store: &Store, at: Timestamp) -> Vec<(String, &'static str)> {
    let mut keys: Vec<(String, &'static str)> = store
        .oauth_signing_keys()
        .unwrap()
        .iter()
        .map(|key| (key.kid.clone(), key.status_at(at).as_str()))
        .collect();
    keys.sort();
    keys
}

#[test]
fn one_key_per_algorithm_is_ensured_and_a_rotation_publishes_the_next_one_ahead() {
    let db = TestStore::new();
    let t0 = Timestamp::now();
    db.store
        .ensure_oauth_signing_key(&key("rsa-1", SigningAlg::Rs256, t0))
        .unwrap();
    db.store
        .ensure_oauth_signing_key(&key("rsa-2", SigningAlg::Rs256, t0))
        .unwrap();
    db.store
        .ensure_oauth_signing_key(&key("ec-1", SigningAlg::Es256, t0))
        .unwrap();
    assert_eq!(
        statuses(&db.store, t0),
        [
            ("ec-1".to_owned(), "current"),
            ("rsa-1".to_owned(), "current")
        ],
        "a second RS256 key is not added while one is unretired"
    );

    // Rotate RS256: the new key is published now, signs an hour later; the old one signs until
    // then and stays published two more hours. ES256 is untouched.
    let lead = t0.plus_seconds(3600);
    let until = lead.plus_seconds(7200);
    let rotation = db
        .store
        .rotate_oauth_signing_key(
            &Actor::Cli,
            &key("rsa-3", SigningAlg::Rs256, t0),
            t0,
            lead,
            until,
        )
        .unwrap();
    assert_eq!(rotation.retired_kids, ["rsa-1"]);
    assert_eq!(rotation.signs_from, lead);
    assert_eq!(rotation.previous_valid_until, until);
    let at = |t: Timestamp| statuses(&db.store, t);
    let pairs = |list: [(&str, &'static str); 3]| -> Vec<(String, &'static str)> {
        list.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect()
    };
    assert_eq!(
        at(t0),
        pairs([("ec-1", "current"), ("rsa-1", "current"), ("rsa-3", "next")])
    );
    assert_eq!(
        at(lead),
        pairs([
            ("ec-1", "current"),
            ("rsa-1", "retiring"),
            ("rsa-3", "current")
        ])
    );
    assert_eq!(
        at(until),
        pairs([
            ("ec-1", "current"),
            ("rsa-1", "expired"),
            ("rsa-3", "current")
        ])
    );
    assert!(SigningKeyStatus::Next.is_published() && !SigningKeyStatus::Expired.is_published());

    // An emergency rotation ends the older RS256 keys at once, and erases the private half of
    // those already expired.
    let later = until.plus_seconds(1);
    db.store
        .rotate_oauth_signing_key(
            &Actor::Cli,
            &key("rsa-4", SigningAlg::Rs256, later),
            later,
            later,
            later,
        )
        .unwrap();
    assert_eq!(
        at(later)
            .into_iter()
            .filter(|(kid, _)| kid.starts_with("rsa"))
            .collect::<Vec<_>>(),
        [
            ("rsa-1".to_owned(), "expired"),
            ("rsa-3".to_owned(), "expired"),
            ("rsa-4".to_owned(), "current")
        ]
    );
    let keys = db.store.oauth_signing_keys().unwrap();
    let private_of = |kid: &str| {
        keys.iter()
            .find(|key| key.kid == kid)
            .unwrap()
            .private_pem
            .clone()
    };
    assert_eq!(private_of("rsa-1"), "", "expired before this rotation");
    assert_eq!(private_of("ec-1"), "private ec-1");
    assert!(!format!("{:?}", keys[0]).contains("private"));
    let audit = system_audit(&db.store);
    assert_eq!(audit.len(), 2);
    assert!(audit
        .iter()
        .all(|event| event.action == "oauth_signing_key.rotated"));
}
