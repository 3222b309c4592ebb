//! SCIM User resources <-> the user model.
//!
//! The user row keeps the attributes Roster indexes or rules on (userName, externalId, active,
//! displayName, names, one email); everything else an IdP sends (the whole `name` and `emails`
//! values, phone numbers, the enterprise extension, ...) is kept as sent in `scim_attributes`, so
//! a GET returns what the IdP wrote. Rendering overlays the columns on those attributes.
//!
//! Except what the schema says is `returned: "never"` (the `password`): Roster signs users in
//! through SSO and has no use for a SCIM password, so it is accepted and dropped — under every
//! spelling a client can give it (bare, URN-qualified, under the core schema URN key, any case) —
//! before anything is stored ([`parse_user`], and the PUT/PATCH diff in `crate::ops`), and
//! dropped again when a user is rendered, should a row still hold one.

use roster_domain::{ignored_identifier_changes, Email, IgnoredChange, User, UserName};
use roster_store::{NewUser, UserUpdate};
use serde_json::{json, Map, Value};

use crate::discovery::{never_returned_user_attributes, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use crate::error::ScimError;
use crate::names::{lenient_bool, normalize_keys};

/// Attributes held in columns or derived, so not copied into `scim_attributes`. (Attributes that
/// are never stored, like `password`, go earlier: see [`drop_never_returned`].)
const NOT_EXTRA: &[&str] = &[
    "id",
    "meta",
    "schemas",
    "userName",
    "externalId",
    "active",
    "displayName",
    "groups",
];

/// Removes every attribute whose schema says `returned: "never"` from a User resource (or its
/// stored attributes), under any spelling; tells whether there was one.
pub fn drop_never_returned(resource: &mut Map<String, Value>) -> bool {
    roster_store::remove_user_attributes(resource, never_returned_user_attributes())
}

/// The provisioning-log warning of a write that carried a never-returned attribute.
pub fn never_returned_warning() -> String {
    format!(
        "ignored {}: Roster never stores it (users sign in through single sign-on)",
        never_returned_user_attributes().join(", ")
    )
}

/// What a POST/PUT body (or a patched resource) says about a user.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedUser {
    pub user_name: UserName,
    pub email: Option<Email>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// `None` when the resource has no `active`: true on create, unchanged on update (removing
    /// `active` must never reactivate a user).
    pub active: Option<bool>,
    /// Everything else, as a JSON object.
    pub extras: Map<String, Value>,
    /// The resource carried a `returned: "never"` attribute (a password), now dropped.
    pub dropped_never_returned: bool,
}

fn optional_string(resource: &Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    match resource.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ScimError::invalid_value(format!(
            "{key} must be a string, not {other}"
        ))),
    }
}

/// Picks the user's email: the primary one, else the work one, else the first.
fn pick_email(emails: &Value) -> Option<&Value> {
    let items = emails.as_array()?;
    let primary = items
        .iter()
        .find(|e| e.get("primary").and_then(lenient_bool) == Some(true));
    let work = || {
        items.iter().find(|e| {
            e.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("work"))
        })
    };
    primary.or_else(work).or_else(|| items.first())
}

/// Parses a User resource (POST/PUT body or a patched resource).
pub fn parse_user(body: &Value) -> Result<ParsedUser, ScimError> {
    let Value::Object(mut resource) = normalize_keys(body.clone()) else {
        return Err(ScimError::invalid_syntax("a User must be a JSON object"));
    };
    let dropped_never_returned = drop_never_returned(&mut resource);
    let user_name = match resource.get("userName") {
        Some(Value::String(name)) => {
            UserName::parse(name).map_err(|err| ScimError::invalid_value(err.to_string()))?
        }
        None | Some(Value::Null) => return Err(ScimError::invalid_value("userName is required")),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "userName must be a string, not {other}"
            )))
        }
    };
    let active = match resource.get("active") {
        None | Some(Value::Null) => None,
        Some(value) => Some(lenient_bool(value).ok_or_else(|| {
            ScimError::invalid_value(format!("active must be true or false, not {value}"))
        })?),
    };
    let mut extras = Map::new();
    for (key, value) in &resource {
        if NOT_EXTRA.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        extras.insert(key.clone(), value.clone());
    }
    normalize_manager(&mut extras);
    let email = match extras.get("emails") {
        Some(emails @ Value::Array(_)) => match pick_email(emails).and_then(|e| e.get("value")) {
            Some(Value::String(value)) => {
                Some(Email::parse(value).map_err(|err| ScimError::invalid_value(err.to_string()))?)
            }
            _ => None,
        },
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "emails must be an array, not {other}"
            )))
        }
        None => None,
    };
    let name = extras.get("name").cloned().unwrap_or(Value::Null);
    let name_part = |key: &str| {
        name.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(ParsedUser {
        email,
        given_name: name_part("givenName"),
        family_name: name_part("familyName"),
        display_name: optional_string(&resource, "displayName")?,
        external_id: optional_string(&resource, "externalId")?,
        active,
        user_name,
        extras,
        dropped_never_returned,
    })
}

