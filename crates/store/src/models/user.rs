//! Users: the one user model for invited, JIT and SCIM users.
//!
//! Uniqueness of `userName` (per workspace, any case) and `externalId` (per managing connection)
//! is enforced by unique indexes on normalised keys, so concurrent creates of the same user yield
//! one row and typed conflicts for the others.

use diesel::prelude::*;
use roster_domain::{
    email_update, Action, Actor, ConnectionId, Email, EmailUpdate, Lifecycle, LifecycleChange,
    LifecycleEvent, LifecycleNotice, NewAuditEvent, SessionsEnd, Source, Timestamp, User, UserId,
    UserName, WorkspaceId,
};

use super::attribute_values::{
    apply_edits, index_new_user, recompute_roles_after, resolved, write_edits, AttributeEdit,
    EditedValues,
};
use super::oauth_grants::{revoke_user_grants, OAuthGrant, RevokeReason};
use super::{corrupt, record_audit, UserUpdate};
use crate::db::{insert_ignoring_taken_keys, on_backend, KeepPrepared};
use crate::error::conflict_on;
use crate::schema::users;
use crate::{DbConnection, Store, StoreError, StoreResult};

/// What creating a user needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub workspace_id: WorkspaceId,
    pub user_name: UserName,
    pub email: Option<Email>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    pub source: Source,
    pub managing_connection_id: Option<ConnectionId>,
    pub scim_attributes: String,
    /// Custom attribute values it starts with (a `user_ref` naming nobody is left out).
    pub attributes: Vec<AttributeEdit>,
}

impl NewUser {
    /// A user with just a name, as an admin invite or a test creates it.
    pub fn minimal(workspace_id: WorkspaceId, user_name: UserName, source: Source) -> Self {
        Self {
            workspace_id,
            user_name,
            email: None,
            given_name: None,
            family_name: None,
            display_name: None,
            external_id: None,
            active: true,
            source,
            managing_connection_id: None,
            scim_attributes: "{}".to_owned(),
            attributes: Vec::new(),
        }
    }
}

/// `treat_none_as_default_value = false`: an absent value is bound as NULL (no nullable column
/// has a default), not left to `DEFAULT`, so the insert's SQL is the same for every user and, on
/// the backend's own connection, diesel keeps it prepared and finds it by type instead of
/// building the SQL again (see `on_backend`). (`treat_none_as_null`, written here before, is
/// the attribute of a changeset; on an insert diesel ignored it, and every insert was parsed and
/// planned again on PostgreSQL.)
#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) workspace_id: String,
    pub(crate) user_name: String,
    pub(crate) user_name_key: String,
    pub(crate) email: Option<String>,
    pub(crate) email_key: Option<String>,
    pub(crate) given_name: Option<String>,
    pub(crate) family_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) lifecycle: String,
    pub(crate) source: String,
    pub(crate) managing_connection_id: Option<String>,
    pub(crate) scim_attributes: String,
    pub(crate) password_hash: Option<String>,
    pub(crate) version: i64,
    pub(crate) session_epoch: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) display_name_key: Option<String>,
    /// Custom attribute values, a JSON object (an export from before them has none).
    #[serde(default = "empty_object")]
    pub(crate) attributes: String,
}

fn empty_object() -> String {
    "{}".to_owned()
}

impl UserRow {
    pub(crate) fn into_domain(self) -> StoreResult<User> {
        let bad = corrupt("users");
        Ok(User {
            id: self.id.parse().map_err(&bad)?,
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            user_name: UserName::parse(&self.user_name).map_err(&bad)?,
            email: self
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(&bad)?,
            given_name: self.given_name,
            family_name: self.family_name,
            display_name: self.display_name,
            external_id: self.external_id,
            lifecycle: Lifecycle::parse(&self.lifecycle).map_err(&bad)?,
            source: Source::parse(&self.source).map_err(&bad)?,
            managing_connection_id: self
                .managing_connection_id
                .map(|id| id.parse())
                .transpose()
                .map_err(&bad)?,
            scim_attributes: self.scim_attributes,
            attributes: self.attributes,
            version: self.version,
            session_epoch: self.session_epoch,
            created_at: Timestamp::from_micros(self.created_at),
            updated_at: Timestamp::from_micros(self.updated_at),
        })
    }
}

