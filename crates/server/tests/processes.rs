//! Real `roster serve` processes on one database (PostgreSQL when `TEST_DATABASE_URL` is set,
//! else one SQLite file).
//!
//! Scale-out (issue #7): two processes. Concurrent SCIM creates of the same users through both
//! give one 201 and one 409 per user, both serve the same directory, and a token revoked through
//! one is refused by it at once and by the other within its token cache's lifetime
//! (`scim.token_cache_secs`, 1 s).
//!
//! Crash safety of back-channel logouts: a process killed with SIGKILL after deactivations
//! committed (with their logouts in flight) loses none of them; the next process delivers each.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use roster_store::domain::Actor;
use roster_store::testing::TestStore;
use serde_json::{json, Value};

#[path = "common/process.rs"]
mod process;

#[path = "common/receiver.rs"]
mod receiver;

use process::{json_of, run, Server};

const USERS: usize = 20;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// (status, JSON body) of a request with a bearer credential.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("http://{}{path}", server.addr);
    let auth = format!("Bearer {bearer}");
    let agent = agent();
    let response = match (method, body) {
        ("POST", Some(body)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/scim+json")
            .send(body.to_string()),
        ("DELETE", None) => agent.delete(&url).header("Authorization", &auth).call(),
        ("GET", None) => agent.get(&url).header("Authorization", &auth).call(),
        ("PATCH", Some(body)) => agent
            .patch(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/scim+json")
            .send(body.to_string()),
        other => panic!("no such request in this test: {other:?}"),
    };
    let mut response = response.unwrap();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (response.status().as_u16(), json)
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": format!("ext-{name}"),
        "active": true,
    })
}

