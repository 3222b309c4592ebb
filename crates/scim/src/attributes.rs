//! Custom attributes over SCIM (issue #28): the values a User resource carries for the
//! workspace's declared attributes, read at the SCIM sources of the token's connection, and the
//! declared extension schemas written back when a user is rendered.
//!
//! Two strictness levels, because they fail differently for an IdP:
//! - an attribute of a **declared extension** (`urn:acme:hr:badge`) is the workspace's own
//!   contract with the IdP: a value that does not fit its type is a `400 invalidValue` naming it,
//!   and nothing of the request is applied;
//! - an attribute read through a **mapping** of a core or enterprise path (Entra's
//!   `department`, `addresses[type eq "work"].locality`) is a reinterpretation of data the IdP
//!   sends for its own reasons: a misfit is a provisioning-log warning and the stored value is
//!   kept, so Entra never quarantines a job over a cost centre that is not a number.
//!
//! SCIM owns the attributes its connection sources: a resource without a value clears it (PUT
//! replaces; PATCH works on the whole rendered resource, so untouched values stay).

use roster_domain::attributes::{coerce, MappingOrigin, RawScalar};
use roster_store::{AttributeEdit, AttributeMapping};
use serde_json::{json, Map, Value};

use crate::error::ScimError;
use crate::filter::{parse_path, AttrPath};

/// What a resource says about the sourced attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExtractedAttributes {
    pub edits: Vec<AttributeEdit>,
    /// Mapped values that did not fit (kept as stored), for the provisioning log.
    pub warnings: Vec<String>,
}

/// Reads the values of every sourced attribute from a (key-normalised) User resource.
pub fn extract(
    resource: &Map<String, Value>,
    mappings: &[AttributeMapping],
) -> Result<ExtractedAttributes, ScimError> {
    let mut extracted = ExtractedAttributes::default();
    for mapping in mappings {
        if mapping.sources.is_empty() {
            continue;
        }
        let raw = mapping
            .sources
            .iter()
            .map(|source| values_at(resource, source))
            .find(|values| !values.is_empty())
            .unwrap_or_default();
        match coerce(mapping.definition.kind, &raw) {
            Ok(value) => extracted.edits.push(AttributeEdit {
                definition: mapping.definition.clone(),
                value,
            }),
            Err(err) if mapping.origin == MappingOrigin::Extension => {
                return Err(ScimError::invalid_value(format!(
                    "{} {err}",
                    mapping.sources.first().map_or("", String::as_str)
                )));
            }
            Err(err) => extracted.warnings.push(format!(
                "kept attribute {}: the value at {} {err}",
                mapping.definition.name,
                mapping.sources.join(" / ")
            )),
        }
    }
    Ok(extracted)
}

/// The scalars a SCIM path names in a resource: `title`, `urn:…:enterprise:2.0:User:department`,
/// `addresses[type eq "work"].locality`, `manager.value`. A complex value counts by its `value`;
/// an unparsable source names nothing.
pub fn values_at(resource: &Map<String, Value>, source: &str) -> Vec<RawScalar> {
    let Ok(path) = parse_path(source) else {
        return Vec::new();
    };
    let container = match &path.schema {
        Some(urn) => match field(resource, urn) {
            Some(Value::Object(object)) => object,
            _ => return Vec::new(),
        },
        None => resource,
    };
    let Some(found) = field(container, &path.attr) else {
        return Vec::new();
    };
    let mut scalars = Vec::new();
    for element in selected(found, &path) {
        let value = match &path.sub_attr {
            Some(sub) => element.as_object().and_then(|object| field(object, sub)),
            None => Some(element),
        };
        if let Some(value) = value {
            push_scalars(value, &mut scalars);
        }
    }
    scalars
}

/// The elements a value filter selects (all of a multi-valued attribute without one; the value
/// itself for a single-valued one).
fn selected<'a>(found: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    match (found, &path.value_filter) {
        (Value::Array(items), Some(filter)) => {
            items.iter().filter(|item| filter.matches(item)).collect()
        }
        (Value::Array(items), None) => items.iter().collect(),
        (_, Some(_)) => Vec::new(),
        (single, None) => vec![single],
    }
}

