//! Directory events: every change to users, groups, memberships, roles, connections and tokens,
//! written into an outbox in the same transaction as the change, so a committed change always
//! has its event and a rolled-back one never does.
//!
//! Order: `seq` orders a workspace's events, and a reader that has passed a position never sees
//! an event appear behind it. SQLite has one writer at a time, so writers insert into `events`
//! directly and `seq` follows commit order. PostgreSQL writers commit concurrently, and a
//! sequence value taken before commit can become visible after a larger one, so there a writer
//! inserts into `event_outbox` (no lock, ordered by `ins`) and [`Store::publish_events`] moves
//! committed rows into `events`, taking `seq` as it goes. Publishers hold one advisory lock to
//! their commit, so positions become visible in order; reads publish first, so a change
//! committed before a read is in it. Why not a lock per writer: every SCIM write then queued on
//! its workspace's lock up to its commit, and events cost twice the write itself.
//!
//! Within one publication, `ins` order is causal order: a transaction that waits on another's
//! row lock inserts its events after that one committed, so after it in `ins`.
//!
//! A workspace's events go with it ([`delete_workspace_events`]), all but its
//! `workspace.deleted`, which the operator's feed and webhooks read afterwards: so `events` does
//! not reference `workspaces`, and an event's workspace slug comes from a join, or for that last
//! event from its resource.

use std::cell::Cell;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use roster_domain::{Actor, Connection, Group, Timestamp, User, Workspace, WorkspaceId};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};

use crate::db::KeepPrepared;
use crate::schema::{event_outbox, events, workspaces};
use crate::{DbConnection, Store, StoreResult};

/// Every event type Roster writes: the catalogue of docs/events.md, in its order. Webhook
/// endpoints subscribe to these names (an unknown one is refused); a test holds this list to the
/// catalogue, and `cargo xtask tidy` holds the catalogue to the types the code emits.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deprovisioned",
    "session.revoked",
    "user.roles_changed",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.member_added",
    "group.member_removed",
    "connection.created",
    "connection.updated",
    "connection.certificate_expiring",
    "scim_token.created",
    "scim_token.revoked",
    "workspace.created",
    "workspace.updated",
    "workspace.deleted",
    "webhook.disabled",
    "domain.verified",
    "domain.verification_failed",
];

/// The names in `requested` that are not event types, each once, in their order.
pub fn unknown_event_types(requested: &[String]) -> Vec<&str> {
    let mut unknown: Vec<&str> = Vec::new();
    for name in requested {
        if !EVENT_TYPES.contains(&name.as_str()) && !unknown.contains(&name.as_str()) {
            unknown.push(name);
        }
    }
    unknown
}

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

/// A stored event, with its workspace's slug: load it from [`with_workspace`].
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
    /// The workspace's slug; `None` once the workspace is deleted (only its `workspace.deleted`
    /// event outlives it, and that one names the slug in its resource).
    #[diesel(select_expression = workspaces::slug.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<workspaces::slug>)]
    pub workspace_slug: Option<String>,
}

/// `events` with each event's workspace (left-joined: a deleted workspace's last event has none),
/// for [`Event::as_select`].
#[diesel::dsl::auto_type]
pub(crate) fn with_workspace() -> _ {
    events::table.left_join(workspaces::table.on(workspaces::id.eq(events::workspace_id)))
}

/// An event as the feed and webhooks carry it (docs/events.md).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventMessage {
    pub id: String,
    /// One of [`EVENT_TYPES`].
    pub r#type: String,
    /// The workspace's id.
    pub workspace: String,
    /// The workspace's slug (a slug never changes).
    pub workspace_slug: Option<String>,
    pub occurred_at: String,
    /// Who did it: `{"kind", "id"}`.
    pub actor: Value,
    /// The resource as it is after the change (a user, a group, a connection…).
    pub resource: Value,
    /// For updates, the attributes that changed.
    pub changed: Option<Vec<String>>,
}

impl Event {
    /// The event as the feed and webhooks carry it.
    pub fn message(&self) -> EventMessage {
        let resource: Value = serde_json::from_str(&self.resource).unwrap_or(Value::Null);
        // A workspace's own events carry its slug in their resource: the only place left for it
        // once the workspace is deleted.
        let workspace_slug = self.workspace_slug.clone().or_else(|| {
            (self.resource_kind == "workspace")
                .then(|| resource["slug"].as_str().map(str::to_owned))
                .flatten()
        });
        EventMessage {
            id: self.id.clone(),
            r#type: self.event_type.clone(),
            workspace: self.workspace_id.clone(),
            workspace_slug,
            occurred_at: Timestamp::from_micros(self.occurred_at).to_rfc3339(),
            actor: serde_json::from_str(&self.actor).unwrap_or(Value::Null),
            resource,
            changed: self
                .changed
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
        }
    }