#[test]
fn two_serve_processes_share_the_directory_and_a_revocation() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "entra", true, false);
    let token = db.scim_token(&connection);
    let (_, api_key) = db
        .store
        .create_api_key(&Actor::Cli, workspace.id, "replicas")
        .unwrap();
    let unlimited = [("ROSTER__SCIM__RATE_LIMIT_PER_SECOND", "0")];
    let replicas = [
        Server::start_with(&db, &unlimited),
        Server::start_with(&db, &unlimited),
    ];

    // Both processes create the same users at the same time, in the same order.
    let names: Vec<String> = (0..USERS).map(|n| format!("user{n}@acme.test")).collect();
    let statuses: Vec<Vec<u16>> = std::thread::scope(|scope| {
        let workers: Vec<_> = replicas
            .iter()
            .map(|server| {
                let (names, token) = (&names, &token);
                scope.spawn(move || {
                    names
                        .iter()
                        .map(|name| {
                            call(server, "POST", "/scim/v2/Users", token, Some(user(name))).0
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for n in 0..USERS {
        let mut pair = [statuses[0][n], statuses[1][n]];
        pair.sort_unstable();
        assert_eq!(pair, [201, 409], "{}: one create, one conflict", names[n]);
    }
    for server in &replicas {
        let (status, list) = call(server, "GET", "/scim/v2/Users?count=0", &token, None);
        assert_eq!(status, 200, "{list}");
        assert_eq!(
            list["totalResults"], USERS,
            "each process sees every user once"
        );
    }

    // Revoke the token through the first process, right after both used it.
    let token_id = db
        .store
        .list_scim_tokens(workspace.id, connection.id)
        .unwrap()[0]
        .id;
    for server in &replicas {
        assert_eq!(
            call(server, "GET", "/scim/v2/Users?count=1", &token, None).0,
            200
        );
    }
    let path = format!(
        "/api/v1/admin/connections/{}/tokens/{token_id}",
        connection.id
    );
    let revoked_at = Instant::now();
    assert_eq!(
        call(&replicas[0], "DELETE", &path, api_key.expose(), None).0,
        204
    );
    assert_eq!(
        call(&replicas[0], "GET", "/scim/v2/Users?count=1", &token, None).0,
        401,
        "the revoking process refuses the token at once"
    );
    loop {
        let (status, _) = call(&replicas[1], "GET", "/scim/v2/Users?count=1", &token, None);
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked_at.elapsed() < Duration::from_millis(1_500),
            "the other process still accepts the revoked token after its cache's lifetime"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `sid` claim of a logout token POSTed to a receiver (its signature is checked in
/// `tests/provider/backchannel.rs`).
fn logout_sid(received: &receiver::Received) -> String {
    use base64::Engine;
    let token = received.body.strip_prefix("logout_token=").unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

#[test]
fn back_channel_logouts_survive_kill_9() {
    const USERS: usize = 5;
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "entra", true, false);
    let token = db.scim_token(&connection);
    // The app's receiver refuses (503, slowly) until the kill, so every logout is still to
    // deliver — some of them mid-request — when the process dies.
    let receiver = receiver::Receiver::start();
    receiver
        .status
        .store(503, std::sync::atomic::Ordering::SeqCst);
    receiver
        .delay_ms
        .store(100, std::sync::atomic::Ordering::SeqCst);
    let app = json_of(&run(
        &db,
        &[
            "app",
            "create",
            "--name",
            "Catalog",
            "--redirect-uri",
            "https://catalog.example/cb",
            "--backchannel-logout-uri",
            &receiver.url,
        ],
    ));
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let env = [
        ("ROSTER__SECURITY__ALLOW_PRIVATE_NETWORK_URLS", "true"),
        ("ROSTER__WEBHOOKS__POLL_INTERVAL_MS", "20"),
        ("ROSTER__WEBHOOKS__LEASE_SECS", "1"),
        ("ROSTER__WEBHOOKS__RETRY_BASE_MS", "50"),
        ("ROSTER__WEBHOOKS__RETRY_MAX_SECS", "1"),
    ];
    let mut server = Server::start_with(&db, &env);

    let mut sids = std::collections::BTreeSet::new();
    let mut users = Vec::new();
    for n in 0..USERS {
        let (status, created) = call(
            &server,
            "POST",
            "/scim/v2/Users",
            &token,
            Some(user(&format!("user{n}@acme.test"))),
        );
        assert_eq!(status, 201, "{created}");
        let user_id: roster_store::domain::UserId =
            created["id"].as_str().unwrap().parse().unwrap();
        let sid = format!("sid-{n}");
        db.store
            .issue_authorization_code(
                &Actor::System,
                &roster_store::NewOAuthGrant {
                    client_id: client_id.clone(),
                    workspace_id: workspace.id,
                    user_id,
                    connection_id: None,
                    session_id: Some(format!("session-{n}")),
                    sid: sid.clone(),
                    scope: "openid".to_owned(),
                    offline: false,
                    auth_time: roster_store::domain::Timestamp::now(),
                    amr: vec!["pwd".to_owned()],
                    acr: None,
                },
                &roster_store::CodeBinding {
                    redirect_uri: "https://catalog.example/cb".to_owned(),
                    code_challenge: None,
                    nonce: None,
                },
                roster_store::domain::Timestamp::now(),
            )
            .unwrap();
        sids.insert(sid);
        users.push(user_id);
    }
    for user_id in &users {
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}],
        });
        let path = format!("/scim/v2/Users/{user_id}");
        let (status, body) = call(&server, "PATCH", &path, &token, Some(patch));
        assert_eq!(status, 200, "{body}");
    }
    receiver.wait_for("attempts in flight", |r| !r.is_empty());
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let pending = |db: &TestStore| -> Vec<roster_store::BackchannelLogout> {
        users
            .iter()
            .flat_map(|user_id| {
                db.store
                    .user_backchannel_logouts(workspace.id, *user_id)
                    .unwrap()
            })
            .filter(|logout| logout.delivered_at.is_none())
            .collect()
    };
    assert_eq!(
        pending(&db).len(),
        USERS,
        "every logout survived, undelivered"
    );

    receiver
        .status
        .store(200, std::sync::atomic::Ordering::SeqCst);
    let restarted = Server::start_with(&db, &env);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending(&db).is_empty() {
        assert!(
            Instant::now() < deadline,
            "undelivered: {:#?}",
            pending(&db)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let received: std::collections::BTreeSet<String> =
        receiver.all().iter().map(logout_sid).collect();
    assert_eq!(received, sids, "every session's logout reached the app");
    drop(restarted);
}
