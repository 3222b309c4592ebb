//! The operator API over real HTTP: operator keys (created, listed, revoked), workspaces by API
//! (create, list with cursors, show, rename, delete with confirmation), each workspace's admin
//! routes through `/api/v1/operator/workspaces/{workspace}/…` with the admin API's semantics, and
//! the refusals between the two levels (a workspace key on operator routes, an operator key on
//! admin routes, a revoked key).

use std::collections::BTreeSet;
use std::time::Instant;

use pretty_assertions::assert_eq;
use roster_store::domain::Actor;
use serde_json::{json, Value};

use crate::common::{concrete_path, follow_feed, Reply, TestApp};

pub(crate) fn operator_key(app: &TestApp) -> String {
    let (_, key) = app
        .db
        .store
        .create_operator_key(&Actor::Cli, "test backend")
        .unwrap();
    key.expose().to_owned()
}

/// An operator API request; `path` is relative to `/api/v1/operator`.
pub(crate) fn operator(
    app: &TestApp,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let bearer = format!("Bearer {key}");
    app.raw(
        method,
        &format!("/api/v1/operator{path}"),
        body.map(|b| b.to_string()),
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ],
    )
}

fn slugs(app: &TestApp) -> BTreeSet<String> {
    app.db
        .store
        .list_workspaces()
        .unwrap()
        .iter()
        .map(|w| w.slug.to_string())
        .collect()
}

#[test]
fn an_operator_creates_a_thousand_workspaces_and_lists_them_with_cursors() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let started = Instant::now();
    for n in 0..1000 {
        let reply = operator(
            &app,
            &key,
            "POST",
            "/workspaces",
            Some(json!({ "slug": format!("customer-{n:04}"), "name": format!("Customer {n}") })),
        );
        assert_eq!(reply.status, 201, "{:#}", reply.body);
    }
    eprintln!(
        "1,000 workspaces created through the operator API in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut listed = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(after) => format!("/workspaces?limit=300&after={after}"),
            None => "/workspaces?limit=300".to_owned(),
        };
        let page = operator(&app, &key, "GET", &path, None);
        assert_eq!(page.status, 200, "{:#}", page.body);
        let workspaces = page.body["workspaces"].as_array().unwrap();
        assert!(workspaces.len() <= 300);
        listed.extend(
            workspaces
                .iter()
                .map(|w| w["slug"].as_str().unwrap().to_owned()),
        );
        match page.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = slugs(&app).into_iter().collect();
    assert_eq!(listed.len(), 1001, "the thousand and the test's own");
    assert_eq!(listed, expected, "every workspace once, in slug order");
    // A new workspace has its two roles and answers through the operator path at once.
    let roles = operator(&app, &key, "GET", "/workspaces/customer-0042/roles", None);
    assert_eq!(roles.status, 200, "{:#}", roles.body);
    let names: BTreeSet<&str> = roles.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["admin", "member"]));
}

