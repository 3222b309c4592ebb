//! Shared test support: Roster served over real HTTP on a free loopback port, on a private real
//! database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`), with a workspace, a SCIM
//! connection and its token; plus a small JSON HTTP client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod idps;
mod reply;

pub use reply::Reply;

use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::domain::{Actor, Connection, Email, Source, User, UserName, Workspace};
use roster_store::testing::TestStore;
use roster_store::NewUser;
use serde_json::Value;

pub struct TestApp {
    pub server: BackgroundServer,
    pub db: TestStore,
    pub workspace: Workspace,
    pub connection: Connection,
    pub token: String,
    agent: ureq::Agent,
}

pub struct Options {
    pub strict_immutability: bool,
    pub scim_enabled: bool,
    pub max_body_bytes: usize,
    /// Run the webhook worker with fast retries, allowing loopback receivers; `Some(n)` disables
    /// an endpoint after n consecutive failures.
    pub webhooks: Option<u32>,
    /// SCIM rate limit (per second, burst); `None` keeps the generous default.
    pub rate_limit: Option<(f64, f64)>,
    /// Let outbound URLs (IdP metadata, issuers) point at loopback test servers.
    pub allow_private_network_urls: bool,
    /// `dns.nameservers`: a DNS server on loopback for domain verification.
    pub dns_nameservers: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            strict_immutability: false,
            scim_enabled: true,
            max_body_bytes: 1024 * 1024,
            webhooks: None,
            rate_limit: None,
            allow_private_network_urls: false,
            dns_nameservers: Vec::new(),
        }
    }
}

impl TestApp {
    pub fn new() -> Self {
        Self::with(Options::default())
    }

    pub fn with(options: Options) -> Self {
        let db = TestStore::new();
        let workspace = db.workspace("acme");
        let connection = db.scim_connection(
            workspace.id,
            "idp",
            options.scim_enabled,
            options.strict_immutability,
        );
        let token = db.scim_token(&connection);
        let mut settings = Settings::default();
        settings.server.public_url = Some("http://roster.test".into());
        settings.scim.max_body_bytes = options.max_body_bytes;
        settings.webhooks.enabled = options.webhooks.is_some();
        if let Some((per_second, burst)) = options.rate_limit {
            settings.scim.rate_limit_per_second = per_second;
            settings.scim.rate_limit_burst = burst;
        }
        if let Some(disable_after) = options.webhooks {
            settings.security.allow_private_network_urls = true;
            settings.webhooks.poll_interval_ms = 20;
            settings.webhooks.retry_base_ms = 30;
            settings.webhooks.retry_max_secs = 1;
            settings.webhooks.lease_secs = 2;
            // Below the lease, so a batch may send more than one event (see `webhook.rs`).
            settings.webhooks.timeout_secs = 1;
            settings.webhooks.disable_after = disable_after;
        }
        if options.allow_private_network_urls {
            settings.security.allow_private_network_urls = true;
        }
        settings.dns.nameservers = options.dns_nameservers;
        let server = BackgroundServer::start(&settings, db.store.clone()).unwrap();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self {
            server,
            db,
            workspace,
            connection,
            token,
            agent,
        }
    }

    /// A second SCIM connection (with its own token) in a new workspace.
    pub fn other_tenant(&self, slug: &str) -> String {
        let workspace = self.db.workspace(slug);
        let connection = self.db.scim_connection(workspace.id, "idp", true, false);
        self.db.scim_token(&connection)
    }

    /// A SCIM request with this app's token. `path` is relative to `/scim/v2`.
    pub fn scim(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.scim_with(
            method,
            path,
            body,
            &[("authorization", &format!("Bearer {}", self.token))],
        )
    }

    /// A SCIM request with explicit headers (no token unless given).
    pub fn scim_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.raw(
            method,
            &format!("/scim/v2{path}"),
            body.map(|b| b.to_string()),
            headers,
        )
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path}", self.server.url());
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some()
            && !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("content-type", "application/scim+json");
        }
        let request = request.body(body.unwrap_or_default()).unwrap();
        Reply::read(self.agent.run(request).unwrap())
    }

    /// Creates a user through SCIM and returns its id.
    pub fn create_user(&self, user_name: &str, external_id: &str) -> String {
        let reply = self.scim(
            "POST",
            "/Users",
            Some(serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "externalId": external_id,
                "active": true,
                "name": {"givenName": "Given", "familyName": "Family"},
                "emails": [{"value": user_name_email(user_name), "type": "work", "primary": true}],
            })),
        );
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    pub fn user(&self, id: &str) -> roster_store::domain::User {
        self.db
            .store
            .user(self.workspace.id, id.parse().unwrap())
            .unwrap()
    }

    /// The provisioning log of this connection, newest first.
    pub fn provisioning_log(&self) -> Vec<roster_store::ProvisioningEntry> {
        self.db
            .store
            .provisioning_log(self.workspace.id, Some(self.connection.id), None, 1000)
            .unwrap()
    }
}

pub fn user_name_email(user_name: &str) -> String {
    if user_name.contains('@') {
        user_name.to_owned()
    } else {
        format!("{user_name}@example.com")
    }
}

pub fn patch_op(operations: Value) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}

impl TestApp {
    /// A user of this app's workspace written straight to the store (not through SCIM), as a
    /// JIT login or an invitation would: `user_name`, `email`, `source`.
    pub fn store_user(&self, user_name: &str, email: &str, source: Source) -> User {
        self.db
            .store
            .create_user(
                &Actor::Cli,
                &NewUser {
                    email: Some(Email::parse(email).unwrap()),
                    ..NewUser::minimal(
                        self.workspace.id,
                        UserName::parse(user_name).unwrap(),
                        source,
                    )
                },
            )
            .unwrap()
    }

    /// An admin API key of this app's workspace.
    pub fn api_key(&self) -> String {
        let (_, key) = self
            .db
            .store
            .create_api_key(&Actor::Cli, self.workspace.id, "test")
            .unwrap();
        key.expose().to_owned()
    }

    /// An admin API key of another workspace `slug` (created here), for isolation tests.
    pub fn other_workspace_api_key(&self, slug: &str) -> String {
        let workspace = self.db.workspace(slug);
        let (_, key) = self
            .db
            .store
            .create_api_key(&Actor::Cli, workspace.id, "other")
            .unwrap();
        key.expose().to_owned()
    }

    /// An admin API request; `path` is relative to `/api/v1/admin`.
    /// The events of the feed about user `id` (its own and its role changes), oldest first.
    pub fn user_events(&self, key: &str, id: &str) -> Vec<Value> {
        let reply = self.admin(key, "GET", "/events?limit=500", None);
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["resource"]["id"] == id || event["resource"]["userId"] == id)
            .cloned()
            .collect()
    }

    pub fn admin(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let bearer = format!("Bearer {key}");
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        self.raw(
            method,
            &format!("/api/v1/admin{path}"),
            body.map(|b| b.to_string()),
            &headers,
        )
    }
}

/// A documented path template with every `{parameter}` replaced by a well-formed id that names
/// nothing, to call each operation of the OpenAPI document.
pub fn concrete_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "00000000-0000-0000-0000-000000000000"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Follows an event feed from the cursor `start` until `want` events arrived (or a minute
/// passed): `page(cursor)` reads one page as (events, next). Returns the ids in arrival order.
pub fn follow_feed(
    start: &str,
    want: usize,
    page: impl Fn(&str) -> (Vec<Value>, String),
) -> Vec<String> {
    let mut cursor = start.to_owned();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline && seen.len() < want {
        let (events, next) = page(&cursor);
        seen.extend(events.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        cursor = next;
    }
    seen
}
