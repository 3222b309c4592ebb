//! PATCH behaviour, table-driven: what Entra, Okta and the RFC send.

use super::*;
use pretty_assertions::assert_eq;
use serde_json::json;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn parse(operations: Value) -> Vec<PatchOperation> {
    let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations});
    parse_patch_request(&body, 100).unwrap_or_else(|e| panic!("{operations}: {e}"))
}

/// Applies `operations` to `resource`, expecting `expected`; applying them again must change
/// nothing (IdPs retry).
fn check(resource: Value, operations: Value, expected: Value) {
    let ops = parse(operations.clone());
    let mut patched = resource.clone();
    let changed =
        apply_user_patch(&mut patched, &ops).unwrap_or_else(|e| panic!("{operations}: {e}"));
    assert_eq!(patched, expected, "{operations}");
    assert_eq!(
        changed,
        resource != expected,
        "changed flag for {operations}"
    );
    assert_eq!(
        apply_user_patch(&mut patched, &ops),
        Ok(false),
        "re-applying {operations}"
    );
    assert_eq!(patched, expected, "re-applying {operations}");
}

/// `operations` fail with `expected` and leave `resource` untouched.
fn check_err(resource: Value, operations: Value, expected: fn(String) -> PatchError) {
    let ops = parse(operations.clone());
    let mut patched = resource.clone();
    let error = apply_user_patch(&mut patched, &ops).expect_err(&operations.to_string());
    assert_eq!(
        std::mem::discriminant(&error),
        std::mem::discriminant(&expected(String::new())),
        "{operations}: {error}"
    );
    assert_eq!(patched, resource, "{operations}");
}

/// What `parse_patch_request` says about `body`: the number of operations or the error kind.
fn check_parse(body: Value, expected: Result<usize, fn(String) -> PatchError>) {
    let got = parse_patch_request(&body, 3).map(|ops| ops.len());
    match (got, expected) {
        (Ok(n), Ok(m)) => assert_eq!(n, m, "{body}"),
        (Err(e), Err(kind)) => {
            assert_eq!(
                std::mem::discriminant(&e),
                std::mem::discriminant(&kind(String::new())),
                "{body}: {e}"
            )
        }
        (got, _) => panic!("{body}: got {got:?}"),
    }
}

/// Splits a group PATCH: the resulting group, and the member changes.
fn check_group(resource: Value, operations: Value, expected: Value, changes: Vec<MemberChange>) {
    let ops = parse(operations.clone());
    let mut patched = resource.clone();
    let got = split_group_patch(&mut patched, &ops).unwrap_or_else(|e| panic!("{operations}: {e}"));
    assert_eq!(
        (patched, got),
        (expected.clone(), (resource != expected, changes)),
        "{operations}"
    );
}

fn check_group_err(operations: Value, expected: fn(String) -> PatchError) {
    let resource = json!({"id": "g1", "displayName": "G"});
    let mut patched = resource.clone();
    let error = split_group_patch(&mut patched, &parse(operations.clone()))
        .expect_err(&operations.to_string());
    assert_eq!(
        std::mem::discriminant(&error),
        std::mem::discriminant(&expected(String::new())),
        "{operations}: {error}"
    );
    assert_eq!(patched, resource);
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn request_parsing() {
    let op = json!({"op": "Add", "path": "nickName", "value": "Babs"});
    check_parse(
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [op]}),
        Ok(1),
    );
    check_parse(json!({"Operations": [op]}), Ok(1));
    check_parse(
        json!({"schemas": PATCH_OP_SCHEMA, "Operations": [op]}),
        Ok(1),
    );
    check_parse(json!({"Operations": []}), Ok(0));
    check_parse(json!({"operations": [op, op, op]}), Ok(3));
    check_parse(json!({"Operations": [op, op, op, op]}), Err(InvalidSyntax));
    check_parse(
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [op]}),
        Err(InvalidSyntax),
    );
    check_parse(
        json!({"schemas": 7, "Operations": [op]}),
        Err(InvalidSyntax),
    );
    check_parse(json!([op]), Err(InvalidSyntax));
    check_parse(json!({"schemas": [PATCH_OP_SCHEMA]}), Err(InvalidSyntax));
    check_parse(json!({"Operations": op}), Err(InvalidSyntax));
    check_parse(json!({"Operations": ["add"]}), Err(InvalidSyntax));
    check_parse(
        json!({"Operations": [{"path": "nickName", "value": "x"}]}),
        Err(InvalidSyntax),
    );
    check_parse(
        json!({"Operations": [{"op": "copy", "path": "nickName", "value": "x"}]}),
        Err(InvalidSyntax),
    );
    check_parse(
        json!({"Operations": [{"op": 1, "path": "nickName", "value": "x"}]}),
        Err(InvalidSyntax),
    );
    check_parse(
        json!({"Operations": [{"op": "REPLACE", "path": "nickName", "value": "x"}]}),
        Ok(1),
    );
    check_parse(
        json!({"Operations": [{"Op": "remove", "Path": "nickName"}]}),
        Ok(1),
    );
    check_parse(
        json!({"Operations": [{"op": "remove", "path": "members["}]}),
        Err(InvalidPath),
    );
    check_parse(
        json!({"Operations": [{"op": "remove", "path": ".x"}]}),
        Err(InvalidPath),
    );
    check_parse(
        json!({"Operations": [{"op": "remove", "path": 5}]}),
        Err(InvalidPath),
    );
    check_parse(json!({"Operations": [{"op": "remove"}]}), Err(InvalidPath));
    check_parse(
        json!({"Operations": [{"op": "add", "path": "nickName"}]}),
        Err(InvalidSyntax),
    );
    check_parse(
        json!({"Operations": [{"op": "replace"}]}),
        Err(InvalidSyntax),
    );
    check_parse(
        json!({"Operations": [{"op": "replace", "value": null}]}),
        Ok(1),
    );
    let e = parse_patch_request(&json!({"Operations": [op, {"op": "move"}]}), 9).unwrap_err();
    assert!(e.to_string().starts_with("Operations[1]: "), "{e}");
    let ops = parse(
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
    );
    assert_eq!(ops[0].op, PatchOpKind::Replace);
    assert_eq!(
        ops[0].path.as_ref().map(ToString::to_string).as_deref(),
        Some(r#"emails[type eq "work"].value"#)
    );
    assert_eq!(ops[0].value, Some(json!("a@b.c")));
}

