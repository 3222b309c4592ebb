//! SCIM Group resources <-> IdP groups.

use roster_domain::{DisplayName, Group};
use roster_store::{GroupUpdate, MemberRef};
use serde_json::{json, Map, Value};

use crate::discovery::GROUP_SCHEMA;
use crate::error::ScimError;
use crate::names::normalize_keys;
use crate::user_resource::etag;

/// Attributes held in columns or membership rows, so not copied into `scim_attributes`.
const NOT_EXTRA: &[&str] = &[
    "id",
    "meta",
    "schemas",
    "displayName",
    "externalId",
    "members",
];

/// A parsed POST/PUT body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedGroup {
    pub update: GroupUpdate,
    /// Member ids, when the body has `members` (absent and `[]` differ for PUT only in intent;
    /// both mean "no members" per RFC 7644 §3.5.1).
    pub members: Vec<String>,
}

/// The member ids of a `members` value: an array of `{"value": id}` objects.
pub fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let Value::Array(items) = value else {
        return Err(ScimError::invalid_value(
            "members must be an array of {\"value\": id} objects",
        ));
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        match item.get("value") {
            Some(Value::String(id)) if !id.is_empty() => {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "a member needs a string value, got {item}"
                )))
            }
        }
    }
    Ok(ids)
}

/// Parses a Group resource.
pub fn parse_group(body: &Value) -> Result<ParsedGroup, ScimError> {
    let Value::Object(resource) = normalize_keys(body.clone()) else {
        return Err(ScimError::invalid_syntax("a Group must be a JSON object"));
    };
    let display_name = match resource.get("displayName") {
        Some(Value::String(name)) => {
            DisplayName::parse(name).map_err(|err| ScimError::invalid_value(err.to_string()))?
        }
        _ => return Err(ScimError::invalid_value("displayName is required")),
    };
    let external_id = match resource.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "externalId must be a string, not {other}"
            )))
        }
    };
    let members = match resource.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => member_ids(value)?,
    };
    let extras: Map<String, Value> = resource
        .into_iter()
        .filter(|(key, value)| !NOT_EXTRA.contains(&key.as_str()) && !value.is_null())
        .collect();
    Ok(ParsedGroup {
        update: GroupUpdate {
            display_name,
            external_id,
            scim_attributes: Value::Object(extras).to_string(),
        },
        members,
    })
}

/// Renders a group; `members` is `None` when they were not asked for (never loaded).
pub fn render_group(group: &Group, members: Option<&[MemberRef]>, base_url: &str) -> Value {
    let mut resource = Map::new();
    resource.insert("schemas".into(), json!([GROUP_SCHEMA]));
    resource.insert("id".into(), json!(group.id.to_string()));
    if let Some(external_id) = &group.external_id {
        resource.insert("externalId".into(), json!(external_id));
    }
    resource.insert("displayName".into(), json!(group.display_name.as_str()));
    if let Some(members) = members {
        let rendered: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.user_id,
                    "type": "User",
                    "$ref": format!("{base_url}/Users/{}", m.user_id),
                })
            })
            .collect();
        resource.insert("members".into(), Value::Array(rendered));
    }
    let extras: Map<String, Value> =
        serde_json::from_str(&group.scim_attributes).unwrap_or_default();
    for (key, value) in extras {
        resource.entry(key).or_insert(value);
    }
    resource.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": group.created_at.to_rfc3339(),
            "lastModified": group.updated_at.to_rfc3339(),
            "location": format!("{base_url}/Groups/{}", group.id),
            "version": etag(group.version),
        }),
    );
    Value::Object(resource)
}

/// The group's current name, externalId and extras as an update (the starting point of a PATCH).
pub fn update_from_resource(resource: &Value) -> Result<GroupUpdate, ScimError> {
    Ok(parse_group(resource)?.update)
}