    /// [`Event::message`] as JSON.
    pub fn to_json(&self) -> Value {
        json!(self.message())
    }

    /// [`Event::message`] as JSON text, the body of a webhook: serialized straight from the
    /// message (its fields in their declared order), without building a [`Value`] of it first.
    pub fn to_json_text(&self) -> String {
        serde_json::to_string(&self.message()).unwrap_or_else(|_| self.to_json().to_string())
    }
}

fn actor_json(actor: &Actor) -> Value {
    let (kind, id) = actor.to_stored();
    json!({ "kind": kind, "id": id })
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
    record_events(conn, vec![event])
}

/// Writes events on `conn` in the order given, several rows per statement (a member PATCH of
/// fifty users writes fifty events); call it inside the transaction of the change. Its commit
/// wakes this process's webhook worker (`outbox_wake`).
pub(crate) fn record_events(conn: &mut DbConnection, batch: Vec<NewEvent<'_>>) -> StoreResult<()> {
    let started = Instant::now();
    let written = write_events(conn, batch);
    EVENT_TIME.with(|time| time.set(time.get() + started.elapsed()));
    crate::outbox_wake::mark_queued(crate::outbox_wake::Queued::Event);
    written
}

/// Rows per multi-row INSERT: 9 values each, far below SQLite's variable limit.
const INSERT_CHUNK: usize = 100;

fn write_events(conn: &mut DbConnection, batch: Vec<NewEvent<'_>>) -> StoreResult<()> {
    let occurred_at = Timestamp::now().as_micros();
    let rows: Vec<_> = batch
        .into_iter()
        .map(|event| {
            (
                uuid::Uuid::now_v7().to_string(),
                event.workspace_id.to_string(),
                event.event_type,
                actor_json(event.actor).to_string(),
                event.resource_kind,
                event.resource_id,
                event.resource.to_string(),
                event.changed.map(|c| json!(c).to_string()),
            )
        })
        .collect();
    // Multi-row inserts run on the backend's own connection (diesel's multi-backend connection
    // has no batch insert).
    macro_rules! insert_into {
        ($table:ident, $conn:expr) => {
            for chunk in rows.chunks(INSERT_CHUNK) {
                let values: Vec<_> = chunk
                    .iter()
                    .map(
                        |(
                            id,
                            workspace_id,
                            event_type,
                            actor,
                            kind,
                            resource_id,
                            resource,
                            changed,
                        )| {
                            (
                                $table::id.eq(id),
                                $table::workspace_id.eq(workspace_id),
                                $table::event_type.eq(*event_type),
                                $table::occurred_at.eq(occurred_at),
                                $table::actor.eq(actor),
                                $table::resource_kind.eq(*kind),
                                $table::resource_id.eq(resource_id),
                                $table::resource.eq(resource),
                                $table::changed.eq(changed),
                            )
                        },
                    )
                    .collect();
                if let [one] = values.as_slice() {
                    // One row: the single-row statement, which SQLite keeps prepared.
                    diesel::insert_into($table::table)
                        .values(one.clone())
                        .execute($conn)?;
                } else {
                    diesel::insert_into($table::table)
                        .values(&values)
                        .execute($conn)?;
                }
            }
        };
    }
    match conn {
        DbConnection::Sqlite(inner) => insert_into!(events, inner),
        DbConnection::Postgres(inner) => insert_into!(event_outbox, inner),
    };
    Ok(())
}

/// Deletes a workspace's events, published or not, in its deletion's transaction: `events` does
/// not cascade with `workspaces`, so that the `workspace.deleted` event written next outlives
/// the workspace. Call it after deleting the workspace's row: on PostgreSQL that waits for the
/// transactions still writing in the workspace (their rows reference it), so their events are
/// committed and seen here. The outbox goes first: a publisher moving some of its rows holds them
/// until it commits, and the read of `events` after it then sees them moved.
pub(crate) fn delete_workspace_events(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
) -> StoreResult<()> {
    let workspace_id = workspace_id.to_string();
    diesel::delete(event_outbox::table.filter(event_outbox::workspace_id.eq(&workspace_id)))
        .execute(conn)?;
    diesel::delete(events::table.filter(events::workspace_id.eq(&workspace_id))).execute(conn)?;
    Ok(())
}

