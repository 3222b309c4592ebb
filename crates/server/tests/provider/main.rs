//! Roster's OpenID Provider over real HTTP against a real database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): what a product's OpenID Connect library reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod discovery;

use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::testing::TestStore;
use serde_json::Value;

/// Roster on a free loopback port with `public_url`, on a fresh database.
pub struct Provider {
    pub db: TestStore,
    pub server: BackgroundServer,
    agent: ureq::Agent,
}

/// A response: status, headers (lowercased names), JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Provider {
    /// `key_cache_secs` 0 makes every request read the keys, so a rotation shows at once.
    pub fn start(public_url: &str, key_cache_secs: u64) -> Self {
        let db = TestStore::new();
        let mut settings = Settings::default();
        settings.server.public_url = Some(public_url.to_owned());
        settings.sso.key_cache_secs = key_cache_secs;
        let server = BackgroundServer::start(&settings, db.store.clone()).unwrap();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self { db, server, agent }
    }

    pub fn get(&self, path: &str) -> Reply {
        let mut response = self
            .agent
            .get(&format!("{}{path}", self.server.url()))
            .call()
            .unwrap();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_lowercase(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }
}
