//! A user's attribute values: the JSON object `users.attributes` that delivery reads (admin API,
//! events, `/api/v1/me`, tokens), and its index `user_attribute_values` that filters, sorts and
//! role rules read. Both are written here and only here, in the caller's transaction, so the
//! index never disagrees with the values.
//!
//! Every writer (an admin's edit, a SCIM write, a login) hands over [`AttributeEdit`]s: the
//! attributes it speaks for, each with its new typed value or `None` to clear it. The attributes
//! it does not name keep their values — SCIM owns what its connection sources, a login what its
//! mapping names, an admin what they edit.

use diesel::prelude::*;
use roster_domain::attributes::{
    coerce, index_keys, AttrValue, AttributeDefinition, AttributeKind, RawScalar,
};
use roster_domain::{User, UserId, WorkspaceId};
use serde_json::{Map, Value};

use crate::db::on_backend;
use crate::schema::{user_attribute_values, users};
use crate::{DbConnection, StoreResult};

/// One attribute a writer speaks for, and its new value (`None` clears it).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeEdit {
    pub definition: AttributeDefinition,
    pub value: Option<AttrValue>,
}

/// What a set of edits does to a user's values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EditedValues {
    /// The whole object afterwards.
    pub(crate) values: Map<String, Value>,
    /// The edits that changed a value, in name order.
    pub(crate) changed: Vec<AttributeEdit>,
}

impl EditedValues {
    /// `attributes.<name>` for each changed attribute: how events name them.
    pub(crate) fn changed_names(&self) -> Vec<String> {
        self.changed
            .iter()
            .map(|edit| format!("attributes.{}", edit.definition.name))
            .collect()
    }
}

/// Applies `edits` to the stored object `stored` (pure). An edit equal to the stored value
/// changes nothing.
pub(crate) fn apply_edits(stored: &str, edits: &[AttributeEdit]) -> EditedValues {
    let mut values = match serde_json::from_str::<Value>(stored) {
        Ok(Value::Object(values)) => values,
        _ => Map::new(),
    };
    let mut changed = Vec::new();
    for edit in edits {
        let name = edit.definition.name.as_str();
        let after = edit.value.clone().map(json_of);
        if values.get(name) == after.as_ref() {
            continue;
        }
        match after {
            Some(value) => values.insert(name.to_owned(), value),
            None => values.remove(name),
        };
        changed.push(edit.clone());
    }
    changed.sort_by(|a, b| a.definition.name.cmp(&b.definition.name));
    changed.dedup_by(|a, b| a.definition.id == b.definition.id);
    EditedValues { values, changed }
}

/// Writes `edits` over `user`'s values inside the caller's transaction: the JSON column (without
/// moving the version: the caller's write does) and the index rows of each changed attribute.
/// Returns what changed. A `user_ref` value naming no user of the workspace is not applied and
/// is returned in `unresolved` (by attribute name) for the caller to refuse or report.
pub(crate) fn write_edits(
    conn: &mut DbConnection,
    user: &User,
    edits: &[AttributeEdit],
) -> StoreResult<(EditedValues, Vec<String>)> {
    let (edits, unresolved) = resolved(conn, user.workspace_id, edits)?;
    let edited = apply_edits(&user.attributes, &edits);
    if edited.changed.is_empty() {
        return Ok((edited, unresolved));
    }
    diesel::update(users::table.find(user.id.to_string()))
        .set(users::attributes.eq(Value::Object(edited.values.clone()).to_string()))
        .execute(conn)?;
    reindex(conn, user.id, &edited.changed)?;
    Ok((edited, unresolved))
}

/// Writes the index rows of a user just inserted with `edited` values.
pub(crate) fn index_new_user(
    conn: &mut DbConnection,
    user_id: UserId,
    edited: &EditedValues,
) -> StoreResult<()> {
    reindex(conn, user_id, &edited.changed)
}

