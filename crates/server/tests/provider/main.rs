//! Roster's OpenID Provider over real HTTP against a real database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): what a product's OpenID Connect library reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attributes;
mod authorize;
mod backchannel;
mod discovery;
mod logout;
#[path = "../common/reply.rs"]
mod reply;
mod token;

use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::testing::TestStore;
use serde_json::Value;

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

    /// A request with these headers (and, for a POST, this form).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Reply {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server.url()));
        let request = headers.iter().fold(request, |request, (name, value)| {
            request.header(*name, *value)
        });
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = if form.is_empty() {
            request.body(String::new())
        } else {
            request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
        };
        Reply::read(self.agent.run(request.unwrap()).unwrap())
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

    /// An admin API request with an API key of the workspace; `path` is relative to
    /// `/api/v1/admin`.
    pub fn admin(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}/api/v1/admin{path}", self.server.url()))
            .header("Authorization", format!("Bearer {key}"))
            .header("Content-Type", "application/json")
            .body(body.map(|body| body.to_string()).unwrap_or_default())
            .unwrap();
        Reply::read(self.agent.run(request).unwrap())
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

/// The library's HTTP client: ureq, answering every status (the library reads the errors).
pub fn http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, ureq::Error> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let (parts, body) = request.into_parts();
    let mut response = if body.is_empty() {
        agent.run(ureq::http::Request::from_parts(parts, ()))?
    } else {
        agent.run(ureq::http::Request::from_parts(parts, body))?
    };
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.body_mut().read_to_vec()?;
    let mut answer = openidconnect::http::Response::new(bytes);
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

/// The claims of a JWT's payload (the token was verified elsewhere).
pub fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
