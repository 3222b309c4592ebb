//! Group mappings and the effective roles they produce, kept right in the transaction of every
//! change that affects them.
//!
//! A mapping says: members of IdP group K (at connection C) are members of app group G and/or
//! have role R. Its effects are materialised: memberships of G with provenance `mapping:<id>`,
//! and each user's granted roles in `granted_roles`. Whatever changes an input — a SCIM member
//! change, a mapping created or deleted, an IdP group deleted, a direct assignment — calls
//! [`recompute_roles`] for the users it touched before its transaction commits, and every change
//! of a user's roles is audited with its cause.

use std::collections::BTreeSet;

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, ConnectionId, DisplayName, Group, GroupId, GroupKind, GroupMapping, Lifecycle,
    MappingId, NewAuditEvent, Provenance, Role, RoleId, RoleName, Timestamp, WorkspaceId,
};

use super::group::{add_members, find_group, remove_members};
use super::{corrupt, events, record_audit};
use crate::any_of::any_of;
use crate::db::on_backend;
use crate::error::conflict_on;
use crate::schema::{
    granted_roles, group_mappings, group_members, group_roles, groups, roles, user_roles, users,
};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// What creating a mapping needs: an IdP group by stable key or (pending) exact name, and an
/// app group and/or a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMapping {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    pub idp_group_key: Option<String>,
    pub idp_group_name: Option<String>,
    pub app_group_id: Option<GroupId>,
    pub role_id: Option<RoleId>,
}

/// The IdP group a mapping names: its stable key (a SCIM group's id or externalId, a claim
/// value), or the exact name of a group that may not be pushed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpGroupRef {
    Key(String),
    Name(String),
}

/// A mapping with its role and app group named rather than referenced by id
/// ([`Store::create_named_mapping`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedMapping {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    pub idp_group: IdpGroupRef,
    /// The app group of this name (any case), created if the workspace has none.
    pub app_group: Option<DisplayName>,
    /// A role of the workspace; an unknown name writes nothing.
    pub role: Option<RoleName>,
}

/// A mapping just created, with the role and app group it names.
#[derive(Debug, Clone)]
pub struct CreatedMapping {
    pub mapping: GroupMapping,
    pub role: Option<Role>,
    pub app_group: Option<Group>,
}

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = group_mappings)]
pub(crate) struct MappingRow {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) connection_id: String,
    pub(crate) idp_group_key: Option<String>,
    pub(crate) idp_group_name: Option<String>,
    pub(crate) app_group_id: Option<String>,
    pub(crate) role_id: Option<String>,
    pub(crate) created_at: i64,
}

impl MappingRow {
    fn into_domain(self) -> StoreResult<GroupMapping> {
        let bad = corrupt("group_mappings");
        Ok(GroupMapping {
            id: self.id.parse().map_err(&bad)?,
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            connection_id: self.connection_id.parse().map_err(&bad)?,
            idp_group_key: self.idp_group_key,
            idp_group_name: self.idp_group_name,
            app_group_id: self
                .app_group_id
                .map(|id| id.parse())
                .transpose()
                .map_err(&bad)?,
            role_id: self
                .role_id
                .map(|id| id.parse())
                .transpose()
                .map_err(&bad)?,
            created_at: Timestamp::from_micros(self.created_at),
        })
    }
}

/// The mappings that apply to an IdP group (by its id or externalId).
pub(crate) fn mappings_of_group(
    conn: &mut DbConnection,
    group: &Group,
) -> StoreResult<Vec<GroupMapping>> {
    let Some(connection_id) = group.connection_id else {
        return Ok(Vec::new());
    };
    let mut keys = vec![group.id.to_string()];
    keys.extend(group.external_id.clone());
    let rows: Vec<MappingRow> = on_backend!(conn, |c| group_mappings::table
        .filter(group_mappings::connection_id.eq(connection_id.to_string()))
        .filter(any_of(group_mappings::idp_group_key, &keys))
        .select(MappingRow::as_select())
        .load(c))?;
    rows.into_iter().map(MappingRow::into_domain).collect()
}