const USER_CONFLICTS: &[(&str, &str)] = &[
    (
        "user_name_key",
        "a user with this userName already exists in the workspace",
    ),
    (
        "external_id",
        "a user with this externalId already exists for this connection",
    ),
];

/// Inserts a user, its audit entry and its `user.created` event on `conn` (inside the caller's
/// transaction); returns the user as stored. A taken userName or externalId is a `Conflict`.
pub(crate) fn insert_user(
    conn: &mut DbConnection,
    actor: &Actor,
    new: &NewUser,
) -> StoreResult<User> {
    let (user, values) = new_user(conn, new)?;
    let row = UserRow::of(&user);
    on_backend!(conn, |c| diesel::insert_into(users::table)
        .values(&row)
        .execute(c))
    .map_err(|err| conflict_on(err, "user", USER_CONFLICTS))?;
    index_new_user(conn, user.id, &values)?;
    record_user_created(conn, actor, &user)?;
    recompute_roles_after(conn, actor, user.workspace_id, user.id, &values)?;
    Ok(user)
}

/// [`insert_user`] when its userName and externalId are free, and `None` (nothing written)
/// when either is taken. A SCIM create tries this first: it costs one statement where checking
/// both keys first costs three, and the unique indexes make it exactly the "neither is taken"
/// case of those checks.
pub(crate) fn insert_user_unless_taken(
    conn: &mut DbConnection,
    actor: &Actor,
    new: &NewUser,
) -> StoreResult<Option<User>> {
    let (user, values) = new_user(conn, new)?;
    let row = UserRow::of(&user);
    // A taken key leaves the transaction usable for the checks the caller runs next.
    if insert_ignoring_taken_keys!(conn, users::table, &row)? == 0 {
        return Ok(None);
    }
    index_new_user(conn, user.id, &values)?;
    record_user_created(conn, actor, &user)?;
    recompute_roles_after(conn, actor, user.workspace_id, user.id, &values)?;
    Ok(Some(user))
}

/// A new user as it will be stored: a fresh id, version 1, created now; with its attribute
/// values (user references resolved in the workspace).
fn new_user(conn: &mut DbConnection, new: &NewUser) -> StoreResult<(User, EditedValues)> {
    let now = Timestamp::now();
    let (edits, _unresolved) = resolved(conn, new.workspace_id, &new.attributes)?;
    let values = apply_edits("{}", &edits);
    let user = User {
        id: UserId::new(),
        workspace_id: new.workspace_id,
        user_name: new.user_name.clone(),
        email: new.email.clone(),
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
        display_name: new.display_name.clone(),
        external_id: new.external_id.clone(),
        lifecycle: if new.active {
            Lifecycle::Active
        } else {
            Lifecycle::Deactivated
        },
        source: new.source,
        managing_connection_id: new.managing_connection_id,
        scim_attributes: new.scim_attributes.clone(),
        attributes: serde_json::Value::Object(values.values.clone()).to_string(),
        version: 1,
        session_epoch: 0,
        created_at: now,
        updated_at: now,
    };
    Ok((user, values))
}

impl UserRow {
    /// The row that stores `user` (no password).
    fn of(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            workspace_id: user.workspace_id.to_string(),
            user_name: user.user_name.to_string(),
            user_name_key: user.user_name.key(),
            email: user.email.as_ref().map(ToString::to_string),
            email_key: user.email.as_ref().map(Email::key),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            display_name: user.display_name.clone(),
            external_id: user.external_id.clone(),
            lifecycle: user.lifecycle.as_str().to_owned(),
            source: user.source.as_str().to_owned(),
            managing_connection_id: user.managing_connection_id.map(|id| id.to_string()),
            scim_attributes: user.scim_attributes.clone(),
            password_hash: None,
            version: user.version,
            session_epoch: user.session_epoch,
            created_at: user.created_at.as_micros(),
            updated_at: user.updated_at.as_micros(),
            display_name_key: user.display_name.as_deref().map(str::to_lowercase),
            attributes: user.attributes.clone(),
        }
    }
}

