//! Canonical spelling of SCIM attribute names.
//!
//! Attribute names are case-insensitive (RFC 7643 §2.1) and real clients send `UserName`,
//! `Active`, `Manager: {"Value": ...}` (Microsoft's own validator collection). Roster stores and
//! returns the RFC's camelCase, so input keys are normalised once on the way in.

use serde_json::{Map, Value};

use crate::discovery::ENTERPRISE_USER_SCHEMA;

const CANONICAL: &[&str] = &[
    "id",
    "externalId",
    "meta",
    "schemas",
    "userName",
    "name",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "value",
    "display",
    "type",
    "primary",
    "$ref",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    "members",
    "resourceType",
    "created",
    "lastModified",
    "location",
    "version",
    "operation",
];

/// The canonical spelling of an attribute name (or the name as sent when unknown).
pub fn canonical(name: &str) -> String {
    if name.len() > 4
        && name
            .get(..4)
            .is_some_and(|head| head.eq_ignore_ascii_case("urn:"))
    {
        if name.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
            return ENTERPRISE_USER_SCHEMA.to_owned();
        }
        return name.to_owned();
    }
    CANONICAL
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |known| (*known).to_owned())
}

/// Normalises every object key of `value`, recursively.
pub fn normalize_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, inner) in map {
                out.insert(canonical(&key), normalize_keys(inner));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

/// Reads a boolean that clients send as `true`, `"True"` or `"false"`.
pub fn lenient_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_normalised_recursively() {
        let input = json!({"UserName": "bob", "Active": "True", "Name": {"GivenName": "Bob"},
            "Manager": {"Value": "x"}, "custom": 1,
            "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "R&D"}});
        assert_eq!(
            normalize_keys(input),
            json!({"userName": "bob", "active": "True", "name": {"givenName": "Bob"},
                "manager": {"value": "x"}, "custom": 1,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}})
        );
    }

    #[test]
    fn multibyte_names_do_not_split_characters() {
        // Found by cargo-fuzz: a non-ASCII character straddling byte 4 once panicked here.
        assert_eq!(canonical("actƮascjemastname"), "actƮascjemastname");
        assert_eq!(canonical("urnƮ"), "urnƮ");
        assert_eq!(canonical("ÜserName"), "ÜserName");
    }

    #[test]
    fn lenient_booleans() {
        assert_eq!(lenient_bool(&json!("False")), Some(false));
        assert_eq!(lenient_bool(&json!(true)), Some(true));
        assert_eq!(lenient_bool(&json!("yes")), None);
    }
}
