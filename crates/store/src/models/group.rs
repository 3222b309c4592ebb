//! Groups and memberships.
//!
//! A membership row is (group, user, provenance): the same user can be in an app group both
//! manually and through a mapping, and removing one leaves the other.

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, ConnectionId, DisplayName, Group, GroupId, GroupKind, NewAuditEvent, Provenance,
    Timestamp, UserId, WorkspaceId,
};

use super::{corrupt, record_audit};
use crate::any_of::any_of;
use crate::db::{insert_ignoring_taken_keys, on_backend};
use crate::error::conflict_on;
use crate::schema::{group_members, groups};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// What creating a group needs.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub workspace_id: WorkspaceId,
    pub kind: GroupKind,
    pub display_name: DisplayName,
    pub connection_id: Option<ConnectionId>,
    pub external_id: Option<String>,
    pub scim_attributes: String,
}

#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = groups, treat_none_as_default_value = false)]
pub(crate) struct GroupRow {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) kind: String,
    pub(crate) display_name: String,
    pub(crate) display_name_key: String,
    pub(crate) connection_id: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) scim_attributes: String,
    pub(crate) version: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl GroupRow {
    pub(crate) fn into_domain(self) -> StoreResult<Group> {
        let bad = corrupt("groups");
        Ok(Group {
            id: self.id.parse().map_err(&bad)?,
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            kind: GroupKind::parse(&self.kind).map_err(&bad)?,
            display_name: DisplayName::parse(&self.display_name).map_err(&bad)?,
            connection_id: self
                .connection_id
                .map(|id| id.parse())
                .transpose()
                .map_err(&bad)?,
            external_id: self.external_id,
            scim_attributes: self.scim_attributes,
            version: self.version,
            created_at: Timestamp::from_micros(self.created_at),
            updated_at: Timestamp::from_micros(self.updated_at),
        })
    }
}

pub(crate) fn find_group(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    id: GroupId,
) -> StoreResult<Group> {
    groups::table
        .filter(groups::workspace_id.eq(workspace_id.to_string()))
        .filter(groups::id.eq(id.to_string()))
        .select(GroupRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "group" })?
        .into_domain()
}

/// Adds memberships with one provenance, ignoring ones that exist; returns the users actually
/// added (callers hold the group's lock, so the answer is exact), for events and role updates.
pub(crate) fn add_members(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    group_id: GroupId,
    provenance: &str,
    users: &[String],
) -> StoreResult<Vec<String>> {
    let now = Timestamp::now().as_micros();
    let mut added: Vec<String> = Vec::new();
    for chunk in users.chunks(200) {
        let existing: Vec<String> = on_backend!(conn, |c| group_members::table
            .filter(group_members::group_id.eq(group_id.to_string()))
            .filter(group_members::provenance.eq(provenance))
            .filter(any_of(group_members::user_id, chunk))
            .select(group_members::user_id)
            .load(c))?;
        let mut new: Vec<String> = chunk
            .iter()
            .filter(|u| !existing.contains(u))
            .cloned()
            .collect();
        new.sort();
        new.dedup();
        let rows: Vec<_> = new
            .iter()
            .map(|user_id| {
                (
                    group_members::group_id.eq(group_id.to_string()),
                    group_members::user_id.eq(user_id.clone()),
                    group_members::provenance.eq(provenance),
                    group_members::workspace_id.eq(workspace_id.to_string()),
                    group_members::created_at.eq(now),
                )
            })
            .collect();
        if !rows.is_empty() {
            insert_ignoring_taken_keys!(conn, group_members::table, &rows)?;
        }
        added.extend(new);
    }
    Ok(added)
}

/// Removes memberships with one provenance: of `users`, or of everyone when `None`; returns the
/// users actually removed.
pub(crate) fn remove_members(
    conn: &mut DbConnection,
    group_id: GroupId,
    provenance: &str,
    users: Option<&[String]>,
) -> StoreResult<Vec<String>> {
    let in_group = || {
        group_members::table
            .filter(group_members::group_id.eq(group_id.to_string()))
            .filter(group_members::provenance.eq(provenance.to_owned()))
    };
    let mut removed = Vec::new();
    match users {
        None => {
            removed = in_group().select(group_members::user_id).load(conn)?;
            diesel::delete(in_group()).execute(conn)?;
        }
        Some(users) => {
            for chunk in users.chunks(500) {
                let present: Vec<String> = on_backend!(conn, |c| in_group()
                    .filter(any_of(group_members::user_id, chunk))
                    .select(group_members::user_id)
                    .load(c))?;
                on_backend!(conn, |c| diesel::delete(
                    in_group().filter(any_of(group_members::user_id, &present))
                )
                .execute(c))?;
                removed.extend(present);
            }
        }
    }
    Ok(removed)
}