/// Events deleted per retention transaction.
const PRUNE_BATCH: i64 = 5_000;

/// Rows moved per publishing transaction: bounds its length after a burst (an initial sync).
const PUBLISH_BATCH: i64 = 5_000;

/// Moves the first `$1` outbox rows (by `ins`) into `events`. The rows go by a range,
/// `ins <= ` the last of them, found once: with `ins IN (SELECT … LIMIT $1)` instead, PostgreSQL
/// joined the outbox with its own first rows, and a plan made while the outbox was nearly empty
/// (a generic plan is kept for the connection's life) scanned the whole outbox for every batch.
/// During the bench's 100,000-user sync on durable PostgreSQL the outbox reached 490,000 rows,
/// one batch ran for more than a minute holding the publishers' lock, and webhooks received
/// nothing more.
/// A range has no join to plan badly: at worst it reads the outbox once.
const PUBLISH_SQL: &str = "WITH moved AS ( \
         DELETE FROM event_outbox WHERE ins <= \
             (SELECT max(ins) FROM (SELECT ins FROM event_outbox ORDER BY ins LIMIT $1) first) \
         RETURNING * \
     ) \
     INSERT INTO events (id, workspace_id, event_type, occurred_at, actor, \
                         resource_kind, resource_id, resource, changed) \
     SELECT id, workspace_id, event_type, occurred_at, actor, \
            resource_kind, resource_id, resource, changed \
     FROM moved ORDER BY ins";

/// Whether the outbox holds a row: its first by `ins`, read through the primary key. The
/// publisher asks before it takes its lock, a few times a second and after writes. `EXISTS
/// (SELECT … FROM event_outbox)` read the table's heap from its start instead, through every
/// row a publication had deleted and vacuum had not yet reclaimed: up to 775 µs of the
/// cluster's time per call during the bench's PATCHes, where the index skips entries a scan has
/// already found dead. `LIMIT 1` is written out, not bound, so every plan reads one entry.
const PENDING_SQL: &str = "SELECT ins FROM event_outbox ORDER BY ins LIMIT 1";

/// An outbox row's position, as [`PENDING_SQL`] reads it.
#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)] // read only to know that a row exists
    ins: i64,
}

/// Moves committed outbox rows into `events` in `ins` order (see the module docs); PostgreSQL
/// only. Returns how many moved.
fn publish_batch(conn: &mut diesel::PgConnection) -> StoreResult<usize> {
    diesel::Connection::transaction(conn, |conn| {
        // "roster events publisher"; held to commit, so publications become visible in order.
        diesel::sql_query("SELECT pg_advisory_xact_lock(7262002)").execute(conn)?;
        Ok(diesel::sql_query(PUBLISH_SQL)
            .bind::<BigInt, _>(PUBLISH_BATCH)
            .execute(conn)?)
    })
}

/// A user as events carry it, and as the admin API answers it (the one user shape).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserResource {
    pub id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// Whether the user may log in (`lifecycle` is `active`).
    pub active: bool,
    /// `active`, `suspended` or `deprovisioned`.
    pub lifecycle: &'static str,
    /// How the user came to be: `scim`, `jit`, `invited`, `cli`, ….
    pub source: &'static str,
    /// The SCIM connection that manages the user, if one does.
    pub managed_by: Option<String>,
    /// The user's custom attribute values, by attribute name (`GET /attributes`): strings,
    /// numbers, booleans, string lists, and user ids for `user_ref` attributes. Attributes
    /// without a value are absent.
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub attributes: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserResource {
    fn from(user: &User) -> Self {
        UserResource {
            id: user.id.to_string(),
            user_name: user.user_name.as_str().to_owned(),
            email: user.email.as_ref().map(|e| e.as_str().to_owned()),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            display_name: user.display_name.clone(),
            external_id: user.external_id.clone(),
            active: user.lifecycle.is_active(),
            lifecycle: user.lifecycle.as_str(),
            source: user.source.as_str(),
            managed_by: user.managing_connection_id.map(|id| id.to_string()),
            // Stored by this crate as a JSON object; anything else reads as none.
            attributes: serde_json::from_str::<serde_json::Value>(&user.attributes)
                .ok()
                .filter(serde_json::Value::is_object)
                .unwrap_or_else(|| serde_json::json!({})),
            created_at: user.created_at.to_rfc3339(),
            updated_at: user.updated_at.to_rfc3339(),
        }
    }
}

