//! Filters and sorts on custom attributes over SCIM (issue #28): the enterprise extension's
//! attributes once declared, a declared extension's by its own path, every operator a product
//! sends, `sortBy`, cursor and index walks under a custom filter, and the 400 that says to
//! declare an enterprise attribute before filtering on it.
//!
//! Users come from SCIM; their values are set through the store (`set_values`), as the admin API
//! does for other users and as SCIM writes will once SCIM ingestion fills them: swapping that one
//! function for a SCIM PATCH keeps every assertion.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::TestApp;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const HR: &str = "urn:acme:params:scim:schemas:extension:hr:2.0:User";

/// Declares `department` and `title` (standard) and `costCenterCode`, a number in the `HR`
/// extension.
fn declare(app: &TestApp) {
    let key = app.api_key();
    for body in [
        json!({"template": "department"}),
        json!({"template": "title"}),
        json!({"name": "costCenterCode", "type": "number", "scimSchema": HR}),
    ] {
        let created = app.admin(&key, "POST", "/attributes", Some(body));
        assert_eq!(created.status, 201, "{:#}", created.body);
    }
}

/// Sets some of a user's values (JSON, typed against the declarations).
fn set_values(app: &TestApp, user_id: &str, values: Value) {
    let definitions = app
        .db
        .store
        .attribute_definitions(app.workspace.id)
        .unwrap();
    let edits: Vec<roster_store::AttributeEdit> = values
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            let definition = definitions
                .iter()
                .find(|d| d.name.as_str() == name)
                .unwrap()
                .clone();
            roster_store::AttributeEdit {
                value: Some(roster_store::typed_attribute(definition.kind, value).unwrap()),
                definition,
            }
        })
        .collect();
    app.db
        .store
        .set_user_attributes(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            user_id.parse().unwrap(),
            &edits,
        )
        .unwrap();
}

fn encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

fn filtered(app: &TestApp, filter: &str) -> Vec<String> {
    let reply = app.scim("GET", &format!("/Users?filter={}", encoded(filter)), None);
    assert_eq!(reply.status, 200, "{filter}: {:#}", reply.body);
    let mut found = names(&reply.body);
    assert_eq!(
        reply.body["totalResults"].as_u64(),
        Some(found.len() as u64),
        "{filter}"
    );
    found.sort();
    found
}

/// Ann and Bob in Sales (in two spellings), Cy in Marketing, Dee without values.
fn directory(app: &TestApp) {
    declare(app);
    for (name, values) in [
        (
            "bob",
            json!({"department": "SALES", "costCenterCode": -3, "title": "Engineer"}),
        ),
        (
            "ann",
            json!({"department": "Sales", "costCenterCode": 42, "title": "Director"}),
        ),
        (
            "cy",
            json!({"department": "Marketing", "costCenterCode": 4100}),
        ),
        ("dee", json!({})),
    ] {
        let id = app.create_user(name, &format!("e-{name}"));
        set_values(app, &id, values);
    }
}

