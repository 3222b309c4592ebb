//! Users: the one user model for invited, JIT and SCIM users.
//!
//! Uniqueness of `userName` (per workspace, any case) and `externalId` (per managing connection)
//! is enforced by unique indexes on normalised keys, so concurrent creates of the same user yield
//! one row and typed conflicts for the others.

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, ConnectionId, Email, Lifecycle, LifecycleEvent, NewAuditEvent, Source,
    Timestamp, User, UserId, UserName, WorkspaceId,
};

use super::{corrupt, record_audit};
use crate::db::{insert_ignoring_taken_keys, on_backend};
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
        }
    }
}

/// `treat_none_as_null`: an absent value is bound as NULL (no nullable column has a default), so
/// the insert's SQL is the same for every user and, on the backend's own connection, diesel
/// finds its prepared statement by type instead of building the SQL again (see `on_backend`).
#[derive(Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = users, treat_none_as_null = true)]
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
    let user = new_user(new);
    let row = UserRow::of(&user);
    on_backend!(conn, |c| diesel::insert_into(users::table)
        .values(&row)
        .execute(c))
    .map_err(|err| conflict_on(err, "user", USER_CONFLICTS))?;
    record_user_created(conn, actor, &user)?;
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
    let user = new_user(new);
    let row = UserRow::of(&user);
    // A taken key leaves the transaction usable for the checks the caller runs next.
    if insert_ignoring_taken_keys!(conn, users::table, &row)? == 0 {
        return Ok(None);
    }
    record_user_created(conn, actor, &user)?;
    Ok(Some(user))
}

/// A new user as it will be stored: a fresh id, version 1, created now.
fn new_user(new: &NewUser) -> User {
    let now = Timestamp::now();
    User {
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
        version: 1,
        session_epoch: 0,
        created_at: now,
        updated_at: now,
    }
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

/// What ending a user's sessions writes, in the transaction of the change that ends them (an
/// admin disable, SCIM `active=false` or DELETE, any `session_epoch` bump): the `session.revoked`
/// event, and the revocation of every OpenID Provider grant of the user, so their refresh tokens
/// and userinfo stop at once and each app with a back-channel logout URI is told (queued here,
/// sent after the commit).
pub(crate) fn end_sessions(conn: &mut DbConnection, actor: &Actor, user: &User) -> StoreResult<()> {
    super::events::user_event(conn, actor, "session.revoked", user, None)?;
    super::oauth_grants::revoke_user_grants(
        conn,
        actor,
        user.id,
        super::oauth_grants::RevokeReason::UserDeactivated,
        Timestamp::now(),
    )?;
    Ok(())
}

pub(crate) fn find_user(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    id: UserId,
) -> StoreResult<User> {
    users::table
        .filter(users::workspace_id.eq(workspace_id.to_string()))
        .filter(users::id.eq(id.to_string()))
        .select(UserRow::as_select())
        // By primary key; no `.first()`, see the `db` module docs.
        .get_result(conn)
        .optional()?
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

    /// Applies a lifecycle event. Leaving `active` bumps `session_epoch`, which revokes every
    /// session of the user at once, and revokes the user's OAuth grants in the same transaction;
    /// every change bumps `version`.
    pub fn change_lifecycle(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: UserId,
        event: LifecycleEvent,
    ) -> StoreResult<User> {
        self.write(|conn| {
            let user = find_user(conn, workspace_id, id)?;
            let next = user.lifecycle.apply(event)?;
            if next == user.lifecycle {
                return Ok(user);
            }
            let epoch_bump = i64::from(user.lifecycle.revokes_sessions(next));
            diesel::update(users::table.find(id.to_string()))
                .set((
                    users::lifecycle.eq(next.as_str()),
                    users::version.eq(users::version + 1),
                    users::session_epoch.eq(users::session_epoch + epoch_bump),
                    users::updated_at.eq(Timestamp::now().as_micros()),
                ))
                .execute(conn)?;
            let action = match next {
                Lifecycle::Active => "user.reactivated",
                Lifecycle::Deactivated => "user.deactivated",
                Lifecycle::Deprovisioned => "user.deprovisioned",
            };
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action(action),
                    target_kind: "user",
                    target_id: id.to_string(),
                    detail: serde_json::json!({
                        "from": user.lifecycle.as_str(),
                        "to": next.as_str(),
                        "sessions_revoked": epoch_bump == 1,
                    })
                    .to_string(),
                },
            )?;
            let changed = find_user(conn, workspace_id, id)?;
            super::events::user_event(conn, actor, action, &changed, None)?;
            if epoch_bump == 1 {
                end_sessions(conn, actor, &changed)?;
            }
            Ok(changed)
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