/// A group as events carry it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupResource {
    pub id: String,
    pub display_name: String,
    /// `idp` (pushed by an IdP) or `app` (the product's own).
    pub kind: &'static str,
    pub connection_id: Option<String>,
    pub external_id: Option<String>,
}

impl From<&Group> for GroupResource {
    fn from(group: &Group) -> Self {
        GroupResource {
            id: group.id.to_string(),
            display_name: group.display_name.as_str().to_owned(),
            kind: group.kind.as_str(),
            connection_id: group.connection_id.map(|id| id.to_string()),
            external_id: group.external_id.clone(),
        }
    }
}

/// A connection as events carry it (no protocol secrets).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionResource {
    pub id: String,
    pub name: String,
    /// `saml`, `oidc` or `scim`.
    pub kind: &'static str,
    /// `active`, `draft` (a SAML connection waiting for its IdP metadata; its logins are
    /// refused) or `revoked`.
    pub status: &'static str,
    /// Whether SCIM provisioning through it is on.
    pub scim_enabled: bool,
}

impl From<&Connection> for ConnectionResource {
    fn from(connection: &Connection) -> Self {
        ConnectionResource {
            id: connection.id.to_string(),
            name: connection.name.as_str().to_owned(),
            kind: connection.kind.as_str(),
            status: connection.status.as_str(),
            scim_enabled: connection.scim_enabled,
        }
    }
}

/// A workspace as its lifecycle events carry it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceResource {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub domains: Vec<String>,
}