fn push_scalars(value: &Value, scalars: &mut Vec<RawScalar>) {
    match value {
        Value::String(text) => scalars.push(RawScalar::Text(text.clone())),
        Value::Number(number) => {
            if let Some(number) = number.as_f64() {
                scalars.push(RawScalar::Number(number));
            }
        }
        Value::Bool(value) => scalars.push(RawScalar::Bool(*value)),
        Value::Array(items) => {
            for item in items {
                if !item.is_array() {
                    push_scalars(item, scalars);
                }
            }
        }
        Value::Object(object) => {
            if let Some(inner @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) =
                field(object, "value")
            {
                push_scalars(inner, scalars);
            }
        }
        Value::Null => {}
    }
}

/// A member of an object by name, ignoring case (SCIM names are case-insensitive).
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// The declared extension schemas among `mappings` (their URNs, once each, in declaration order).
pub fn declared_extensions(mappings: &[AttributeMapping]) -> Vec<&str> {
    let mut urns: Vec<&str> = Vec::new();
    for mapping in mappings {
        if let Some(urn) = mapping.definition.scim_schema.as_deref() {
            if !urns.iter().any(|known| known.eq_ignore_ascii_case(urn)) {
                urns.push(urn);
            }
        }
    }
    urns
}

/// Removes the declared attributes from their extension objects in `extras` (the typed value in
/// `users.attributes` is the one kept), dropping an object left empty.
pub fn strip_declared(extras: &mut Map<String, Value>, mappings: &[AttributeMapping]) {
    for urn in declared_extensions(mappings) {
        let Some(key) = extras
            .keys()
            .find(|key| key.eq_ignore_ascii_case(urn))
            .cloned()
        else {
            continue;
        };
        if let Some(Value::Object(object)) = extras.get_mut(&key) {
            object.retain(|name, _| {
                !mappings.iter().any(|mapping| {
                    mapping
                        .definition
                        .scim_schema
                        .as_deref()
                        .is_some_and(|schema| schema.eq_ignore_ascii_case(urn))
                        && mapping.definition.name.as_str().eq_ignore_ascii_case(name)
                })
            });
            if object.is_empty() {
                extras.remove(&key);
            }
        }
    }
}