#[test]
fn simple_attributes_and_case() {
    check(
        json!({"userName": "bob"}),
        json!([{"op": "Replace", "path": "UserName", "value": "al"}]),
        json!({"userName": "al"}),
    );
    check(
        json!({"userName": "bob"}),
        json!([{"op": "replace", "path": "userName", "value": "bob"}]),
        json!({"userName": "bob"}),
    );
    check(
        json!({"UserName": "bob"}),
        json!([{"op": "replace", "path": "userName", "value": "al"}]),
        json!({"UserName": "al"}),
    );
    check(
        json!({}),
        json!([{"op": "Add", "path": "nickname", "value": "Babs"}]),
        json!({"nickName": "Babs"}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "DISPLAYNAME", "value": "B"}]),
        json!({"displayName": "B"}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "fooBar", "value": [1, 2]}]),
        json!({"fooBar": [1, 2]}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "favourite", "value": "tea"}]),
        json!({"favourite": "tea"}),
    );
    check(
        json!({"name": {"familyName": "Ng"}}),
        json!([{"op": "replace", "path": "name.FamilyName", "value": "Wu"}]),
        json!({"name": {"familyName": "Wu"}}),
    );
    check(
        json!({}),
        json!([{"op": "replace", "path": "NAME.GIVENNAME", "value": "Bo"}]),
        json!({"name": {"givenName": "Bo"}}),
    );
    check(json!({"a": 1}), json!([]), json!({"a": 1}));
}

#[test]
fn active_is_coerced_to_a_boolean() {
    check(
        json!({"active": true}),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
        json!({"active": false}),
    );
    check(
        json!({"active": true}),
        json!([{"op": "replace", "path": "active", "value": "false"}]),
        json!({"active": false}),
    );
    check(
        json!({"active": false}),
        json!([{"op": "replace", "path": "Active", "value": "TRUE"}]),
        json!({"active": true}),
    );
    check(
        json!({"active": true}),
        json!([{"op": "replace", "path": "active", "value": false}]),
        json!({"active": false}),
    );
    check(
        json!({"active": true}),
        json!([{"op": "replace", "value": {"active": false}}]),
        json!({"active": false}),
    );
    check(
        json!({"active": true}),
        json!([{"op": "replace", "value": {"Active": "False"}}]),
        json!({"active": false}),
    );
    check_err(
        json!({"active": true}),
        json!([{"op": "replace", "path": "active", "value": "no"}]),
        InvalidValue,
    );
    check_err(
        json!({"active": true}),
        json!([{"op": "replace", "path": "active", "value": 0}]),
        InvalidValue,
    );
}