impl From<&Workspace> for WorkspaceResource {
    fn from(workspace: &Workspace) -> Self {
        WorkspaceResource {
            id: workspace.id.to_string(),
            slug: workspace.slug.to_string(),
            name: workspace.name.clone(),
            domains: workspace.domains.iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// [`UserResource`] as JSON (an event's `resource`).
pub fn user_json(user: &User) -> Value {
    json!(UserResource::from(user))
}

/// [`GroupResource`] as JSON.
pub fn group_json(group: &Group) -> Value {
    json!(GroupResource::from(group))
}

/// [`ConnectionResource`] as JSON.
pub fn connection_json(connection: &Connection) -> Value {
    json!(ConnectionResource::from(connection))
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
    if user_ids.is_empty() {
        return Ok(());
    }
    let group_value = group_json(group);
    let batch = user_ids
        .iter()
        .map(|user_id| NewEvent {
            workspace_id: group.workspace_id,
            event_type,
            actor,
            resource_kind: "membership",
            resource_id: format!("{}/{user_id}", group.id),
            resource: json!({ "group": group_value.clone(), "userId": user_id }),
            changed: None,
        })
        .collect();
    record_events(conn, batch)
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
        self.deployment_events(Some(workspace_id), after, limit, types)
    }

    /// The events of every workspace (or of one) in `seq` order after `after`: the operator's
    /// feed. Positions are the deployment's, so the order holds across workspaces: on SQLite
    /// one writer at a time, on PostgreSQL one publisher at a time gives them out.
    pub fn deployment_events(
        &self,
        workspace_id: Option<WorkspaceId>,
        after: i64,
        limit: i64,
        types: &[String],
    ) -> StoreResult<Vec<Event>> {
        self.publish_events()?;
        self.read(|conn| {
            let mut query = with_workspace().filter(events::seq.gt(after)).into_boxed();
            if let Some(workspace_id) = workspace_id {
                query = query.filter(events::workspace_id.eq(workspace_id.to_string()));
            }
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

    /// Gives pending events their position (PostgreSQL; nothing to do on SQLite) and returns how
    /// many. Reads of the feed and the webhook worker call it first; `roster serve` also runs it
    /// every second, so the outbox never grows while nobody reads.
    pub fn publish_events(&self) -> StoreResult<usize> {
        let mut conn = self.conn()?;
        let DbConnection::Postgres(inner) = &mut **conn else {
            return Ok(0);
        };
        let pending: Vec<Head> = KeepPrepared(diesel::sql_query(PENDING_SQL)).load(inner)?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut published = 0;
        loop {
            let moved = publish_batch(inner)?;
            published += moved;
            if moved < usize::try_from(PUBLISH_BATCH).unwrap_or(usize::MAX) {
                return Ok(published);
            }
        }
    }

    /// Deletes events older than `before` (retention) from the head of the feed, oldest first,
    /// stopping at the first event still inside retention; returns how many. Working from the
    /// head keeps the feed gap-free and needs no index on `occurred_at` (one less index insert
    /// per event written). Batches keep each write transaction short.
    pub fn prune_events(&self, before: Timestamp) -> StoreResult<usize> {
        let before = before.as_micros();
        let mut pruned = 0;
        loop {
            let deleted = self.write(|conn| {
                let head: Vec<(i64, i64)> = events::table
                    .order(events::seq.asc())
                    .limit(PRUNE_BATCH)
                    .select((events::seq, events::occurred_at))
                    .load(conn)?;
                let Some(last_old) = head
                    .iter()
                    .take_while(|(_, occurred_at)| *occurred_at < before)
                    .map(|(seq, _)| *seq)
                    .last()
                else {
                    return Ok(0);
                };
                Ok(diesel::delete(events::table.filter(events::seq.le(last_old))).execute(conn)?)
            })?;
            pruned += deleted;
            if deleted < usize::try_from(PRUNE_BATCH).unwrap_or(usize::MAX) {
                return Ok(pruned);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::testing::TestStore;

    fn event(conn: &mut DbConnection, workspace_id: WorkspaceId, name: &str) -> StoreResult<()> {
        record_event(
            conn,
            NewEvent {
                workspace_id,
                event_type: "user.updated",
                actor: &Actor::Cli,
                resource_kind: "user",
                resource_id: name.to_owned(),
                resource: json!({ "id": name }),
                changed: None,
            },
        )
    }

    /// The names of the test's own events (not the workspace's `workspace.created`).
    fn names(events: &[Event]) -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.event_type != "workspace.created")
            .map(|e| e.resource_id.as_str())
            .collect()
    }

    /// Retention works from the head of the feed and stops at the first event still inside
    /// retention, even when older events follow it (a clock stepped back): the feed never gets
    /// a gap in the middle.
    #[test]
    fn pruning_stops_at_the_first_event_inside_retention() {
        let db = TestStore::new();
        let workspace = db.workspace("acme").id;
        // Without the workspace's own `workspace.created`: only the three events below.
        db.store.publish_events().unwrap();
        db.store
            .write(|conn| Ok(diesel::delete(events::table).execute(conn)?))
            .unwrap();
        for name in ["old", "recent", "old-again"] {
            db.store.write(|conn| event(conn, workspace, name)).unwrap();
        }
        db.store.publish_events().unwrap();
        let written = db.store.events(workspace, 0, 100, &[]).unwrap();
        assert_eq!(names(&written), ["old", "recent", "old-again"]);
        let now = Timestamp::now();
        let cutoff = now.plus_seconds(-86_400);
        let two_days_ago = now.plus_seconds(-2 * 86_400).as_micros();
        db.store
            .write(|conn| {
                for (stored, name) in written.iter().zip(["old", "recent", "old-again"]) {
                    if name != "recent" {
                        diesel::update(events::table.filter(events::seq.eq(stored.seq)))
                            .set(events::occurred_at.eq(two_days_ago))
                            .execute(conn)?;
                    }
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(db.store.prune_events(cutoff).unwrap(), 1);
        let kept = db.store.events(workspace, 0, 100, &[]).unwrap();
        assert_eq!(names(&kept), ["recent", "old-again"]);
        assert_eq!(
            db.store.prune_events(cutoff).unwrap(),
            0,
            "nothing more to prune"
        );
    }

    /// PostgreSQL's generic plan of `sql` (parameters typed `params`) executed as `execute`
    /// (`EXECUTE stmt(…)`), made on the store's empty tables as on a fresh deployment; a plan
    /// made then is kept for the connection's life.
    fn generic_plan(db: &TestStore, sql: &str, params: &str, execute: &str) -> String {
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text)]
            line: String,
        }
        let lines: Vec<String> = db
            .store
            .write(|conn| {
                diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan")
                    .execute(conn)?;
                diesel::sql_query(format!("PREPARE stmt{params} AS {sql}")).execute(conn)?;
                diesel::sql_query(
                    "CREATE FUNCTION pg_temp.plan_of(statement text) RETURNS SETOF text \
                     LANGUAGE plpgsql AS $$ DECLARE line text; BEGIN \
                     FOR line IN EXECUTE statement LOOP RETURN NEXT line; END LOOP; END $$",
                )
                .execute(conn)?;
                let lines: Vec<Line> = diesel::sql_query(format!(
                    "SELECT pg_temp.plan_of('EXPLAIN {execute}') AS line"
                ))
                .load(conn)?;
                diesel::sql_query("DEALLOCATE stmt").execute(conn)?;
                Ok(lines.into_iter().map(|line| line.line).collect())
            })
            .unwrap();
        lines.join("\n")
    }

    /// The publisher's statement has no join for PostgreSQL to plan badly: its generic plan,
    /// made while the outbox is empty, finds the batch's bound once and moves rows by range.
    #[test]
    fn publishing_reads_the_outbox_by_range_whatever_the_plan() {
        let db = TestStore::new();
        if db.store.backend() != crate::Backend::Postgres {
            return;
        }
        let plan = generic_plan(&db, PUBLISH_SQL, "(bigint)", "EXECUTE stmt(5000)");
        assert!(plan.contains("InitPlan"), "{plan}");
        assert!(
            !plan.contains("Join") && !plan.contains("Nested Loop"),
            "{plan}"
        );
    }

    /// The publisher's check for pending rows reads the outbox's primary key, not its heap (where
    /// rows already published lie dead until vacuum), and answers both ways.
    #[test]
    fn the_pending_check_reads_the_outbox_s_first_key() {
        let db = TestStore::new();
        if db.store.backend() != crate::Backend::Postgres {
            return;
        }
        let plan = generic_plan(&db, PENDING_SQL, "", "EXECUTE stmt");
        assert!(
            plan.contains("Index Only Scan using event_outbox_pkey"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");

        let workspace = db.workspace("acme").id;
        db.store.publish_events().unwrap(); // the workspace's own event
        assert_eq!(db.store.publish_events().unwrap(), 0, "nothing pending");
        db.store
            .write(|conn| event(conn, workspace, "pending"))
            .unwrap();
        assert_eq!(db.store.publish_events().unwrap(), 1);
        assert_eq!(db.store.publish_events().unwrap(), 0, "published once");
    }

    /// The case a position taken at insertion gets wrong: a transaction writes its event, another
    /// writes and commits after it, a reader passes the second, then the first commits. Its event
    /// must come after the reader's position, not behind it. SQLite cannot interleave writers, so
    /// the case only arises on PostgreSQL.
    #[test]
    fn an_event_committed_late_lands_after_a_reader_s_position() {
        let db = TestStore::new();
        if db.store.backend() != crate::Backend::Postgres {
            return;
        }
        let workspace = db.workspace("acme").id;
        let (inserted, wait_inserted) = mpsc::channel();
        let (commit, wait_commit) = mpsc::channel::<()>();
        let first_read = std::thread::scope(|scope| {
            let store = &db.store;
            let slow = scope.spawn(move || {
                store.write(|conn| {
                    event(conn, workspace, "slow")?;
                    inserted.send(()).ok();
                    wait_commit.recv().ok();
                    Ok(())
                })
            });
            wait_inserted.recv().unwrap();
            db.store
                .write(|conn| event(conn, workspace, "quick"))
                .unwrap();
            let first_read = db.store.events(workspace, 0, 100, &[]).unwrap();
            commit.send(()).unwrap();
            slow.join().unwrap().unwrap();
            first_read
        });
        assert_eq!(
            names(&first_read),
            ["quick"],
            "the open transaction's event is not yet visible"
        );
        let position = first_read.last().unwrap().seq;
        let rest = db.store.events(workspace, position, 100, &[]).unwrap();
        assert_eq!(
            names(&rest),
            ["slow"],
            "it lands after the reader's position"
        );
        assert!(rest[0].seq > position);
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;

    /// The type column of docs/events.md's `## Catalogue` table.
    fn catalogue() -> Vec<String> {
        let doc = include_str!("../../../../docs/events.md");
        let table = doc
            .split("## Catalogue")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        table
            .lines()
            .filter_map(|line| {
                let cell = line.strip_prefix('|')?.split('|').next()?.trim();
                Some(cell.strip_prefix('`')?.strip_suffix('`')?.to_owned())
            })
            .collect()
    }

    #[test]
    fn event_types_are_the_documented_catalogue() {
        let documented = catalogue();
        assert!(!documented.is_empty(), "docs/events.md has a catalogue");
        let listed: Vec<String> = EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect();
        assert_eq!(listed, documented);
    }

    #[test]
    fn unknown_event_types_are_named_once() {
        let requested = ["user.created", "user.createdd", "user.createdd", "*"].map(String::from);
        assert_eq!(unknown_event_types(&requested), vec!["user.createdd", "*"]);
        assert!(unknown_event_types(&[]).is_empty());
    }
}