/// Binds mappings waiting for this group's exact name to its stable id (the name is dropped:
/// from then on the mapping follows the id through renames); returns how many.
pub(crate) fn bind_pending(conn: &mut DbConnection, group: &Group) -> StoreResult<usize> {
    let Some(connection_id) = group.connection_id else {
        return Ok(0);
    };
    let pending: Vec<MappingRow> = group_mappings::table
        .filter(group_mappings::connection_id.eq(connection_id.to_string()))
        .filter(group_mappings::idp_group_key.is_null())
        .filter(group_mappings::idp_group_name.eq(group.display_name.as_str()))
        .select(MappingRow::as_select())
        .load(conn)?;
    let key = group.id.to_string();
    let bound: Vec<MappingRow> = group_mappings::table
        .filter(group_mappings::connection_id.eq(connection_id.to_string()))
        .filter(group_mappings::idp_group_key.eq(&key))
        .select(MappingRow::as_select())
        .load(conn)?;
    for row in &pending {
        let same = bound
            .iter()
            .filter(|b| b.app_group_id == row.app_group_id && b.role_id == row.role_id)
            .count();
        if same > 0 {
            // An identical mapping by id exists already: the pending one is redundant.
            diesel::delete(group_mappings::table.find(&row.id)).execute(conn)?;
        } else {
            diesel::update(group_mappings::table.find(&row.id))
                .set((
                    group_mappings::idp_group_key.eq(&key),
                    group_mappings::idp_group_name.eq(None::<String>),
                ))
                .execute(conn)?;
        }
    }
    Ok(pending.len())
}

/// Adds users to an app group through a mapping, with their membership events.
fn add_mapped(
    conn: &mut DbConnection,
    actor: &Actor,
    mapping: &GroupMapping,
    app_group: GroupId,
    users: &[String],
) -> StoreResult<()> {
    let provenance = Provenance::Mapping(mapping.id).to_stored();
    let added = add_members(conn, mapping.workspace_id, app_group, &provenance, users)?;
    if !added.is_empty() {
        let group = find_group(conn, mapping.workspace_id, app_group)?;
        events::membership_events(conn, actor, "group.member_added", &group, &added)?;
    }
    Ok(())
}

/// Removes users (or, with `None`, everyone) a mapping brought into an app group.
fn remove_mapped(
    conn: &mut DbConnection,
    actor: &Actor,
    mapping: &GroupMapping,
    app_group: GroupId,
    users: Option<&[String]>,
) -> StoreResult<Vec<String>> {
    let provenance = Provenance::Mapping(mapping.id).to_stored();
    let removed = remove_members(conn, app_group, &provenance, users)?;
    if !removed.is_empty() {
        let group = find_group(conn, mapping.workspace_id, app_group)?;
        events::membership_events(conn, actor, "group.member_removed", &group, &removed)?;
    }
    Ok(removed)
}

fn idp_members(conn: &mut DbConnection, group_id: &str) -> StoreResult<Vec<String>> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::provenance.eq(Provenance::Idp.to_stored()))
        .select(group_members::user_id)
        .load(conn)?)
}

/// After members joined (`added`) or left (`removed`) an IdP group: mirrors the change into the
/// app groups its mappings name and recomputes the users' roles. A group without mappings costs
/// one indexed query.
pub(crate) fn after_idp_membership_change(
    conn: &mut DbConnection,
    actor: &Actor,
    group: &Group,
    added: &[String],
    removed: &[String],
) -> StoreResult<()> {
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    let mappings = mappings_of_group(conn, group)?;
    if mappings.is_empty() {
        return Ok(());
    }
    for mapping in &mappings {
        if let Some(app_group) = mapping.app_group_id {
            add_mapped(conn, actor, mapping, app_group, added)?;
            remove_mapped(conn, actor, mapping, app_group, Some(removed))?;
        }
    }
    let users: Vec<String> = added.iter().chain(removed).cloned().collect();
    let cause = serde_json::json!({ "idp_group": group.id.to_string(), "idp_group_name": group.display_name.as_str() });
    recompute_roles(conn, actor, group.workspace_id, &users, &cause)
}

