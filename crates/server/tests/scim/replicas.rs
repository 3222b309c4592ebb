//! Scale-out: two servers, each with its own connection pool, on one database (PostgreSQL in the
//! CI's second pass, the same SQLite file in the first), with an IdP pushing through both at
//! once, as behind a load balancer. Every user is created exactly once, every duplicate push is a
//! clean 409 (never a 500 or a second row), and concurrent member adds through both leave one
//! membership each.

use std::sync::Arc;

use pretty_assertions::assert_eq;
use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::{PoolOptions, Store};
use serde_json::json;

use crate::common::TestApp;

const USERS: usize = 40;

fn post(agent: &ureq::Agent, url: &str, token: &str, body: &serde_json::Value) -> (u16, String) {
    let mut response = agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/scim+json")
        .send(body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn concurrent_writes_through_two_replicas_create_no_duplicates() {
    let app = TestApp::new();
    // The second replica opens its own pool on the same database, like a second process.
    let store = Store::open(&app.db.url, &PoolOptions::default())
        .unwrap()
        .with_data_keys(app.db.data_keys());
    let mut settings = Settings::default();
    settings.server.public_url = Some("http://roster.test".into());
    let replica = BackgroundServer::start(&settings, store).unwrap();
    let bases = Arc::new([
        format!("{}/scim/v2", app.server.url()),
        format!("{}/scim/v2", replica.url()),
    ]);
    let token = Arc::new(app.token.clone());
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();

    // Every user is pushed twice, once through each replica, from 8 threads at once.
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let (bases, token, agent) = (bases.clone(), token.clone(), agent.clone());
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                for user in (0..USERS).filter(|u| u % 4 == thread % 4) {
                    let body = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("user{user}@acme.test"),
                        "externalId": format!("ext-{user}"),
                    });
                    let (status, text) = post(
                        &agent,
                        &format!("{}/Users", bases[thread / 4]),
                        &token,
                        &body,
                    );
                    statuses.push((user, status, text));
                }
                statuses
            })
        })
        .collect();
    let mut by_user = vec![Vec::new(); USERS];
    for thread in threads {
        for (user, status, text) in thread.join().unwrap() {
            assert!(
                status == 201 || status == 409,
                "user{user}: {status} {text}"
            );
            by_user[user].push(status);
        }
    }
    for (user, mut statuses) in by_user.into_iter().enumerate() {
        statuses.sort_unstable();
        assert_eq!(statuses, vec![201, 409], "user{user} created exactly once");
    }
    assert_eq!(
        app.db.store.count_users(app.workspace.id).unwrap(),
        USERS as i64
    );

    // Concurrent member adds of the same users through both replicas: one membership each.
    let group = app
        .scim("POST", "/Groups", Some(json!({"displayName": "Everyone"})))
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ids: Vec<String> = (0..USERS)
        .map(|u| {
            app.scim(
                "GET",
                &format!("/Users?filter=userName%20eq%20%22user{u}@acme.test%22"),
                None,
            )
            .body["Resources"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let ids = Arc::new(ids);
    let adders: Vec<_> = (0..4)
        .map(|thread| {
            let (bases, token, agent, ids, group) = (
                bases.clone(),
                token.clone(),
                agent.clone(),
                ids.clone(),
                group.clone(),
            );
            std::thread::spawn(move || {
                for chunk in ids.chunks(5) {
                    let members: Vec<_> = chunk.iter().map(|id| json!({"value": id})).collect();
                    let mut response = agent
                        .patch(&format!("{}/Groups/{group}", bases[thread % 2]))
                        .header("Authorization", &format!("Bearer {token}"))
                        .header("Content-Type", "application/scim+json")
                        .send(
                            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                "Operations": [{"op": "add", "path": "members", "value": members}]})
                            .to_string(),
                        )
                        .unwrap();
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    assert!(status == 200 || status == 204, "{status} {text}");
                }
            })
        })
        .collect();
    for adder in adders {
        adder.join().unwrap();
    }
    let members = app.scim("GET", &format!("/Groups/{group}"), None).body["members"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(members, USERS, "each user is a member once");
    drop(replica);
}