#[test]
fn null_removes_and_types_are_checked() {
    check(
        json!({"title": "x", "a": 1}),
        json!([{"op": "replace", "path": "title", "value": null}]),
        json!({"a": 1}),
    );
    check(
        json!({"title": "x"}),
        json!([{"op": "add", "value": {"title": null}}]),
        json!({}),
    );
    check(
        json!({"name": {"givenName": "B", "familyName": "N"}}),
        json!([{"op": "replace", "path": "name.givenName", "value": null}]),
        json!({"name": {"familyName": "N"}}),
    );
    check(
        json!({"name": {"givenName": "B"}}),
        json!([{"op": "replace", "path": "name.givenName", "value": null}]),
        json!({}),
    );
    check_err(
        json!({}),
        json!([{"op": "replace", "path": "displayName", "value": 5}]),
        InvalidValue,
    );
    check_err(
        json!({}),
        json!([{"op": "replace", "path": "displayName", "value": ["x"]}]),
        InvalidValue,
    );
    check_err(
        json!({}),
        json!([{"op": "replace", "path": "name", "value": "Bob"}]),
        InvalidValue,
    );
    check_err(
        json!({}),
        json!([{"op": "replace", "path": "name.givenName", "value": {"x": 1}}]),
        InvalidValue,
    );
    check_err(
        json!({}),
        json!([{"op": "replace", "value": "x"}]),
        InvalidValue,
    );
    check_err(
        json!({"userName": "b"}),
        json!([{"op": "replace", "path": "userName.x", "value": "y"}]),
        InvalidPath,
    );
    check_err(
        json!({}),
        json!([{"op": "replace", "path": "name[type eq \"x\"].givenName", "value": "y"}]),
        InvalidPath,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "value": {"emails[": "x"}}]),
        InvalidPath,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "path": "emails", "value": [5]}]),
        InvalidValue,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": "x"}]),
        InvalidValue,
    );
}

#[test]
fn complex_attributes_merge() {
    let bob = json!({"name": {"givenName": "Bob", "familyName": "Ng"}});
    check(
        bob.clone(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Al"}}]),
        json!({"name": {"givenName": "Al", "familyName": "Ng"}}),
    );
    check(
        bob.clone(),
        json!([{"op": "add", "path": "name", "value": {"middleName": "Q"}}]),
        json!({"name": {"givenName": "Bob", "familyName": "Ng", "middleName": "Q"}}),
    );
    check(
        bob.clone(),
        json!([{"op": "replace", "value": {"name": {"GivenName": "Al"}}}]),
        json!({"name": {"givenName": "Al", "familyName": "Ng"}}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "name", "value": {"GIVENNAME": "Al"}}]),
        json!({"name": {"givenName": "Al"}}),
    );
    check(
        bob,
        json!([{"op": "replace", "path": "name", "value": {"familyName": null}}]),
        json!({"name": {"givenName": "Bob"}}),
    );
}

#[test]
fn pathless_values_with_dotted_and_urn_keys() {
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "name": {"givenName": "B", "familyName": "N"}});
    check(
        user.clone(),
        json!([{"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", format!("{ENT}:employeeNumber"): "Aklq"}}]),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT], "displayName": "Bjfe",
               "name": {"givenName": "Kkom", "familyName": "N"}, ENT: {"employeeNumber": "Aklq"}}),
    );
    check(
        json!({ENT: {"employeeNumber": "7"}}),
        json!([{"op": "add", "value": {ENT: {"department": "R&D"}}}]),
        json!({ENT: {"employeeNumber": "7", "department": "R&D"}}),
    );
    check(
        json!({ENT: {"employeeNumber": "7"}}),
        json!([{"op": "replace", "value": {ENT: {"Department": "R&D", "manager": "id2"}}}]),
        json!({ENT: {"employeeNumber": "7", "department": "R&D", "manager": {"value": "id2"}}}),
    );
    check(
        json!({ENT: {"employeeNumber": "7"}}),
        json!([{"op": "replace", "value": {ENT: null}}]),
        json!({}),
    );
    check(
        json!({}),
        json!([{"op": "replace", "path": ENT, "value": {"costCenter": "c"}}]),
        json!({ENT: {"costCenter": "c"}}),
    );
    check(
        json!({}),
        json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:userName": "u", "emails[type eq \"work\"].value": "a@b.c"}}]),
        json!({"userName": "u", "emails": [{"type": "work", "value": "a@b.c"}]}),
    );
    check(
        json!({}),
        json!([{"op": "add", "value": {"urn:acme:2.0:User": {"badge": "9"}}}]),
        json!({"urn:acme:2.0:User": {"badge": "9"}}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "urn:acme:2.0:User:badge", "value": "9"}]),
        json!({"urn:acme:2.0:User": {"badge": "9"}}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "employeeNumber", "value": "9"}]),
        json!({ENT: {"employeeNumber": "9"}}),
    );
    check(
        json!({ENT: {"employeeNumber": "7", "costCenter": "c"}}),
        json!([{"op": "remove", "path": format!("{ENT}:employeeNumber")}]),
        json!({ENT: {"costCenter": "c"}}),
    );
    check(
        json!({ENT: {"employeeNumber": "7"}}),
        json!([{"op": "remove", "path": format!("{ENT}:employeeNumber")}]),
        json!({}),
    );
    check(
        json!({ENT: {"employeeNumber": "7"}}),
        json!([{"op": "remove", "path": ENT}]),
        json!({}),
    );
    check_err(
        json!({}),
        json!([{"op": "add", "value": {ENT: {ENT: {"a": "b"}}}}]),
        InvalidPath,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "value": {ENT: "x"}}]),
        InvalidValue,
    );
}