/// Removes everything a mapping brought (its app-group memberships) and recomputes the roles of
/// the users it reached. Call before or after deleting the mapping row, in the same transaction.
pub(crate) fn undo_mapping(
    conn: &mut DbConnection,
    actor: &Actor,
    mapping: &GroupMapping,
    cause: &serde_json::Value,
) -> StoreResult<()> {
    let mut users = match mapping.app_group_id {
        Some(app_group) => remove_mapped(conn, actor, mapping, app_group, None)?,
        None => Vec::new(),
    };
    if let Some(key) = &mapping.idp_group_key {
        for group_id in idp_groups_with_key(conn, mapping.connection_id, key)? {
            users.extend(idp_members(conn, &group_id)?);
        }
    }
    recompute_roles(conn, actor, mapping.workspace_id, &users, cause)
}

fn idp_groups_with_key(
    conn: &mut DbConnection,
    connection_id: ConnectionId,
    key: &str,
) -> StoreResult<Vec<String>> {
    Ok(groups::table
        .filter(groups::connection_id.eq(connection_id.to_string()))
        .filter(groups::kind.eq(GroupKind::Idp.as_str()))
        .filter(groups::id.eq(key).or(groups::external_id.eq(key)))
        .select(groups::id)
        .load(conn)?)
}

/// Applies a new mapping to the current members of the IdP group it names.
fn apply_mapping(
    conn: &mut DbConnection,
    actor: &Actor,
    mapping: &GroupMapping,
) -> StoreResult<()> {
    let Some(key) = &mapping.idp_group_key else {
        return Ok(());
    };
    let mut users = Vec::new();
    for group_id in idp_groups_with_key(conn, mapping.connection_id, key)? {
        users.extend(idp_members(conn, &group_id)?);
    }
    if let Some(app_group) = mapping.app_group_id {
        add_mapped(conn, actor, mapping, app_group, &users)?;
    }
    let cause = serde_json::json!({ "mapping": mapping.id.to_string(), "change": "created" });
    recompute_roles(conn, actor, mapping.workspace_id, &users, &cause)
}

/// Recomputes the granted roles of `users` from their direct assignments, the mappings of the
/// IdP groups they are in, and the roles attached to their app groups; writes the difference and
/// audits every change with `cause`.
pub(crate) fn recompute_roles(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace_id: WorkspaceId,
    users: &[String],
    cause: &serde_json::Value,
) -> StoreResult<()> {
    let users: BTreeSet<&String> = users.iter().collect();
    let has_rules =
        !users.is_empty() && super::attribute_rules::workspace_has_rules(conn, workspace_id)?;
    for user_id in users {
        let memberships: Vec<(String, String, Option<String>, Option<String>)> = groups::table
            .inner_join(group_members::table)
            .filter(group_members::user_id.eq(user_id))
            .select((
                groups::id,
                groups::kind,
                groups::connection_id,
                groups::external_id,
            ))
            .load(conn)?;
        let mut granted: BTreeSet<String> = user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .select(user_roles::role_id)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let group_ids: Vec<String> = memberships.iter().map(|(id, ..)| id.clone()).collect();
        granted.extend(on_backend!(conn, |c| group_roles::table
            .filter(any_of(group_roles::group_id, &group_ids))
            .select(group_roles::role_id)
            .load::<String>(c))?);
        // Attribute rules grant through the user's indexed values, unless the IdP deprovisioned
        // the user (their values stay for the record; their roles go, as their groups do).
        if has_rules {
            let lifecycle: Option<String> = users::table
                .find(user_id)
                .select(users::lifecycle)
                .first(conn)
                .optional()?;
            if lifecycle.as_deref() != Some(Lifecycle::Deprovisioned.as_str()) {
                granted.extend(super::attribute_rules::rule_roles(conn, user_id)?);
            }
        }
        for (id, kind, connection, external_id) in &memberships {
            let (Some(connection), true) = (connection, kind == GroupKind::Idp.as_str()) else {
                continue;
            };
            let mut keys = vec![id.clone()];
            keys.extend(external_id.clone());
            granted.extend(on_backend!(conn, |c| group_mappings::table
                .filter(group_mappings::connection_id.eq(connection))
                .filter(any_of(group_mappings::idp_group_key, &keys))
                .filter(group_mappings::role_id.is_not_null())
                .select(group_mappings::role_id.assume_not_null())
                .load::<String>(c))?);
        }
        let current: BTreeSet<String> = granted_roles::table
            .filter(granted_roles::user_id.eq(user_id))
            .select(granted_roles::role_id)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        if current == granted {
            continue;
        }
        let added: Vec<&String> = granted.difference(&current).collect();
        let removed: Vec<&String> = current.difference(&granted).collect();
        diesel::delete(
            granted_roles::table
                .filter(granted_roles::user_id.eq(user_id))
                .filter(granted_roles::role_id.eq_any(&removed)),
        )
        .execute(conn)?;
        for role_id in &added {
            diesel::insert_into(granted_roles::table)
                .values((
                    granted_roles::user_id.eq(user_id.clone()),
                    granted_roles::role_id.eq((*role_id).clone()),
                    granted_roles::workspace_id.eq(workspace_id.to_string()),
                ))
                .execute(conn)?;
        }
        let names = |ids: &[&String], conn: &mut DbConnection| -> StoreResult<Vec<String>> {
            Ok(roles::table
                .filter(roles::id.eq_any(ids))
                .order(roles::name.asc())
                .select(roles::name)
                .load(conn)?)
        };
        let detail = serde_json::json!({
            "added": names(&added, conn)?,
            "removed": names(&removed, conn)?,
            "cause": cause,
        });
        let granted_names = names(&granted.iter().collect::<Vec<_>>(), conn)?;
        events::record_event(
            conn,
            events::NewEvent {
                workspace_id,
                event_type: "user.roles_changed",
                actor,
                resource_kind: "user",
                resource_id: user_id.clone(),
                resource: serde_json::json!({
                    "userId": user_id,
                    "grantedRoles": granted_names,
                    "added": detail["added"],
                    "removed": detail["removed"],
                    "cause": cause,
                }),
                changed: Some(vec!["roles".to_owned()]),
            },
        )?;
        record_audit(
            conn,
            &NewAuditEvent {
                workspace_id: Some(workspace_id),
                actor: actor.clone(),
                action: Action("user.roles_changed"),
                target_kind: "user",
                target_id: user_id.clone(),
                detail: detail.to_string(),
            },
        )?;
    }
    Ok(())
}

