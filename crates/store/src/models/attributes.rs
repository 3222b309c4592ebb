//! The custom attributes a workspace declares (`attribute_definitions`): declared, listed and
//! deleted through the admin and operator APIs, each change audited in its transaction. A name is
//! unique per workspace ignoring case (the database's unique key decides, so two replicas
//! declaring the same name give one success and one conflict) and never changes.

use diesel::prelude::*;
use roster_domain::attributes::{
    AttributeDefinition, AttributeKind, AttributeName, NewAttributeDefinition, StandardAttribute,
    MAX_DEFINITIONS,
};
use roster_domain::{Action, Actor, AttributeId, NewAuditEvent, Timestamp, WorkspaceId};

use super::{corrupt, record_audit};
use crate::error::conflict_on;
use crate::schema::attribute_definitions;
use crate::{Store, StoreError, StoreResult};

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = attribute_definitions)]
pub(crate) struct AttributeRow {
    id: String,
    pub(crate) workspace_id: String,
    name: String,
    name_key: String,
    label: String,
    kind: String,
    case_exact: bool,
    released: bool,
    standard: Option<String>,
    created_at: i64,
}

impl AttributeRow {
    fn into_domain(self) -> StoreResult<AttributeDefinition> {
        let bad = corrupt("attribute_definitions");
        Ok(AttributeDefinition {
            id: self.id.parse().map_err(&bad)?,
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            name: AttributeName::parse(&self.name).map_err(&bad)?,
            label: self.label,
            kind: AttributeKind::parse(&self.kind).map_err(&bad)?,
            case_exact: self.case_exact,
            released: self.released,
            standard: self.standard.as_deref().and_then(StandardAttribute::parse),
            created_at: Timestamp::from_micros(self.created_at),
        })
    }
}

impl Store {
    /// The workspace's attributes, in the order they were declared.
    pub fn attribute_definitions(
        &self,
        workspace_id: WorkspaceId,
    ) -> StoreResult<Vec<AttributeDefinition>> {
        self.read(|conn| definitions(conn, workspace_id))
    }

    /// Declares an attribute. `Conflict` for a name the workspace has (any case) or past
    /// [`MAX_DEFINITIONS`]; audited as `attribute.created`.
    pub fn create_attribute(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        new: &NewAttributeDefinition,
    ) -> StoreResult<AttributeDefinition> {
        self.write(|conn| {
            let count: i64 = attribute_definitions::table
                .filter(attribute_definitions::workspace_id.eq(workspace_id.to_string()))
                .count()
                .get_result(conn)?;
            if count >= MAX_DEFINITIONS as i64 {
                return Err(StoreError::Conflict {
                    what: "attribute",
                    detail: format!("a workspace declares at most {MAX_DEFINITIONS} attributes"),
                });
            }
            let row = AttributeRow {
                id: AttributeId::new().to_string(),
                workspace_id: workspace_id.to_string(),
                name: new.name.to_string(),
                name_key: new.name.key(),
                label: new.label.clone(),
                kind: new.kind.as_str().to_owned(),
                case_exact: new.case_exact,
                released: new.released,
                standard: new.standard.map(|standard| standard.name().to_owned()),
                created_at: Timestamp::now().as_micros(),
            };
            diesel::insert_into(attribute_definitions::table)
                .values(&row)
                .execute(conn)
                .map_err(|err| {
                    conflict_on(
                        err,
                        "attribute",
                        &[("name_key", "an attribute with this name already exists")],
                    )
                })?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("attribute.created"),
                    target_kind: "attribute",
                    target_id: row.id.clone(),
                    detail: serde_json::json!({
                        "name": row.name,
                        "type": row.kind,
                        "caseExact": row.case_exact,
                        "released": row.released,
                    })
                    .to_string(),
                },
            )?;
            row.into_domain()
        })
    }

    /// Deletes an attribute of the workspace (`NotFound` for another workspace's); audited as
    /// `attribute.deleted`.
    pub fn delete_attribute(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: AttributeId,
    ) -> StoreResult<AttributeDefinition> {
        self.write(|conn| {
            let row: AttributeRow = attribute_definitions::table
                .filter(attribute_definitions::workspace_id.eq(workspace_id.to_string()))
                .filter(attribute_definitions::id.eq(id.to_string()))
                .select(AttributeRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "attribute" })?;
            diesel::delete(
                attribute_definitions::table.filter(attribute_definitions::id.eq(id.to_string())),
            )
            .execute(conn)?;
            strip_values(conn, actor, workspace_id, &row.name)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("attribute.deleted"),
                    target_kind: "attribute",
                    target_id: row.id.clone(),
                    detail: serde_json::json!({ "name": row.name }).to_string(),
                },
            )?;
            row.into_domain()
        })
    }
}