#[test]
fn value_filter_paths() {
    let emails = json!({"emails": [{"value": "a@x.com", "type": "work"}, {"value": "b@y.com", "type": "home"}]});
    check(
        emails.clone(),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"}]),
        json!({"emails": [{"value": "new@x.com", "type": "work"}, {"value": "b@y.com", "type": "home"}]}),
    );
    check(
        emails.clone(),
        json!([{"op": "replace", "path": "emails[type eq \"WORK\"]", "value": {"display": "Work"}}]),
        json!({"emails": [{"value": "a@x.com", "type": "work", "display": "Work"}, {"value": "b@y.com", "type": "home"}]}),
    );
    check(
        json!({"emails": [{"value": "b@y.com", "type": "home"}]}),
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@x.com"}]),
        json!({"emails": [{"value": "b@y.com", "type": "home"}, {"type": "work", "value": "a@x.com"}]}),
    );
    check(
        json!({}),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@x.com"}]),
        json!({"emails": [{"type": "work", "value": "a@x.com"}]}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\" and primary eq true].value", "value": "+1"}]),
        json!({"phoneNumbers": [{"type": "mobile", "primary": true, "value": "+1"}]}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}]),
        json!({"roles": [{"primary": true, "value": "Admin"}]}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}]),
        json!({"addresses": [{"type": "work", "streetAddress": "1 Main St"}]}),
    );
    check_err(
        emails.clone(),
        json!([{"op": "replace", "path": "emails[value co \"@z.com\"].type", "value": "x"}]),
        NoTarget,
    );
    check_err(
        emails.clone(),
        json!([{"op": "replace", "path": "emails[type ne \"work\" and type ne \"home\"].value", "value": "x"}]),
        NoTarget,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "path": "emails[type eq \"work\" or type eq \"home\"].value", "value": "x"}]),
        NoTarget,
    );
    check(
        emails.clone(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        json!({"emails": [{"value": "b@y.com", "type": "home"}]}),
    );
    check(
        emails.clone(),
        json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]),
        emails.clone(),
    );
    check(
        json!({}),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        json!({}),
    );
    check(
        emails.clone(),
        json!([{"op": "remove", "path": "emails[type eq \"work\" or type eq \"home\"]"}]),
        json!({}),
    );
    check(
        emails.clone(),
        json!([{"op": "remove", "path": "emails[value sw \"B@\"].type"}]),
        json!({"emails": [{"value": "a@x.com", "type": "work"}, {"value": "b@y.com"}]}),
    );
    check(
        emails.clone(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": null}]),
        json!({"emails": [{"type": "work"}, {"value": "b@y.com", "type": "home"}]}),
    );
    check_err(
        emails,
        json!([{"op": "replace", "path": "emails[not (type pr)].value", "value": "x"}]),
        NoTarget,
    );
}