/// The edits whose user references resolve in the workspace, and the names of those that do not.
pub(crate) fn resolved(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    edits: &[AttributeEdit],
) -> StoreResult<(Vec<AttributeEdit>, Vec<String>)> {
    let mut kept = Vec::with_capacity(edits.len());
    let mut unresolved = Vec::new();
    for edit in edits {
        if let Some(AttrValue::UserRef(id)) = &edit.value {
            let found: i64 = users::table
                .filter(users::workspace_id.eq(workspace_id.to_string()))
                .filter(users::id.eq(id))
                .count()
                .get_result(conn)?;
            if found == 0 {
                unresolved.push(edit.definition.name.to_string());
                continue;
            }
        }
        kept.push(edit.clone());
    }
    Ok((kept, unresolved))
}

/// Replaces the index rows of each edited attribute of a user.
fn reindex(conn: &mut DbConnection, user_id: UserId, changed: &[AttributeEdit]) -> StoreResult<()> {
    for edit in changed {
        let attribute_id = edit.definition.id.to_string();
        diesel::delete(
            user_attribute_values::table
                .filter(user_attribute_values::user_id.eq(user_id.to_string()))
                .filter(user_attribute_values::attribute_id.eq(&attribute_id)),
        )
        .execute(conn)?;
        let Some(value) = &edit.value else {
            continue;
        };
        let rows: Vec<_> = index_keys(value, edit.definition.case_exact)
            .into_iter()
            .enumerate()
            .map(|(position, key)| {
                (
                    user_attribute_values::user_id.eq(user_id.to_string()),
                    user_attribute_values::attribute_id.eq(attribute_id.clone()),
                    user_attribute_values::position.eq(position as i32),
                    user_attribute_values::sort_key.eq(key),
                )
            })
            .collect();
        // A list may repeat an element with another case: one key per position keeps both.
        if !rows.is_empty() {
            on_backend!(conn, |c| diesel::insert_into(user_attribute_values::table)
                .values(&rows)
                .execute(c))?;
        }
    }
    Ok(())
}

/// Rebuilds the whole index from the JSON values of every user of `workspace_id` (import, and
/// the upgrade that introduced the index). Values that no longer fit their definition are left
/// out of the index (and stay in the JSON, where an admin sees them). Returns how many values it
/// indexed.
///
/// An import brings a million users in one transaction, so this works in bulk: one `DELETE` of
/// the workspace's rows, the users read in id order a page at a time, and their keys inserted
/// [`REBUILD_INSERT_ROWS`] to a statement (per-user statements made the index cost more than the
/// users themselves).
pub(crate) fn rebuild_index(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    definitions: &[AttributeDefinition],
) -> StoreResult<usize> {
    let workspace = workspace_id.to_string();
    let members = users::table
        .filter(users::workspace_id.eq(workspace.clone()))
        .select(users::id);
    diesel::delete(
        user_attribute_values::table.filter(user_attribute_values::user_id.eq_any(members)),
    )
    .execute(conn)?;
    let mut indexed = 0;
    let mut after = String::new();
    loop {
        let holders: Vec<(String, String)> = users::table
            .filter(users::workspace_id.eq(workspace.clone()))
            .filter(users::attributes.ne("{}"))
            .filter(users::id.gt(after.clone()))
            .order(users::id.asc())
            .limit(REBUILD_PAGE_USERS)
            .select((users::id, users::attributes))
            .load(conn)?;
        let Some((last, _)) = holders.last() else {
            break;
        };
        after = last.clone();
        let mut rows = Vec::new();
        for (user_id, stored) in &holders {
            let Ok(Value::Object(values)) = serde_json::from_str::<Value>(stored) else {
                continue;
            };
            for definition in definitions {
                let Some(value) = values
                    .get(definition.name.as_str())
                    .and_then(|value| typed(definition.kind, value))
                else {
                    continue;
                };
                indexed += 1;
                let attribute_id = definition.id.to_string();
                for (position, key) in index_keys(&value, definition.case_exact)
                    .into_iter()
                    .enumerate()
                {
                    rows.push((
                        user_attribute_values::user_id.eq(user_id.clone()),
                        user_attribute_values::attribute_id.eq(attribute_id.clone()),
                        user_attribute_values::position.eq(position as i32),
                        user_attribute_values::sort_key.eq(key),
                    ));
                }
            }
        }
        for chunk in rows.chunks(REBUILD_INSERT_ROWS) {
            on_backend!(conn, |c| diesel::insert_into(user_attribute_values::table)
                .values(chunk)
                .execute(c))?;
        }
        if holders.len() < REBUILD_PAGE_USERS as usize {
            break;
        }
    }
    Ok(indexed)
}

