//! Secrets at rest against a real database (PostgreSQL too, with `TEST_DATABASE_URL`): every
//! column that holds a secret Roster uses again is stored sealed and read back plain; values
//! stored before sealing existed are sealed by the start-up pass, and a new data key takes over
//! from the previous one; without the key nothing is stored and nothing sealed opens.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;
use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, ConnectionKind, DisplayName, GroupSync, ProfileSync, Source, Timestamp, UserName,
    Vendor, Workspace,
};
use roster_store::schema::{
    connections, oauth_signing_keys, saml_sp_keys, session_keys, webhook_endpoints,
};
use roster_store::testing::TestStore;
use roster_store::{
    DataKey, DataKeys, NewConnection, NewSpKey, NewUser, NewWebhook, PoolOptions, SessionKeyRecord,
    SigningKeyRecord, Store, StoreError, WebhookEndpoint,
};

const WEBHOOK_SECRET: &str = "whsec_the-webhook-secret";
const CLIENT_SECRET: &str = "the-upstream-client-secret";
const SESSION_PEM: &str = "-----BEGIN PRIVATE KEY-----\nsession\n-----END PRIVATE KEY-----";
const PROVIDER_PEM: &str = "-----BEGIN PRIVATE KEY-----\nprovider\n-----END PRIVATE KEY-----";
const SP_PEM: &str = "-----BEGIN PRIVATE KEY-----\nsp\n-----END PRIVATE KEY-----";

/// Every kind of sealed secret, stored once through `store`.
struct Secrets {
    workspace: Workspace,
    connection_id: roster_store::domain::ConnectionId,
}

/// An endpoint of `workspace` whose secret is [`WEBHOOK_SECRET`].
fn create_webhook(store: &Store, workspace: &Workspace) -> Result<WebhookEndpoint, StoreError> {
    store.create_webhook(
        &Actor::Cli,
        workspace.id,
        NewWebhook {
            url: "https://hooks.example.com/in",
            event_types: &[],
            workspaces: &[],
            secret: WEBHOOK_SECRET,
        },
    )
}

fn store_every_secret(db: &TestStore, store: &Store) -> Secrets {
    let workspace = db.workspace("acme");
    create_webhook(store, &workspace).unwrap();
    let connection = store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse("Corp OIDC").unwrap(),
                kind: ConnectionKind::Oidc,
                vendor: Vendor::Generic,
                protocol_config: serde_json::json!({
                    "issuer": "https://idp.example.com",
                    "client_id": "roster",
                    "client_secret": CLIENT_SECRET,
                })
                .to_string(),
                domains: vec![],
                scim_enabled: false,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
    store
        .ensure_sp_keys(connection.id, &["signing"], &|key_use| {
            Ok(NewSpKey {
                key_use,
                private_pem: SP_PEM.to_owned(),
                certificate: "MIIB".to_owned(),
                not_after: Timestamp::now().plus_seconds(3600),
            })
        })
        .unwrap();
    let now = Timestamp::now().as_micros();
    store
        .ensure_session_key(&SessionKeyRecord {
            kid: "session-1".to_owned(),
            algorithm: "ES256".to_owned(),
            private_pem: SESSION_PEM.to_owned(),
            public_jwk: "{}".to_owned(),
            created_at: now,
            retired_at: None,
            verify_until: None,
        })
        .unwrap();
    store
        .ensure_oauth_signing_key(&SigningKeyRecord {
            kid: "provider-1".to_owned(),
            algorithm: "ES256".to_owned(),
            private_pem: PROVIDER_PEM.to_owned(),
            public_jwk: "{}".to_owned(),
            created_at: now,
            signs_from: now,
            retired_at: None,
            verify_until: None,
        })
        .unwrap();
    Secrets {
        workspace,
        connection_id: connection.id,
    }
}

