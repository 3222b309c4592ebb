//! The `attributes` / `excludedAttributes` query parameters (RFC 7644 §3.4.2.5, §3.9): which
//! attributes of a resource the client wants returned.
//!
//! IdPs use them to keep responses small. Entra sends `excludedAttributes=members` on group
//! queries, and loading every member of a large group is the most common SCIM performance
//! problem. So a [`Projection`] does two jobs: [`Projection::wants`] tells a handler whether to
//! load an attribute at all, and [`Projection::apply`] trims the rendered JSON. Matching is
//! case-insensitive and accepts URN-qualified names (`urn:…:User:userName`, an enterprise
//! extension attribute, or the whole extension URN) and dotted sub-attributes (`name.givenName`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::discovery::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// Attributes with `returned: "always"` that every resource keeps, whatever the projection says.
const ALWAYS_RETURNED: [&str; 3] = ["id", "schemas", "meta"];
/// Core schemas: a name qualified with one of these is a core attribute.
const CORE_SCHEMAS: [&str; 2] = [USER_SCHEMA, GROUP_SCHEMA];
/// Extension schemas: their attributes sit in an object under the URN key.
const EXTENSION_SCHEMAS: [&str; 1] = [ENTERPRISE_USER_SCHEMA];

/// A parsed `attributes` or `excludedAttributes` parameter. The default returns everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    mode: Mode,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    All,
    Include(Node),
    Exclude(Node),
}

/// A tree of lower-cased attribute paths. `whole` means that the attribute at this node is named
/// whole (so nothing below it needs to be looked at).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Node {
    whole: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &[String]) {
        if self.whole {
            return;
        }
        match path.split_first() {
            None => {
                self.whole = true;
                self.children.clear();
            }
            Some((head, rest)) => self.children.entry(head.clone()).or_default().insert(rest),
        }
    }

    fn child(&self, key: &str) -> Option<&Node> {
        self.children.get(&key.to_ascii_lowercase())
    }
}

impl Projection {
    /// Parses the comma-separated query parameters. Either may be absent. Both present is an
    /// error: send it back as a 400. A parameter that holds no name (`attributes=` or
    /// `attributes=,`) counts as absent. Entries may be URN-qualified
    /// (`urn:ietf:params:scim:schemas:core:2.0:User:userName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`, or the whole
    /// extension URN) or dotted (`name.givenName`, `emails.value`). Matching ignores letter case,
    /// surrounding spaces and empty entries.
    pub fn parse(
        attributes: Option<&str>,
        excluded_attributes: Option<&str>,
    ) -> Result<Projection, String> {
        let mode = match (parse_list(attributes), parse_list(excluded_attributes)) {
            (Some(_), Some(_)) => {
                return Err(
                    "attributes and excludedAttributes cannot be used together; send only one"
                        .to_string(),
                )
            }
            (Some(include), None) => Mode::Include(include),
            (None, Some(exclude)) => Mode::Exclude(exclude),
            (None, None) => Mode::All,
        };
        Ok(Projection { mode })
    }

    /// Whether the top-level attribute would be returned at all, so that callers can skip
    /// loading it (`excludedAttributes=members` means never load group members). `attr` is a
    /// name such as `"members"` or `"groups"`, or an extension URN. It may be URN-qualified. It
    /// is true when only some sub-attributes are asked for or excluded.
    pub fn wants(&self, attr: &str) -> bool {
        let path = parse_entry(attr);
        let Some(top) = path.first() else {
            return true;
        };
        if is_always_returned(top) {
            return true;
        }
        match &self.mode {
            Mode::All => true,
            Mode::Include(include) => include.children.contains_key(top),
            Mode::Exclude(exclude) => !exclude.children.get(top).is_some_and(|n| n.whole),
        }
    }

    /// Applies the projection to a rendered resource in place. `id`, `schemas` and `meta`
    /// (returned "always") always stay. With `attributes`, only the listed attributes stay. A
    /// sub-attribute keeps its parent with only that sub-attribute (in every element of a
    /// multi-valued one), and an extension attribute keeps the extension object with only that
    /// key. With `excludedAttributes`, the listed attributes or sub-attributes are removed. An
    /// object or array that the projection empties is removed, and so is an empty extension
    /// object.
    pub fn apply(&self, resource: &mut Value) {
        let Some(obj) = resource.as_object_mut() else {
            return;
        };
        match &self.mode {
            Mode::All => {}
            Mode::Include(include) => keep_only(obj, include, true),
            Mode::Exclude(exclude) => remove(obj, exclude, true),
        }
        obj.retain(|key, value| !(is_urn(key) && value.as_object().is_some_and(Map::is_empty)));
    }
}

