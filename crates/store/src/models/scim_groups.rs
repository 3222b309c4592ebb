//! IdP groups as one SCIM connection sees them, and their memberships as set operations.
//!
//! Member changes never load the member list: adds are insert-or-ignore, removes are deletes by
//! key, a replace is one delete of the members not listed plus the adds. So a PATCH to a
//! 100,000-member group costs what it changes, and concurrent PATCHes lose no update.

use diesel::prelude::*;
use roster_domain::query::{GroupAttr, Listing, Page, Query, SortOrder};
use roster_domain::{
    Action, Actor, DisplayName, Group, GroupId, GroupKind, Lifecycle, NewAuditEvent, Timestamp,
};

use super::group::GroupRow;
use super::group::{add_members, remove_members};
use super::scim_users::ScimScope;
use super::{events, mapping, record_audit, NewProvisioningEntry};
use crate::db::update_kept_prepared;
use crate::error::conflict_on;
use crate::filter::group_predicate;
use crate::schema::{group_mappings, group_members, groups, users};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A change of a group's members, as SCIM PATCH and PUT express them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

/// A group's new name and externalId, when they change.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupUpdate {
    pub display_name: DisplayName,
    pub external_id: Option<String>,
    pub scim_attributes: String,
}

/// A member as SCIM lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub user_id: String,
}

/// What a member change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberReport {
    pub added: usize,
    pub removed: usize,
    /// Requested member ids that are no user this connection provisions (ignored).
    pub unknown: Vec<String>,
}

const IDP: &str = "idp";
type Backend = <DbConnection as Connection>::Backend;

fn visible(scope: ScimScope) -> groups::BoxedQuery<'static, Backend> {
    groups::table
        .filter(groups::workspace_id.eq(scope.workspace_id.to_string()))
        .filter(groups::connection_id.eq(scope.connection_id.to_string()))
        .filter(groups::kind.eq(GroupKind::Idp.as_str()))
        .into_boxed()
}

fn parse_group_id(id: &str) -> StoreResult<GroupId> {
    id.parse()
        .map_err(|_| StoreError::NotFound { what: "group" })
}

fn find_visible(conn: &mut DbConnection, scope: ScimScope, id: GroupId) -> StoreResult<Group> {
    visible(scope)
        .filter(groups::id.eq(id.to_string()))
        .select(GroupRow::as_select())
        // By primary key; no `.first()`, see the `db` module docs.
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "group" })?
        .into_domain()
}

/// [`find_visible`] for a write: on PostgreSQL the row is locked for the rest of the
/// transaction (`SELECT … FOR UPDATE`, one round trip where a no-op update and a read took
/// two), so concurrent member PATCHes of one group apply one after the other; SQLite's
/// `BEGIN IMMEDIATE` already holds the database's write lock.
fn find_visible_for_write(
    conn: &mut DbConnection,
    scope: ScimScope,
    id: GroupId,
) -> StoreResult<Group> {
    let row = match conn {
        DbConnection::Sqlite(_) => return find_visible(conn, scope, id),
        DbConnection::Postgres(c) => groups::table
            .filter(groups::id.eq(id.to_string()))
            .filter(groups::workspace_id.eq(scope.workspace_id.to_string()))
            .filter(groups::connection_id.eq(scope.connection_id.to_string()))
            .filter(groups::kind.eq(GroupKind::Idp.as_str()))
            .select(GroupRow::as_select())
            .for_update()
            .get_result(c)
            .optional()?,
    };
    row.ok_or(StoreError::NotFound { what: "group" })?
        .into_domain()
}

const GROUP_CONFLICTS: &[(&str, &str)] = &[
    (
        "display_name_key",
        "a group with this displayName already exists for this connection",
    ),
    (
        "external_id",
        "a group with this externalId already exists for this connection",
    ),
];

/// The ids among `wanted` of users this connection provisions (active or not).
///
/// No `workspace_id` condition: the connection implies the workspace, and with it SQLite's
/// planner (no statistics) preferred `workspace_id = ?` on a workspace index over the id list,
/// reading every user of the workspace per member PATCH (1.7 s each at 100,000 users).
fn known_members(
    conn: &mut DbConnection,
    scope: ScimScope,
    wanted: &[String],
) -> StoreResult<Vec<String>> {
    let mut known = Vec::new();
    for chunk in wanted.chunks(500) {
        let ids: Vec<String> = users::table
            .filter(users::managing_connection_id.eq(scope.connection_id.to_string()))
            .filter(users::lifecycle.ne(Lifecycle::Deprovisioned.as_str()))
            .filter(users::id.eq_any(chunk.iter().map(|id| id.to_lowercase())))
            .select(users::id)
            .load(conn)?;
        known.extend(ids);
    }
    Ok(known)
}