#[test]
fn multi_valued_add_appends_and_replace_replaces() {
    let one = json!({"emails": [{"value": "a@x.com", "type": "work"}]});
    check(
        one.clone(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@y.com", "type": "home"}]}]),
        json!({"emails": [{"value": "a@x.com", "type": "work"}, {"value": "b@y.com", "type": "home"}]}),
    );
    check(
        one.clone(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@x.com", "type": "work"}]}]),
        one.clone(),
    );
    check(
        one.clone(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "A@X.com", "type": "Work"}]}]),
        json!({"emails": [{"value": "A@X.com", "type": "Work"}]}),
    );
    check(
        one.clone(),
        json!([{"op": "add", "path": "emails", "value": {"Value": "a@x.com", "Type": "work", "Display": "A"}}]),
        json!({"emails": [{"value": "a@x.com", "type": "work", "display": "A"}]}),
    );
    check(
        one.clone(),
        json!([{"op": "add", "value": {"emails": [{"value": "a@x.com", "type": "home"}]}}]),
        json!({"emails": [{"value": "a@x.com", "type": "work"}, {"value": "a@x.com", "type": "home"}]}),
    );
    check(
        one.clone(),
        json!([{"op": "add", "path": "emails", "value": "c@z.com"}]),
        json!({"emails": [{"value": "a@x.com", "type": "work"}, {"value": "c@z.com"}]}),
    );
    check(
        one.clone(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "c@z.com"}]}]),
        json!({"emails": [{"value": "c@z.com"}]}),
    );
    check(
        one.clone(),
        json!([{"op": "replace", "path": "emails", "value": []}]),
        json!({}),
    );
    check(
        one.clone(),
        json!([{"op": "add", "path": "emails", "value": []}]),
        one.clone(),
    );
    check(
        one.clone(),
        json!([{"op": "remove", "path": "emails", "value": [{"value": "a@x.com", "type": "work"}]}]),
        json!({}),
    );
    check(
        one.clone(),
        json!([{"op": "remove", "path": "emails", "value": [{"value": "z@x.com"}]}]),
        one.clone(),
    );
    check(one, json!([{"op": "remove", "path": "emails"}]), json!({}));
    let addresses = json!({"addresses": [{"type": "work", "locality": "Oslo"}]});
    check(
        addresses.clone(),
        json!([{"op": "add", "path": "addresses", "value": [{"type": "work", "locality": "Oslo"}]}]),
        addresses,
    );
}

#[test]
fn at_most_one_primary() {
    let two = json!({"emails": [{"value": "a@x.com", "primary": true}, {"value": "b@x.com"}]});
    check(
        two.clone(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "c@x.com", "primary": true}]}]),
        json!({"emails": [{"value": "a@x.com", "primary": false}, {"value": "b@x.com"}, {"value": "c@x.com", "primary": true}]}),
    );
    check(
        two.clone(),
        json!([{"op": "replace", "path": "emails[value eq \"b@x.com\"].primary", "value": "True"}]),
        json!({"emails": [{"value": "a@x.com", "primary": false}, {"value": "b@x.com", "primary": true}]}),
    );
    check(
        json!({}),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "Primary": "true"}]}]),
        json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": false}]}),
    );
    check(
        two.clone(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "c@x.com", "primary": false}]}]),
        json!({"emails": [{"value": "a@x.com", "primary": true}, {"value": "b@x.com"}, {"value": "c@x.com", "primary": false}]}),
    );
    check_err(
        two,
        json!([{"op": "add", "path": "emails", "value": [{"value": "c@x.com", "primary": "yes"}]}]),
        InvalidValue,
    );
}

#[test]
fn remove() {
    check(
        json!({"title": "x", "a": 1}),
        json!([{"op": "Remove", "path": "title"}]),
        json!({"a": 1}),
    );
    check(
        json!({"title": "x"}),
        json!([{"op": "remove", "path": "TITLE"}]),
        json!({}),
    );
    check(
        json!({"a": 1}),
        json!([{"op": "remove", "path": "title"}]),
        json!({"a": 1}),
    );
    check(
        json!({"name": {"givenName": "B", "familyName": "N"}}),
        json!([{"op": "remove", "path": "name.givenName"}]),
        json!({"name": {"familyName": "N"}}),
    );
    check(
        json!({"emails": [{"value": "a", "type": "work"}]}),
        json!([{"op": "remove", "path": "emails.type"}]),
        json!({"emails": [{"value": "a"}]}),
    );
    let e = parse_patch_request(&json!({"Operations": [{"op": "remove"}]}), 1).unwrap_err();
    assert_eq!(
        e,
        InvalidPath("Operations[0]: remove requires a path".into())
    );
    let op = PatchOperation {
        op: PatchOpKind::Remove,
        path: None,
        value: None,
    };
    assert_eq!(
        apply_user_patch(&mut json!({}), &[op]),
        Err(InvalidPath("Operations[0]: remove requires a path".into()))
    );
}

#[test]
fn read_only_attributes() {
    let user = json!({"id": "u1", "userName": "bob", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "meta": {"resourceType": "User"}});
    check_err(
        user.clone(),
        json!([{"op": "remove", "path": "id"}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "replace", "path": "id", "value": "u2"}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "replace", "path": "ID", "value": "u2"}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:id", "value": "u2"}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "replace", "value": {"id": "u2", "userName": "al"}}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "remove", "path": "meta"}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "add", "path": "meta", "value": {"version": "W/1"}}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "replace", "path": "schemas", "value": []}]),
        Mutability,
    );
    check_err(
        user.clone(),
        json!([{"op": "remove", "path": "schemas"}]),
        Mutability,
    );
    check_err(
        json!({"userName": "bob"}),
        json!([{"op": "replace", "value": {"id": "u1"}}]),
        Mutability,
    );
    check(
        user.clone(),
        json!([{"op": "replace", "value": {"id": "u1", "userName": "al"}}]),
        json!({"id": "u1", "userName": "al", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "meta": {"resourceType": "User"}}),
    );
    check(
        user.clone(),
        json!([{"op": "replace", "path": "id", "value": "u1"}]),
        user.clone(),
    );
    check(
        json!({ENT: {"id": "x"}}),
        json!([{"op": "replace", "path": format!("{ENT}:id"), "value": "y"}]),
        json!({ENT: {"id": "y"}}),
    );
}

