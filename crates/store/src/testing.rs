//! Test support shared by every crate's tests: a migrated store on a real, private database.
//!
//! SQLite by default (a fresh file per test, WAL and all, removed on drop). With
//! `TEST_DATABASE_URL=postgres://...` set, a fresh PostgreSQL schema per test instead, dropped on
//! drop, so tests run in parallel without sharing state. `cargo xtask test` runs the suites both
//! ways.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::Connection;
use roster_domain::{Actor, Slug, Workspace};

use crate::{DataKey, DataKeys, NewWorkspace, PoolOptions, Store, StoreResult};

/// The environment variable that switches tests to PostgreSQL.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A migrated store on a private database that disappears with this value.
pub struct TestStore {
    pub store: Store,
    /// The database URL, for tests that start the `roster` binary on the same database.
    pub url: String,
    /// The data key the store seals secrets with (base64), for tests that start the `roster`
    /// binary on the same database (`ROSTER__SECURITY__DATA_KEY`).
    pub data_key: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(std::path::PathBuf),
    Schema { admin_url: String, schema: String },
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("store", &self.store)
            .finish()
    }
}

impl TestStore {
    /// A fresh migrated store; panics (it is for tests) when the database cannot be set up.
    #[expect(
        clippy::expect_used,
        reason = "test support: a broken setup should fail loudly"
    )]
    pub fn new() -> Self {
        Self::try_new().expect("test database setup")
    }

    fn try_new() -> StoreResult<Self> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (url, cleanup) = match std::env::var(TEST_DATABASE_URL) {
            Ok(admin_url) if !admin_url.is_empty() => {
                let schema = format!("test_{unique}");
                let mut admin = PgConnection::establish(&admin_url)
                    .map_err(|err| crate::StoreError::Unavailable(err.to_string()))?;
                admin.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
                (url, Cleanup::Schema { admin_url, schema })
            }
            _ => {
                let dir = std::env::temp_dir().join(format!("roster-test-{unique}"));
                let url = format!("sqlite://{}", dir.join("roster.db").display());
                (url, Cleanup::Directory(dir))
            }
        };
        let options = PoolOptions {
            max_size: 16,
            ..PoolOptions::default()
        };
        let data_key = DataKey::generate()?;
        let store = Store::open(&url, &options)?.with_data_keys(Self::keys_of(&data_key)?);
        store.migrate()?;
        Ok(Self {
            store,
            url,
            data_key,
            cleanup,
        })
    }

    /// A workspace with the given slug, created by the CLI actor.
    #[expect(
        clippy::expect_used,
        reason = "test support: a broken setup should fail loudly"
    )]
    pub fn workspace(&self, slug: &str) -> Workspace {
        self.store
            .create_workspace(
                &Actor::Cli,
                NewWorkspace {
                    slug: Slug::parse(slug).expect("valid slug"),
                    name: slug.to_owned(),
                    domains: Vec::new(),
                },
            )
            .expect("create workspace")
    }
}

