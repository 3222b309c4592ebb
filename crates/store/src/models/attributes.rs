//! The custom attributes a workspace declares (`attribute_definitions`): declared, listed and
//! deleted through the admin and operator APIs, each change audited in its transaction. A name is
//! unique per workspace ignoring case (the database's unique key decides, so two replicas
//! declaring the same name give one success and one conflict) and never changes.

use diesel::prelude::*;
use roster_domain::attributes::{
    effective_sources, AttributeDefinition, AttributeKind, AttributeName, MappingOrigin,
    NewAttributeDefinition, Protocol, StandardAttribute, MAX_DEFINITIONS,
};
use roster_domain::{
    Action, Actor, AttributeId, ConnectionId, NewAuditEvent, Timestamp, Vendor, WorkspaceId,
};

use super::attribute_values::{recompute_roles_after, write_edits, AttributeEdit};
use super::{corrupt, record_audit};
use crate::error::conflict_on;
use crate::schema::{attribute_definitions, attribute_mappings};
use crate::{DbConnection, Store, StoreError, StoreResult};

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
    scim_schema: Option<String>,
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
            scim_schema: self.scim_schema,
            created_at: Timestamp::from_micros(self.created_at),
        })
    }
}

/// The workspace's attributes, in the order they were declared.
pub(crate) fn load_definitions(
    conn: &mut DbConnection,
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

impl Store {
    /// The workspace's attributes, in the order they were declared.
    pub fn attribute_definitions(
        &self,
        workspace_id: WorkspaceId,
    ) -> StoreResult<Vec<AttributeDefinition>> {
        self.read(|conn| load_definitions(conn, workspace_id))
    }

    /// Declares an attribute. `Conflict` for a name the workspace has (any case) or past
    /// [`MAX_DEFINITIONS`]; audited as `attribute.created`.
    pub fn create_attribute(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        new: &NewAttributeDefinition,
    ) -> StoreResult<AttributeDefinition> {
        self.write_token_change(|conn| {
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
                scim_schema: new.scim_schema.clone(),
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
                        "scimSchema": row.scim_schema,
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
        self.write_token_change(|conn| {
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

impl Store {
    /// Sets some of a user's attribute values (an admin's edit): the user's version moves, and
    /// one `user.updated` event names each changed attribute as `attributes.<name>`, in the same
    /// transaction as the audit entry `user.attributes_updated`. A `user_ref` naming no user of
    /// the workspace is `Invalid`; nothing is written then. Nothing changed writes nothing.
    pub fn set_user_attributes(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        user_id: roster_domain::UserId,
        edits: &[AttributeEdit],
    ) -> StoreResult<roster_domain::User> {
        use crate::schema::users;
        self.write(|conn| {
            let current = super::user::find_user(conn, workspace_id, user_id)?;
            let (edited, unresolved) = write_edits(conn, &current, edits)?;
            if let Some(name) = unresolved.first() {
                return Err(StoreError::Invalid(
                    roster_domain::DomainError::InvalidValue {
                        field: "attributes",
                        reason: format!("attributes.{name}: names no user of the workspace"),
                    },
                ));
            }
            if edited.changed.is_empty() {
                return Ok(current);
            }
            diesel::update(users::table.find(user_id.to_string()))
                .set((
                    users::version.eq(users::version + 1),
                    users::updated_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            let user = super::user::find_user(conn, workspace_id, user_id)?;
            let changed = edited.changed_names();
            super::events::user_event(conn, actor, "user.updated", &user, Some(changed.clone()))?;
            recompute_roles_after(conn, actor, workspace_id, user_id, &edited)?;
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
    let mut stripped = Vec::new();
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
        stripped.push(id);
    }
    // The attribute's rules went with it (cascade): its holders lose what they granted.
    let cause = serde_json::json!({ "attribute_deleted": name });
    super::mapping::recompute_roles(conn, actor, workspace_id, &stripped, &cause)
}

/// An attribute of the workspace and where a connection's IdP sends it, for one protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMapping {
    pub definition: AttributeDefinition,
    /// In order of preference: the first with a value wins. Empty: nothing maps it.
    pub sources: Vec<String>,
    pub origin: MappingOrigin,
}

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = attribute_mappings)]
pub(crate) struct MappingRow {
    id: String,
    connection_id: String,
    attribute_id: String,
    protocol: String,
    sources: String,
    created_at: i64,
}

/// Every attribute of the workspace with its sources at `connection_id` for `protocol`: the
/// admin's override, else the declared extension's or the vendor's default.
pub(crate) fn load_mappings(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    connection_id: ConnectionId,
    vendor: Vendor,
    protocol: Protocol,
) -> StoreResult<Vec<AttributeMapping>> {
    let definitions = load_definitions(conn, workspace_id)?;
    if definitions.is_empty() {
        return Ok(Vec::new());
    }
    let overrides: Vec<(String, String)> = attribute_mappings::table
        .filter(attribute_mappings::connection_id.eq(connection_id.to_string()))
        .filter(attribute_mappings::protocol.eq(protocol.as_str()))
        .select((
            attribute_mappings::attribute_id,
            attribute_mappings::sources,
        ))
        .load(conn)?;
    definitions
        .into_iter()
        .map(|definition| {
            let custom = overrides
                .iter()
                .find(|(attribute, _)| *attribute == definition.id.to_string())
                .map(|(_, sources)| {
                    serde_json::from_str::<Vec<String>>(sources)
                        .map_err(|err| StoreError::Corrupt(format!("attribute_mappings: {err}")))
                })
                .transpose()?;
            let (sources, origin) = effective_sources(
                vendor,
                protocol,
                definition.standard,
                definition.scim_schema.as_deref(),
                definition.name.as_str(),
                custom.as_deref(),
            );
            Ok(AttributeMapping {
                definition,
                sources,
                origin,
            })
        })
        .collect()
}

impl Store {
    /// The workspace's attributes with their sources at a connection of it, for `protocol`.
    pub fn attribute_mappings(
        &self,
        workspace_id: WorkspaceId,
        connection_id: ConnectionId,
        protocol: Protocol,
    ) -> StoreResult<Vec<AttributeMapping>> {
        self.read(|conn| {
            let vendor = connection_vendor(conn, workspace_id, connection_id)?;
            load_mappings(conn, workspace_id, connection_id, vendor, protocol)
        })
    }

    /// [`Store::attribute_mappings`] of a connection the caller has loaded (a login's): its
    /// vendor is known, so a workspace that declares no attribute costs one query.
    pub fn connection_attribute_mappings(
        &self,
        connection: &roster_domain::Connection,
        protocol: Protocol,
    ) -> StoreResult<Vec<AttributeMapping>> {
        self.read(|conn| {
            load_mappings(
                conn,
                connection.workspace_id,
                connection.id,
                connection.vendor,
                protocol,
            )
        })
    }

    /// Sets where a connection's IdP sends an attribute for `protocol` (`Some(sources)`, `[]`
    /// maps nothing), or goes back to the default (`None`). Audited as
    /// `connection.attribute_mapping_set`; SCIM requests see it at once on this replica.
    pub fn set_attribute_mapping(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        connection_id: ConnectionId,
        attribute_id: AttributeId,
        protocol: Protocol,
        sources: Option<Vec<String>>,
    ) -> StoreResult<AttributeMapping> {
        self.write_token_change(|conn| {
            let vendor = connection_vendor(conn, workspace_id, connection_id)?;
            let known: i64 = attribute_definitions::table
                .filter(attribute_definitions::workspace_id.eq(workspace_id.to_string()))
                .filter(attribute_definitions::id.eq(attribute_id.to_string()))
                .count()
                .get_result(conn)?;
            if known == 0 {
                return Err(StoreError::NotFound { what: "attribute" });
            }
            diesel::delete(
                attribute_mappings::table
                    .filter(attribute_mappings::connection_id.eq(connection_id.to_string()))
                    .filter(attribute_mappings::attribute_id.eq(attribute_id.to_string()))
                    .filter(attribute_mappings::protocol.eq(protocol.as_str())),
            )
            .execute(conn)?;
            if let Some(sources) = &sources {
                diesel::insert_into(attribute_mappings::table)
                    .values(MappingRow {
                        id: AttributeId::new().to_string(),
                        connection_id: connection_id.to_string(),
                        attribute_id: attribute_id.to_string(),
                        protocol: protocol.as_str().to_owned(),
                        sources: serde_json::json!(sources).to_string(),
                        created_at: Timestamp::now().as_micros(),
                    })
                    .execute(conn)?;
            }
            let mapping = load_mappings(conn, workspace_id, connection_id, vendor, protocol)?
                .into_iter()
                .find(|mapping| mapping.definition.id == attribute_id)
                .ok_or(StoreError::NotFound { what: "attribute" })?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("connection.attribute_mapping_set"),
                    target_kind: "connection",
                    target_id: connection_id.to_string(),
                    detail: serde_json::json!({
                        "attribute": mapping.definition.name.as_str(),
                        "protocol": protocol.as_str(),
                        "sources": mapping.sources,
                        "origin": mapping.origin.as_str(),
                    })
                    .to_string(),
                },
            )?;
            Ok(mapping)
        })
    }
}

/// The vendor of a connection of the workspace (`NotFound` for another workspace's).
pub(crate) fn connection_vendor(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    connection_id: ConnectionId,
) -> StoreResult<Vendor> {
    use crate::schema::connections;
    let vendor: String = connections::table
        .filter(connections::workspace_id.eq(workspace_id.to_string()))
        .filter(connections::id.eq(connection_id.to_string()))
        .select(connections::vendor)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "connection" })?;
    Vendor::parse(&vendor).map_err(corrupt("connections"))
}