/// The audit entry and `user.created` event of `user`, just inserted. (The user is not read
/// back: that would return exactly what was written.)
fn record_user_created(conn: &mut DbConnection, actor: &Actor, user: &User) -> StoreResult<()> {
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(user.workspace_id),
            actor: actor.clone(),
            action: Action("user.created"),
            target_kind: "user",
            target_id: user.id.to_string(),
            detail: serde_json::json!({
                "userName": user.user_name.as_str(),
                "source": user.source.as_str(),
                "active": user.lifecycle.is_active(),
            })
            .to_string(),
        },
    )?;
    super::events::user_event(conn, actor, "user.created", user, None)
}

/// What one write of a user changes besides what its [`LifecycleChange`] says: what the use case
/// adds (a SCIM profile, the attributes its event names, its own audit action and facts).
pub(crate) struct UserWrite<'a> {
    /// SCIM's new profile and the connection managing the user afterwards (PUT, PATCH, a
    /// re-provisioning or an adoption); `None` for a lifecycle change alone.
    pub(crate) profile: Option<(&'a UserUpdate, Option<ConnectionId>)>,
    /// The attributes the `user.updated` event names, besides `lifecycle` when the plan reports
    /// it (no event when both are empty).
    pub(crate) changed: Vec<String>,
    /// The audit action when the use case has its own (an adoption, a SCIM update); otherwise
    /// the plan's, and no entry for a repeat.
    pub(crate) audit_action: Option<Action>,
    /// The use case's facts for the audit entry (a JSON object).
    pub(crate) audit_detail: serde_json::Value,
    /// When: the sessions' and grants' end, and the user's `updated_at`.
    pub(crate) at: Timestamp,
}

impl UserWrite<'_> {
    /// A lifecycle change alone (an admin's enable, disable or "sign out everywhere", a SCIM
    /// DELETE), audited with the plan's action and `detail`.
    pub(crate) fn lifecycle_only(detail: serde_json::Value, at: Timestamp) -> Self {
        UserWrite {
            profile: None,
            changed: Vec::new(),
            audit_action: None,
            audit_detail: detail,
            at,
        }
    }
}

/// What [`write_lifecycle`] wrote.
pub(crate) struct LifecycleWritten {
    /// The user as stored afterwards.
    pub(crate) user: User,
    /// The OpenID Provider grants revoked because the sessions ended, newest first.
    pub(crate) revoked: Vec<OAuthGrant>,
}