#[test]
fn declared_attributes_filter_with_every_operator() {
    let app = TestApp::new();
    directory(&app);
    let cases: Vec<(String, &[&str])> =
        vec![
        (format!(r#"{ENT}:department eq "Sales""#), &["ann", "bob"]),
        (format!(r#"{ENT}:department eq "sales""#), &["ann", "bob"]),
        (
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department eq "Sales""#
                .into(),
            &["ann", "bob"],
        ),
        (r#"department eq "Sales""#.into(), &["ann", "bob"]),
        (
            format!(r#"{ENT}:department eq "Sales" and userName eq "ann""#),
            &["ann"],
        ),
        (format!(r#"{ENT}:department ne "Sales""#), &["cy", "dee"]),
        (format!(r#"not ({ENT}:department eq "Sales")"#), &["cy", "dee"]),
        (format!("{ENT}:department pr"), &["ann", "bob", "cy"]),
        (format!("{ENT}:department eq null"), &["dee"]),
        (format!(r#"{ENT}:department sw "MAR""#), &["cy"]),
        (format!(r#"{ENT}:department co "ale""#), &["ann", "bob"]),
        (format!(r#"{ENT}:department ew "ing""#), &["cy"]),
        (format!("{HR}:costCenterCode gt 100"), &["cy"]),
        (format!("{HR}:costCenterCode ge 42"), &["ann", "cy"]),
        (format!(r#"{HR}:costCenterCode lt "0""#), &["bob"]),
        (format!("{HR}:costCenterCode eq 42"), &["ann"]),
        (
            format!("{HR}:costCenterCode lt 0 or {ENT}:department eq \"marketing\""),
            &["bob", "cy"],
        ),
        (r#"title eq "engineer""#.into(), &["bob"]),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:title pr"#.into(),
            &["ann", "bob"],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(filtered(&app, &filter), want, "{filter}");
    }
    // `.search` reads the same filters; the root search lists only users for them.
    for path in ["/Users/.search", "/.search"] {
        let search = app.scim(
            "POST",
            path,
            Some(json!({"filter": format!(r#"{ENT}:department eq "sales""#)})),
        );
        assert_eq!(search.status, 200, "{path}: {:#}", search.body);
        assert_eq!(search.body["totalResults"], 2, "{path}");
    }
}

#[test]
fn declared_attributes_sort_with_missing_values_last() {
    let app = TestApp::new();
    directory(&app);
    let sorted = |query: &str| {
        let reply = app.scim("GET", &format!("/Users?{query}"), None);
        assert_eq!(reply.status, 200, "{query}: {:#}", reply.body);
        names(&reply.body)
    };
    assert_eq!(
        sorted(&format!("sortBy={HR}:costCenterCode")),
        ["bob", "ann", "cy", "dee"]
    );
    assert_eq!(
        sorted(&format!("sortBy={HR}:costCenterCode&sortOrder=descending")),
        ["dee", "cy", "ann", "bob"]
    );
    assert_eq!(
        sorted(&format!(
            "sortBy=title&filter={}&startIndex=2&count=1",
            encoded(&format!("{ENT}:department pr"))
        )),
        ["bob"],
        "Ann the Director, Bob the Engineer, then Cy without a title: the second is Bob"
    );
}

/// A custom `eq` walked by cursor and by index: every match once, in id order, each page with
/// the same total.
#[test]
fn a_custom_filter_walks_by_cursor_and_by_index() {
    let app = TestApp::new();
    declare(&app);
    let mut engineers = Vec::new();
    for i in 0..5 {
        let id = app.create_user(&format!("eng{i}"), &format!("e-eng{i}"));
        set_values(&app, &id, json!({"department": "Engineering"}));
        engineers.push(id);
        let other = app.create_user(&format!("ops{i}"), &format!("e-ops{i}"));
        set_values(&app, &other, json!({"department": "Operations"}));
    }
    engineers.sort();
    let filter = encoded(&format!(r#"{ENT}:department eq "engineering""#));
    let ids = |body: &Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let page = app.scim(
            "GET",
            &format!("/Users?filter={filter}&count=2&cursor={cursor}"),
            None,
        );
        assert_eq!(page.status, 200, "{:#}", page.body);
        assert_eq!(page.body["totalResults"], 5, "{:#}", page.body);
        seen.extend(ids(&page.body));
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, engineers);
    let mut indexed = Vec::new();
    for start in [1, 3, 5] {
        let page = app.scim(
            "GET",
            &format!("/Users?filter={filter}&count=2&startIndex={start}"),
            None,
        );
        assert_eq!(page.body["totalResults"], 5, "{:#}", page.body);
        assert_eq!(page.body["startIndex"], start);
        indexed.extend(ids(&page.body));
    }
    assert_eq!(indexed, engineers);
}

/// What cannot be answered is a 400 that says why: an enterprise attribute the workspace has
/// not declared (naming it), an operand or operator its type refuses, a sort on an undeclared
/// attribute.
#[test]
fn undeclared_or_mistyped_custom_filters_are_refused() {
    let app = TestApp::new();
    app.create_user("ann", "e-ann");
    let before = app.scim(
        "GET",
        &format!(
            "/Users?filter={}",
            encoded(&format!(r#"{ENT}:department eq "Sales""#))
        ),
        None,
    );
    before.assert_scim_error(400, Some("invalidFilter"));
    let detail = before.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("department") && detail.contains("declared"),
        "{detail}"
    );
    declare(&app);
    for (filter, says) in [
        (format!(r#"{ENT}:costCenter eq "CC-1""#), "costCenter"),
        (format!(r#"{ENT}:department eq "Sales""#), ""),
        (
            format!(r#"{HR}:costCenterCode eq "forty-two""#),
            "must be a number",
        ),
        (
            format!(r#"{HR}:costCenterCode co "4""#),
            "supports eq, ne, gt, ge, lt and le",
        ),
        (r#"nickName eq "x""#.into(), "or a declared attribute"),
    ] {
        let reply = app.scim("GET", &format!("/Users?filter={}", encoded(&filter)), None);
        if says.is_empty() {
            assert_eq!(reply.status, 200, "{filter}: declared now");
            continue;
        }
        reply.assert_scim_error(400, Some("invalidFilter"));
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{filter}: {detail}");
    }
    app.scim("GET", &format!("/Users?sortBy={ENT}:division"), None)
        .assert_scim_error(400, Some("invalidValue"));
}