#[test]
fn enterprise_manager() {
    let managed = json!({ENT: {"manager": {"value": "id2"}}});
    let path = format!("{ENT}:manager");
    check(
        json!({}),
        json!([{"op": "Add", "path": path, "value": "id2"}]),
        managed.clone(),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": path, "value": {"value": "id2"}}]),
        managed.clone(),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": path, "value": {"Value": "id2"}}]),
        managed.clone(),
    );
    check(
        json!({}),
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": "http://x/Users/id2", "value": "id2"}]}]),
        json!({ENT: {"manager": {"$ref": "http://x/Users/id2", "value": "id2"}}}),
    );
    check(
        json!({}),
        json!([{"op": "replace", "path": format!("{path}.value"), "value": "id2"}]),
        managed.clone(),
    );
    check(
        json!({}),
        json!([{"op": "replace", "path": "manager.value", "value": "id2"}]),
        managed.clone(),
    );
    check(
        json!({ENT: {"manager": {"value": "id1", "displayName": "Old"}}}),
        json!([{"op": "replace", "path": path, "value": "id2"}]),
        managed.clone(),
    );
    check(
        json!({ENT: {"manager": {"value": "id1", "displayName": "Old"}}}),
        json!([{"op": "replace", "path": format!("{path}.value"), "value": "id2"}]),
        json!({ENT: {"manager": {"value": "id2", "displayName": "Old"}}}),
    );
    check(
        managed.clone(),
        json!([{"op": "remove", "path": path}]),
        json!({}),
    );
    check(
        managed.clone(),
        json!([{"op": "remove", "path": format!("{path}.value")}]),
        json!({}),
    );
    check(
        managed.clone(),
        json!([{"op": "replace", "path": path, "value": ""}]),
        json!({}),
    );
    check(
        managed.clone(),
        json!([{"op": "replace", "path": path, "value": []}]),
        json!({}),
    );
    check(
        managed,
        json!([{"op": "replace", "path": path, "value": null}]),
        json!({}),
    );
    check_err(
        json!({}),
        json!([{"op": "add", "path": path, "value": [{"value": "a"}, {"value": "b"}]}]),
        InvalidValue,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "path": path, "value": 7}]),
        InvalidValue,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "path": path, "value": {"value": 7}}]),
        InvalidValue,
    );
}

#[test]
fn entra_roles_keep_stringified_json() {
    let role =
        r#"{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}"#;
    check(
        json!({}),
        json!([{"op": "Add", "path": "roles", "value": [{"value": role}]}]),
        json!({"roles": [{"value": role}]}),
    );
    check(
        json!({"roles": [{"value": role}]}),
        json!([{"op": "replace", "path": "roles", "value": [{"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"}]}]),
        json!({"roles": [{"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"}]}),
    );
}

#[test]
fn operations_apply_in_order_all_or_nothing() {
    check(
        json!({"userName": "bob", "name": {"givenName": "B"}}),
        json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "T@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": format!("{ENT}:employeeNumber"), "value": "Eqpj"},
        ]),
        json!({"userName": "bob", "displayName": "Pvlo", "emails": [{"type": "work", "value": "T@test.microsoft.com"}],
               "name": {"givenName": "Gtfd", "familyName": "Pkqf"}, "externalId": "Eqpj", ENT: {"employeeNumber": "Eqpj"}}),
    );
    check(
        json!({}),
        json!([{"op": "add", "path": "title", "value": "a"}, {"op": "remove", "path": "title"}]),
        json!({}),
    );
    check_err(
        json!({"title": "t"}),
        json!([{"op": "replace", "path": "title", "value": "new"}, {"op": "replace", "path": "id", "value": "x"}]),
        Mutability,
    );
    let mut not_object = json!([1]);
    assert!(matches!(
        apply_user_patch(
            &mut not_object,
            &parse(json!([{"op": "add", "path": "a", "value": 1}]))
        ),
        Err(InvalidValue(_))
    ));
}

