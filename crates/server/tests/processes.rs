//! Scale-out with real processes (issue #7): two `roster serve` on one database (PostgreSQL when
//! `TEST_DATABASE_URL` is set, else one SQLite file). Concurrent SCIM creates of the same users
//! through both give one 201 and one 409 per user, both serve the same directory, and a token
//! revoked through one is refused by it at once and by the other within its token cache's
//! lifetime (`scim.token_cache_secs`, 1 s).

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use roster_store::domain::Actor;
use roster_store::testing::TestStore;
use serde_json::{json, Value};

#[path = "common/process.rs"]
mod process;

use process::Server;

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