fn find_mapping(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    id: MappingId,
) -> StoreResult<GroupMapping> {
    group_mappings::table
        .filter(group_mappings::workspace_id.eq(workspace_id.to_string()))
        .filter(group_mappings::id.eq(id.to_string()))
        .select(MappingRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "mapping" })?
        .into_domain()
}

/// Deletes a mapping and everything it brought, in the caller's transaction.
pub(crate) fn delete_mapping(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace_id: WorkspaceId,
    id: MappingId,
) -> StoreResult<()> {
    let mapping = find_mapping(conn, workspace_id, id)?;
    diesel::delete(group_mappings::table.find(id.to_string())).execute(conn)?;
    let cause = serde_json::json!({ "mapping": id.to_string(), "change": "deleted" });
    undo_mapping(conn, actor, &mapping, &cause)?;
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(workspace_id),
            actor: actor.clone(),
            action: Action("mapping.deleted"),
            target_kind: "mapping",
            target_id: id.to_string(),
            detail: "{}".to_owned(),
        },
    )
}

/// Creates a mapping and applies it at once to the current members of its IdP group, in the
/// caller's transaction. A mapping by name binds to the connection's IdP group of exactly that
/// name, or waits for it.
fn insert_mapping(
    conn: &mut DbConnection,
    actor: &Actor,
    new: &NewMapping,
) -> StoreResult<GroupMapping> {
    if new.app_group_id.is_none() && new.role_id.is_none() {
        return Err(StoreError::Invalid(
            roster_domain::DomainError::InvalidValue {
                field: "mapping",
                reason: "a mapping needs an app group, a role, or both".into(),
            },
        ));
    }
    let id = MappingId::new();
    let mut key = new.idp_group_key.clone();
    let mut name = new.idp_group_name.clone();
    if key.is_none() {
        if let Some(wanted) = &name {
            let existing: Option<String> = groups::table
                .filter(groups::connection_id.eq(new.connection_id.to_string()))
                .filter(groups::kind.eq(GroupKind::Idp.as_str()))
                .filter(groups::display_name.eq(wanted))
                .select(groups::id)
                .first(conn)
                .optional()?;
            if existing.is_some() {
                key = existing;
                name = None;
            }
        }
    }
    diesel::insert_into(group_mappings::table)
        .values(MappingRow {
            id: id.to_string(),
            workspace_id: new.workspace_id.to_string(),
            connection_id: new.connection_id.to_string(),
            idp_group_key: key,
            idp_group_name: name,
            app_group_id: new.app_group_id.map(|g| g.to_string()),
            role_id: new.role_id.map(|r| r.to_string()),
            created_at: Timestamp::now().as_micros(),
        })
        .execute(conn)
        .map_err(|err| {
            conflict_on(
                err,
                "mapping",
                &[("group_mappings", "this mapping exists already")],
            )
        })?;
    let mapping = find_mapping(conn, new.workspace_id, id)?;
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(new.workspace_id),
            actor: actor.clone(),
            action: Action("mapping.created"),
            target_kind: "mapping",
            target_id: id.to_string(),
            detail: serde_json::json!({
                "connection_id": new.connection_id.to_string(),
                "idp_group_key": mapping.idp_group_key,
                "idp_group_name": mapping.idp_group_name,
                "app_group_id": new.app_group_id.map(|g| g.to_string()),
                "role_id": new.role_id.map(|r| r.to_string()),
            })
            .to_string(),
        },
    )?;
    apply_mapping(conn, actor, &mapping)?;
    Ok(mapping)
}

