//! Hostile list query parameters over real HTTP: each one a SCIM 400 naming the parameter, or a
//! page within the limits — never a panic or a dropped connection — and the server answers the
//! next request as before.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::common::TestApp;

/// (query string, expected status, expected scimType on a 400)
type Case = (String, u16, Option<&'static str>);

fn cases() -> Vec<Case> {
    let bad = |query: &str, scim_type: &'static str| (query.to_owned(), 400, Some(scim_type));
    let ok = |query: &str| (query.to_owned(), 200, None);
    vec![
        // The audit's finding: a multibyte first character panicked the cursor decoder.
        bad("cursor=%C3%A9", "invalidCursor"),
        bad("cursor=%C3%A9%C3%A9&count=2", "invalidCursor"),
        bad("cursor=k%C3%A9", "invalidCursor"),
        bad("cursor=o%C3%A9&sortBy=displayName", "invalidCursor"),
        bad(
            &format!("cursor={}", "%C3%A9".repeat(1500)),
            "invalidCursor",
        ),
        bad(&format!("cursor=k{}", "f".repeat(4000)), "invalidCursor"),
        bad("cursor=%FF%FE%00", "invalidCursor"),
        bad("cursor=a2FyYmFnZQ%3D%3D", "invalidCursor"),
        bad("cursor=o-1&sortBy=displayName", "invalidCursor"),
        bad(
            "cursor=o99999999999999999999&sortBy=displayName",
            "invalidCursor",
        ),
        bad("count=99999999999999999999", "invalidValue"),
        bad("count=%C3%A9", "invalidValue"),
        bad("startIndex=-", "invalidValue"),
        bad("startIndex=1e9", "invalidValue"),
        bad("sortBy=%C3%A9", "invalidValue"),
        bad("sortBy=displayName%5B", "invalidValue"),
        bad("sortBy=displayName&sortOrder=%C3%A9", "invalidValue"),
        bad(
            "attributes=userName&excludedAttributes=%C3%A9",
            "invalidValue",
        ),
        ok("count=-1"),
        ok("count=-9223372036854775808"),
        ok("count=9223372036854775807"),
        ok("startIndex=-5"),
        ok("startIndex=9223372036854775807"),
        ok("cursor=o9223372036854775807&sortBy=displayName&count=1"),
        ok("attributes=%C3%A9,,.,urn:,urn%C6%AE:x"),
        ok("excludedAttributes=%00,name.%C3%A9"),
    ]
}

#[test]
fn hostile_list_parameters_get_a_scim_answer() {
    let app = TestApp::new();
    app.create_user("alice", "e-alice");
    for resource in ["/Users", "/Groups"] {
        for (query, status, scim_type) in cases() {
            let reply = app.scim("GET", &format!("{resource}?{query}"), None);
            if status == 400 {
                reply.assert_scim_error(400, scim_type);
            } else {
                assert_eq!(reply.status, status, "{resource}?{query}: {:#}", reply.body);
                let per_page = reply.body["itemsPerPage"].as_i64().unwrap_or(-1);
                assert!((0..=1).contains(&per_page), "{query}: {:#}", reply.body);
            }
        }
    }
    let detail = app.scim("GET", "/Users?cursor=%C3%A9", None).body["detail"].clone();
    assert!(
        detail
            .as_str()
            .is_some_and(|d| d.contains("cursor") && d.contains("nextCursor")),
        "the detail says what to send instead: {detail}"
    );
    // The same values through a SearchRequest body.
    for cursor in ["é", "éé", "k\u{0}", "o-1"] {
        app.scim("POST", "/Users/.search", Some(json!({"cursor": cursor})))
            .assert_scim_error(400, Some("invalidCursor"));
    }
    app.scim(
        "POST",
        "/Users/.search",
        Some(json!({"count": 1e300, "startIndex": -1})),
    )
    .assert_scim_error(400, Some("invalidValue"));
    // Still serving, and nothing was written.
    let list = app.scim("GET", "/Users?cursor=&count=10", None);
    assert_eq!(list.status, 200, "{:#}", list.body);
    assert_eq!(list.body["totalResults"], 1);
    assert_eq!(app.db.store.count_users(app.workspace.id).unwrap(), 1);
}
