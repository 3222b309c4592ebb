//! Listing: pagination (index and cursor), filters beyond `eq`, sorting, projections.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::common::TestApp;

fn ids(body: &serde_json::Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn index_pages_are_stable_and_counted() {
    let app = TestApp::new();
    let created: Vec<String> = (0..5)
        .map(|i| app.create_user(&format!("user{i}"), &format!("e{i}")))
        .collect();
    let first = app.scim("GET", "/Users?startIndex=1&count=2", None);
    assert_eq!(
        (
            first.body["totalResults"].as_i64(),
            first.body["itemsPerPage"].as_i64(),
            first.body["startIndex"].as_i64()
        ),
        (Some(5), Some(2), Some(1))
    );
    let second = app.scim("GET", "/Users?startindex=3&count=2", None);
    let third = app.scim("GET", "/Users?startIndex=5&count=2", None);
    assert_eq!(
        third.body["itemsPerPage"], 1,
        "itemsPerPage is the number returned"
    );
    let all: Vec<String> = [ids(&first.body), ids(&second.body), ids(&third.body)].concat();
    assert_eq!(all, created, "pages in creation order, no overlap, no gap");
    let zero = app.scim("GET", "/Users?startIndex=0&count=0", None);
    assert_eq!(
        (
            zero.body["itemsPerPage"].as_i64(),
            zero.body["totalResults"].as_i64(),
            zero.body["startIndex"].as_i64()
        ),
        (Some(0), Some(5), Some(1))
    );
    let default = app.scim("GET", "/Users", None);
    assert_eq!(default.body["itemsPerPage"], 5);
}

#[test]
fn cursor_pages_walk_everything_once() {
    let app = TestApp::new();
    let created: Vec<String> = (0..5)
        .map(|i| app.create_user(&format!("c{i}"), &format!("ce{i}")))
        .collect();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let page = app.scim("GET", &format!("/Users?count=2&cursor={cursor}"), None);
        assert_eq!(page.status, 200, "{:#}", page.body);
        assert!(page.body.get("startIndex").is_none());
        assert_eq!(page.body["totalResults"], 5, "every page of the walk");
        seen.extend(ids(&page.body));
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, created);
    // A new walk counts again on its first page; a filtered walk has its own total.
    app.create_user("d5", "de5");
    let first = app.scim("GET", "/Users?count=2&cursor=", None);
    assert_eq!(first.body["totalResults"], 6, "{:#}", first.body);
    let filtered = app.scim(
        "GET",
        "/Users?count=2&cursor=&filter=userName%20sw%20%22c%22",
        None,
    );
    assert_eq!(filtered.body["totalResults"], 5, "{:#}", filtered.body);
    let next = filtered.body["nextCursor"].as_str().unwrap_or_default();
    let later = app.scim(
        "GET",
        &format!("/Users?count=2&cursor={next}&filter=userName%20sw%20%22c%22"),
        None,
    );
    assert_eq!(later.body["totalResults"], 5, "{:#}", later.body);
    app.scim("GET", "/Users?cursor=garbage", None)
        .assert_scim_error(400, Some("invalidCursor"));
}

#[test]
fn filters_with_logic_and_other_operators() {
    let app = TestApp::new();
    let alice = app.create_user("alice@north.example", "e-alice");
    let bob = app.create_user("bob@south.example", "e-bob");
    app.scim(
        "PATCH",
        &format!("/Users/{bob}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
    );
    let cases = [
        ("userName sw \"ALI\"", vec![&alice]),
        ("emails.value ew \"south.example\"", vec![&bob]),
        ("userName co \"@\" and active eq true", vec![&alice]),
        (
            "active eq false or externalId eq \"e-alice\"",
            vec![&alice, &bob],
        ),
        ("not (userName eq \"alice@north.example\")", vec![&bob]),
        ("externalId eq \"E-ALICE\"", vec![]),
        (
            "meta.lastModified gt \"2000-01-01T00:00:00Z\" and name.familyName eq \"Family\"",
            vec![&alice, &bob],
        ),
        ("externalId pr", vec![&alice, &bob]),
        ("userName eq \"50%_\"", vec![]),
    ];
    for (filter, want) in cases {
        let encoded: String = filter.bytes().map(|b| format!("%{b:02X}")).collect();
        let reply = app.scim("GET", &format!("/Users?filter={encoded}"), None);
        assert_eq!(reply.status, 200, "{filter}: {:#}", reply.body);
        let mut got = ids(&reply.body);
        got.sort();
        let mut want: Vec<String> = want.into_iter().cloned().collect();
        want.sort();
        assert_eq!(got, want, "{filter}");
    }
}

#[test]
fn sorting_search_and_projection() {
    let app = TestApp::new();
    let zed = app.create_user("zed", "e-z");
    let amy = app.create_user("amy", "e-a");
    let sorted = app.scim("GET", "/Users?sortBy=userName&sortOrder=descending", None);
    assert_eq!(ids(&sorted.body), vec![zed.clone(), amy.clone()]);
    let search = app.scim("POST", "/Users/.search", Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"amy\"", "attributes": ["userName"], "startIndex": 1, "count": 10,
    })));
    assert_eq!(search.status, 200, "{:#}", search.body);
    let resource = &search.body["Resources"][0];
    assert_eq!(resource["userName"], "amy");
    assert!(
        resource.get("name").is_none() && resource.get("emails").is_none(),
        "{resource:#}"
    );
    assert_eq!(resource["id"], amy.as_str());
    let excluded = app.scim(
        "GET",
        &format!("/Users/{amy}?excludedAttributes=emails,name.familyName"),
        None,
    );
    assert!(excluded.body.get("emails").is_none());
    assert_eq!(excluded.body["name"], json!({"givenName": "Given"}));
}

#[test]
fn root_search_covers_users_then_groups() {
    let app = TestApp::new();
    let amy = app.create_user("amy", "e-a");
    let group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "amy's team"})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let all = app.scim(
        "POST",
        "/.search",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
    );
    assert_eq!(all.status, 200, "{:#}", all.body);
    assert_eq!(ids(&all.body), vec![amy.clone(), group.clone()]);
    assert_eq!(all.body["totalResults"], 2);
    let users_only = app.scim(
        "POST",
        "/.search",
        Some(json!({"filter": "userName eq \"amy\""})),
    );
    assert_eq!(ids(&users_only.body), vec![amy.clone()]);
    let groups_only = app.scim(
        "POST",
        "/.search",
        Some(json!({"filter": "displayName sw \"amy's\""})),
    );
    assert_eq!(ids(&groups_only.body), vec![group.clone()]);
    let second = app.scim(
        "POST",
        "/.search",
        Some(json!({"startIndex": 2, "count": 1})),
    );
    assert_eq!(
        (ids(&second.body), second.body["totalResults"].as_i64()),
        (vec![group], Some(2))
    );
    app.scim(
        "POST",
        "/.search",
        Some(json!({"filter": "title eq \"x\""})),
    )
    .assert_scim_error(400, Some("invalidFilter"));
    app.scim("POST", "/.search", Some(json!({"cursor": ""})))
        .assert_scim_error(400, Some("invalidCursor"));
}
