//! Roster's OpenID Provider over real HTTP against a real database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): what a product's OpenID Connect library reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backchannel;
mod discovery;
#[path = "../common/reply.rs"]
mod reply;
mod token;

use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::testing::TestStore;

pub use reply::Reply;

/// Roster on a free loopback port with `public_url`, on a fresh database.
pub struct Provider {
    pub db: TestStore,
    pub server: BackgroundServer,
    agent: ureq::Agent,
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

    /// Roster whose issuer is its own loopback address, so a client library can discover it.
    pub fn start_self_issued() -> Self {
        let db = TestStore::new();
        let mut settings = Settings::default();
        settings.sso.key_cache_secs = 5;
        let server = BackgroundServer::start(&settings, db.store.clone()).unwrap();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self { db, server, agent }
    }

    /// A form POST with optional HTTP Basic credentials (`client_id:secret`, sent as given).
    pub fn post_form(&self, path: &str, basic: Option<&str>, form: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.post(&format!("{}{path}", self.server.url()));
        if let Some(credentials) = basic {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            request = request.header("Authorization", &format!("Basic {encoded}"));
        }
        Reply::read(request.send_form(form.iter().copied()).unwrap())
    }

    /// A GET with a Bearer token.
    pub fn get_bearer(&self, path: &str, token: &str) -> Reply {
        Reply::read(
            self.agent
                .get(&format!("{}{path}", self.server.url()))
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap(),
        )
    }

    pub fn get(&self, path: &str) -> Reply {
        Reply::read(
            self.agent
                .get(&format!("{}{path}", self.server.url()))
                .call()
                .unwrap(),
        )
    }
}