impl TestStore {
    /// Another store on the same database with one pooled connection, so everything it runs
    /// shares one PostgreSQL session (see [`kept_statements`]).
    #[expect(
        clippy::expect_used,
        reason = "test support: a broken setup should fail loudly"
    )]
    pub fn one_connection_store(&self) -> Store {
        let options = PoolOptions {
            max_size: 1,
            ..PoolOptions::default()
        };
        Store::open(&self.url, &options)
            .expect("a one-connection store")
            .with_data_keys(self.data_keys())
    }

    /// The data keys of another store on this database (a second replica): the test's key.
    #[expect(
        clippy::expect_used,
        reason = "test support: the key was generated here and parses"
    )]
    pub fn data_keys(&self) -> DataKeys {
        Self::keys_of(&self.data_key).expect("the test's data key")
    }

    fn keys_of(data_key: &str) -> StoreResult<DataKeys> {
        let key = DataKey::parse(data_key).map_err(crate::StoreError::DataKey)?;
        Ok(DataKeys::new(Some(key), Vec::new()))
    }

    /// Runs a read against the database directly, for tests that check stored rows (hashes,
    /// consumed markers) no public operation returns.
    pub fn read_rows<T>(
        &self,
        f: impl FnOnce(&mut crate::DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.store.read(f)
    }

    /// A SCIM (provisioning-only) connection, created by the CLI actor.
    #[expect(
        clippy::expect_used,
        reason = "test support: a broken setup should fail loudly"
    )]
    pub fn scim_connection(
        &self,
        workspace_id: roster_domain::WorkspaceId,
        name: &str,
        scim_enabled: bool,
        strict_immutability: bool,
    ) -> roster_domain::Connection {
        self.store
            .create_connection(
                &Actor::Cli,
                crate::NewConnection {
                    workspace_id,
                    name: roster_domain::DisplayName::parse(name).expect("valid name"),
                    kind: roster_domain::ConnectionKind::Scim,
                    vendor: roster_domain::Vendor::Generic,
                    protocol_config: "{}".into(),
                    domains: vec![],
                    scim_enabled,
                    profile_sync: roster_domain::ProfileSync::FirstLogin,
                    group_sync: roster_domain::GroupSync::EveryLogin,
                    strict_immutability,
                },
            )
            .expect("create connection")
    }

    /// A SCIM token of a connection, in plaintext.
    #[expect(
        clippy::expect_used,
        reason = "test support: a broken setup should fail loudly"
    )]
    pub fn scim_token(&self, connection: &roster_domain::Connection) -> String {
        let (_, token) = self
            .store
            .create_scim_token(
                &Actor::Cli,
                connection.workspace_id,
                connection.id,
                "test",
                None,
            )
            .expect("create token");
        token.expose().to_owned()
    }
}

/// A confidential app (`client_secret_basic`, RS256 ID tokens) with one redirect URI and no
/// logout URIs: the usual test product. Vary it with struct update syntax
/// (`NewOAuthApp { id_token_alg: SigningAlg::Es256, ..test_app("x", REDIRECT) }`).
pub fn test_app(name: &str, redirect_uri: &str) -> crate::NewOAuthApp {
    crate::NewOAuthApp {
        name: name.to_owned(),
        auth_method: crate::ClientAuthMethod::ClientSecretBasic,
        id_token_alg: crate::SigningAlg::Rs256,
        redirect_uris: vec![redirect_uri.to_owned()],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
    }
}

impl TestStore {
    /// Registers `app` as the CLI does: the app and its client secret in plaintext (`None` for
    /// a public app).
    #[expect(
        clippy::expect_used,
        reason = "test support: a broken setup should fail loudly"
    )]
    pub fn register_app(&self, app: &crate::NewOAuthApp) -> (crate::OAuthApp, Option<String>) {
        let (registered, secret) = self
            .store
            .create_oauth_app(&Actor::Cli, app, roster_domain::Timestamp::now())
            .expect("register app");
        (registered, secret.map(|secret| secret.expose().to_owned()))
    }
}

impl Default for TestStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { admin_url, schema } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            }
        }
    }
}

/// A declared attribute `name` of `kind` read at `sources` (a custom mapping, or the declared
/// extension's own path when `origin` is [`MappingOrigin::Extension`], in `urn:acme:hr`), as the
/// protocol crates' extraction tests need one.
pub fn attribute_mapping(
    name: &str,
    kind: roster_domain::attributes::AttributeKind,
    sources: &[&str],
    origin: roster_domain::attributes::MappingOrigin,
) -> crate::AttributeMapping {
    let mut definition = roster_domain::testing::attribute(name, kind);
    if origin == roster_domain::attributes::MappingOrigin::Extension {
        definition.scim_schema = Some("urn:acme:hr".to_owned());
    }
    crate::AttributeMapping {
        definition,
        sources: sources.iter().map(|source| (*source).to_owned()).collect(),
        origin,
    }
}

/// The SQL of the statements PostgreSQL keeps prepared for `store`'s session (a store from
/// [`TestStore::one_connection_store`]): diesel's cached statements, not the unnamed ones it
/// sends to be parsed and planned at each execution.
#[cfg(test)]
pub(crate) fn kept_statements(store: &Store) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }
    store
        .read(|conn| {
            Ok(diesel::RunQueryDsl::load::<Prepared>(
                diesel::sql_query("SELECT statement FROM pg_prepared_statements"),
                conn,
            )?)
        })
        .unwrap()
        .into_iter()
        .map(|row| row.statement)
        .collect()
}
