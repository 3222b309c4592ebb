//! Directory events: every change to users, groups, memberships, roles, connections and tokens,
//! written into an outbox (`events`) in the same transaction as the change, so a committed change
//! always has its event and a rolled-back one never does.
//!
//! Order: `seq` orders events per workspace in commit order. SQLite has one writer at a time. On
//! PostgreSQL, sequence values are taken before commit and transactions can commit out of order,
//! so every transaction that writes events of a workspace first takes a transaction-scoped
//! advisory lock on that workspace: its events get their `seq` and commit before the next
//! writer's, and a reader never sees an event appear behind a position it already passed.

use std::cell::Cell;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::Text;
use roster_domain::{Actor, Connection, Group, Timestamp, User, WorkspaceId};
use serde_json::{json, Value};

use crate::schema::events;
use crate::{DbConnection, Store, StoreResult};

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub workspace_id: WorkspaceId,
    pub event_type: &'static str,
    pub actor: &'a Actor,
    pub resource_kind: &'static str,
    pub resource_id: String,
    /// The resource as the API renders it.
    pub resource: Value,
    /// For updates, the names of the attributes that changed.
    pub changed: Option<Vec<String>>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Event {
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub event_type: String,
    pub occurred_at: i64,
    /// JSON: `{"kind": ..., "id": ...}`.
    pub actor: String,
    pub resource_kind: String,
    pub resource_id: String,
    /// JSON.
    pub resource: String,
    /// JSON array, for updates.
    pub changed: Option<String>,
}

impl Event {
    /// The event as the feed and webhooks carry it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.event_type,
            "workspace": self.workspace_id,
            "occurredAt": Timestamp::from_micros(self.occurred_at).to_rfc3339(),
            "actor": serde_json::from_str::<Value>(&self.actor).unwrap_or(Value::Null),
            "resource": serde_json::from_str::<Value>(&self.resource).unwrap_or(Value::Null),
            "changed": self.changed.as_deref().and_then(|c| serde_json::from_str::<Value>(c).ok()),
        })
    }
}

fn actor_json(actor: &Actor) -> Value {
    let (kind, id) = actor.to_stored();
    json!({ "kind": kind, "id": id })
}

/// Serialises writers of a workspace's events on PostgreSQL (see the module docs).
fn lock_workspace_events(conn: &mut DbConnection, workspace_id: WorkspaceId) -> StoreResult<()> {
    if let DbConnection::Postgres(inner) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7262002))")
            .bind::<Text, _>(workspace_id.to_string())
            .execute(inner)?;
    }
    Ok(())
}

thread_local! {
    /// Time this thread spent writing events since [`take_event_time`] last read it.
    static EVENT_TIME: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// The time this thread spent in [`record_event`] since the last call, and resets it: a write
/// transaction runs on one thread, so reading it before and after the transaction gives the
/// share of the transaction its events took (reported by `Store::scim_write_times`).
pub(crate) fn take_event_time() -> Duration {
    EVENT_TIME.with(|time| time.replace(Duration::ZERO))
}

/// Writes one event on `conn`; call it inside the transaction of the change.
pub(crate) fn record_event(conn: &mut DbConnection, event: NewEvent<'_>) -> StoreResult<()> {
    let started = Instant::now();
    let written = write_event(conn, event);
    EVENT_TIME.with(|time| time.set(time.get() + started.elapsed()));
    written
}

fn write_event(conn: &mut DbConnection, event: NewEvent<'_>) -> StoreResult<()> {
    lock_workspace_events(conn, event.workspace_id)?;
    diesel::insert_into(events::table)
        .values((
            events::id.eq(uuid::Uuid::now_v7().to_string()),
            events::workspace_id.eq(event.workspace_id.to_string()),
            events::event_type.eq(event.event_type),
            events::occurred_at.eq(Timestamp::now().as_micros()),
            events::actor.eq(actor_json(event.actor).to_string()),
            events::resource_kind.eq(event.resource_kind),
            events::resource_id.eq(&event.resource_id),
            events::resource.eq(event.resource.to_string()),
            events::changed.eq(event.changed.map(|c| json!(c).to_string())),
        ))
        .execute(conn)?;
    Ok(())
}

/// A user as events carry it (the admin API's user shape).
pub fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.to_string(),
        "userName": user.user_name.as_str(),
        "email": user.email.as_ref().map(|e| e.as_str()),
        "givenName": user.given_name,
        "familyName": user.family_name,
        "displayName": user.display_name,
        "externalId": user.external_id,
        "active": user.lifecycle.is_active(),
        "lifecycle": user.lifecycle.as_str(),
        "source": user.source.as_str(),
        "managedBy": user.managing_connection_id.map(|id| id.to_string()),
        "createdAt": user.created_at.to_rfc3339(),
        "updatedAt": user.updated_at.to_rfc3339(),
    })
}