#[test]
fn group_members() {
    let g = json!({"id": "g1", "displayName": "G"});
    let add = |v: Value| json!([{"op": "add", "path": "members", "value": v}]);
    check_group(
        g.clone(),
        add(json!([{"value": "a"}, {"value": "b"}])),
        g.clone(),
        vec![MemberChange::Add(ids(&["a", "b"]))],
    );
    check_group(
        g.clone(),
        add(json!([{"value": "a", "$ref": null, "display": "A"}, {"value": "a"}])),
        g.clone(),
        vec![MemberChange::Add(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        add(json!({"value": "a"})),
        g.clone(),
        vec![MemberChange::Add(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        add(json!("a")),
        g.clone(),
        vec![MemberChange::Add(ids(&["a"]))],
    );
    check_group(g.clone(), add(json!([])), g.clone(), vec![]);
    check_group(
        g.clone(),
        json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}]}]),
        g.clone(),
        vec![MemberChange::Remove(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "remove", "path": "members", "value": []}]),
        g.clone(),
        vec![],
    );
    check_group(
        g.clone(),
        json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
        g.clone(),
        vec![MemberChange::Remove(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]),
        g.clone(),
        vec![MemberChange::Remove(ids(&["a", "b"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "remove", "path": "members"}]),
        g.clone(),
        vec![MemberChange::RemoveAll],
    );
    check_group(
        g.clone(),
        json!([{"op": "remove", "path": "members", "value": null}]),
        g.clone(),
        vec![MemberChange::RemoveAll],
    );
    check_group(
        g.clone(),
        json!([{"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
        g.clone(),
        vec![MemberChange::Replace(ids(&["a", "b"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "replace", "path": "members", "value": []}]),
        g.clone(),
        vec![MemberChange::Replace(vec![])],
    );
    check_group(
        g.clone(),
        json!([{"op": "replace", "value": {"members": [{"value": "a"}]}}]),
        g.clone(),
        vec![MemberChange::Replace(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "add", "value": {"members": [{"value": "a"}]}}]),
        g.clone(),
        vec![MemberChange::Add(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": ["a"]}]),
        g.clone(),
        vec![MemberChange::Add(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "remove", "path": "members[value eq \"x\"]"}, {"op": "add", "path": "members", "value": [{"value": "y"}]}]),
        g.clone(),
        vec![
            MemberChange::Remove(ids(&["x"])),
            MemberChange::Add(ids(&["y"])),
        ],
    );
    check_group_err(add(json!([{"value": ""}])), InvalidValue);
    check_group_err(add(json!([{"value": 5}])), InvalidValue);
    check_group_err(add(json!([5])), InvalidValue);
    check_group_err(add(json!([{"display": "A"}])), InvalidValue);
    check_group_err(
        json!([{"op": "remove", "path": "members[display eq \"A\"]"}]),
        InvalidPath,
    );
    check_group_err(
        json!([{"op": "remove", "path": "members[value eq 5]"}]),
        InvalidValue,
    );
    check_group_err(
        json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "b"}}]),
        InvalidPath,
    );
    check_group_err(
        json!([{"op": "replace", "path": "members.value", "value": "b"}]),
        InvalidPath,
    );
}

#[test]
fn group_attributes() {
    let g = json!({"id": "g1", "displayName": "G", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]});
    let renamed = json!({"id": "g1", "displayName": "X", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]});
    check_group(
        g.clone(),
        json!([{"op": "replace", "value": {"id": "g1", "displayName": "X"}}]),
        renamed.clone(),
        vec![],
    );
    check_group(
        g.clone(),
        json!([{"op": "Replace", "path": "displayName", "value": "X"}]),
        renamed.clone(),
        vec![],
    );
    check_group(
        g.clone(),
        json!([{"op": "Replace", "path": "displayName", "value": "G"}]),
        g.clone(),
        vec![],
    );
    check_group(
        g.clone(),
        json!([{"op": "replace", "value": {"displayName": "X", "members": [{"value": "a"}]}}]),
        renamed,
        vec![MemberChange::Replace(ids(&["a"]))],
    );
    check_group(
        g.clone(),
        json!([{"op": "add", "path": "externalId", "value": "e1"}]),
        json!({"id": "g1", "displayName": "G", "externalId": "e1", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}),
        vec![],
    );
    check_group(
        g.clone(),
        json!([{"op": "add", "path": "department", "value": "d"}]),
        json!({"id": "g1", "displayName": "G", "department": "d", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}),
        vec![],
    );
    check_group_err(
        json!([{"op": "replace", "value": {"id": "g2", "displayName": "X"}}]),
        Mutability,
    );
    check_group_err(
        json!([{"op": "add", "path": "members", "value": ["a"]}, {"op": "replace", "path": "displayName", "value": 1}]),
        InvalidValue,
    );
    check_group_err(json!([{"op": "replace", "value": 1}]), InvalidValue);
}