/// The workspace's attributes in declaration order, on `conn` (so a caller reads them with the
/// rest of what it states, e.g. the OpenID Provider's grant subject).
pub(crate) fn definitions(
    conn: &mut crate::DbConnection,
    workspace_id: WorkspaceId,
) -> StoreResult<Vec<AttributeDefinition>> {
    let rows: Vec<AttributeRow> = attribute_definitions::table
        .filter(attribute_definitions::workspace_id.eq(workspace_id.to_string()))
        .order((
            attribute_definitions::created_at.asc(),
            attribute_definitions::id.asc(),
        ))
        .select(AttributeRow::as_select())
        .load(conn)?;
    rows.into_iter().map(AttributeRow::into_domain).collect()
}

/// A user's attribute values after an edit, as the API crates built them (a JSON object keyed
/// by attribute name, every value already typed against its definition).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeValues {
    pub values: serde_json::Map<String, serde_json::Value>,
    /// The attributes whose value changed (added, changed or removed), for `changed`.
    pub changed: Vec<String>,
    /// The users `user_ref` values name: each must be a user of the workspace.
    pub referenced_users: Vec<roster_domain::UserId>,
}

impl Store {
    /// Sets a user's attribute values (an admin's edit): the user's version moves, and one
    /// `user.updated` event names each changed attribute as `attributes.<name>`, in the same
    /// transaction as the audit entry `user.attributes_updated`. A `user_ref` naming no user of
    /// the workspace is `Invalid`; nothing is written then. Nothing changed writes nothing.
    pub fn set_user_attributes(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        user_id: roster_domain::UserId,
        values: &AttributeValues,
    ) -> StoreResult<roster_domain::User> {
        use crate::schema::users;
        self.write(|conn| {
            let current = super::user::find_user(conn, workspace_id, user_id)?;
            if values.changed.is_empty() {
                return Ok(current);
            }
            for referenced in &values.referenced_users {
                let found: i64 = users::table
                    .filter(users::workspace_id.eq(workspace_id.to_string()))
                    .filter(users::id.eq(referenced.to_string()))
                    .count()
                    .get_result(conn)?;
                if found == 0 {
                    return Err(StoreError::Invalid(
                        roster_domain::DomainError::InvalidValue {
                            field: "attributes",
                            reason: format!("no user {referenced} in the workspace"),
                        },
                    ));
                }
            }
            let now = Timestamp::now();
            diesel::update(users::table.find(user_id.to_string()))
                .set((
                    users::attributes
                        .eq(serde_json::Value::Object(values.values.clone()).to_string()),
                    users::version.eq(users::version + 1),
                    users::updated_at.eq(now.as_micros()),
                ))
                .execute(conn)?;
            let user = super::user::find_user(conn, workspace_id, user_id)?;
            let changed: Vec<String> = values
                .changed
                .iter()
                .map(|name| format!("attributes.{name}"))
                .collect();
            super::events::user_event(conn, actor, "user.updated", &user, Some(changed.clone()))?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("user.attributes_updated"),
                    target_kind: "user",
                    target_id: user_id.to_string(),
                    detail: serde_json::json!({ "changed": changed }).to_string(),
                },
            )?;
            Ok(user)
        })
    }
}

/// Removes `name`'s values from every user of the workspace that has one, in the deleting
/// transaction (a later attribute of that name starts empty): each such user's version moves and
/// a `user.updated` names `attributes.<name>`.
fn strip_values(
    conn: &mut crate::DbConnection,
    actor: &Actor,
    workspace_id: WorkspaceId,
    name: &str,
) -> StoreResult<()> {
    use crate::schema::users;
    // A cheap filter first: only objects that mention the name as a key can hold it.
    let candidates: Vec<(String, String)> = users::table
        .filter(users::workspace_id.eq(workspace_id.to_string()))
        .filter(users::attributes.like(format!("%\"{name}\"%")))
        .select((users::id, users::attributes))
        .load(conn)?;
    let now = Timestamp::now().as_micros();
    for (id, attributes) in candidates {
        let Ok(serde_json::Value::Object(mut values)) = serde_json::from_str(&attributes) else {
            continue;
        };
        if values.remove(name).is_none() {
            continue;
        }
        diesel::update(users::table.find(&id))
            .set((
                users::attributes.eq(serde_json::Value::Object(values).to_string()),
                users::version.eq(users::version + 1),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        let user_id = id.parse().map_err(corrupt("users"))?;
        let user = super::user::find_user(conn, workspace_id, user_id)?;
        super::events::user_event(
            conn,
            actor,
            "user.updated",
            &user,
            Some(vec![format!("attributes.{name}")]),
        )?;
    }
    Ok(())
}