/// A group as events carry it.
pub fn group_json(group: &Group) -> Value {
    json!({
        "id": group.id.to_string(),
        "displayName": group.display_name.as_str(),
        "kind": group.kind.as_str(),
        "connectionId": group.connection_id.map(|id| id.to_string()),
        "externalId": group.external_id,
    })
}

/// A connection as events carry it (no protocol secrets).
pub fn connection_json(connection: &Connection) -> Value {
    json!({
        "id": connection.id.to_string(),
        "name": connection.name.as_str(),
        "kind": connection.kind.as_str(),
        "status": connection.status.as_str(),
        "scimEnabled": connection.scim_enabled,
    })
}

/// Records a user event with the user as it now is.
pub(crate) fn user_event(
    conn: &mut DbConnection,
    actor: &Actor,
    event_type: &'static str,
    user: &User,
    changed: Option<Vec<String>>,
) -> StoreResult<()> {
    record_event(
        conn,
        NewEvent {
            workspace_id: user.workspace_id,
            event_type,
            actor,
            resource_kind: "user",
            resource_id: user.id.to_string(),
            resource: user_json(user),
            changed,
        },
    )
}

/// Records a group event.
pub(crate) fn group_event(
    conn: &mut DbConnection,
    actor: &Actor,
    event_type: &'static str,
    group: &Group,
) -> StoreResult<()> {
    record_event(
        conn,
        NewEvent {
            workspace_id: group.workspace_id,
            event_type,
            actor,
            resource_kind: "group",
            resource_id: group.id.to_string(),
            resource: group_json(group),
            changed: None,
        },
    )
}

/// Records one `group.member_added` / `group.member_removed` per user.
pub(crate) fn membership_events(
    conn: &mut DbConnection,
    actor: &Actor,
    event_type: &'static str,
    group: &Group,
    user_ids: &[String],
) -> StoreResult<()> {
    for user_id in user_ids {
        record_event(
            conn,
            NewEvent {
                workspace_id: group.workspace_id,
                event_type,
                actor,
                resource_kind: "membership",
                resource_id: format!("{}/{user_id}", group.id),
                resource: json!({ "group": group_json(group), "userId": user_id }),
                changed: None,
            },
        )?;
    }
    Ok(())
}

impl Store {
    /// A workspace's events after position `after` (exclusive), oldest first, optionally only of
    /// the given types.
    pub fn events(
        &self,
        workspace_id: WorkspaceId,
        after: i64,
        limit: i64,
        types: &[String],
    ) -> StoreResult<Vec<Event>> {
        self.read(|conn| {
            let mut query = events::table
                .filter(events::workspace_id.eq(workspace_id.to_string()))
                .filter(events::seq.gt(after))
                .into_boxed();
            if !types.is_empty() {
                query = query.filter(events::event_type.eq_any(types.to_vec()));
            }
            Ok(query
                .order(events::seq.asc())
                .limit(limit)
                .select(Event::as_select())
                .load(conn)?)
        })
    }

    /// Deletes events older than `before` (retention); returns how many.
    pub fn prune_events(&self, before: Timestamp) -> StoreResult<usize> {
        self.read(|conn| {
            Ok(
                diesel::delete(events::table.filter(events::occurred_at.lt(before.as_micros())))
                    .execute(conn)?,
            )
        })
    }
}