/// Who joined and left in a member change.
#[derive(Debug, Default)]
struct Affected {
    added: Vec<String>,
    removed: Vec<String>,
}

fn apply_member_op(
    conn: &mut DbConnection,
    scope: ScimScope,
    group_id: GroupId,
    op: &MemberOp,
    report: &mut MemberReport,
    affected: &mut Affected,
) -> StoreResult<()> {
    let mut unknown = |ids: &[String], known: &[String]| {
        report.unknown.extend(
            ids.iter()
                .filter(|id| !known.contains(&id.to_lowercase()))
                .cloned(),
        );
    };
    let (added, removed) = match op {
        MemberOp::Add(ids) => {
            let known = known_members(conn, scope, ids)?;
            unknown(ids, &known);
            (
                add_members(conn, scope.workspace_id, group_id, IDP, &known)?,
                Vec::new(),
            )
        }
        MemberOp::Remove(ids) => {
            let ids: Vec<String> = ids.iter().map(|id| id.to_lowercase()).collect();
            (Vec::new(), remove_members(conn, group_id, IDP, Some(&ids))?)
        }
        MemberOp::RemoveAll => (Vec::new(), remove_members(conn, group_id, IDP, None)?),
        MemberOp::Replace(ids) => {
            let known = known_members(conn, scope, ids)?;
            unknown(ids, &known);
            let leaving: Vec<String> = group_members::table
                .filter(group_members::group_id.eq(group_id.to_string()))
                .filter(group_members::provenance.eq(IDP))
                .filter(group_members::user_id.ne_all(known.clone()))
                .select(group_members::user_id)
                .load(conn)?;
            let removed = remove_members(conn, group_id, IDP, Some(&leaving))?;
            (
                add_members(conn, scope.workspace_id, group_id, IDP, &known)?,
                removed,
            )
        }
    };
    report.added += added.len();
    report.removed += removed.len();
    // A user who left and came back in one request ends up a member: net effect only.
    affected.removed.retain(|u| !added.contains(u));
    affected.added.retain(|u| !removed.contains(u));
    affected.added.extend(added);
    affected.removed.extend(removed);
    Ok(())
}

/// Membership events and mapped effects of a finished member change.
fn after_member_change(
    conn: &mut DbConnection,
    actor: &Actor,
    group: &Group,
    affected: &Affected,
) -> StoreResult<()> {
    events::membership_events(conn, actor, "group.member_added", group, &affected.added)?;
    events::membership_events(
        conn,
        actor,
        "group.member_removed",
        group,
        &affected.removed,
    )?;
    mapping::after_idp_membership_change(conn, actor, group, &affected.added, &affected.removed)
}