#[test]
fn workspaces_are_created_shown_renamed_and_deleted_only_when_confirmed() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let created = operator(
        &app,
        &key,
        "POST",
        "/workspaces",
        Some(json!({ "slug": "globex", "name": "Globex", "domains": ["globex.example"] })),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(created.body["slug"], "globex");
    assert_eq!(created.body["domains"], json!(["globex.example"]));
    let id = created.body["id"].as_str().unwrap().to_owned();
    // By id or by slug.
    for named in [id.as_str(), "globex"] {
        let shown = operator(&app, &key, "GET", &format!("/workspaces/{named}"), None);
        assert_eq!(shown.status, 200);
        assert_eq!(shown.body["id"], id.as_str());
    }
    // A taken slug, a malformed one, unknown fields: refused, nothing written.
    let before = slugs(&app);
    operator(
        &app,
        &key,
        "POST",
        "/workspaces",
        Some(json!({ "slug": "globex", "name": "Again" })),
    )
    .assert_admin_error(409, "conflict");
    operator(
        &app,
        &key,
        "POST",
        "/workspaces",
        Some(json!({ "slug": "Not A Slug", "name": "x" })),
    )
    .assert_admin_error(400, "validation");
    operator(
        &app,
        &key,
        "POST",
        "/workspaces",
        Some(json!({ "slug": "initech", "name": "x", "plan": "gold" })),
    )
    .assert_admin_error(400, "validation");
    // A public mail domain is nobody's to claim.
    operator(
        &app,
        &key,
        "POST",
        "/workspaces",
        Some(json!({ "slug": "initech", "name": "x", "domains": ["gmail.com"] })),
    )
    .assert_admin_error(400, "validation");
    assert_eq!(slugs(&app), before);

    let renamed = operator(
        &app,
        &key,
        "PATCH",
        "/workspaces/globex",
        Some(json!({ "name": "Globex Corporation" })),
    );
    assert_eq!(renamed.status, 200, "{:#}", renamed.body);
    assert_eq!(renamed.body["name"], "Globex Corporation");
    assert_eq!(renamed.body["slug"], "globex");

    // Every write is audited as the operator key.
    let workspace_id = id.parse().unwrap();
    let audit = app.db.store.audit_events(workspace_id, None, 100).unwrap();
    let by_operator: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.actor_kind.as_str()))
        .collect();
    assert_eq!(
        by_operator,
        [
            ("workspace.created", "operator"),
            ("domain.declared", "operator"),
            ("workspace.updated", "operator")
        ]
    );
    assert!(audit[0]
        .actor_id
        .as_deref()
        .unwrap()
        .starts_with("operator_key:"));

    // Deletion needs the slug again; without it nothing changes.
    let refused = operator(&app, &key, "DELETE", "/workspaces/globex", None);
    refused.assert_admin_error(400, "validation");
    assert_eq!(refused.body["detail"]["field"], "confirm");
    operator(
        &app,
        &key,
        "DELETE",
        "/workspaces/globex?confirm=initech",
        None,
    )
    .assert_admin_error(400, "validation");
    assert!(slugs(&app).contains("globex"));
    let deleted = operator(
        &app,
        &key,
        "DELETE",
        "/workspaces/globex?confirm=globex",
        None,
    );
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    assert!(!slugs(&app).contains("globex"));
    operator(&app, &key, "GET", "/workspaces/globex", None).assert_admin_error(404, "not_found");
    // What is kept: the deployment-level record of the deletion, by the operator key.
    let kept = app.db.store.system_audit_events(10).unwrap();
    let deletion = kept
        .iter()
        .find(|e| e.action == "workspace.deleted" && e.target_id == id)
        .unwrap();
    assert_eq!(deletion.actor_kind, "operator");
    // The operator reads the deployment's trail: newest first, paged back with `before`.
    let trail = operator(&app, &key, "GET", "/audit", None);
    assert_eq!(trail.status, 200, "{:#}", trail.body);
    let actions: Vec<&str> = trail.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["workspace.deleted", "operator_key.created"]);
    assert_eq!(trail.body["events"][0]["actorKind"], "operator");
    let newest = trail.body["events"][0]["seq"].as_i64().unwrap();
    let older = operator(
        &app,
        &key,
        "GET",
        &format!("/audit?before={newest}&limit=1"),
        None,
    );
    assert_eq!(older.body["events"][0]["action"], "operator_key.created");
    operator(&app, &key, "GET", "/audit?limit=0", None).assert_admin_error(400, "validation");
}