/// The one writer of a user's lifecycle and session epoch: persists `change` (planned by
/// [`Lifecycle::plan`](roster_domain::Lifecycle::plan) from `current`) with what `write` adds,
/// inside the caller's transaction:
///
/// - the state, the profile if any (the email under the rule "set once",
///   [`email_update`]), `version` + 1 unless the plan says otherwise, and `session_epoch` + 1
///   when the sessions end, so every session token of the user stops verifying;
/// - when the sessions end, the revocation of every live OpenID Provider grant of the user (its
///   refresh tokens and userinfo stop at once, and each app with a back-channel logout URI is
///   queued its logout, sent after the commit);
/// - the directory events: `user.updated` naming the changed attributes, then the plan's
///   (`user.deactivated`, `session.revoked`, …);
/// - one audit entry with the use case's facts, plus `sessions_revoked` when the lifecycle or
///   the epoch moved and the grants revoked (`grants_revoked`, `client_ids`) when sessions ended.
pub(crate) fn write_lifecycle(
    conn: &mut DbConnection,
    actor: &Actor,
    current: &User,
    change: &LifecycleChange,
    write: UserWrite<'_>,
) -> StoreResult<LifecycleWritten> {
    let epoch_bump = i64::from(change.ends_sessions.is_some());
    let moves_version = change.moves_version || write.profile.is_some();
    let profile = write.profile.map(|(update, managing_connection)| {
        let email = match email_update(current.email.as_ref(), update.email.as_ref()) {
            EmailUpdate::Set(first) => Some(first),
            EmailUpdate::Keep | EmailUpdate::Ignored { .. } => current.email.as_ref(),
        };
        (
            users::given_name.eq(&update.given_name),
            users::family_name.eq(&update.family_name),
            users::display_name.eq(&update.display_name),
            users::display_name_key.eq(update.display_name.as_deref().map(str::to_lowercase)),
            users::external_id.eq(&update.external_id),
            users::email.eq(email.map(ToString::to_string)),
            users::email_key.eq(email.map(Email::key)),
            users::managing_connection_id.eq(managing_connection.map(|id| id.to_string())),
            users::scim_attributes.eq(&update.scim_attributes),
        )
    });
    let update = diesel::update(users::table.find(current.id.to_string())).set((
        users::lifecycle.eq(change.to.as_str()),
        users::session_epoch.eq(users::session_epoch + epoch_bump),
        users::version.eq(users::version + i64::from(moves_version)),
        moves_version.then(|| users::updated_at.eq(write.at.as_micros())),
        profile,
    ));
    // PostgreSQL returns the updated row with the update, a round trip fewer than reading it
    // again; SQLite reads it in-process.
    let returned = match &mut *conn {
        DbConnection::Postgres(c) => KeepPrepared(update.returning(UserRow::as_select()))
            .get_result(c)
            .optional(),
        DbConnection::Sqlite(c) => update.execute(c).map(|_| None),
    }
    .map_err(|err| conflict_on(err, "user", USER_CONFLICTS))?;

    let mut revoked = match change.ends_sessions {
        Some(why) => {
            let reason = match why {
                SessionsEnd::UserInactive => RevokeReason::UserDeactivated,
                SessionsEnd::SignedOut => RevokeReason::Admin,
            };
            revoke_user_grants(conn, actor, current.id, reason, write.at)?
        }
        None => Vec::new(),
    };
    revoked.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let mut changed = write.changed;
    let edited = match write
        .profile
        .filter(|(update, _)| !update.attributes.is_empty())
    {
        Some((update, _)) => Some(write_edits(conn, current, &update.attributes)?.0),
        None => None,
    };
    if let Some(edited) = &edited {
        changed.extend(edited.changed_names());
    }
    // Custom attribute edits touch the row again (`updated_at`).
    let user = match returned {
        Some(row) if edited.is_none() => row.into_domain()?,
        _ => find_user(conn, current.workspace_id, current.id)?,
    };

    if change.notices.contains(&LifecycleNotice::LifecycleUpdated) {
        changed.push("lifecycle".to_owned());
    }
    if !changed.is_empty() {
        super::events::user_event(conn, actor, "user.updated", &user, Some(changed))?;
    }
    for notice in change.notices {
        let announced = match notice {
            LifecycleNotice::LifecycleUpdated => continue,
            LifecycleNotice::Deactivated => "user.deactivated",
            LifecycleNotice::Reactivated => "user.reactivated",
            LifecycleNotice::Deprovisioned => "user.deprovisioned",
            LifecycleNotice::SessionRevoked => "session.revoked",
        };
        super::events::user_event(conn, actor, announced, &user, None)?;
    }

    if let Some(action) = write.audit_action.or(change.audit) {
        let mut detail = match write.audit_detail {
            serde_json::Value::Object(facts) => facts,
            _ => serde_json::Map::new(),
        };
        if !change.is_noop() {
            detail.insert(
                "sessions_revoked".to_owned(),
                change.ends_sessions.is_some().into(),
            );
        }
        if change.ends_sessions.is_some() {
            let ids = revoked
                .iter()
                .map(|grant| grant.id.as_str().into())
                .collect();
            let apps = revoked
                .iter()
                .map(|grant| grant.client_id.as_str().into())
                .collect();
            detail.insert("grants_revoked".to_owned(), serde_json::Value::Array(ids));
            detail.insert("client_ids".to_owned(), serde_json::Value::Array(apps));
        }
        record_audit(
            conn,
            &NewAuditEvent {
                workspace_id: Some(user.workspace_id),
                actor: actor.clone(),
                action,
                target_kind: "user",
                target_id: user.id.to_string(),
                detail: serde_json::Value::Object(detail).to_string(),
            },
        )?;
    }
    if let Some(edited) = &edited {
        recompute_roles_after(conn, actor, user.workspace_id, user.id, edited)?;
    }
    Ok(LifecycleWritten { user, revoked })
}