/// The enterprise manager arrives as a bare id, an object or an array of one (old Entra); it is
/// always stored and returned as `{"value": id}` (Entra fails on anything else).
fn normalize_manager(extras: &mut Map<String, Value>) {
    let Some(Value::Object(enterprise)) = extras.get_mut(ENTERPRISE_USER_SCHEMA) else {
        return;
    };
    let normalized = match enterprise.get("manager") {
        Some(Value::String(id)) if id.is_empty() => None,
        Some(Value::String(id)) => Some(json!({ "value": id })),
        Some(Value::Array(items)) => items.first().cloned(),
        Some(Value::Object(_)) | None | Some(_) => return,
    };
    match normalized {
        Some(manager) => enterprise.insert("manager".to_owned(), manager),
        None => enterprise.remove("manager"),
    };
}

impl ParsedUser {
    /// The row a SCIM create writes.
    pub fn into_new_user(
        self,
        workspace_id: roster_domain::WorkspaceId,
        connection_id: roster_domain::ConnectionId,
    ) -> NewUser {
        NewUser {
            workspace_id,
            user_name: self.user_name,
            email: self.email,
            given_name: self.given_name,
            family_name: self.family_name,
            display_name: self.display_name,
            external_id: self.external_id,
            active: self.active.unwrap_or(true),
            source: roster_domain::Source::Scim,
            managing_connection_id: Some(connection_id),
            scim_attributes: Value::Object(self.extras).to_string(),
            attributes: Vec::new(),
        }
    }

    /// The update of `current` to this state under the identifier rule: userName and email
    /// changes are ignored (and returned as warnings), or refused with `mutability` when `strict`.
    pub fn into_update(
        mut self,
        current: &User,
        strict: bool,
        changed: Vec<String>,
    ) -> Result<(UserUpdate, Vec<IgnoredChange>), ScimError> {
        let ignored =
            ignored_identifier_changes(current, Some(&self.user_name), self.email.as_ref());
        if strict && !ignored.is_empty() {
            let list: Vec<String> = ignored
                .iter()
                .map(|c| format!("{} (want {:?}, have {:?})", c.attribute, c.want, c.got))
                .collect();
            return Err(ScimError::mutability(format!(
                "userName and email are immutable once provisioned: {}",
                list.join(", ")
            )));
        }
        if let (Some(kept), true) = (
            &current.email,
            ignored.iter().any(|c| c.attribute == "email"),
        ) {
            restore_email(&mut self.extras, kept);
        }
        let note = json!({
            "ignored": ignored.iter().map(|c| json!({"attribute": c.attribute, "want": c.want, "got": c.got})).collect::<Vec<_>>(),
        });
        Ok((
            UserUpdate {
                given_name: self.given_name,
                family_name: self.family_name,
                display_name: self.display_name,
                external_id: self.external_id,
                email: self.email,
                active: self.active.unwrap_or(current.lifecycle.is_active()),
                scim_attributes: Value::Object(self.extras).to_string(),
                attributes: Vec::new(),
                changed,
                note,
            },
            ignored,
        ))
    }
}

/// Puts the kept email back where the IdP tried to change it, so GET shows what is stored.
fn restore_email(extras: &mut Map<String, Value>, kept: &Email) {
    let Some(emails) = extras.get_mut("emails") else {
        return;
    };
    let target = pick_email(emails).cloned();
    if let (Some(target), Some(items)) = (target, emails.as_array_mut()) {
        for item in items.iter_mut() {
            if *item == target {
                item["value"] = json!(kept.as_str());
            }
        }
    }
}

/// The ETag of a version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Renders a user as a SCIM User resource.
pub fn render_user(user: &User, base_url: &str) -> Value {
    let mut extras: Map<String, Value> =
        serde_json::from_str(&user.scim_attributes).unwrap_or_default();
    drop_never_returned(&mut extras);
    if !extras.contains_key("name") && (user.given_name.is_some() || user.family_name.is_some()) {
        let mut name = Map::new();
        if let Some(given) = &user.given_name {
            name.insert("givenName".into(), json!(given));
        }
        if let Some(family) = &user.family_name {
            name.insert("familyName".into(), json!(family));
        }
        extras.insert("name".into(), Value::Object(name));
    }
    if !extras.contains_key("emails") {
        if let Some(email) = &user.email {
            extras.insert(
                "emails".into(),
                json!([{ "value": email.as_str(), "type": "work", "primary": true }]),
            );
        }
    }
    let mut schemas = vec![json!(USER_SCHEMA)];
    if extras.contains_key(ENTERPRISE_USER_SCHEMA) {
        schemas.push(json!(ENTERPRISE_USER_SCHEMA));
    }
    let mut resource = Map::new();
    resource.insert("schemas".into(), Value::Array(schemas));
    resource.insert("id".into(), json!(user.id.to_string()));
    if let Some(external_id) = &user.external_id {
        resource.insert("externalId".into(), json!(external_id));
    }
    resource.insert("userName".into(), json!(user.user_name.as_str()));
    if let Some(display_name) = &user.display_name {
        resource.insert("displayName".into(), json!(display_name));
    }
    resource.insert("active".into(), json!(user.lifecycle.is_active()));
    for (key, value) in extras {
        resource.entry(key).or_insert(value);
    }
    resource.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": user.created_at.to_rfc3339(),
            "lastModified": user.updated_at.to_rfc3339(),
            "location": format!("{base_url}/Users/{}", user.id),
            "version": etag(user.version),
        }),
    );
    Value::Object(resource)
}

/// Names of the top-level attributes that differ between two renderings (meta excluded).
pub fn changed_attributes(before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|key| key.as_str() != "meta" && before.get(*key) != after.get(*key))
        .cloned()
        .collect();
    changed.sort();
    changed.dedup();
    changed
}
