//! PostgreSQL goes away mid-load: requests fail fast with 503 SCIM Error JSON and Retry-After,
//! `/readyz` turns red, and service recovers by itself when the database is back. (PostgreSQL
//! only: the outage is a proxy cutting the server's connections.)

use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::testing::{TestStore, TEST_DATABASE_URL};
use roster_store::{PoolOptions, Store};
use serde_json::json;

use crate::proxy::Proxy;

fn via_proxy(url: &str, port: u16) -> String {
    // postgres://user@host:port/db?options=... -> the same through 127.0.0.1:<proxy port>
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, tail) = rest.split_once('/').unwrap();
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}127.0.0.1:{port}/{tail}")
}

#[test]
fn database_outage_fails_fast_with_503_and_recovers() {
    if std::env::var(TEST_DATABASE_URL).map_or(true, |v| v.is_empty()) {
        eprintln!("PostgreSQL only: skipped on SQLite");
        return;
    }
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "idp", true, false);
    let token = db.scim_token(&connection);
    let target = {
        let rest = db.url.split_once("://").unwrap().1;
        let authority = rest.split_once('/').unwrap().0;
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, hp)| hp)
            .to_owned()
    };
    let proxy = Proxy::start(target);
    let options = PoolOptions {
        max_size: 4,
        connect_timeout: Duration::from_secs(1),
        ..PoolOptions::default()
    };
    let store = Store::open(&via_proxy(&db.url, proxy.port), &options)
        .unwrap()
        .with_data_keys(db.data_keys());
    let mut settings = Settings::default();
    settings.webhooks.enabled = false;
    let server = BackgroundServer::start(&settings, store).unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let create = |name: &str| {
        let started = Instant::now();
        let mut response = agent
            .post(&format!("{}/scim/v2/Users", server.url()))
            .header("authorization", &format!("Bearer {}", token))
            .header("content-type", "application/scim+json")
            .send(&json!({"userName": name}).to_string())
            .unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: serde_json::Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap())
                .unwrap_or_default();
        (
            response.status().as_u16(),
            retry_after,
            body,
            started.elapsed(),
        )
    };
    let ready = || {
        agent
            .get(&format!("{}/readyz", server.url()))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(create("before").0, 201);
    assert_eq!(ready(), 200);

    proxy.stop();
    let (status, retry_after, body, took) = create("during");
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(retry_after.is_some(), "Retry-After is set");
    assert!(took < Duration::from_secs(5), "fails fast: {took:?}");
    assert_eq!(ready(), 503);

    proxy.start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, ..) = create("after");
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "only 503 while recovering");
        assert!(Instant::now() < deadline, "did not recover");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(ready(), 200);
    let users = db.store.count_users(workspace.id).unwrap();
    assert_eq!(users, 2, "the refused create wrote nothing");
}