/// Every single operation drawn from a table of awkward paths and values either fails and
/// leaves the resource alone, or succeeds and is idempotent; nothing panics.
#[test]
fn random_single_operations_are_idempotent() {
    let paths = [
        json!(null),
        json!("emails"),
        json!("emails[type eq \"work\"].value"),
        json!("emails[type eq \"work\"]"),
        json!("emails[value co \"x\"].primary"),
        json!("emails.value"),
        json!("name"),
        json!("name.givenName"),
        json!("active"),
        json!("id"),
        json!("meta.created"),
        json!("manager"),
        json!(format!("{ENT}:manager.value")),
        json!(ENT),
        json!("roles[primary eq \"True\"].value"),
        json!("urn:acme:2.0:User:x"),
        json!("members"),
        json!("userName"),
        json!("addresses[type eq \"work\" and primary eq true].locality"),
        json!("x509Certificates"),
    ];
    let values = [
        json!(null),
        json!("x"),
        json!("False"),
        json!(true),
        json!(7),
        json!([]),
        json!({}),
        json!([{"value": "a@x.com", "type": "work", "primary": true}, {"value": "b", "primary": "TRUE"}]),
        json!({"value": "id9", "givenName": "G", "type": "work"}),
        json!([{"value": "m"}]),
        json!({"name.givenName": "N", "emails[type eq \"home\"].value": "h", ENT: {"manager": "m2"}, "id": "u1"}),
        json!([[1]]),
        json!({"Primary": "yes"}),
    ];
    let base = json!({"id": "u1", "userName": "bob", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "name": {"givenName": "B"}, "emails": [{"value": "a@x.com", "type": "work", "primary": true}, {"value": "x@y", "type": "home"}],
        ENT: {"manager": {"value": "id2"}}, "meta": {"created": "2020"}});
    for op in ["add", "replace", "remove"] {
        for path in &paths {
            for value in &values {
                let entry = json!({"op": op, "path": path, "value": value});
                let Ok(ops) = parse_patch_request(&json!({"Operations": [entry]}), 1) else {
                    continue;
                };
                let mut once = base.clone();
                match apply_user_patch(&mut once, &ops) {
                    Err(_) => assert_eq!(once, base, "{entry}"),
                    Ok(_) => {
                        let mut twice = once.clone();
                        assert_eq!(apply_user_patch(&mut twice, &ops), Ok(false), "{entry}");
                        assert_eq!(twice, once, "{entry}");
                    }
                }
                let mut group = base.clone();
                if split_group_patch(&mut group, &ops).is_err() {
                    assert_eq!(group, base, "{entry}");
                }
            }
        }
    }
}

#[test]
fn the_user_core_schema_urn_holds_the_users_own_attributes() {
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    check(
        json!({"userName": "bob"}),
        json!([{"op": "replace", "value": {core: {"nickName": "Bo", "name.givenName": "B"}}}]),
        json!({"userName": "bob", "nickName": "Bo", "name": {"givenName": "B"}}),
    );
    check(
        json!({"userName": "bob"}),
        json!([{"op": "add", "path": core.to_uppercase(), "value": {"Title": "CTO", "manager": "m1"}}]),
        json!({"userName": "bob", "title": "CTO", ENT: {"manager": {"value": "m1"}}}),
    );
    // The password is set like any attribute here; `crate::user_resource` drops it before storage.
    check(
        json!({"userName": "bob"}),
        json!([{"op": "replace", "value": {core: {"PassWord": "s"}}}]),
        json!({"userName": "bob", "password": "s"}),
    );
    check(
        json!({"userName": "bob"}),
        json!([{"op": "replace", "value": {core.to_lowercase(): {"password": "s"}}}]),
        json!({"userName": "bob", "password": "s"}),
    );
    check_err(
        json!({"id": "u1"}),
        json!([{"op": "replace", "value": {core: {"id": "u2"}}}]),
        Mutability,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "value": {core: {core: {"nickName": "x"}}}}]),
        InvalidPath,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "value": {core: {ENT: {"department": "x"}}}}]),
        InvalidPath,
    );
    check_err(
        json!({}),
        json!([{"op": "add", "value": {core: "x"}}]),
        InvalidValue,
    );
    check_err(
        json!({"userName": "bob"}),
        json!([{"op": "remove", "path": core}]),
        InvalidPath,
    );
    // Groups keep naming their attributes without their schema.
    check_group_err(
        json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:Group": {"displayName": "X"}}}]),
        InvalidPath,
    );
}
