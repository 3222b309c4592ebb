//! Users as one SCIM connection sees them: the users it manages, minus deprovisioned ones.
//!
//! A connection never sees or touches users another connection manages, nor JIT/invited users
//! until it adopts them. A create whose keys are taken loads the users holding them and does
//! what `provisioning::decide_create` (domain) decides — a re-POST of a deactivated or
//! deprovisioned user of the same connection brings it back with the same id, a pre-SCIM user
//! with the same userName and email is adopted, any other collision is a conflict — in one
//! transaction; every change of a user's status goes through `write_lifecycle`.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Text;
use roster_domain::attributes::AttributeKind;
use roster_domain::provisioning::{decide_create, CreateDecision, CreateRequest, MatchedOn};
use roster_domain::query::{
    key_match, CompareOp, Filter, KeyMatch, Listing, Page, Query, SortOrder, UserAttr,
};
use roster_domain::{
    Action, Actor, AttributeId, ConnectionId, Email, Lifecycle, LifecycleChange, LifecycleEvent,
    Timestamp, User, UserId, UserName, WorkspaceId,
};

use super::user::{insert_user, insert_user_unless_taken, write_lifecycle, UserRow, UserWrite};
use super::{events, NewProvisioningEntry, NewUser};
use crate::db::on_backend;
use crate::filter::user_predicate;
use crate::schema::{group_members, users};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// The workspace and connection a SCIM request acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimScope {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
}

/// How a SCIM create was satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// A new user.
    Created,
    /// A pre-SCIM (JIT or invited) user with the same userName and email, now managed by SCIM.
    Adopted,
    /// A deprovisioned user of the same connection, back with the same id.
    Reprovisioned,
}

/// The new state of a SCIM user's mutable attributes, computed by the protocol crate.
#[derive(Debug, Clone, PartialEq)]
pub struct UserUpdate {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// Stored only when the user has no email yet (identifiers are set once).
    pub email: Option<Email>,
    pub active: bool,
    pub scim_attributes: String,
    /// The custom attributes the connection sources, with their values in the new resource.
    pub attributes: Vec<super::attribute_values::AttributeEdit>,
    /// Names of the attributes that changed, for the audit trail.
    pub changed: Vec<String>,
    /// Extra audit facts (e.g. ignored identifier changes) as a JSON object.
    pub note: serde_json::Value,
}

fn parse_user_id(id: &str) -> StoreResult<UserId> {
    id.parse()
        .map_err(|_| StoreError::NotFound { what: "user" })
}

/// The rows `scope` sees: its connection's users, deprovisioned ones left out. The one place
/// this rule is written in SQL; [`visible`] boxes it, and [`in_scope`] checks it on a row found
/// by a unique key.
/// `visible_to!(scope, from)` applies it to another source that has the `users` columns (a join).
macro_rules! visible_to {
    ($scope:expr) => {
        visible_to!($scope, users::table)
    };
    ($scope:expr, $from:expr) => {
        $from
            .filter(users::workspace_id.eq($scope.workspace_id.to_string()))
            .filter(users::managing_connection_id.eq($scope.connection_id.to_string()))
            .filter(users::lifecycle.ne(Lifecycle::Deprovisioned.as_str()))
    };
}

/// The rows visible to `scope`, boxed so filters can be added.
fn visible(scope: ScimScope) -> users::BoxedQuery<'static, <DbConnection as Connection>::Backend> {
    visible_to!(scope).into_boxed()
}

/// The row a unique key names, not boxed (the hot lookups, `GET /Users/{id}` and `userName eq`,
/// keep a prepared statement per key, found by type; see [`on_backend`]). `$key` is exactly the
/// columns of one unique index, and the scope's rule is checked on the row afterwards
/// ([`in_scope`]), not in SQL: with the rule's columns in the `WHERE` too, a PostgreSQL generic
/// plan made without statistics (a fresh table, or one not analysed since a bulk load) chose the
/// scope index `(workspace_id, managing_connection_id, lifecycle)` and read every user of the
/// connection for each lookup; the bench measured `GET /Users/{id}` at 2,080/s on 5,000 users.
macro_rules! by_unique_key {
    ($key:expr) => {
        users::table.filter($key).select(UserRow::as_select())
    };
}

/// [`visible_to!`]'s rule on one row: its connection's, not deprovisioned. It runs on every
/// SCIM read, so the ids are compared as stored (lowercase hyphenated) without allocating.
fn in_scope(scope: ScimScope, row: &UserRow) -> bool {
    let stored_as = |id: uuid::Uuid, column: &str| {
        column
            == id
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
    };
    stored_as(scope.workspace_id.as_uuid(), &row.workspace_id)
        && row
            .managing_connection_id
            .as_deref()
            .is_some_and(|connection| stored_as(scope.connection_id.as_uuid(), connection))
        && row.lifecycle != Lifecycle::Deprovisioned.as_str()
}

fn find_visible(conn: &mut DbConnection, scope: ScimScope, id: UserId) -> StoreResult<User> {
    let id = id.to_string();
    // By primary key; no `.first()`, see the `db` module docs.
    on_backend!(conn, |c| by_unique_key!(users::id.eq(&id))
        .get_result(c)
        .optional())?
    .filter(|row| in_scope(scope, row))
    .ok_or(StoreError::NotFound { what: "user" })?
    .into_domain()
}

/// [`find_visible`] for a write: on PostgreSQL the row is locked for the rest of the
/// transaction (`SELECT … FOR UPDATE`, one round trip where a no-op update and a read took two),
/// so concurrent writes to one user apply one after the other; SQLite's `BEGIN IMMEDIATE`
/// already holds the database's write lock.
fn find_visible_for_write(
    conn: &mut DbConnection,
    scope: ScimScope,
    id: UserId,
) -> StoreResult<User> {
    let key = id.to_string();
    let row = match conn {
        DbConnection::Sqlite(_) => return find_visible(conn, scope, id),
        DbConnection::Postgres(c) => by_unique_key!(users::id.eq(&key))
            .for_update()
            .get_result(c)
            .optional()?,
    };
    row.filter(|row| in_scope(scope, row))
        .ok_or(StoreError::NotFound { what: "user" })?
        .into_domain()
}