/// The five sealed values as the database holds them: webhook secret, client secret (inside
/// the config), SP key, session key, provider key.
fn stored_values(db: &TestStore) -> Vec<String> {
    db.read_rows(|conn| {
        let mut values: Vec<String> = webhook_endpoints::table
            .select(webhook_endpoints::secret)
            .load(conn)?;
        let configs: Vec<String> = connections::table
            .filter(connections::kind.eq("oidc"))
            .select(connections::protocol_config)
            .load(conn)?;
        values.extend(configs.iter().map(|config| {
            serde_json::from_str::<serde_json::Value>(config).unwrap()["client_secret"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
        values.extend(
            saml_sp_keys::table
                .select(saml_sp_keys::private_pem)
                .load::<String>(conn)?,
        );
        values.extend(
            session_keys::table
                .select(session_keys::private_pem)
                .load::<String>(conn)?,
        );
        values.extend(
            oauth_signing_keys::table
                .select(oauth_signing_keys::private_pem)
                .load::<String>(conn)?,
        );
        Ok(values)
    })
    .unwrap()
}

/// The user each [`read_values`] creates, so its event gives the webhook a batch to claim.
static NEXT_USER: AtomicUsize = AtomicUsize::new(0);

/// What `store` reads of each secret, in the order of [`stored_values`].
fn read_values(store: &Store, secrets: &Secrets) -> Result<Vec<String>, StoreError> {
    let user = NewUser::minimal(
        secrets.workspace.id,
        UserName::parse(&format!("u{}", NEXT_USER.fetch_add(1, Ordering::Relaxed))).unwrap(),
        Source::Invited,
    );
    store.create_user(&Actor::Cli, &user)?;
    let batch = store.claim_webhook_batches(30, 10, 10)?;
    let webhook_secret = batch.first().map(|batch| batch.secret.clone());
    // Release the lease so the next read claims the endpoint again.
    for batch in &batch {
        store.finish_webhook_batch(batch, &[])?;
    }
    let config = store
        .connection(secrets.workspace.id, secrets.connection_id)?
        .protocol_config;
    let client_secret = serde_json::from_str::<serde_json::Value>(&config).unwrap()
        ["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    Ok(vec![
        webhook_secret.unwrap_or_default(),
        client_secret,
        store.sp_keys(secrets.connection_id)?[0].private_pem.clone(),
        store.session_keys()?[0].private_pem.clone(),
        store.oauth_signing_keys()?[0].private_pem.clone(),
    ])
}

fn plain_values() -> Vec<String> {
    [
        WEBHOOK_SECRET,
        CLIENT_SECRET,
        SP_PEM,
        SESSION_PEM,
        PROVIDER_PEM,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Another store on the test's database with `keys`.
fn store_with(db: &TestStore, current: Option<&str>, previous: &[&str]) -> Store {
    let parse = |text: &str| DataKey::parse(text).unwrap();
    Store::open(&db.url, &PoolOptions::default())
        .unwrap()
        .with_data_keys(DataKeys::new(
            current.map(parse),
            previous.iter().copied().map(parse).collect(),
        ))
}

#[test]
fn every_secret_is_stored_sealed_and_read_back_plain() {
    let db = TestStore::new();
    let secrets = store_every_secret(&db, &db.store);
    let key_id = DataKey::parse(&db.data_key).unwrap().id().to_owned();
    let stored = stored_values(&db);
    assert_eq!(stored.len(), 5, "{stored:?}");
    for (value, plain) in stored.iter().zip(plain_values()) {
        assert!(
            value.starts_with(&format!("sealed:v1:{key_id}:")),
            "stored unsealed: {value}"
        );
        assert!(!value.contains(&plain) && !value.contains("PRIVATE KEY"));
    }
    assert_eq!(read_values(&db.store, &secrets).unwrap(), plain_values());
    assert_eq!(db.store.seal_stored_secrets().unwrap().total(), 0);
}

#[test]
fn the_start_up_pass_seals_what_was_stored_before_sealing_and_only_that() {
    let db = TestStore::new();
    let secrets = store_every_secret(&db, &db.store);
    // As an earlier release stored them: in the clear.
    db.read_rows(|conn| {
        diesel::update(webhook_endpoints::table)
            .set(webhook_endpoints::secret.eq(WEBHOOK_SECRET))
            .execute(conn)?;
        diesel::update(connections::table.filter(connections::kind.eq("oidc")))
            .set(
                connections::protocol_config.eq(serde_json::json!({
                    "issuer": "https://idp.example.com",
                    "client_id": "roster",
                    "client_secret": CLIENT_SECRET,
                })
                .to_string()),
            )
            .execute(conn)?;
        diesel::update(saml_sp_keys::table)
            .set(saml_sp_keys::private_pem.eq(SP_PEM))
            .execute(conn)?;
        diesel::update(session_keys::table)
            .set(session_keys::private_pem.eq(SESSION_PEM))
            .execute(conn)?;
        diesel::update(oauth_signing_keys::table)
            .set(oauth_signing_keys::private_pem.eq(PROVIDER_PEM))
            .execute(conn)?;
        Ok(())
    })
    .unwrap();
    assert_eq!(stored_values(&db), plain_values());
    // Read as they are until the pass runs.
    assert_eq!(read_values(&db.store, &secrets).unwrap(), plain_values());

    let report = db.store.seal_stored_secrets().unwrap();
    assert_eq!(
        report.sealed,
        vec![
            ("session_keys.private_pem", 1),
            ("oauth_signing_keys.private_pem", 1),
            ("saml_sp_keys.private_pem", 1),
            ("webhook_endpoints.secret", 1),
            ("connections.protocol_config.client_secret", 1),
        ]
    );
    assert!(stored_values(&db)
        .iter()
        .all(|value| value.starts_with("sealed:v1:")));
    assert_eq!(read_values(&db.store, &secrets).unwrap(), plain_values());
    assert_eq!(
        db.store.seal_stored_secrets().unwrap().total(),
        0,
        "a second pass finds nothing to do"
    );
}

#[test]
fn a_new_data_key_takes_over_and_the_previous_one_can_then_go() {
    let db = TestStore::new();
    let secrets = store_every_secret(&db, &db.store);
    let old = db.data_key.clone();
    let new = DataKey::generate().unwrap();
    let new_id = DataKey::parse(&new).unwrap().id().to_owned();

    // Without the previous key, what it sealed does not open: the error says which key.
    let refused = read_values(&store_with(&db, Some(&new), &[]), &secrets).unwrap_err();
    assert!(
        matches!(&refused, StoreError::DataKey(reason) if reason.contains("previous_data_keys")),
        "{refused}"
    );

    let rotating = store_with(&db, Some(&new), &[&old]);
    assert_eq!(read_values(&rotating, &secrets).unwrap(), plain_values());
    assert_eq!(rotating.seal_stored_secrets().unwrap().total(), 5);
    assert!(stored_values(&db)
        .iter()
        .all(|value| value.starts_with(&format!("sealed:v1:{new_id}:"))));

    let rotated = store_with(&db, Some(&new), &[]);
    assert_eq!(read_values(&rotated, &secrets).unwrap(), plain_values());
    assert!(
        read_values(&store_with(&db, Some(&old), &[]), &secrets).is_err(),
        "the old key alone opens nothing any more"
    );
}

#[test]
fn without_a_data_key_no_secret_is_stored_and_nothing_changes() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let keyless = store_with(&db, None, &[]);
    let refused = create_webhook(&keyless, &workspace).unwrap_err();
    assert!(
        matches!(&refused, StoreError::DataKey(reason) if reason.contains("security.data_key")),
        "{refused}"
    );
    assert!(keyless
        .ensure_session_key(&SessionKeyRecord {
            kid: "session-1".to_owned(),
            algorithm: "ES256".to_owned(),
            private_pem: SESSION_PEM.to_owned(),
            public_jwk: "{}".to_owned(),
            created_at: 0,
            retired_at: None,
            verify_until: None,
        })
        .is_err());
    assert!(stored_values(&db).is_empty(), "nothing was written");
    assert_eq!(keyless.seal_stored_secrets().unwrap().total(), 0);
}

#[test]
fn a_sealed_value_moved_to_another_row_does_not_open() {
    let db = TestStore::new();
    let secrets = store_every_secret(&db, &db.store);
    // The SP key's sealed private half copied onto a second key row of the connection.
    db.read_rows(|conn| {
        let sealed: String = saml_sp_keys::table
            .select(saml_sp_keys::private_pem)
            .first(conn)?;
        diesel::insert_into(saml_sp_keys::table)
            .values((
                saml_sp_keys::id.eq("spk_moved"),
                saml_sp_keys::connection_id.eq(secrets.connection_id.to_string()),
                saml_sp_keys::key_use.eq("encryption"),
                saml_sp_keys::generation.eq(1),
                saml_sp_keys::private_pem.eq(sealed),
                saml_sp_keys::certificate.eq("MIIB"),
                saml_sp_keys::not_after.eq(i64::MAX),
                saml_sp_keys::created_at.eq(0),
            ))
            .execute(conn)?;
        Ok(())
    })
    .unwrap();
    let refused = db.store.sp_keys(secrets.connection_id).unwrap_err();
    assert!(
        matches!(&refused, StoreError::DataKey(reason) if reason.contains("spk_moved")),
        "{refused}"
    );
}