/// Inserts a group and its audit and outbox events (inside the caller's transaction).
pub(crate) fn insert_group(
    conn: &mut DbConnection,
    actor: &Actor,
    new: &NewGroup,
) -> StoreResult<Group> {
    let now = Timestamp::now().as_micros();
    let id = GroupId::new();
    diesel::insert_into(groups::table)
        .values(GroupRow {
            id: id.to_string(),
            workspace_id: new.workspace_id.to_string(),
            kind: new.kind.as_str().to_owned(),
            display_name: new.display_name.to_string(),
            display_name_key: new.display_name.key(),
            connection_id: new.connection_id.map(|id| id.to_string()),
            external_id: new.external_id.clone(),
            scim_attributes: new.scim_attributes.clone(),
            version: 1,
            created_at: now,
            updated_at: now,
        })
        .execute(conn)
        .map_err(|err| {
            conflict_on(
                err,
                "group",
                &[
                    (
                        "display_name_key",
                        "a group with this displayName already exists",
                    ),
                    (
                        "external_id",
                        "a group with this externalId already exists for this connection",
                    ),
                ],
            )
        })?;
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(new.workspace_id),
            actor: actor.clone(),
            action: Action("group.created"),
            target_kind: "group",
            target_id: id.to_string(),
            detail: serde_json::json!({
                "displayName": new.display_name.as_str(),
                "kind": new.kind.as_str(),
            })
            .to_string(),
        },
    )?;
    let group = find_group(conn, new.workspace_id, id)?;
    super::events::group_event(conn, actor, "group.created", &group)?;
    Ok(group)
}

/// The app group of that name (any case), inserted if the workspace has none (inside the
/// caller's transaction).
pub(crate) fn app_group_or_insert(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace_id: WorkspaceId,
    name: &DisplayName,
) -> StoreResult<Group> {
    let existing: Option<GroupRow> = groups::table
        .filter(groups::workspace_id.eq(workspace_id.to_string()))
        .filter(groups::kind.eq(GroupKind::App.as_str()))
        .filter(groups::display_name_key.eq(name.key()))
        .select(GroupRow::as_select())
        .get_result(conn)
        .optional()?;
    match existing {
        Some(row) => row.into_domain(),
        None => insert_group(
            conn,
            actor,
            &NewGroup {
                workspace_id,
                kind: GroupKind::App,
                display_name: name.clone(),
                connection_id: None,
                external_id: None,
                scim_attributes: "{}".to_owned(),
            },
        ),
    }
}

impl Store {
    /// Creates a group. App group names are unique per workspace, IdP group names and
    /// externalIds per connection (any case).
    pub fn create_group(&self, actor: &Actor, new: &NewGroup) -> StoreResult<Group> {
        self.write(|conn| insert_group(conn, actor, new))
    }

    /// The app group of that name (any case), created if there is none.
    pub fn app_group_by_name_or_create(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        name: &DisplayName,
    ) -> StoreResult<Group> {
        match self.write(|conn| app_group_or_insert(conn, actor, workspace_id, name)) {
            // Created concurrently by someone else: use theirs.
            Err(StoreError::Conflict { .. }) => {
                self.write(|conn| app_group_or_insert(conn, actor, workspace_id, name))
            }
            other => other,
        }
    }

    /// An IdP group of the workspace (any connection) by id.
    pub fn idp_group(&self, workspace_id: WorkspaceId, id: GroupId) -> StoreResult<Group> {
        let group = self.group(workspace_id, id)?;
        if group.kind == GroupKind::Idp {
            Ok(group)
        } else {
            Err(StoreError::NotFound { what: "group" })
        }
    }

    pub fn group(&self, workspace_id: WorkspaceId, id: GroupId) -> StoreResult<Group> {
        self.read(|conn| find_group(conn, workspace_id, id))
    }

    /// Adds a membership with its provenance; adding one that exists changes nothing.
    /// Returns whether a row was added.
    pub fn add_group_member(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        group_id: GroupId,
        user_id: UserId,
        provenance: Provenance,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            find_group(conn, workspace_id, group_id)?;
            super::user::find_user(conn, workspace_id, user_id)?;
            let stored = provenance.to_stored();
            let exists: i64 = group_members::table
                .filter(group_members::group_id.eq(group_id.to_string()))
                .filter(group_members::user_id.eq(user_id.to_string()))
                .filter(group_members::provenance.eq(&stored))
                .count()
                .get_result(conn)?;
            if exists > 0 {
                return Ok(false);
            }
            diesel::insert_into(group_members::table)
                .values((
                    group_members::group_id.eq(group_id.to_string()),
                    group_members::user_id.eq(user_id.to_string()),
                    group_members::provenance.eq(&stored),
                    group_members::workspace_id.eq(workspace_id.to_string()),
                    group_members::created_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("group.member_added"),
                    target_kind: "group",
                    target_id: group_id.to_string(),
                    detail:
                        serde_json::json!({ "user_id": user_id.to_string(), "provenance": stored })
                            .to_string(),
                },
            )?;
            let group = find_group(conn, workspace_id, group_id)?;
            super::events::membership_events(
                conn,
                actor,
                "group.member_added",
                &group,
                &[user_id.to_string()],
            )?;
            Ok(true)
        })
    }

    /// The groups a user is in (each once, whatever the provenance), by name.
    pub fn groups_of_user(
        &self,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Vec<Group>> {
        self.read(|conn| groups_of_user(conn, workspace_id, user_id))
    }
}

/// The groups a user is in, by name, inside the caller's transaction.
pub(crate) fn groups_of_user(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    user_id: UserId,
) -> StoreResult<Vec<Group>> {
    let (workspace_id, user_id) = (workspace_id.to_string(), user_id.to_string());
    let rows: Vec<GroupRow> = on_backend!(conn, |c| groups::table
        .filter(groups::workspace_id.eq(&workspace_id))
        .filter(
            groups::id.eq_any(
                group_members::table
                    .filter(group_members::user_id.eq(&user_id))
                    .select(group_members::group_id),
            ),
        )
        .order(groups::display_name_key.asc())
        .select(GroupRow::as_select())
        .load(c))?;
    rows.into_iter().map(GroupRow::into_domain).collect()
}