/// A `userName`, `id` or `externalId` `eq` lookup (at most one row per connection): the
/// statement is prepared once per attribute, where the general filter path builds its SQL
/// every time. `None` for any other filter.
fn unique_lookup(
    conn: &mut DbConnection,
    scope: ScimScope,
    filter: &Filter<UserAttr>,
) -> StoreResult<Option<Vec<User>>> {
    let Filter::Compare {
        attr,
        op: CompareOp::Eq,
        value,
    } = filter
    else {
        return Ok(None);
    };
    let key = |name, folded| {
        crate::filter::text_operand(name, value, folded)
            .map_err(|err| StoreError::InvalidFilter(err.0))
    };
    let rows: Vec<UserRow> = match attr {
        UserAttr::UserName => {
            let value = key("userName", true)?;
            let workspace = scope.workspace_id.to_string();
            on_backend!(conn, |c| by_unique_key!(users::workspace_id
                .eq(&workspace)
                .and(users::user_name_key.eq(&value)))
            .load(c))?
        }
        UserAttr::Id => {
            let value = key("id", true)?;
            on_backend!(conn, |c| by_unique_key!(users::id.eq(&value)).load(c))?
        }
        UserAttr::ExternalId => {
            let value = key("externalId", false)?;
            let connection = scope.connection_id.to_string();
            on_backend!(conn, |c| by_unique_key!(users::managing_connection_id
                .eq(&connection)
                .and(users::external_id.eq(&value)))
            .load(c))?
        }
        _ => return Ok(None),
    };
    rows.into_iter()
        .filter(|row| in_scope(scope, row))
        .map(UserRow::into_domain)
        .collect::<StoreResult<Vec<_>>>()
        .map(Some)
}

/// The attribute and index key of a top-level `eq` on a custom attribute that holds one value
/// per user, listed in the default order: what IdPs and products send
/// (`urn:…:department eq "Sales"`). `None` for anything else (a list attribute may hold one key
/// twice, so it takes the general path, whose `IN` counts a user once).
fn custom_equality(query: &Query<UserAttr>) -> StoreResult<Option<(AttributeId, String)>> {
    let Filter::Compare {
        attr: UserAttr::Custom {
            id,
            kind,
            case_exact,
        },
        op: CompareOp::Eq,
        value,
    } = &query.filter
    else {
        return Ok(None);
    };
    if query.sort.is_some() || *kind == AttributeKind::StringList {
        return Ok(None);
    }
    match key_match(*kind, *case_exact, CompareOp::Eq, value) {
        Ok(KeyMatch::Equal(key)) => Ok(Some((*id, key))),
        Ok(_) => Ok(None),
        Err(err) => Err(StoreError::InvalidFilter(format!(
            "a custom attribute: {err}"
        ))),
    }
}

/// One page of the users `scope` sees whose attribute `id` has the index key `key`, read from
/// the index in user id order: `user_attribute_values JOIN users … WHERE attribute_id = ? AND
/// sort_key = ? ORDER BY user_id LIMIT n`, so a page costs its own rows at any depth (keyset
/// after the last id, or an offset); and a COUNT over the same join.
fn custom_equality_page(
    conn: &mut DbConnection,
    scope: ScimScope,
    id: AttributeId,
    key: &str,
    page: &Page,
) -> StoreResult<Vec<User>> {
    use crate::schema::user_attribute_values as values;
    let mut rows = visible_to!(scope, values::table.inner_join(users::table))
        .filter(values::attribute_id.eq(id.to_string()))
        .filter(values::sort_key.eq(key.to_owned()))
        .order(values::user_id.asc())
        .select(UserRow::as_select())
        .into_boxed();
    rows = match page {
        Page::Offset { offset, limit } => rows.offset(*offset).limit(*limit),
        Page::After { last_id, limit } => {
            if let Some(last) = last_id {
                rows = rows.filter(values::user_id.gt(last.clone()));
            }
            rows.limit(*limit)
        }
    };
    rows.load(conn)?
        .into_iter()
        .map(UserRow::into_domain)
        .collect()
}

/// How many users `scope` sees whose attribute `id` (one value per user) has the index key
/// `key`: the attribute's holders of the key, counted in its index alone, less those among the
/// users of the workspace `scope` does not see ([`hidden_users`]). Looking up every holder's
/// user instead costs a random read per holder (10 ms for a thousand in a million-user
/// directory); the hidden users are few where SCIM manages the directory, and when they are
/// more than the holders, the holders are looked up after all.
fn custom_equality_count(
    conn: &mut DbConnection,
    scope: ScimScope,
    id: AttributeId,
    key: &str,
) -> StoreResult<i64> {
    use crate::schema::user_attribute_values as values;
    let holding = || {
        values::table
            .filter(values::attribute_id.eq(id.to_string()))
            .filter(values::sort_key.eq(key.to_owned()))
    };
    let holders: i64 = holding().count().get_result(conn)?;
    if holders == 0 {
        return Ok(0);
    }
    let most = usize::try_from(holders)
        .unwrap_or(usize::MAX)
        .min(MAX_HIDDEN_SUBTRACTED);
    match hidden_users(conn, scope, most)? {
        Some(hidden) if hidden.is_empty() => Ok(holders),
        Some(hidden) => {
            // One statement text whatever the number of ids (`any_of`), kept prepared.
            let hidden_holders: i64 = on_backend!(conn, |c| holding()
                .filter(crate::any_of::any_of(values::user_id, &hidden))
                .count()
                .get_result(c))?;
            Ok(holders - hidden_holders)
        }
        None => {
            // Read as the page reads them (in user id order: not `COUNT(*)`, for which SQLite,
            // without statistics, scans the workspace's users and probes the index).
            let matches: Vec<String> = visible_to!(scope, values::table.inner_join(users::table))
                .filter(values::attribute_id.eq(id.to_string()))
                .filter(values::sort_key.eq(key.to_owned()))
                .order(values::user_id.asc())
                .select(values::user_id)
                .load(conn)?;
            Ok(i64::try_from(matches.len()).unwrap_or(i64::MAX))
        }
    }
}