pub(crate) fn find_user(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    id: UserId,
) -> StoreResult<User> {
    let (workspace_id, id) = (workspace_id.to_string(), id.to_string());
    // By primary key; no `.first()`, see the `db` module docs.
    on_backend!(conn, |c| users::table
        .filter(users::workspace_id.eq(&workspace_id))
        .filter(users::id.eq(&id))
        .select(UserRow::as_select())
        .get_result(c)
        .optional())?
    .ok_or(StoreError::NotFound { what: "user" })?
    .into_domain()
}

impl Store {
    /// Creates a user. A userName taken in the workspace (any case) or an externalId taken at the
    /// same connection is a `Conflict`, and nothing is written.
    pub fn create_user(&self, actor: &Actor, new: &NewUser) -> StoreResult<User> {
        self.write(|conn| insert_user(conn, actor, new))
    }

    pub fn user(&self, workspace_id: WorkspaceId, id: UserId) -> StoreResult<User> {
        self.read(|conn| find_user(conn, workspace_id, id))
    }

    /// Finds a user by userName, case-insensitively.
    pub fn user_by_user_name(
        &self,
        workspace_id: WorkspaceId,
        user_name: &str,
    ) -> StoreResult<User> {
        self.read(|conn| {
            users::table
                .filter(users::workspace_id.eq(workspace_id.to_string()))
                .filter(users::user_name_key.eq(UserName::key_of(user_name)))
                .select(UserRow::as_select())
                .get_result(conn)
                .optional()?
                .ok_or(StoreError::NotFound { what: "user" })?
                .into_domain()
        })
    }

    /// Number of users in a workspace (all lifecycles).
    pub fn count_users(&self, workspace_id: WorkspaceId) -> StoreResult<i64> {
        self.read(|conn| {
            Ok(users::table
                .filter(users::workspace_id.eq(workspace_id.to_string()))
                .count()
                .get_result(conn)?)
        })
    }

    /// Applies a lifecycle event as [`Lifecycle::plan`](roster_domain::Lifecycle::plan) says,
    /// through [`write_lifecycle`]: leaving `active` ends every session and OpenID Provider
    /// grant of the user in the same transaction; a repeated event writes nothing.
    pub fn change_lifecycle(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: UserId,
        event: LifecycleEvent,
    ) -> StoreResult<User> {
        self.write(|conn| {
            let user = find_user(conn, workspace_id, id)?;
            let change = user.lifecycle.plan(event)?;
            if change.is_noop() {
                return Ok(user);
            }
            let detail = serde_json::json!({
                "from": change.from.as_str(),
                "to": change.to.as_str(),
            });
            let write = UserWrite::lifecycle_only(detail, Timestamp::now());
            Ok(write_lifecycle(conn, actor, &user, &change, write)?.user)
        })
    }

    /// Sets (or replaces) a user's local password hash (PHC string; the caller hashes).
    /// The stored password hash of a user (local password login), if any.
    pub fn password_hash(
        &self,
        workspace_id: WorkspaceId,
        id: UserId,
    ) -> StoreResult<Option<String>> {
        self.read(|conn| {
            Ok(users::table
                .filter(users::workspace_id.eq(workspace_id.to_string()))
                .filter(users::id.eq(id.to_string()))
                .select(users::password_hash)
                .first::<Option<String>>(conn)
                .optional()?
                .flatten())
        })
    }

    pub fn set_password_hash(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: UserId,
        password_hash: &str,
    ) -> StoreResult<()> {
        self.write(|conn| {
            let updated = diesel::update(
                users::table
                    .filter(users::workspace_id.eq(workspace_id.to_string()))
                    .filter(users::id.eq(id.to_string())),
            )
            .set((
                users::password_hash.eq(password_hash),
                users::updated_at.eq(Timestamp::now().as_micros()),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound { what: "user" });
            }
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("user.password_set"),
                    target_kind: "user",
                    target_id: id.to_string(),
                    detail: "{}".to_owned(),
                },
            )
        })
    }
}