#[test]
fn a_workspaces_admin_routes_answer_through_the_operator_path_as_the_operator() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let slug = app.workspace.slug.to_string();
    // The same answer as the workspace's own admin API.
    let admin_key = app.api_key();
    let direct = app.admin(&admin_key, "GET", "/users", None);
    let through = operator(
        &app,
        &key,
        "GET",
        &format!("/workspaces/{slug}/users"),
        None,
    );
    assert_eq!(through.status, 200, "{:#}", through.body);
    assert_eq!(through.body, direct.body);
    let session = operator(
        &app,
        &key,
        "GET",
        &format!("/workspaces/{slug}/session"),
        None,
    );
    assert_eq!(session.body["workspaceId"], app.workspace.id.to_string());
    assert!(session.body["operatorKeyId"].is_string());

    // A write goes through the same policy and is audited as the operator key.
    let role = operator(
        &app,
        &key,
        "POST",
        &format!("/workspaces/{slug}/roles"),
        Some(json!({ "name": "billing", "rank": 10 })),
    );
    assert_eq!(role.status, 201, "{:#}", role.body);
    let audit = app
        .db
        .store
        .audit_events(app.workspace.id, None, 1000)
        .unwrap();
    let created = audit.iter().find(|e| e.action == "role.created").unwrap();
    assert_eq!(created.actor_kind, "operator");

    // A method the path does not have, and a workspace that does not exist.
    operator(
        &app,
        &key,
        "PATCH",
        &format!("/workspaces/{slug}/users"),
        None,
    )
    .assert_admin_error(405, "method_not_allowed");
    operator(&app, &key, "GET", "/workspaces/nobody/users", None)
        .assert_admin_error(404, "not_found");
}

#[test]
fn keys_of_the_other_level_and_revoked_keys_are_refused_and_change_nothing() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let admin_key = app.api_key();
    let slug = app.workspace.slug.to_string();
    let before = slugs(&app);
    let roles_before = app.db.store.list_roles(app.workspace.id).unwrap().len();

    // A workspace's admin key on operator routes: 403, whichever route.
    for (method, path, body) in [
        ("GET", "/workspaces".to_owned(), None),
        ("GET", "/audit".to_owned(), None),
        (
            "POST",
            "/workspaces".to_owned(),
            Some(json!({ "slug": "sneaky", "name": "x" })),
        ),
        ("GET", format!("/workspaces/{slug}/users"), None),
        (
            "POST",
            format!("/workspaces/{slug}/roles"),
            Some(json!({ "name": "sneaky" })),
        ),
    ] {
        let reply = operator(&app, &admin_key, method, &path, body);
        reply.assert_admin_error(403, "forbidden");
        assert_eq!(reply.body["detail"]["refusal"], "workspace_key");
    }
    // The operator key on the workspace admin API: 403, pointing at the operator API.
    let reply = app.admin(&key, "POST", "/roles", Some(json!({ "name": "sneaky" })));
    reply.assert_admin_error(403, "forbidden");
    assert_eq!(reply.body["detail"]["refusal"], "operator_key");
    // No key, an unknown key.
    app.raw("GET", "/api/v1/operator/workspaces", None, &[])
        .assert_admin_error(401, "unauthorized");
    operator(&app, "rsok_unknown", "GET", "/workspaces", None)
        .assert_admin_error(401, "unauthorized");
    // Revoked: refused from its next request on, on both kinds of route.
    let id = app.db.store.list_operator_keys().unwrap()[0].id;
    app.db.store.revoke_operator_key(&Actor::Cli, id).unwrap();
    operator(&app, &key, "GET", "/workspaces", None).assert_admin_error(401, "unauthorized");
    operator(
        &app,
        &key,
        "GET",
        &format!("/workspaces/{slug}/users"),
        None,
    )
    .assert_admin_error(401, "unauthorized");
    // An unauthenticated caller learns nothing of which workspaces exist.
    operator(&app, &key, "GET", "/workspaces/nobody/users", None)
        .assert_admin_error(401, "unauthorized");

    assert_eq!(slugs(&app), before);
    assert_eq!(
        app.db.store.list_roles(app.workspace.id).unwrap().len(),
        roles_before
    );
}