/// The most hidden users [`custom_equality_count`] takes away (bound as parameters).
const MAX_HIDDEN_SUBTRACTED: usize = 10_000;

/// The ids of the users of `scope`'s workspace that `scope` does not see — the complement of
/// [`visible_to!`] in the workspace: no connection's (JIT, invited), another connection's, and
/// its own deprovisioned ones — or `None` when there are more than `most`. Four ranges of the
/// index `users_scope_idx` (`<>` reads no index, so "another connection" is `<` and `>`).
fn hidden_users(
    conn: &mut DbConnection,
    scope: ScimScope,
    most: usize,
) -> StoreResult<Option<Vec<String>>> {
    let workspace = scope.workspace_id.to_string();
    let connection = scope.connection_id.to_string();
    let of_workspace = || {
        users::table
            .filter(users::workspace_id.eq(workspace.clone()))
            .select(users::id)
            .into_boxed()
    };
    let ranges = [
        of_workspace().filter(users::managing_connection_id.is_null()),
        of_workspace().filter(users::managing_connection_id.lt(connection.clone())),
        of_workspace().filter(users::managing_connection_id.gt(connection.clone())),
        of_workspace()
            .filter(users::managing_connection_id.eq(connection.clone()))
            .filter(users::lifecycle.eq(Lifecycle::Deprovisioned.as_str())),
    ];
    let mut hidden = Vec::new();
    for range in ranges {
        let room = most.saturating_sub(hidden.len()).saturating_add(1);
        let limit = i64::try_from(room).unwrap_or(i64::MAX);
        hidden.extend(range.limit(limit).load::<String>(conn)?);
        if hidden.len() > most {
            return Ok(None);
        }
    }
    Ok(Some(hidden))
}