/// Writes the values of declared extension attributes into `resource` (under their URN) from
/// the user's stored values, and returns the URNs that now hold something (for `schemas`).
pub fn render_declared(
    resource: &mut Map<String, Value>,
    stored: &Map<String, Value>,
    mappings: &[AttributeMapping],
) -> Vec<String> {
    let mut present = Vec::new();
    for urn in declared_extensions(mappings) {
        let mut object = match resource.remove(urn) {
            Some(Value::Object(object)) => object,
            _ => Map::new(),
        };
        for mapping in mappings {
            let in_this = mapping
                .definition
                .scim_schema
                .as_deref()
                .is_some_and(|schema| schema.eq_ignore_ascii_case(urn));
            if !in_this {
                continue;
            }
            if let Some(value) = stored.get(mapping.definition.name.as_str()) {
                let value = match mapping.definition.kind {
                    roster_domain::attributes::AttributeKind::UserRef => json!({ "value": value }),
                    _ => value.clone(),
                };
                object.insert(mapping.definition.name.to_string(), value);
            }
        }
        if !object.is_empty() {
            resource.insert(urn.to_owned(), Value::Object(object));
            present.push(urn.to_owned());
        }
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use roster_domain::attributes::{AttrValue, AttributeKind};

    fn mapping(
        name: &str,
        kind: AttributeKind,
        sources: &[&str],
        origin: MappingOrigin,
    ) -> AttributeMapping {
        roster_store::testing::attribute_mapping(name, kind, sources, origin)
    }

    fn entra_user() -> Map<String, Value> {
        let Value::Object(resource) = json!({
            "userName": "ada@example.com",
            "title": "Engineer",
            "addresses": [
                {"type": "home", "locality": "Paris"},
                {"type": "work", "locality": "London", "primary": true}
            ],
            "phoneNumbers": [{"type": "work", "value": "+44 20"}],
            "roles": [{"primary": "True", "value": "Admin"}, {"value": "Reader"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "Department": "Sales",
                "employeeNumber": "1042",
                "manager": {"value": "u-7"}
            },
            "urn:acme:hr": {"costCenterCode": 4100, "remote": "True", "skills": ["rust", "sql"]}
        }) else {
            unreachable!()
        };
        resource
    }

    #[test]
    fn what_a_path_names_in_a_resource() {
        let resource = entra_user();
        let text = |s: &str| RawScalar::Text(s.to_owned());
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<RawScalar>)> = vec![
            ("title", vec![text("Engineer")]),
            // URN-qualified, the attribute's case ignored.
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", vec![text("Sales")]),
            // A complex value counts by its value; or name the sub-attribute.
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", vec![text("u-7")]),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", vec![text("u-7")]),
            // Value filters pick elements, string booleans included.
            ("addresses[type eq \"work\"].locality", vec![text("London")]),
            ("roles[primary eq true].value", vec![text("Admin")]),
            ("phoneNumbers[type eq \"work\"].value", vec![text("+44 20")]),
            // Numbers, booleans and lists as sent.
            ("urn:acme:hr:costCenterCode", vec![RawScalar::Number(4100.0)]),
            ("urn:acme:hr:remote", vec![text("True")]),
            ("urn:acme:hr:skills", vec![text("rust"), text("sql")]),
            // Nothing there, or nothing parsable.
            ("addresses[type eq \"other\"].locality", vec![]),
            ("nickName", vec![]),
            ("urn:acme:other:x", vec![]),
            ("[[", vec![]),
        ];
        for (source, want) in cases {
            assert_eq!(values_at(&resource, source), want, "{source}");
        }
    }

    #[test]
    fn extension_values_are_strict_and_mapped_values_lenient() {
        let mut resource = entra_user();
        let number = mapping(
            "costCenterCode",
            AttributeKind::Number,
            &["urn:acme:hr:costCenterCode"],
            MappingOrigin::Extension,
        );
        let employee = mapping(
            "employeeNumber",
            AttributeKind::Number,
            &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"],
            MappingOrigin::Default,
        );
        let location = mapping(
            "location",
            AttributeKind::String,
            &["addresses[type eq \"work\"].locality"],
            MappingOrigin::Default,
        );
        let unmapped = mapping("badge", AttributeKind::String, &[], MappingOrigin::None);
        let extracted = extract(
            &resource,
            &[number.clone(), employee.clone(), location.clone(), unmapped],
        )
        .unwrap();
        let values: Vec<(String, Option<AttrValue>)> = extracted
            .edits
            .iter()
            .map(|edit| (edit.definition.name.to_string(), edit.value.clone()))
            .collect();
        assert_eq!(
            values,
            vec![
                ("costCenterCode".to_owned(), Some(AttrValue::Number(4100.0))),
                ("employeeNumber".to_owned(), Some(AttrValue::Number(1042.0))),
                (
                    "location".to_owned(),
                    Some(AttrValue::Text("London".to_owned()))
                ),
            ]
        );
        assert!(extracted.warnings.is_empty());

        // A mapped misfit is a warning and no edit (the stored value stays).
        resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"] =
            json!("E-1042");
        let extracted = extract(&resource, &[employee, location.clone()]).unwrap();
        assert_eq!(extracted.edits.len(), 1);
        assert_eq!(
            extracted.warnings,
            vec!["kept attribute employeeNumber: the value at urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber must be a number, got \"E-1042\"".to_owned()]
        );

        // A declared extension misfit refuses the request, naming the attribute.
        resource["urn:acme:hr"]["costCenterCode"] = json!("abc");
        let err = extract(&resource, &[number]).unwrap_err();
        assert_eq!(
            err.detail,
            "urn:acme:hr:costCenterCode must be a number, got \"abc\""
        );

        // No value clears (SCIM owns what it sources).
        resource.remove("addresses");
        let extracted = extract(&resource, &[location]).unwrap();
        assert_eq!(extracted.edits[0].value, None);
    }

    #[test]
    fn declared_values_live_in_the_attributes_and_render_under_their_urn() {
        let mappings = vec![
            mapping(
                "costCenterCode",
                AttributeKind::Number,
                &["urn:acme:hr:costCenterCode"],
                MappingOrigin::Extension,
            ),
            mapping(
                "skills",
                AttributeKind::StringList,
                &["urn:acme:hr:skills"],
                MappingOrigin::Extension,
            ),
        ];
        let mut extras = entra_user();
        strip_declared(&mut extras, &mappings);
        assert_eq!(extras.get("urn:acme:hr"), Some(&json!({"remote": "True"})));

        let stored = json!({"costCenterCode": 4100, "skills": ["rust"]});
        let present = render_declared(&mut extras, stored.as_object().unwrap(), &mappings);
        assert_eq!(present, vec!["urn:acme:hr".to_owned()]);
        assert_eq!(
            extras.get("urn:acme:hr"),
            Some(&json!({"remote": "True", "costCenterCode": 4100, "skills": ["rust"]}))
        );
    }
}