/// Every operation of the admin API is routed under the operator path too (one route table,
/// two entry points), and the document lists each one there.
#[test]
fn every_admin_operation_is_routed_under_the_operator_path() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let document = app.raw("GET", "/api/v1/openapi.json", None, &[]);
    let slug = app.workspace.slug.to_string();
    for (method, path) in roster_admin::openapi::operations() {
        let relative = path.strip_prefix("/api/v1/admin").unwrap();
        let template = format!("/api/v1/operator/workspaces/{{workspace}}{relative}");
        assert!(
            document.body["paths"][template.as_str()][method]["operationId"]
                .as_str()
                .is_some_and(|id| id.starts_with("operator")),
            "{method} {template} in the document"
        );
        let concrete = concrete_path(relative);
        let body = matches!(method, "post" | "put").then(|| json!({}));
        let reply = operator(
            &app,
            &key,
            &method.to_uppercase(),
            &format!("/workspaces/{slug}{concrete}"),
            body,
        );
        if relative == "/setup/finish" {
            // Routed, and the operator is told it has no setup session to finish.
            assert_eq!(reply.body["detail"]["refusal"], "not_a_setup_session");
            continue;
        }
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(
            !message.starts_with("no admin endpoint") && reply.status != 405,
            "{method} {path} is not routed for the operator: {:#}",
            reply.body
        );
        assert!(
            ![401, 403, 500].contains(&reply.status),
            "{method} {path}: {:#}",
            reply.body
        );
    }
}