/// Parses one parameter. `None` if it is absent or names nothing.
fn parse_list(param: Option<&str>) -> Option<Node> {
    let mut root = Node::default();
    let mut any = false;
    for entry in param?.split(',') {
        let path = parse_entry(entry);
        if !path.is_empty() {
            root.insert(&path);
            any = true;
        }
    }
    any.then_some(root)
}

/// One attribute name to its lower-cased path from the resource root. A core URN qualifier is
/// dropped. An extension attribute starts with the extension URN (which holds dots itself, so
/// the URN is split off before the dots). An unknown URN is kept whole, as a possible extension
/// key.
fn parse_entry(entry: &str) -> Vec<String> {
    let entry = entry.trim().to_ascii_lowercase();
    for urn in CORE_SCHEMAS {
        if let Some(rest) = strip_urn(&entry, urn) {
            return dotted(rest);
        }
    }
    for urn in EXTENSION_SCHEMAS {
        let urn = urn.to_ascii_lowercase();
        if entry == urn {
            return vec![urn];
        }
        if let Some(rest) = strip_urn(&entry, &urn) {
            let mut path = vec![urn];
            path.extend(dotted(rest));
            return path;
        }
    }
    if is_urn(&entry) {
        return vec![entry];
    }
    dotted(&entry)
}

/// `entry` without the `urn:` qualifier and the colon after it, if it is qualified by `urn`.
fn strip_urn<'a>(entry: &'a str, urn: &str) -> Option<&'a str> {
    let head = entry.get(..urn.len())?;
    if !head.eq_ignore_ascii_case(urn) {
        return None;
    }
    entry.get(urn.len()..)?.strip_prefix(':')
}