/// The users with these ids, in the order of `ids` (ids of no user are left out).
fn rows_in_order(conn: &mut DbConnection, ids: &[String]) -> StoreResult<Vec<UserRow>> {
    let rows: Vec<UserRow> = on_backend!(conn, |c| users::table
        .filter(crate::any_of::any_of(users::id, ids))
        .select(UserRow::as_select())
        .load(c))?;
    let mut by_id: std::collections::HashMap<String, UserRow> =
        rows.into_iter().map(|row| (row.id.clone(), row)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// How many users `scope` sees match `filter`, one that only users with a value of a custom
/// attribute match: their ids read in id order and counted. In that order SQLite reads the
/// matches from the attribute's index and looks their users up; asked for `COUNT(*)`, it scans
/// the workspace's users instead and checks each against the index's matches.
fn count_by_ids(
    conn: &mut DbConnection,
    scope: ScimScope,
    filter: &Filter<UserAttr>,
) -> StoreResult<i64> {
    let predicate = user_predicate(filter).map_err(|err| StoreError::InvalidFilter(err.0))?;
    let ids: Vec<String> = visible(scope)
        .filter(predicate)
        .order(users::id.asc())
        .select(users::id)
        .load(conn)?;
    Ok(i64::try_from(ids.len()).unwrap_or(i64::MAX))
}

/// `If-Match`: the version the client last saw must be the current one.
pub(crate) fn check_version(current: i64, if_match: Option<i64>) -> StoreResult<()> {
    match if_match {
        Some(expected) if expected != current => Err(StoreError::PreconditionFailed {
            expected,
            actual: current,
        }),
        _ => Ok(()),
    }
}

impl Store {
    /// One page of the users `scope` sees that match `query`, and the number of all matches.
    pub fn scim_list_users(
        &self,
        scope: ScimScope,
        query: &Query<UserAttr>,
    ) -> StoreResult<Listing<User>> {
        let predicate = |q: &Query<UserAttr>| {
            user_predicate(&q.filter).map_err(|err| StoreError::InvalidFilter(err.0))
        };
        self.read(|conn| {
            if query.is_unique_lookup() {
                // `userName eq`, Entra's lookup before every create: at most one row, so no
                // LIMIT (a bound LIMIT costs SQLite a re-prepare, see `db`), no COUNT, and no
                // boxed query built for nothing.
                if let Some(items) = unique_lookup(conn, scope, &query.filter)? {
                    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    return Ok(Listing { items, total });
                }
            }
            if let Some((id, key)) = custom_equality(query)? {
                let items = custom_equality_page(conn, scope, id, &key, &query.page)?;
                return self.with_total(scope, query, items, || {
                    custom_equality_count(conn, scope, id, &key)
                });
            }
            let mut rows = visible(scope).filter(predicate(query)?);
            rows = match query.sort {
                None => rows.order(users::id.asc()),
                Some((attr, order)) => sort_users(rows, attr, order),
            };
            rows = match &query.page {
                Page::Offset { offset, limit } => rows.offset(*offset).limit(*limit),
                Page::After { last_id, limit } => {
                    let rows = match last_id {
                        Some(last) => rows.filter(users::id.gt(last.clone())),
                        None => rows,
                    };
                    rows.limit(*limit)
                }
            };
            let rows = if let Some((UserAttr::Custom { .. }, _)) = query.sort {
                // Sorted by a custom attribute, SQLite sorts every match: only the ids go
                // through its sorter (whole rows made it hold, and keep, megabytes per sort),
                // and the page's rows are read by id afterwards.
                let ids: Vec<String> = rows.select(users::id).load(conn)?;
                rows_in_order(conn, &ids)?
            } else {
                rows.select(UserRow::as_select()).load(conn)?
            };
            let items = rows
                .into_iter()
                .map(UserRow::into_domain)
                .collect::<StoreResult<Vec<_>>>()?;
            self.with_total(scope, query, items, || {
                if query.filter.narrowed_by_custom_attribute() {
                    return count_by_ids(conn, scope, &query.filter);
                }
                Ok(visible(scope)
                    .filter(predicate(query)?)
                    .count()
                    .get_result(conn)?)
            })
        })
    }

    /// A page of `query`'s matches with the number of all matches: the page's length when it is
    /// a first page that is not full (it holds every match, as a `userName eq` lookup's does),
    /// else a recent count of the same query when the page continues a cursor walk
    /// (`list_totals`), else `count`.
    fn with_total(
        &self,
        scope: ScimScope,
        query: &Query<UserAttr>,
        items: Vec<User>,
        count: impl FnOnce() -> StoreResult<i64>,
    ) -> StoreResult<Listing<User>> {
        let (first_page, limit) = query.page.first_and_limit();
        let returned = i64::try_from(items.len()).unwrap_or(i64::MAX);
        if first_page && returned < limit {
            return Ok(Listing {
                items,
                total: returned,
            });
        }
        let key = format!("{}/users/{:?}", scope.connection_id, query.filter);
        let now = std::time::Instant::now();
        let continues_a_walk = matches!(
            query.page,
            Page::After {
                last_id: Some(_),
                ..
            }
        );
        if let Some(total) = continues_a_walk
            .then(|| self.list_totals.recent(&key, now))
            .flatten()
        {
            return Ok(Listing { items, total });
        }
        let total = count()?;
        self.list_totals.remember(key, total, now);
        Ok(Listing { items, total })
    }

    /// A user `scope` sees, by SCIM id; anything else (unknown, malformed, another connection's,
    /// deprovisioned) is `NotFound`.
    pub fn scim_user(&self, scope: ScimScope, id: &str) -> StoreResult<User> {
        let id = parse_user_id(id)?;
        self.read(|conn| find_visible(conn, scope, id))
    }

    /// Creates, adopts or reprovisions a user (see the module docs), in one transaction.
    pub fn scim_create_user(
        &self,
        actor: &Actor,
        scope: ScimScope,
        new: &NewUser,
        log: impl FnOnce(&(User, CreateOutcome)) -> NewProvisioningEntry,
    ) -> StoreResult<(User, CreateOutcome)> {
        self.scim_write(
            |conn| {
                // The common case first: a new user. The insert writes nothing when the
                // userName or the externalId is taken, and the checks below then find which.
                if let Some(user) = insert_user_unless_taken(conn, actor, new)? {
                    return Ok((user, CreateOutcome::Created));
                }
                // A key is taken: who holds it decides (`decide_create`). The externalId
                // decides first, so the userName's holder is only loaded when no user of this
                // connection has the externalId.
                let by_external_id = match &new.external_id {
                    Some(external_id) => users::table
                        .filter(users::workspace_id.eq(scope.workspace_id.to_string()))
                        .filter(users::managing_connection_id.eq(scope.connection_id.to_string()))
                        .filter(users::external_id.eq(external_id))
                        .select(UserRow::as_select())
                        .get_result(conn)
                        .optional()?
                        .map(UserRow::into_domain)
                        .transpose()?,
                    None => None,
                };
                let by_user_name = match by_external_id {
                    Some(_) => None,
                    None => users::table
                        .filter(users::workspace_id.eq(scope.workspace_id.to_string()))
                        .filter(users::user_name_key.eq(new.user_name.key()))
                        .select(UserRow::as_select())
                        .get_result(conn)
                        .optional()?
                        .map(UserRow::into_domain)
                        .transpose()?,
                };
                let request = CreateRequest {
                    connection: scope.connection_id,
                    email: new.email.as_ref(),
                    active: new.active,
                };
                match decide_create(&request, by_external_id.as_ref(), by_user_name.as_ref())? {
                    // Neither is taken, so the ignored insert failed on something else
                    // (SQLite's `OR IGNORE` also skips NOT NULL and CHECK failures): the plain
                    // insert reports it as it always did.
                    CreateDecision::Insert => {
                        Ok((insert_user(conn, actor, new)?, CreateOutcome::Created))
                    }
                    CreateDecision::Reprovision {
                        user,
                        matched_on,
                        change,
                    } => reprovision(conn, actor, scope, user, new, matched_on, &change),
                    CreateDecision::Adopt { user, change } => {
                        adopt(conn, actor, scope, user, new, &change)
                    }
                    CreateDecision::Conflict(conflict) => Err(StoreError::Conflict {
                        what: "user",
                        detail: conflict.to_string(),
                    }),
                }
            },
            log,
        )
    }

    /// Changes a user `scope` sees: `compute` gets the current user (locked for the rest of the
    /// transaction) and returns its new state, or an error that leaves everything unchanged.
    /// `if_match` is the version the client last saw (ETag); a mismatch is `PreconditionFailed`.
    pub fn scim_modify_user<E: From<StoreError>>(
        &self,
        actor: &Actor,
        scope: ScimScope,
        id: &str,
        if_match: Option<i64>,
        compute: impl FnOnce(&User) -> Result<Option<UserUpdate>, E>,
        log: impl FnOnce(&User) -> NewProvisioningEntry,
    ) -> Result<User, E> {
        let id = parse_user_id(id)?;
        self.scim_write(
            |conn| {
                let current = find_visible_for_write(conn, scope, id)?;
                check_version(current.version, if_match)?;
                let Some(update) = compute(&current)? else {
                    return Ok(current);
                };
                let change = current
                    .lifecycle
                    .plan(LifecycleEvent::set_active(update.active))
                    .map_err(StoreError::from)?;
                let write = UserWrite {
                    profile: Some((&update, current.managing_connection_id)),
                    // `active` is announced by the plan's own events.
                    changed: without_active(&update.changed),
                    audit_action: Some(change.audit.unwrap_or(Action("user.updated"))),
                    audit_detail: serde_json::json!({ "changed": update.changed, "note": update.note }),
                    at: Timestamp::now(),
                };
                let changed_user = write_lifecycle(conn, actor, &current, &change, write)?.user;
                Ok(changed_user)
            },
            log,
        )
    }

    /// SCIM DELETE: deprovisions the user (kept with its audit trail, sessions revoked, hidden
    /// from SCIM) and removes its IdP group memberships.
    pub fn scim_delete_user(
        &self,
        actor: &Actor,
        scope: ScimScope,
        id: &str,
        if_match: Option<i64>,
        log: impl FnOnce(&()) -> NewProvisioningEntry,
    ) -> StoreResult<()> {
        let id = parse_user_id(id)?;
        self.scim_write(
            |conn| {
                let current = find_visible_for_write(conn, scope, id)?;
                check_version(current.version, if_match)?;
                let change = current.lifecycle.plan(LifecycleEvent::Deprovision)?;
                // Its IdP and mapped memberships go, each with its event, after the user's own.
                let held: Vec<(String, String)> = group_members::table
                    .filter(group_members::user_id.eq(id.to_string()))
                    .filter(
                        group_members::provenance
                            .eq("idp")
                            .or(group_members::provenance.like("mapping:%")),
                    )
                    .select((group_members::group_id, group_members::provenance))
                    .load(conn)?;
                let detail = serde_json::json!({ "memberships_removed": held.len() });
                write_lifecycle(
                    conn,
                    actor,
                    &current,
                    &change,
                    UserWrite::lifecycle_only(detail, Timestamp::now()),
                )?;
                for (group_id, provenance) in held {
                    let group_id = group_id.parse().map_err(super::corrupt("group_members"))?;
                    let removed = super::group::remove_members(
                        conn,
                        group_id,
                        &provenance,
                        Some(&[id.to_string()]),
                    )?;
                    let group = super::group::find_group(conn, scope.workspace_id, group_id)?;
                    events::membership_events(
                        conn,
                        actor,
                        "group.member_removed",
                        &group,
                        &removed,
                    )?;
                }
                let cause = serde_json::json!({ "user_deprovisioned": id.to_string() });
                super::mapping::recompute_roles(
                    conn,
                    actor,
                    scope.workspace_id,
                    &[id.to_string()],
                    &cause,
                )
            },
            log,
        )
    }
}

/// The profile a create writes over an existing user (re-provisioned or adopted).
fn profile_of(new: &NewUser) -> UserUpdate {
    UserUpdate {
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
        display_name: new.display_name.clone(),
        external_id: new.external_id.clone(),
        email: new.email.clone(),
        active: new.active,
        scim_attributes: new.scim_attributes.clone(),
        attributes: new.attributes.clone(),
        changed: Vec::new(),
        note: serde_json::json!({}),
    }
}

/// Persists [`CreateDecision::Reprovision`]: `current` comes back as this connection's, with
/// `new`'s profile, and `change` brings it to `new`'s status.
fn reprovision(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: ScimScope,
    current: &User,
    new: &NewUser,
    matched_on: MatchedOn,
    change: &LifecycleChange,
) -> StoreResult<(User, CreateOutcome)> {
    let profile = profile_of(new);
    let write = UserWrite {
        profile: Some((&profile, Some(scope.connection_id))),
        changed: Vec::new(),
        audit_action: None,
        audit_detail: serde_json::json!({ "matched_on": matched_on.as_str(), "active": new.active }),
        at: Timestamp::now(),
    };
    let back = write_lifecycle(conn, actor, current, change, write)?.user;
    Ok((back, CreateOutcome::Reprovisioned))
}

/// Persists [`CreateDecision::Adopt`]: `current` becomes this connection's, with `new`'s
/// profile, and `change` brings it to `new`'s status.
fn adopt(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: ScimScope,
    current: &User,
    new: &NewUser,
    change: &LifecycleChange,
) -> StoreResult<(User, CreateOutcome)> {
    let profile = profile_of(new);
    let write = UserWrite {
        profile: Some((&profile, Some(scope.connection_id))),
        changed: vec!["managedBy".to_owned(), "externalId".to_owned()],
        audit_action: Some(Action("user.adopted")),
        audit_detail: serde_json::json!({
            "previous_source": current.source.as_str(),
            "userName": UserName::key_of(current.user_name.as_str()),
        }),
        at: Timestamp::now(),
    };
    let adopted = write_lifecycle(conn, actor, current, change, write)?.user;
    Ok((adopted, CreateOutcome::Adopted))
}

/// The changed attributes `user.updated` names: all but `active`, whose change has its own
/// events (`user.deactivated`, `user.reactivated`).
fn without_active(changed: &[String]) -> Vec<String> {
    changed
        .iter()
        .filter(|attribute| attribute.as_str() != "active")
        .cloned()
        .collect()
}

fn sort_users(
    rows: users::BoxedQuery<'static, <DbConnection as Connection>::Backend>,
    attr: UserAttr,
    order: SortOrder,
) -> users::BoxedQuery<'static, <DbConnection as Connection>::Backend> {
    macro_rules! by {
        ($col:expr) => {
            match order {
                SortOrder::Ascending => rows.order(($col.asc(), users::id.asc())),
                SortOrder::Descending => rows.order(($col.desc(), users::id.desc())),
            }
        };
    }
    match attr {
        UserAttr::Id => by!(users::id),
        UserAttr::UserName => by!(users::user_name_key),
        UserAttr::ExternalId => by!(users::external_id),
        UserAttr::Email => by!(users::email_key),
        UserAttr::DisplayName => by!(users::display_name_key),
        UserAttr::GivenName => by!(users::given_name),
        UserAttr::FamilyName => by!(users::family_name),
        UserAttr::Active => by!(users::lifecycle),
        UserAttr::Created => by!(users::created_at),
        UserAttr::LastModified => by!(users::updated_at),
        UserAttr::Custom { id, .. } => {
            // One sort key per user, read by one subquery: `0` and the user's key of the
            // attribute (a list's first element), or `1` without a value, so users with a value
            // come in key order, then those without (RFC 7644 §3.4.2.3 sorts missing values last
            // when ascending, first when descending). It compares as the keys do (byte order:
            // the column's collation on PostgreSQL is "C").
            let key = sql::<Text>(
                "COALESCE('0' || (SELECT sort_key FROM user_attribute_values \
                 WHERE user_attribute_values.user_id = users.id \
                 AND user_attribute_values.attribute_id = ",
            )
            .bind::<Text, _>(id.to_string())
            .sql(" AND user_attribute_values.position = 0), '1')");
            match order {
                SortOrder::Ascending => rows.order((key.asc(), users::id.asc())),
                SortOrder::Descending => rows.order((key.desc(), users::id.desc())),
            }
        }
    }
}

/// The SCIM core User schema, whose attributes `scim_attributes` may hold URN-qualified.
const CORE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The core User attributes that are never stored: those whose SCIM schema says
/// `returned: "never"` (RFC 7643 §7), today `password`. `roster-scim` drops them from every SCIM
/// write under the names its schema gives (a test there checks that this list is the same);
/// [`Store::export_workspace`] removes them again in case a row still held one, and the
/// migration `2026-12-06-000001_scrub_scim_secrets` removed what earlier builds had stored.
pub const NEVER_STORED_USER_ATTRIBUTES: &[&str] = &["password"];

/// Removes the core User attributes `names` from a user's SCIM attributes under every spelling
/// JSON gives them: the bare name (`password`), the URN-qualified name
/// (`urn:ietf:params:scim:schemas:core:2.0:User:password`), a sub-attribute path of either
/// (`password.value`), and any of those inside an object under the core schema URN key (which
/// goes too when that leaves it empty) — all in any letter case. Returns whether anything was
/// removed.
pub fn remove_user_attributes(
    attributes: &mut serde_json::Map<String, serde_json::Value>,
    names: &[&str],
) -> bool {
    let mut removed = false;
    attributes.retain(|key, value| {
        let keep = if names.iter().any(|name| key_names_attribute(key, name)) {
            false
        } else if let (true, serde_json::Value::Object(inner)) =
            (key.eq_ignore_ascii_case(CORE_USER_SCHEMA), value)
        {
            let inner_removed = remove_user_attributes(inner, names);
            removed |= inner_removed;
            !(inner_removed && inner.is_empty())
        } else {
            true
        };
        removed |= !keep;
        keep
    });
    removed
}

/// Whether a JSON key names core User attribute `name` (or a sub-attribute of it), with or
/// without the core schema URN, in any case.
fn key_names_attribute(key: &str, name: &str) -> bool {
    let unqualified = key
        .get(..CORE_USER_SCHEMA.len())
        .filter(|head| head.eq_ignore_ascii_case(CORE_USER_SCHEMA))
        .and_then(|_| key.get(CORE_USER_SCHEMA.len()..))
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or(key);
    let attribute = unqualified.split('.').next().unwrap_or_default();
    attribute.eq_ignore_ascii_case(name)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn scrubbed(attributes: Value) -> (Value, bool) {
        let mut map = attributes.as_object().cloned().unwrap_or_default();
        let removed = remove_user_attributes(&mut map, NEVER_STORED_USER_ATTRIBUTES);
        (Value::Object(map), removed)
    }

    #[test]
    fn removes_never_stored_attributes_under_every_spelling() {
        let core = CORE_USER_SCHEMA;
        let cases = [
            (
                json!({"password": "s", "nickName": "n"}),
                json!({"nickName": "n"}),
            ),
            (json!({"PassWord": "s"}), json!({})),
            (json!({format!("{core}:password"): "s"}), json!({})),
            (
                json!({format!("{core}:password").to_uppercase(): "s"}),
                json!({}),
            ),
            (json!({"password.value": "s"}), json!({})),
            (json!({format!("{core}:Password.value"): "s"}), json!({})),
            (
                json!({core: {"password": "s", "nickName": "n"}}),
                json!({core: {"nickName": "n"}}),
            ),
            (
                json!({core.to_lowercase(): {format!("{core}:PASSWORD"): "s"}, "x": 1}),
                json!({"x": 1}),
            ),
        ];
        for (attributes, want) in cases {
            assert_eq!(scrubbed(attributes.clone()), (want, true), "{attributes}");
        }
    }

    #[test]
    fn keeps_everything_else() {
        let core = CORE_USER_SCHEMA;
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let kept = [
            json!({}),
            json!({"passwords": "x", "nickName": "password"}),
            json!({"name": {"password": "a sub-attribute of another attribute"}}),
            json!({format!("{core}:passwordHint"): "x"}),
            json!({format!("{core}x:password"): "x"}),
            json!({ent: {"password": "not the core attribute"}}),
            json!({"urnƮ:password": "multibyte near the URN's length"}),
            json!({core: "not an object"}),
            json!({core: {}}),
        ];
        for attributes in kept {
            assert_eq!(scrubbed(attributes.clone()), (attributes.clone(), false));
        }
    }
}

/// The scope's rule, checked on the row a unique key finds ([`in_scope`]).
#[cfg(test)]
mod scope_tests {
    use roster_domain::query::Value;
    use roster_domain::{Actor, Email, Source, UserName};

    use super::*;
    use crate::testing::TestStore;

    /// Another connection's user, a user no connection manages and a deprovisioned user are
    /// found by none of the unique keys (id, userName, externalId), and a write to them finds
    /// nothing and changes nothing; the connection's own user is found by each.
    #[test]
    fn unique_key_lookups_and_writes_see_only_the_scopes_users() {
        let db = TestStore::new();
        let workspace = db.workspace("acme");
        let mine = db.scim_connection(workspace.id, "Mine", true, false);
        let theirs = db.scim_connection(workspace.id, "Theirs", true, false);
        let scope = ScimScope {
            workspace_id: workspace.id,
            connection_id: mine.id,
        };
        let user = |name: &str, managed_by: Option<ConnectionId>| {
            let mut new =
                NewUser::minimal(workspace.id, UserName::parse(name).unwrap(), Source::Scim);
            new.managing_connection_id = managed_by;
            new.external_id = Some(format!("ext-{name}"));
            new.email = Some(Email::parse(&format!("{name}@acme.test")).unwrap());
            db.store.create_user(&Actor::Cli, &new).unwrap()
        };
        let own = user("own", Some(mine.id));
        let other = user("other", Some(theirs.id));
        let unmanaged = user("unmanaged", None);
        let gone = user("gone", Some(mine.id));
        db.store
            .write(|conn| {
                Ok(diesel::update(users::table.find(gone.id.to_string()))
                    .set(users::lifecycle.eq(Lifecycle::Deprovisioned.as_str()))
                    .execute(conn)?)
            })
            .unwrap();

        let found = |user: &User| -> Vec<bool> {
            let by_key = [
                (UserAttr::Id, user.id.to_string()),
                (UserAttr::UserName, user.user_name.to_string()),
                (UserAttr::ExternalId, user.external_id.clone().unwrap()),
            ]
            .map(|(attr, value)| {
                let filter = Filter::Compare {
                    attr,
                    op: CompareOp::Eq,
                    value: Value::Text(value),
                };
                let rows = db
                    .store
                    .read(|conn| unique_lookup(conn, scope, &filter))
                    .unwrap()
                    .unwrap();
                !rows.is_empty()
            });
            let by_id = db.store.scim_user(scope, &user.id.to_string()).is_ok();
            [vec![by_id], by_key.to_vec()].concat()
        };
        let version_of = |user: &User| -> i64 {
            db.read_rows(|conn| {
                let row: UserRow = users::table
                    .find(user.id.to_string())
                    .select(UserRow::as_select())
                    .get_result(conn)?;
                Ok(row.version)
            })
            .unwrap()
        };
        assert_eq!(found(&own), [true; 4]);
        for hidden in [&other, &unmanaged, &gone] {
            assert_eq!(found(hidden), [false; 4], "{}", hidden.user_name);
            let before = version_of(hidden);
            let refused = db.store.scim_modify_user::<StoreError>(
                &Actor::Cli,
                scope,
                &hidden.id.to_string(),
                None,
                |_| Ok(None),
                |_| unreachable!("a refused write logs nothing here"),
            );
            assert!(matches!(refused, Err(StoreError::NotFound { .. })));
            let after = version_of(hidden);
            assert_eq!(before, after, "{}", hidden.user_name);
        }
    }
}

/// Workspace `acme` with an Entra SCIM connection, and that connection's scope.
#[cfg(test)]
fn entra_scope(
    db: &crate::testing::TestStore,
) -> (
    roster_domain::Workspace,
    roster_domain::Connection,
    ScimScope,
) {
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "Entra", true, false);
    let scope = ScimScope {
        workspace_id: workspace.id,
        connection_id: connection.id,
    };
    (workspace, connection, scope)
}