impl Store {
    /// One page of the groups `scope` sees that match `query`, and the number of all matches.
    pub fn scim_list_groups(
        &self,
        scope: ScimScope,
        query: &Query<GroupAttr>,
    ) -> StoreResult<Listing<Group>> {
        let predicate =
            || group_predicate(&query.filter).map_err(|err| StoreError::InvalidFilter(err.0));
        self.read(|conn| {
            let total: i64 = visible(scope)
                .filter(predicate()?)
                .count()
                .get_result(conn)?;
            let mut rows = visible(scope).filter(predicate()?);
            rows = match query.sort {
                None => rows.order(groups::id.asc()),
                Some((attr, order)) => {
                    macro_rules! by {
                        ($col:expr) => {
                            match order {
                                SortOrder::Ascending => rows.order(($col.asc(), groups::id.asc())),
                                SortOrder::Descending => {
                                    rows.order(($col.desc(), groups::id.desc()))
                                }
                            }
                        };
                    }
                    match attr {
                        GroupAttr::Id => by!(groups::id),
                        GroupAttr::DisplayName => by!(groups::display_name_key),
                        GroupAttr::ExternalId => by!(groups::external_id),
                        GroupAttr::Created => by!(groups::created_at),
                        GroupAttr::LastModified => by!(groups::updated_at),
                    }
                }
            };
            rows = match &query.page {
                Page::Offset { offset, limit } => rows.offset(*offset).limit(*limit),
                Page::After { last_id, limit } => match last_id {
                    Some(last) => rows.filter(groups::id.gt(last.clone())).limit(*limit),
                    None => rows.limit(*limit),
                },
            };
            let items = rows
                .select(GroupRow::as_select())
                .load(conn)?
                .into_iter()
                .map(GroupRow::into_domain)
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Listing { items, total })
        })
    }

    /// A group `scope` sees, by SCIM id.
    pub fn scim_group(&self, scope: ScimScope, id: &str) -> StoreResult<Group> {
        let id = parse_group_id(id)?;
        self.read(|conn| find_visible(conn, scope, id))
    }

    /// The members of a group (IdP provenance), in id order. Reads only the membership index.
    pub fn scim_group_members(&self, group_id: GroupId) -> StoreResult<Vec<MemberRef>> {
        self.read(|conn| {
            let ids: Vec<String> = group_members::table
                .filter(group_members::group_id.eq(group_id.to_string()))
                .filter(group_members::provenance.eq(IDP))
                .order(group_members::user_id.asc())
                .select(group_members::user_id)
                .load(conn)?;
            Ok(ids
                .into_iter()
                .map(|user_id| MemberRef { user_id })
                .collect())
        })
    }

    /// Creates an IdP group with its initial members. Unknown member ids are reported, not stored.
    pub fn scim_create_group(
        &self,
        actor: &Actor,
        scope: ScimScope,
        update: &GroupUpdate,
        members: &[String],
        log: impl FnOnce(&(Group, MemberReport)) -> NewProvisioningEntry,
    ) -> StoreResult<(Group, MemberReport)> {
        let id = GroupId::new();
        let now = Timestamp::now().as_micros();
        self.scim_write(
            |conn| {
                diesel::insert_into(groups::table)
                    .values(GroupRow {
                        id: id.to_string(),
                        workspace_id: scope.workspace_id.to_string(),
                        kind: GroupKind::Idp.as_str().to_owned(),
                        display_name: update.display_name.to_string(),
                        display_name_key: update.display_name.key(),
                        connection_id: Some(scope.connection_id.to_string()),
                        external_id: update.external_id.clone(),
                        scim_attributes: update.scim_attributes.clone(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    })
                    .execute(conn)
                    .map_err(|err| conflict_on(err, "group", GROUP_CONFLICTS))?;
                let created = find_visible(conn, scope, id)?;
                events::group_event(conn, actor, "group.created", &created)?;
                mapping::bind_pending(conn, &created)?;
                let mut report = MemberReport::default();
                if !members.is_empty() {
                    let mut affected = Affected::default();
                    let add = MemberOp::Add(members.to_vec());
                    apply_member_op(conn, scope, id, &add, &mut report, &mut affected)?;
                    after_member_change(conn, actor, &created, &affected)?;
                }
                group_audit(
                    conn,
                    actor,
                    scope,
                    "group.created",
                    id,
                    serde_json::json!({
                        "displayName": update.display_name.as_str(),
                        "members_added": report.added,
                    }),
                )?;
                Ok((find_visible(conn, scope, id)?, report))
            },
            log,
        )
    }

    /// Changes a group `scope` sees: `compute` gets the current group (locked for the rest of the
    /// transaction) and returns its new name/externalId (if they change) and member operations.
    pub fn scim_modify_group<E: From<StoreError>>(
        &self,
        actor: &Actor,
        scope: ScimScope,
        id: &str,
        if_match: Option<i64>,
        compute: impl FnOnce(&Group) -> Result<(Option<GroupUpdate>, Vec<MemberOp>), E>,
        log: impl FnOnce(&(Group, MemberReport)) -> NewProvisioningEntry,
    ) -> Result<(Group, MemberReport), E> {
        let id = parse_group_id(id)?;
        self.scim_write(
            |conn| {
                let current = find_visible_for_write(conn, scope, id)?;
                super::scim_users::check_version(current.version, if_match)?;
                let (update, ops) = compute(&current)?;
                let mut report = MemberReport::default();
                let mut affected = Affected::default();
                for op in &ops {
                    apply_member_op(conn, scope, id, op, &mut report, &mut affected)?;
                }
                after_member_change(conn, actor, &current, &affected)?;
                let renamed = update.as_ref().is_some_and(|u| {
                    u.display_name != current.display_name
                        || u.external_id != current.external_id
                        || u.scim_attributes != current.scim_attributes
                });
                if !renamed && report.added == 0 && report.removed == 0 {
                    return Ok((current, report));
                }
                let now = Timestamp::now().as_micros();
                match update.filter(|_| renamed) {
                    Some(update) => update_kept_prepared!(
                        &mut *conn,
                        diesel::update(groups::table.find(id.to_string())).set((
                            groups::display_name.eq(update.display_name.as_str()),
                            groups::display_name_key.eq(update.display_name.key()),
                            groups::external_id.eq(&update.external_id),
                            groups::scim_attributes.eq(&update.scim_attributes),
                            groups::version.eq(groups::version + 1),
                            groups::updated_at.eq(now),
                        )),
                        returning groups::id
                    )
                    .map_err(|err| conflict_on(err, "group", GROUP_CONFLICTS))?,
                    // Every member change moves the group's version (a member PATCH of a sync).
                    None => update_kept_prepared!(
                        &mut *conn,
                        diesel::update(groups::table.find(id.to_string())).set((
                            groups::version.eq(groups::version + 1),
                            groups::updated_at.eq(now),
                        )),
                        returning groups::id
                    )
                    .map_err(StoreError::from)?,
                };
                if renamed {
                    let renamed_group = find_visible(conn, scope, id)?;
                    events::group_event(conn, actor, "group.updated", &renamed_group)?;
                    mapping::bind_pending(conn, &renamed_group)?;
                    group_audit(
                        conn,
                        actor,
                        scope,
                        "group.updated",
                        id,
                        serde_json::json!({
                            "from": current.display_name.as_str(),
                        }),
                    )?;
                }
                if report.added > 0 || report.removed > 0 {
                    group_audit(
                        conn,
                        actor,
                        scope,
                        "group.members_changed",
                        id,
                        serde_json::json!({
                            "added": report.added,
                            "removed": report.removed,
                            "operations": ops.iter().map(describe_op).collect::<Vec<_>>(),
                        }),
                    )?;
                }
                Ok((find_visible(conn, scope, id)?, report))
            },
            log,
        )
    }

    /// SCIM DELETE of a group: the group, its memberships and the mappings keyed by it go.
    pub fn scim_delete_group(
        &self,
        actor: &Actor,
        scope: ScimScope,
        id: &str,
        if_match: Option<i64>,
        log: impl FnOnce(&()) -> NewProvisioningEntry,
    ) -> StoreResult<()> {
        let id = parse_group_id(id)?;
        self.scim_write(|conn| {
            let current = find_visible(conn, scope, id)?;
            super::scim_users::check_version(current.version, if_match)?;
            // Its mappings go, and with them what they brought: app-group memberships and roles.
            let mappings = mapping::mappings_of_group(conn, &current)?;
            for found in &mappings {
                diesel::delete(group_mappings::table.find(found.id.to_string())).execute(conn)?;
                let cause = serde_json::json!({ "idp_group_deleted": id.to_string(), "mapping": found.id.to_string() });
                mapping::undo_mapping(conn, actor, found, &cause)?;
            }
            let mappings = mappings.len();
            diesel::delete(groups::table.find(id.to_string())).execute(conn)?;
            events::group_event(conn, actor, "group.deleted", &current)?;
            group_audit(
                conn,
                actor,
                scope,
                "group.deleted",
                id,
                serde_json::json!({
                    "displayName": current.display_name.as_str(),
                    "mappings_deleted": mappings,
                }),
            )
        }, log)
    }
}

fn describe_op(op: &MemberOp) -> serde_json::Value {
    match op {
        MemberOp::Add(ids) => serde_json::json!({ "add": ids }),
        MemberOp::Remove(ids) => serde_json::json!({ "remove": ids }),
        MemberOp::RemoveAll => serde_json::json!({ "remove_all": true }),
        MemberOp::Replace(ids) => serde_json::json!({ "replace": ids }),
    }
}

fn group_audit(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: ScimScope,
    action: &'static str,
    id: GroupId,
    detail: serde_json::Value,
) -> StoreResult<()> {
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(scope.workspace_id),
            actor: actor.clone(),
            action: Action(action),
            target_kind: "group",
            target_id: id.to_string(),
            detail: detail.to_string(),
        },
    )
}