fn dotted(name: &str) -> Vec<String> {
    name.split('.')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

fn is_always_returned(key: &str) -> bool {
    ALWAYS_RETURNED.iter().any(|a| a.eq_ignore_ascii_case(key))
}

type Pruner = fn(&mut Map<String, Value>, &Node, bool);

/// `attributes`: keep only the keys in `include` (plus the always-returned ones at the top).
fn keep_only(obj: &mut Map<String, Value>, include: &Node, top: bool) {
    obj.retain(|key, value| {
        if top && is_always_returned(key) {
            return true;
        }
        match include.child(key) {
            None => false,
            Some(node) if node.whole => true,
            Some(node) => prune(value, node, keep_only),
        }
    });
}

/// `excludedAttributes`: remove the keys named whole in `exclude`, and prune the partial ones.
fn remove(obj: &mut Map<String, Value>, exclude: &Node, top: bool) {
    obj.retain(|key, value| {
        if top && is_always_returned(key) {
            return true;
        }
        match exclude.child(key) {
            None => true,
            Some(node) if node.whole => false,
            Some(node) => prune(value, node, remove),
        }
    });
}

/// Applies `pruner` below a complex (object) or multi-valued (array of objects) attribute, and
/// tells whether the attribute should stay: not when the pruning emptied it. A simple value
/// has no sub-attributes to select, so it stays as it is.
fn prune(value: &mut Value, node: &Node, pruner: Pruner) -> bool {
    match value {
        Value::Object(obj) => prune_object(obj, node, pruner),
        Value::Array(items) => {
            let was_empty = items.is_empty();
            items.retain_mut(|item| match item {
                Value::Object(obj) => prune_object(obj, node, pruner),
                _ => true,
            });
            was_empty || !items.is_empty()
        }
        _ => true,
    }
}

fn prune_object(obj: &mut Map<String, Value>, node: &Node, pruner: Pruner) -> bool {
    let was_empty = obj.is_empty();
    pruner(obj, node, false);
    was_empty || !obj.is_empty()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ENT: &str = ENTERPRISE_USER_SCHEMA;
    const CORE_GROUPS: &str = "urn:ietf:params:scim:schemas:core:2.0:User:groups";
    const ENT_MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENT],
            "id": "u1",
            "externalId": "ext-1",
            "userName": "ada@example.com",
            "name": { "givenName": "Ada", "familyName": "Lovelace" },
            "emails": [
                { "value": "ada@example.com", "type": "work", "primary": true },
                { "value": "ada@home.example", "type": "home" },
            ],
            "active": true,
            "groups": [{ "value": "g1", "display": "Eng" }],
            ENT: { "department": "R&D", "costCenter": "42" },
            "meta": { "resourceType": "User", "location": "https://x/Users/u1" },
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [GROUP_SCHEMA],
            "id": "g1",
            "displayName": "Eng",
            "members": [{ "value": "u1", "display": "ada" }, { "value": "u2" }],
            "meta": { "resourceType": "Group" },
        })
    }

    /// The resource with only the always-returned attributes plus `extra`.
    fn base_plus(resource: Value, extra: Value) -> Value {
        let mut out = Map::new();
        for key in ALWAYS_RETURNED {
            if let Some(v) = resource.get(key) {
                out.insert(key.to_string(), v.clone());
            }
        }
        if let Value::Object(extra) = extra {
            out.extend(extra);
        }
        Value::Object(out)
    }

    /// The resource without `keys`, and with `changes` merged in at the top level.
    fn without(resource: Value, keys: &[&str], changes: Value) -> Value {
        let mut out = resource.as_object().cloned().unwrap_or_default();
        for key in keys {
            out.remove(*key);
        }
        if let Value::Object(changes) = changes {
            out.extend(changes);
        }
        Value::Object(out)
    }

    /// (name, attributes, excludedAttributes, resource, expected result)
    type ApplyCase = (&'static str, Option<String>, Option<String>, Value, Value);

    fn ent(attr: &str) -> String {
        format!("{ENT}:{attr}")
    }

    fn core(attr: &str) -> String {
        format!("{USER_SCHEMA}:{attr}")
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn apply_projects_resources() {
        let ada = "ada@example.com";
        let cases: Vec<ApplyCase> = vec![
            ("no parameters", None, None, user(), user()),
            (
                "userName",
                some("userName"),
                None,
                user(),
                base_plus(user(), json!({ "userName": ada })),
            ),
            (
                "case-insensitive",
                some("USERNAME"),
                None,
                user(),
                base_plus(user(), json!({ "userName": ada })),
            ),
            (
                "spaces and empty entries",
                some(" userName , ,active "),
                None,
                user(),
                base_plus(user(), json!({ "userName": ada, "active": true })),
            ),
            (
                "name.givenName",
                some("name.givenName"),
                None,
                user(),
                base_plus(user(), json!({ "name": { "givenName": "Ada" } })),
            ),
            (
                "emails.value",
                some("emails.value"),
                None,
                user(),
                base_plus(
                    user(),
                    json!({ "emails": [{ "value": ada }, { "value": "ada@home.example" }] }),
                ),
            ),
            (
                "elements left empty are dropped",
                some("emails.primary"),
                None,
                user(),
                base_plus(user(), json!({ "emails": [{ "primary": true }] })),
            ),
            (
                "a multi-valued attribute left empty is dropped",
                some("emails.display,groups.display"),
                None,
                user(),
                base_plus(user(), json!({ "groups": [{ "display": "Eng" }] })),
            ),
            (
                "whole attribute beats its sub-attribute",
                some("name.givenName,name"),
                None,
                user(),
                base_plus(user(), json!({ "name": user()["name"] })),
            ),
            (
                "extension attribute",
                Some(ent("department")),
                None,
                user(),
                base_plus(user(), json!({ ENT: { "department": "R&D" } })),
            ),
            (
                "extension attribute, upper case",
                Some(ent("department").to_uppercase()),
                None,
                user(),
                base_plus(user(), json!({ ENT: { "department": "R&D" } })),
            ),
            (
                "whole extension",
                some(ENT),
                None,
                user(),
                base_plus(user(), json!({ ENT: user()[ENT] })),
            ),
            (
                "absent extension attribute leaves no empty extension",
                Some(ent("manager.value")),
                None,
                user(),
                base_plus(user(), json!({})),
            ),
            (
                "URN-qualified core attributes",
                Some(format!("{},{}", core("userName"), core("name.familyName"))),
                None,
                user(),
                base_plus(
                    user(),
                    json!({ "userName": ada, "name": { "familyName": "Lovelace" } }),
                ),
            ),
            (
                "always-returned attributes stay",
                some("displayName"),
                None,
                group(),
                base_plus(group(), json!({ "displayName": "Eng" })),
            ),
            (
                "unknown attributes select nothing",
                some("nope,urn:example:ext:1.0:x"),
                None,
                user(),
                base_plus(user(), json!({})),
            ),
            (
                "exclude members",
                None,
                some("members"),
                group(),
                without(group(), &["members"], json!({})),
            ),
            (
                "exclude members.display",
                None,
                some("members.display"),
                group(),
                without(
                    group(),
                    &[],
                    json!({ "members": [{ "value": "u1" }, { "value": "u2" }] }),
                ),
            ),
            (
                "exclude name.familyName",
                None,
                some("name.familyName"),
                user(),
                without(user(), &[], json!({ "name": { "givenName": "Ada" } })),
            ),
            (
                "exclude every sub-attribute of name",
                None,
                some("name.familyName,name.givenName"),
                user(),
                without(user(), &["name"], json!({})),
            ),
            (
                "exclude URN-qualified core attribute, any case",
                None,
                Some(core("Groups").to_uppercase()),
                user(),
                without(user(), &["groups"], json!({})),
            ),
            (
                "exclude extension attribute",
                None,
                Some(ent("costCenter")),
                user(),
                without(user(), &[], json!({ ENT: { "department": "R&D" } })),
            ),
            (
                "exclude leaves no empty extension",
                None,
                Some(format!("{},{}", ent("costCenter"), ent("department"))),
                user(),
                without(user(), &[ENT], json!({})),
            ),
            (
                "exclude whole extension",
                None,
                some(ENT),
                user(),
                without(user(), &[ENT], json!({})),
            ),
            (
                "always-returned attributes cannot be excluded",
                None,
                some("id,schemas,meta,meta.location"),
                user(),
                user(),
            ),
        ];
        for (name, attributes, excluded, mut resource, want) in cases {
            let projection = Projection::parse(attributes.as_deref(), excluded.as_deref())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            projection.apply(&mut resource);
            assert_eq!(resource, want, "{name}");
        }
    }

    #[test]
    fn empty_extension_object_is_dropped_even_without_projection() {
        let mut resource = json!({ "id": "u1", ENT: {}, "name": {} });
        Projection::default().apply(&mut resource);
        assert_eq!(resource, json!({ "id": "u1", "name": {} }));
    }

    #[test]
    fn parse_rejects_both_parameters() {
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, None, true),
            (Some("userName"), None, true),
            (None, Some("members"), true),
            (Some("userName"), Some("members"), false),
            (Some(" , "), Some("members"), true),
            (Some(""), None, true),
        ];
        for (attributes, excluded, ok) in cases {
            let got = Projection::parse(*attributes, *excluded);
            assert_eq!(got.is_ok(), *ok, "{attributes:?} / {excluded:?}");
        }
        assert_eq!(Projection::parse(Some(""), None), Ok(Projection::default()));
        assert_eq!(
            Projection::parse(None, Some(" ,")),
            Ok(Projection::default())
        );
    }

    #[test]
    fn wants_tells_what_to_load() {
        let cases: &[(Option<&str>, Option<&str>, &str, bool)] = &[
            (None, None, "members", true),
            (None, Some("members"), "members", false),
            (None, Some("MEMBERS"), "members", false),
            (None, Some("members"), "Members", false),
            (None, Some("members.display"), "members", true),
            (None, Some("members"), "displayName", true),
            (None, Some("id"), "id", true),
            (Some("displayName"), None, "members", false),
            (Some("displayName"), None, "id", true),
            (Some("displayName"), None, "meta", true),
            (Some("members.value"), None, "members", true),
            (Some(CORE_GROUPS), None, "groups", true),
            (None, Some("groups"), CORE_GROUPS, false),
            (Some("userName"), None, ENT, false),
            (Some(ENT_MANAGER), None, ENT, true),
            (None, Some(ENT), ENT, false),
        ];
        for (attributes, excluded, attr, want) in cases {
            let projection = Projection::parse(*attributes, *excluded).unwrap_or_default();
            assert_eq!(
                projection.wants(attr),
                *want,
                "{attributes:?} / {excluded:?}: {attr}"
            );
        }
    }
}
