//! The events feed: every committed change has its event, in order, a refused change has none,
//! and concurrent writers never make an event appear behind a reader's cursor.

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, RoleName};
use serde_json::{json, Value};

use crate::common::{follow_feed, patch_op, Options, TestApp};

fn feed(app: &TestApp, key: &str, query: &str) -> (Vec<Value>, String) {
    let reply = app.admin(key, "GET", &format!("/events{query}"), None);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    (
        reply.body["events"].as_array().unwrap().clone(),
        reply.body["next"].as_str().unwrap().to_owned(),
    )
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_scripted_sequence_yields_exactly_its_events_in_order() {
    let app = TestApp::new();
    let key = app.api_key();
    let (setup, cursor) = feed(&app, &key, "");
    assert_eq!(
        types(&setup),
        vec![
            "workspace.created",
            "connection.created",
            "scim_token.created"
        ]
    );
    assert!(
        !setup[1].to_string().contains(&app.token),
        "no secret in events"
    );

    let ann = app.create_user("ann", "e-ann");
    app.scim(
        "PATCH",
        &format!("/Users/{ann}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "displayName", "value": "Ann A."}]),
        )),
    );
    let ben = app.create_user("ben", "e-ben");
    let group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": ann}]})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.scim(
        "PATCH",
        &format!("/Groups/{group}"),
        Some(patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": ben}]}]),
        )),
    );
    app.db
        .store
        .create_role(
            &Actor::Cli,
            app.workspace.id,
            &RoleName::parse("editor").unwrap(),
            5,
        )
        .unwrap();
    app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupId": group, "roleName": "editor"})),
    );
    app.scim(
        "PATCH",
        &format!("/Users/{ann}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    );
    app.scim("DELETE", &format!("/Users/{ben}"), None);

    let (events, _) = feed(&app, &key, &format!("?after={cursor}"));
    assert_eq!(
        types(&events),
        vec![
            "user.created",
            "user.updated",
            "user.created",
            "group.created",
            "group.member_added",
            "group.member_added",
            "user.roles_changed",
            "user.roles_changed",
            "user.deactivated",
            "session.revoked",
            "user.deprovisioned",
            "session.revoked",
            "group.member_removed",
            "user.roles_changed",
        ]
    );
    assert_eq!(events[1]["changed"], json!(["displayName"]));
    assert_eq!(events[1]["resource"]["displayName"], "Ann A.");
    assert_eq!(events[0]["actor"]["kind"], "scim");
    assert_eq!(events[4]["resource"]["userId"], ann.as_str());
    assert_eq!(events[6]["resource"]["grantedRoles"], json!(["editor"]));
    assert_eq!(events[8]["resource"]["active"], false);
    for event in &events {
        assert_eq!(event["workspace"], app.workspace.id.to_string());
        assert!(event["id"].as_str().is_some_and(|id| id.len() == 36));
        assert!(event["occurredAt"].is_string());
    }
}

#[test]
fn refused_changes_write_no_event() {
    let app = TestApp::with(Options {
        strict_immutability: true,
        ..Options::default()
    });
    let key = app.api_key();
    let id = app.create_user("cat", "e-cat");
    let (_, cursor) = feed(&app, &key, "");
    app.scim("POST", "/Users", Some(json!({"userName": "CAT"})))
        .assert_scim_error(409, Some("uniqueness"));
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch_op(json!([
            {"op": "replace", "path": "title", "value": "x"},
            {"op": "replace", "path": "userName", "value": "dog"},
        ]))),
    )
    .assert_scim_error(400, Some("mutability"));
    app.scim_with(
        "DELETE",
        &format!("/Users/{id}"),
        None,
        &[
            ("authorization", &format!("Bearer {}", app.token)),
            ("if-match", "W/\"9\""),
        ],
    )
    .assert_scim_error(412, None);
    let (events, next) = feed(&app, &key, &format!("?after={cursor}"));
    assert!(events.is_empty(), "{events:#?}");
    assert_eq!(next, cursor, "polling an empty page keeps the cursor");
}

#[test]
fn cursors_limits_and_type_filters() {
    let app = TestApp::new();
    let key = app.api_key();
    for i in 0..5 {
        app.create_user(&format!("u{i}"), &format!("e{i}"));
    }
    let (page, next) = feed(&app, &key, "?type=user.created&limit=2");
    assert_eq!(types(&page), vec!["user.created", "user.created"]);
    let (rest, _) = feed(&app, &key, &format!("?type=user.created&after={next}"));
    assert_eq!(rest.len(), 3);
    let user_names: Vec<&str> = page
        .iter()
        .chain(&rest)
        .map(|e| e["resource"]["userName"].as_str().unwrap())
        .collect();
    assert_eq!(user_names, vec!["u0", "u1", "u2", "u3", "u4"]);
    for bad in [
        "?after=42",
        "?after=ev_x",
        "?limit=0",
        "?limit=5000",
        "?surprise=1",
    ] {
        let reply = app.admin(&key, "GET", &format!("/events{bad}"), None);
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (400, Some("validation")),
            "{bad}: {:#}",
            reply.body
        );
    }
    let other = app.db.workspace("globex");
    let (_, other_key) = app
        .db
        .store
        .create_api_key(&Actor::Cli, other.id, "k")
        .unwrap();
    let (theirs, _) = feed(&app, other_key.expose(), "");
    assert_eq!(
        types(&theirs),
        ["workspace.created"],
        "another workspace sees none of these events, only its own"
    );
    assert_eq!(theirs[0]["workspace"], other.id.to_string());
}

#[test]
fn concurrent_writers_never_insert_behind_a_reader() {
    let app = TestApp::new();
    let key = app.api_key();
    let (_, start) = feed(&app, &key, "");
    let seen: Vec<String> = std::thread::scope(|scope| {
        for writer in 0..4 {
            let app = &app;
            scope.spawn(move || {
                for i in 0..8 {
                    app.create_user(&format!("w{writer}-{i}"), &format!("x{writer}-{i}"));
                }
            });
        }
        let reader = scope.spawn(|| {
            follow_feed(&start, 32, |cursor| {
                feed(&app, &key, &format!("?after={cursor}"))
            })
        });
        reader.join().unwrap()
    });
    let (all, _) = feed(&app, &key, &format!("?after={start}&limit=1000"));
    let all: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 32);
    assert_eq!(
        seen, all,
        "the reader saw every event exactly once, in order"
    );
}