/// One page of the operator's feed: (events, next).
fn operator_feed(app: &TestApp, key: &str, query: &str) -> (Vec<Value>, String) {
    let reply = operator(app, key, "GET", &format!("/events{query}"), None);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    (
        reply.body["events"].as_array().unwrap().clone(),
        reply.body["next"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn the_operator_feed_holds_every_workspace_in_one_order_and_filters() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let (_, start) = operator_feed(&app, &key, "");
    for slug in ["alpha", "beta"] {
        let created = operator(
            &app,
            &key,
            "POST",
            "/workspaces",
            Some(json!({ "slug": slug, "name": slug })),
        );
        assert_eq!(created.status, 201);
    }
    for slug in ["alpha", "beta", "alpha"] {
        let invited = operator(
            &app,
            &key,
            "POST",
            &format!("/workspaces/{slug}/users"),
            Some(json!({ "email": format!("{}@{slug}.example", rand_local()) })),
        );
        assert_eq!(invited.status, 201, "{:#}", invited.body);
    }
    operator(
        &app,
        &key,
        "PATCH",
        "/workspaces/beta",
        Some(json!({ "name": "Beta Inc" })),
    );
    let (events, _) = operator_feed(&app, &key, &format!("?after={start}"));
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let slug = app
                .db
                .store
                .workspace(e["workspace"].as_str().unwrap().parse().unwrap())
                .unwrap()
                .slug
                .to_string();
            (slug, e["type"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("alpha", "workspace.created"),
        ("beta", "workspace.created"),
        ("alpha", "user.created"),
        ("beta", "user.created"),
        ("alpha", "user.created"),
        ("beta", "workspace.updated"),
    ]
    .iter()
    .map(|(s, t)| ((*s).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(seen, expected);
    assert_eq!(events[0]["actor"]["kind"], "operator");
    assert_eq!(events[5]["changed"], json!(["name"]));
    // One workspace (by slug), one type, and pages that go on where the last one ended.
    let (beta, _) = operator_feed(&app, &key, &format!("?after={start}&workspace=beta"));
    assert_eq!(beta.len(), 3);
    let (created, _) = operator_feed(
        &app,
        &key,
        &format!("?after={start}&type=workspace.created"),
    );
    assert_eq!(created.len(), 2);
    let (first, next) = operator_feed(&app, &key, &format!("?after={start}&limit=4"));
    let (rest, end) = operator_feed(&app, &key, &format!("?after={next}"));
    assert_eq!(first.len() + rest.len(), 6);
    assert_eq!(rest[0]["id"], events[4]["id"]);
    let (none, again) = operator_feed(&app, &key, &format!("?after={end}"));
    assert!(none.is_empty());
    assert_eq!(again, end);
    // Bad input is a 400 or a 404, in the API's shape.
    operator(&app, &key, "GET", "/events?after=nonsense", None)
        .assert_admin_error(400, "validation");
    operator(&app, &key, "GET", "/events?limit=0", None).assert_admin_error(400, "validation");
    operator(&app, &key, "GET", "/events?workspace=nobody", None)
        .assert_admin_error(404, "not_found");
    // A workspace's own feed is unchanged: it sees its own events only.
    let alpha = app.db.store.workspace_by_slug("alpha").unwrap();
    let (_, admin_key) = app
        .db
        .store
        .create_api_key(&Actor::Cli, alpha.id, "alpha")
        .unwrap();
    let own = app.admin(admin_key.expose(), "GET", "/events", None);
    let types: Vec<&str> = own.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["workspace.created", "user.created", "user.created"]);
}

fn rand_local() -> String {
    format!("u{}", roster_store::domain::TokenId::new())
}

#[test]
fn concurrent_writers_in_many_workspaces_never_insert_behind_the_operator_feed() {
    let app = TestApp::new();
    let key = operator_key(&app);
    for writer in 0..4 {
        let created = operator(
            &app,
            &key,
            "POST",
            "/workspaces",
            Some(json!({ "slug": format!("tenant-{writer}"), "name": "t" })),
        );
        assert_eq!(created.status, 201);
    }
    let (_, start) = operator_feed(&app, &key, "");
    let seen: Vec<String> = std::thread::scope(|scope| {
        for writer in 0..4 {
            let (app, key) = (&app, &key);
            scope.spawn(move || {
                for i in 0..8 {
                    let reply = operator(
                        app,
                        key,
                        "POST",
                        &format!("/workspaces/tenant-{writer}/users"),
                        Some(json!({ "email": format!("u{i}@t{writer}.example") })),
                    );
                    assert_eq!(reply.status, 201, "{:#}", reply.body);
                }
            });
        }
        let reader = scope.spawn(|| {
            follow_feed(&start, 32, |cursor| {
                operator_feed(&app, &key, &format!("?after={cursor}"))
            })
        });
        reader.join().unwrap()
    });
    let (all, _) = operator_feed(&app, &key, &format!("?after={start}&limit=1000"));
    let all: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 32);
    assert_eq!(
        seen, all,
        "the reader saw every workspace's events exactly once, in the feed's order"
    );
}

/// Every operation of the operator API's own that the document lists is mounted (a documented
/// but unmounted route would answer 405 or 404 "no admin endpoint").
#[test]
fn every_documented_operator_operation_is_routed() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let document = app.raw("GET", "/api/v1/openapi.json", None, &[]);
    let mut count = 0;
    for (path, item) in document.body["paths"].as_object().unwrap() {
        let Some(relative) = path.strip_prefix("/api/v1/operator") else {
            continue;
        };
        for (method, operation) in item.as_object().unwrap() {
            if operation["operationId"]
                .as_str()
                .is_some_and(|id| id.starts_with("operator"))
            {
                continue; // a workspace admin route, walked by the test above
            }
            let body = matches!(method.as_str(), "post" | "put" | "patch").then(|| json!({}));
            let reply = operator(
                &app,
                &key,
                &method.to_uppercase(),
                &concrete_path(relative),
                body,
            );
            let message = reply.body["message"].as_str().unwrap_or_default();
            assert!(
                reply.status != 405 && !message.starts_with("no admin endpoint"),
                "{method} {path} is not routed: {:#}",
                reply.body
            );
            assert_ne!(reply.status, 500, "{method} {path}: {:#}", reply.body);
            count += 1;
        }
    }
    assert!(count >= 12, "{count}");
}