/// What PostgreSQL keeps prepared for a SCIM write.
#[cfg(test)]
mod prepared_tests {
    use roster_domain::{Actor, Email, Source, UserName};

    use super::*;
    use crate::testing::{kept_statements, TestStore};

    /// A SCIM create and PATCH send their user, audit and provisioning-log statements, and a
    /// list its pages, as statements the connection keeps prepared, one per SQL text whatever
    /// the optional values (none parsed and planned again at each write); on one connection, so
    /// its `pg_prepared_statements` shows every statement the writes made.
    #[test]
    fn a_scim_write_s_statements_stay_prepared() {
        let db = TestStore::new();
        if db.store.backend() != crate::Backend::Postgres {
            return;
        }
        let (workspace, connection, scope) = entra_scope(&db);
        let store = db.one_connection_store();
        let log = |resource_id: Option<String>| NewProvisioningEntry {
            workspace_id: workspace.id.to_string(),
            connection_id: connection.id.to_string(),
            occurred_at: 0,
            request_id: "req".to_owned(),
            method: "POST".to_owned(),
            path: "/Users".to_owned(),
            status: 201,
            duration_us: 1,
            error: None,
            warnings: None,
            query: resource_id.as_ref().map(|_| "a=b".to_owned()),
            resource_id,
        };
        for (name, with_email) in [("ada", true), ("bob", false), ("cy", true)] {
            let mut new =
                NewUser::minimal(workspace.id, UserName::parse(name).unwrap(), Source::Scim);
            new.managing_connection_id = Some(connection.id);
            new.external_id = with_email.then(|| format!("ext-{name}"));
            new.email = with_email.then(|| Email::parse(&format!("{name}@acme.test")).unwrap());
            let (user, _) = store
                .scim_create_user(&Actor::Cli, scope, &new, |(user, _)| {
                    log(with_email.then(|| user.id.to_string()))
                })
                .unwrap();
            for active in [false, true] {
                store
                    .scim_modify_user::<StoreError>(
                        &Actor::Cli,
                        scope,
                        &user.id.to_string(),
                        None,
                        |current| {
                            Ok(Some(UserUpdate {
                                given_name: current.given_name.clone(),
                                family_name: None,
                                display_name: None,
                                external_id: current.external_id.clone(),
                                email: None,
                                active,
                                scim_attributes: "{}".to_owned(),
                                attributes: Vec::new(),
                                changed: vec!["active".to_owned()],
                                note: serde_json::json!({}),
                            }))
                        },
                        |_| log(None),
                    )
                    .unwrap();
            }
        }
        // A list's pages, the first and one after a cursor, twice each.
        for _ in 0..2 {
            for last_id in [None, Some(String::new())] {
                let query = Query {
                    filter: Filter::All,
                    sort: None,
                    page: roster_domain::query::Page::After { last_id, limit: 2 },
                };
                store.scim_list_users(scope, &query).unwrap();
            }
        }
        let prepared = kept_statements(&store);
        for start in [
            r#"INSERT INTO "users""#,
            r#"UPDATE "users""#,
            r#"INSERT INTO "audit_events""#,
            r#"INSERT INTO "provisioning_log""#,
            r#"INSERT INTO "event_outbox""#,
        ] {
            let kept = prepared.iter().filter(|sql| sql.starts_with(start)).count();
            assert_eq!(kept, 1, "{start}: {prepared:#?}");
        }
        // The first page and the page after a cursor are two texts (their count a third).
        let pages = prepared
            .iter()
            .filter(|sql| sql.contains(r#"FROM "users" WHERE"#) && sql.contains("ORDER BY"))
            .count();
        assert_eq!(pages, 2, "{prepared:#?}");
    }
}

/// The query plans of custom attribute filters on SQLite, whose planner has no statistics here
/// (nothing runs `ANALYZE`): what it picks for an empty database it picks for a million users.
/// PostgreSQL plans by statistics, so the bench measures it instead.
#[cfg(test)]
mod plans {
    use std::sync::{Arc, Mutex};

    use diesel::connection::InstrumentationEvent;
    use diesel::sql_types::Text;
    use roster_domain::query::Value;

    use super::*;
    use crate::testing::TestStore;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// Runs `queries` on one connection and returns each statement's SQL with its plan.
    fn plans(
        db: &TestStore,
        queries: impl FnOnce(&mut DbConnection) -> StoreResult<()>,
    ) -> Vec<(String, Vec<String>)> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        db.read_rows(|conn| {
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { query, .. } = event {
                    let text = query.to_string();
                    let sql = text.split(" -- binds:").next().unwrap_or_default();
                    sink.lock().unwrap().push(sql.to_owned());
                }
            });
            queries(conn)?;
            conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
            let statements = seen.lock().unwrap().clone();
            statements
                .into_iter()
                .map(|sql| {
                    let steps: Vec<PlanStep> =
                        diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(conn)?;
                    Ok((sql, steps.into_iter().map(|step| step.detail).collect()))
                })
                .collect()
        })
        .unwrap()
    }

    #[test]
    fn custom_attribute_filters_read_the_attribute_index() {
        let db = TestStore::new();
        if !db.url.starts_with("sqlite") {
            return;
        }
        let (_, _, scope) = entra_scope(&db);
        let id = AttributeId::new();
        let department = UserAttr::Custom {
            id,
            kind: AttributeKind::String,
            case_exact: false,
        };
        let sales = Filter::Compare {
            attr: department,
            op: CompareOp::Eq,
            value: Value::Text("Sales".into()),
        };
        let last = Some(UserId::new().to_string());
        let planned = plans(&db, |conn| {
            let after = Page::After {
                last_id: last,
                limit: 100,
            };
            custom_equality_page(conn, scope, id, "sales", &after)?;
            let offset = Page::Offset {
                offset: 500,
                limit: 100,
            };
            custom_equality_page(conn, scope, id, "sales", &offset)?;
            // The count: the key's holders in the index, less the hidden users among them.
            custom_equality_count(conn, scope, id, "sales")?;
            hidden_users(conn, scope, 100)?;
            on_backend!(conn, |c| crate::schema::user_attribute_values::table
                .filter(crate::schema::user_attribute_values::attribute_id.eq(id.to_string()))
                .filter(crate::schema::user_attribute_values::sort_key.eq("sales"))
                .filter(crate::any_of::any_of(
                    crate::schema::user_attribute_values::user_id,
                    &["a".to_owned(), "b".to_owned()],
                ))
                .count()
                .get_result::<i64>(c))?;
            // The general path: the same `eq` inside `and`, and a sort by the attribute.
            let general = Filter::And(
                Box::new(sales.clone()),
                Box::new(Filter::Present(UserAttr::ExternalId)),
            );
            let predicate = crate::filter::user_predicate(&general)
                .map_err(|err| StoreError::InvalidFilter(err.0))?;
            visible(scope)
                .filter(predicate)
                .order(users::id.asc())
                .limit(100)
                .select(UserRow::as_select())
                .load(conn)?;
            assert!(general.narrowed_by_custom_attribute());
            count_by_ids(conn, scope, &general)?;
            sort_users(visible(scope), department, SortOrder::Ascending)
                .limit(100)
                .select(users::id)
                .load::<String>(conn)?;
            let predicate = crate::filter::user_predicate(&sales)
                .map_err(|err| StoreError::InvalidFilter(err.0))?;
            sort_users(
                visible(scope).filter(predicate),
                department,
                SortOrder::Ascending,
            )
            .limit(100)
            .select(users::id)
            .load::<String>(conn)?;
            Ok(())
        });
        for (sql, plan) in &planned {
            // `cargo test -- --nocapture` shows them.
            println!("{sql}\n  {}\n", plan.join("\n  "));
        }
        let [after, offset, holders, no_connection, below, above, deprovisioned, hidden_holders, general, general_count, _sorted, filtered_sort] =
            planned.as_slice()
        else {
            panic!("twelve statements: {planned:#?}");
        };
        let by_key = "SEARCH user_attribute_values USING COVERING INDEX \
                      user_attribute_values_key_idx (attribute_id=? AND sort_key=?";
        // Both in the attribute index alone (the hidden ids read from their one JSON parameter).
        for (sql, plan) in [holders, hidden_holders] {
            assert!(
                plan[0].starts_with(by_key) && !plan.iter().any(|step| step.contains("users")),
                "{sql}: {plan:#?}"
            );
        }
        for (sql, plan, range) in [
            (no_connection, "managing_connection_id=?)"),
            (below, "managing_connection_id<?)"),
            (above, "managing_connection_id>?)"),
            (deprovisioned, "managing_connection_id=? AND lifecycle=?)"),
        ]
        .map(|((sql, plan), range)| (sql, plan, range))
        {
            assert_eq!(
                plan,
                &[format!(
                    "SEARCH users USING INDEX users_scope_idx (workspace_id=? AND {range}"
                )],
                "{sql}"
            );
        }
        for (sql, plan) in [after, offset] {
            assert!(plan[0].starts_with(by_key), "{sql}: {plan:#?}");
            assert!(
                plan[1].starts_with("SEARCH users USING ") && plan[1].contains("id=?)"),
                "{sql}: {plan:#?}"
            );
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{sql}: {plan:#?}"
            );
        }
        // The general path reads the matches from the index once (`LIST SUBQUERY`), then
        // looks their users up by id (no scan of the directory).
        for (sql, plan) in [general, general_count, filtered_sort] {
            assert!(
                plan[0].contains("(managing_connection_id=? AND id=?)")
                    && plan[1] == "LIST SUBQUERY 1"
                    && plan[2].starts_with(by_key),
                "{sql}: {plan:#?}"
            );
        }
    }
}