/// Users [`rebuild_index`] reads at a time (their JSON values held in memory at once).
const REBUILD_PAGE_USERS: i64 = 10_000;
/// Index rows per `INSERT` of [`rebuild_index`]: four bound values each, well under SQLite's
/// 32,766 and PostgreSQL's 65,535 parameters per statement.
const REBUILD_INSERT_ROWS: usize = 2_000;

/// A stored JSON value as the typed value of an attribute of `kind` (`None` if it does not fit).
pub fn typed(kind: AttributeKind, value: &Value) -> Option<AttrValue> {
    coerce(kind, &raw_scalars(value).ok()?).ok().flatten()
}

/// What a JSON value carries, as the scalars coercion types (an array: its elements).
pub fn raw_scalars(value: &Value) -> Result<Vec<RawScalar>, String> {
    let scalar = |value: &Value| match value {
        Value::String(text) => Ok(RawScalar::Text(text.clone())),
        Value::Number(number) => number
            .as_f64()
            .map(RawScalar::Number)
            .ok_or_else(|| "the number is out of range".to_owned()),
        Value::Bool(value) => Ok(RawScalar::Bool(*value)),
        _ => Err("takes a string, a number, a boolean or a list of strings".to_owned()),
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

/// A typed value as stored and delivered: text, a JSON number, a boolean, an array of strings,
/// a user id.
pub fn json_of(value: AttrValue) -> Value {
    match value {
        AttrValue::Text(text) | AttrValue::UserRef(text) => Value::String(text),
        // Whole numbers as integers (`4100`, not `4100.0`): what the IdP sent, and what a
        // product's JSON parser reads as an integer.
        AttrValue::Number(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => {
            Value::Number((number as i64).into())
        }
        AttrValue::Number(number) => serde_json::Number::from_f64(number)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AttrValue::Bool(value) => Value::Bool(value),
        AttrValue::List(items) => Value::Array(items.into_iter().map(Value::String).collect()),
    }
}

/// The migration that introduced the index (its version without dashes).
pub(crate) const ATTRIBUTE_INDEX_MIGRATION: &str = "20261207000120";

/// [`rebuild_index`] for every workspace that declares attributes.
pub(crate) fn rebuild_every_attribute_index(conn: &mut DbConnection) -> StoreResult<()> {
    use crate::schema::attribute_definitions;
    let workspaces: Vec<String> = attribute_definitions::table
        .select(attribute_definitions::workspace_id)
        .distinct()
        .load(conn)?;
    for workspace in workspaces {
        let workspace_id: WorkspaceId = workspace
            .parse()
            .map_err(super::corrupt("attribute_definitions"))?;
        let definitions = super::attributes::load_definitions(conn, workspace_id)?;
        rebuild_index(conn, workspace_id, &definitions)?;
    }
    Ok(())
}

/// Recomputes a user's roles after their values changed, when an attribute role rule names one
/// of the changed attributes (the one check every attribute writer runs, after its events, so a
/// `user.roles_changed` follows the `user.updated` or `user.created` that caused it).
pub(crate) fn recompute_roles_after(
    conn: &mut DbConnection,
    actor: &roster_domain::Actor,
    workspace_id: WorkspaceId,
    user_id: UserId,
    edited: &EditedValues,
) -> StoreResult<()> {
    use crate::schema::attribute_role_rules;
    if edited.changed.is_empty() {
        return Ok(());
    }
    let changed: Vec<String> = edited
        .changed
        .iter()
        .map(|edit| edit.definition.id.to_string())
        .collect();
    let ruled: i64 = attribute_role_rules::table
        .filter(attribute_role_rules::attribute_id.eq_any(&changed))
        .count()
        .get_result(conn)?;
    if ruled == 0 {
        return Ok(());
    }
    let names: Vec<&str> = edited
        .changed
        .iter()
        .map(|edit| edit.definition.name.as_str())
        .collect();
    super::mapping::recompute_roles(
        conn,
        actor,
        workspace_id,
        &[user_id.to_string()],
        &serde_json::json!({ "attributes": names }),
    )
}