impl Store {
    /// Creates a mapping and applies it at once to the current members of its IdP group. A
    /// mapping by name binds to the connection's IdP group of exactly that name, or waits for it.
    pub fn create_mapping(&self, actor: &Actor, new: &NewMapping) -> StoreResult<GroupMapping> {
        self.write(|conn| insert_mapping(conn, actor, new))
    }

    /// Creates a mapping as an operator names it — the role and the app group by name, the app
    /// group created when the workspace has none of that name — in one transaction: an unknown
    /// role (`NotFound { what: "role" }`) or a mapping that exists already writes nothing, not
    /// even the app group. The one implementation behind `roster mapping create` and
    /// `POST /api/v1/admin/scim/group-mappings`; each resolves the connection its own way first.
    pub fn create_named_mapping(
        &self,
        actor: &Actor,
        request: &NamedMapping,
    ) -> StoreResult<CreatedMapping> {
        self.write(|conn| {
            let role = request
                .role
                .as_ref()
                .map(|name| {
                    super::role::find_role_by_name(conn, request.workspace_id, name.as_str())
                })
                .transpose()?;
            let app_group = request
                .app_group
                .as_ref()
                .map(|name| {
                    super::group::app_group_or_insert(conn, actor, request.workspace_id, name)
                })
                .transpose()?;
            let (idp_group_key, idp_group_name) = match &request.idp_group {
                IdpGroupRef::Key(key) => (Some(key.clone()), None),
                IdpGroupRef::Name(name) => (None, Some(name.clone())),
            };
            let mapping = insert_mapping(
                conn,
                actor,
                &NewMapping {
                    workspace_id: request.workspace_id,
                    connection_id: request.connection_id,
                    idp_group_key,
                    idp_group_name,
                    app_group_id: app_group.as_ref().map(|group| group.id),
                    role_id: role.as_ref().map(|role| role.id),
                },
            )?;
            Ok(CreatedMapping {
                mapping,
                role,
                app_group,
            })
        })
    }

    /// Deletes a mapping and everything it brought (memberships, roles), at once.
    pub fn delete_mapping(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: MappingId,
    ) -> StoreResult<()> {
        self.write(|conn| delete_mapping(conn, actor, workspace_id, id))
    }

    pub fn mapping(&self, workspace_id: WorkspaceId, id: MappingId) -> StoreResult<GroupMapping> {
        self.read(|conn| find_mapping(conn, workspace_id, id))
    }

    /// A workspace's mappings, oldest first.
    pub fn list_mappings(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<GroupMapping>> {
        self.read(|conn| {
            group_mappings::table
                .filter(group_mappings::workspace_id.eq(workspace_id.to_string()))
                .order((group_mappings::created_at.asc(), group_mappings::id.asc()))
                .select(MappingRow::as_select())
                .load(conn)?
                .into_iter()
                .map(MappingRow::into_domain)
                .collect()
        })
    }
}
