//! Just-in-time provisioning's persistence: loads what a login's decision needs, asks
//! `roster_domain::jit::decide`, and writes what it decided, in one transaction.
//!
//! The rules themselves (match by `(connection, subject)` only, inactive users refused, the
//! workspace's domain allowlist, when a new subject may be linked to an existing user, the
//! profile and group sync policies) are the domain's (`crates/domain/src/jit.rs`). Here: the
//! user the subject's identity links to, or the user holding the login's email or user name, is
//! loaded; a login touches its identity and writes the profile the decision computed; a link or
//! a create inserts the identity (and the user); the group claims the decision passes on are
//! reconciled with the connection's mapped IdP groups.
//!
//! The custom attributes the login carried go through `roster_domain::jit::attributes` (which
//! needs the attributes the user holds and, for a SCIM-managed user, those its managing
//! connection sources through SCIM) and are written with the profile, in one `user.updated`.
//! A `user_ref` value (a manager) is resolved here: the IdP names a person by Roster id,
//! externalId at the connection, userName or email, and the first of those that names exactly
//! one user of the workspace is the reference; none is a warning, like a value of the wrong type.
//!
//! A refusal rolls the whole transaction back: nothing is written but the caller's login event.
//! A test sign-in asks [`Store::jit_preview`]: the same inputs, the same decision, and no write.

use diesel::prelude::*;
use roster_domain::attributes::{AttrValue, Protocol};
use roster_domain::jit::attributes::{
    login_attributes, AttributeInput, AttributePlan, AttributeWarning, LoginStage,
};
use roster_domain::jit::{self, JitDecision, JitInput, JitRefusal, NewJitUser, ProfileUpdate};
use roster_domain::{
    Action, Actor, Connection, ConnectionId, DisplayName, Email, GroupKind, IdentityId,
    LoginClaims, LoginFailure, NewAuditEvent, Provenance, Source, Timestamp, User, UserId,
    UserName, Workspace,
};

use super::attribute_values::{recompute_roles_after, write_edits, AttributeEdit};
use super::group::{add_members, find_group, insert_group, remove_members, NewGroup};
use super::mapping::{after_idp_membership_change, bind_pending};
use super::user::{find_user, insert_user, NewUser};
use super::{events, record_audit};
use crate::any_of::any_of;
use crate::db::{on_backend, update_kept_prepared};
use crate::schema::{group_mappings, group_members, groups, identities, users};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// What a successful login resolved to.
#[derive(Debug, Clone)]
pub struct JitOutcome {
    pub user: User,
    /// The user was created by this login.
    pub created: bool,
    /// An existing user was linked to this subject by this login.
    pub linked: bool,
    /// The custom attribute values the login carried and could not write (a value of the wrong
    /// type, a reference to nobody), for the login log.
    pub warnings: Vec<AttributeWarning>,
}

/// Why a login did not resolve to a user.
#[derive(Debug)]
pub enum JitError {
    Refused {
        failure: LoginFailure,
        detail: serde_json::Value,
        user_id: Option<UserId>,
    },
    Store(StoreError),
}

impl From<StoreError> for JitError {
    fn from(err: StoreError) -> Self {
        JitError::Store(err)
    }
}

impl From<diesel::result::Error> for JitError {
    fn from(err: diesel::result::Error) -> Self {
        JitError::Store(err.into())
    }
}

impl From<JitRefusal> for JitError {
    fn from(refusal: JitRefusal) -> Self {
        JitError::Refused {
            failure: refusal.failure(),
            user_id: refusal.user_id(),
            detail: refusal_detail(&refusal),
        }
    }
}

/// The facts of a refusal as the login log shows them.
fn refusal_detail(refusal: &JitRefusal) -> serde_json::Value {
    use serde_json::json;
    match refusal {
        JitRefusal::EmailInvalid { got, error } => {
            json!({ "reason": "email_invalid", "got": got, "error": error })
        }
        JitRefusal::NoEmailOrUserName { subject } => {
            json!({ "reason": "no_email_or_user_name", "subject": subject })
        }
        JitRefusal::UserNameInvalid { got, error } => {
            json!({ "reason": "user_name_invalid", "got": got, "error": error })
        }
        JitRefusal::EmailUnverified { email_domain } => json!({
            "reason": "email_unverified",
            "claim": "email_verified",
            "want": true,
            "got": false,
            "email_domain": email_domain,
        }),
        JitRefusal::EmailDomainNotAllowed { want, got } => json!({
            "reason": "email_domain_not_allowed",
            "want": want,
            "got": got,
        }),
        JitRefusal::UserInactive { lifecycle, .. } => json!({
            "reason": "user_inactive",
            "want": "an active user",
            "got": lifecycle.as_str(),
            "lifecycle": lifecycle.as_str(),
        }),
        JitRefusal::Unlinkable {
            failure,
            existing_user,
            connection_domains,
            email_verified,
            same_email,
        } => json!({
            "reason": failure.code(),
            "want": "a new user, or one this connection may link: an email in its verified \
                     domains that the IdP vouches for",
            "got": format!(
                "the {} of user {existing_user}",
                if failure.code() == "email_conflict" {
                    "email"
                } else {
                    "user name"
                }
            ),
            "existing_user": existing_user.to_string(),
            "connection_domains": connection_domains,
            "email_verified": email_verified,
            "same_email": same_email,
        }),
    }
}

impl Store {
    /// Resolves a verified login at `connection` to an active user, creating or linking it and
    /// syncing its profile and mapped groups as the connection's JIT policy says.
    pub fn jit_login(
        &self,
        workspace: &Workspace,
        connection: &Connection,
        claims: &LoginClaims,
    ) -> Result<JitOutcome, JitError> {
        self.write_with(|conn| login_in_transaction(conn, workspace, connection, claims))
    }
}

/// What a login's decision is made from, as loaded from the database: the subject's identity at
/// the connection and the user it links to, or for a new subject the user holding its keys, and
/// the workspace's verified domains when the rule reads them.
struct Loaded {
    /// The identity row's id, for a subject seen before.
    identity_id: Option<String>,
    known: Option<User>,
    holder: Option<User>,
    verified_domains: Vec<roster_domain::Domain>,
}

impl Loaded {
    fn input<'a>(
        &'a self,
        workspace: &'a Workspace,
        connection: &'a Connection,
        claims: &'a LoginClaims,
    ) -> JitInput<'a> {
        JitInput {
            workspace,
            connection,
            claims,
            known: self.known.as_ref(),
            holder: self.holder.as_ref(),
            verified_domains: &self.verified_domains,
        }
    }
}

/// Loads the inputs of [`jit::decide`] for a login of `claims` at `connection`; reads only.
fn load_inputs(
    conn: &mut DbConnection,
    workspace: &Workspace,
    connection: &Connection,
    claims: &LoginClaims,
) -> StoreResult<Loaded> {
    let identity: Option<(String, String)> = identities::table
        .filter(identities::connection_id.eq(connection.id.to_string()))
        .filter(identities::subject.eq(&claims.subject))
        .select((identities::id, identities::user_id))
        .get_result(conn)
        .optional()?;
    let known = match &identity {
        Some((_, user_id)) => {
            let user_id: UserId = user_id
                .parse()
                .map_err(|_| StoreError::Corrupt("identities: user id".to_owned()))?;
            Some(find_user(conn, workspace.id, user_id)?)
        }
        None => None,
    };
    let holder = match (&known, jit::first_login_keys(claims)) {
        (None, Some(keys)) => holder_of(conn, workspace, &keys.user_name, keys.email.as_ref())?,
        _ => None,
    };
    // Only for a new subject with a holder does the rule read them: whether the connection is
    // authoritative for the email's domain.
    let verified_domains = match (&known, &holder) {
        (None, Some(_)) => super::workspace_domain::verified_domains(conn, workspace.id)?,
        _ => Vec::new(),
    };
    Ok(Loaded {
        identity_id: identity.map(|(id, _)| id),
        known,
        holder,
        verified_domains,
    })
}

/// What a login would do, decided exactly as [`Store::jit_login`] decides it, with nothing
/// written: a test sign-in's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JitPreview {
    /// A known subject of an active user: signed in.
    SignIn { user: User },
    /// A new subject linked to an existing user.
    Link { user: User },
    /// A new subject: a `jit` user with this user name would be created.
    Create { user_name: String },
    /// Refused, with the login log's code and facts.
    Refuse {
        failure: LoginFailure,
        detail: serde_json::Value,
        /// The existing user the refusal is about, if any (an inactive or unlinkable one).
        existing_user: Option<UserId>,
    },
}

impl Store {
    /// Decides what a verified login at `connection` would do ([`jit::decide`] on the inputs a
    /// real login loads), in a read transaction: no user, identity, membership or event is
    /// written.
    pub fn jit_preview(
        &self,
        workspace: &Workspace,
        connection: &Connection,
        claims: &LoginClaims,
    ) -> StoreResult<JitPreview> {
        self.read(|conn| {
            let loaded = load_inputs(conn, workspace, connection, claims)?;
            Ok(preview(jit::decide(
                &loaded.input(workspace, connection, claims),
            )))
        })
    }
}

/// The owned summary of a decision.
fn preview(decision: JitDecision<'_>) -> JitPreview {
    match decision {
        JitDecision::Login { user, .. } => JitPreview::SignIn { user: user.clone() },
        JitDecision::Link { user, .. } => JitPreview::Link { user: user.clone() },
        JitDecision::Create(new) => JitPreview::Create {
            user_name: new.user_name.to_string(),
        },
        JitDecision::Refuse(refusal) => JitPreview::Refuse {
            failure: refusal.failure(),
            detail: refusal_detail(&refusal),
            existing_user: match &refusal {
                JitRefusal::UserInactive { user, .. } => Some(*user),
                JitRefusal::Unlinkable { existing_user, .. } => Some(*existing_user),
                JitRefusal::EmailInvalid { .. }
                | JitRefusal::NoEmailOrUserName { .. }
                | JitRefusal::UserNameInvalid { .. }
                | JitRefusal::EmailUnverified { .. }
                | JitRefusal::EmailDomainNotAllowed { .. } => None,
            },
        },
    }
}

pub(super) fn login_in_transaction(
    conn: &mut DbConnection,
    workspace: &Workspace,
    connection: &Connection,
    claims: &LoginClaims,
) -> Result<JitOutcome, JitError> {
    let actor = Actor::Login {
        connection_id: connection.id.to_string(),
    };
    let loaded = load_inputs(conn, workspace, connection, claims)?;
    let decision = jit::decide(&loaded.input(workspace, connection, claims));
    let (edits, warnings) = match (LoginStage::of(&decision), &decision) {
        (Some(stage), JitDecision::Login { user, .. } | JitDecision::Link { user, .. }) => {
            attribute_edits(conn, connection, stage, Some(user), claims)?
        }
        (Some(stage), _) => attribute_edits(conn, connection, stage, None, claims)?,
        (None, _) => (Vec::new(), Vec::new()),
    };
    let (user, created, linked) = match decision {
        JitDecision::Refuse(refusal) => return Err(refusal.into()),
        JitDecision::Login { user, profile } => {
            if let Some(identity_id) = &loaded.identity_id {
                touch_identity(conn, identity_id)?;
            }
            (
                write_profile(conn, &actor, user, profile, &edits)?,
                false,
                false,
            )
        }
        JitDecision::Link { user, profile } => {
            insert_identity(conn, &actor, connection.id, &claims.subject, user)?;
            (
                write_profile(conn, &actor, user, profile, &edits)?,
                false,
                true,
            )
        }
        JitDecision::Create(new) => {
            let user = create_user(conn, &actor, workspace, new, edits)?;
            insert_identity(conn, &actor, connection.id, &claims.subject, &user)?;
            (user, true, false)
        }
    };

    if let Some(values) = jit::synced_groups(connection, &user, claims) {
        sync_groups(conn, &actor, connection, user.id, values)?;
    }
    let user = find_user(conn, workspace.id, user.id)?;
    Ok(JitOutcome {
        user,
        created,
        linked,
        warnings,
    })
}

/// The attribute values a login writes to `user` (`None`: the user it creates), as edits with
/// their user references resolved, and the warnings about the values it carried and cannot
/// write.
fn attribute_edits(
    conn: &mut DbConnection,
    connection: &Connection,
    stage: LoginStage,
    user: Option<&User>,
    claims: &LoginClaims,
) -> StoreResult<(Vec<AttributeEdit>, Vec<AttributeWarning>)> {
    if claims.attributes.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let (held, scim_owned) = match user {
        Some(user) => (held_attributes(user), scim_owned_attributes(conn, user)?),
        None => (Vec::new(), Vec::new()),
    };
    let AttributePlan {
        values,
        mut warnings,
    } = login_attributes(&AttributeInput {
        stage,
        profile_sync: connection.profile_sync,
        claimed: &claims.attributes,
        held: &held,
        scim_owned: &scim_owned,
    });
    let mut edits = Vec::with_capacity(values.len());
    for planned in values {
        let value = match planned.value {
            AttrValue::UserRef(named) => match resolve_user_ref(conn, connection, &named)? {
                Some(user_id) => AttrValue::UserRef(user_id.to_string()),
                None => {
                    warnings.push(AttributeWarning {
                        attribute: planned.definition.name.to_string(),
                        source: planned.source,
                        reason: format!(
                            "{named:?} names no user of the workspace (by id, externalId, \
                                 userName or email)"
                        ),
                    });
                    continue;
                }
            },
            value => value,
        };
        edits.push(AttributeEdit {
            definition: planned.definition,
            value: Some(value),
        });
    }
    Ok((edits, warnings))
}

/// The names of the attributes `user` has a value for.
fn held_attributes(user: &User) -> Vec<String> {
    match serde_json::from_str::<serde_json::Value>(&user.attributes) {
        Ok(serde_json::Value::Object(values)) => values
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, _)| name)
            .collect(),
        _ => Vec::new(),
    }
}

/// The names of the attributes the connection that manages `user` sources through SCIM (none
/// for a user no connection manages, or whose managing connection is gone).
fn scim_owned_attributes(conn: &mut DbConnection, user: &User) -> StoreResult<Vec<String>> {
    let Some(managing) = user.managing_connection_id else {
        return Ok(Vec::new());
    };
    let vendor = match super::attributes::connection_vendor(conn, user.workspace_id, managing) {
        Ok(vendor) => vendor,
        Err(StoreError::NotFound { .. }) => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mappings = super::attributes::load_mappings(
        conn,
        user.workspace_id,
        managing,
        vendor,
        Protocol::Scim,
    )?;
    Ok(mappings
        .into_iter()
        .filter(|mapping| !mapping.sources.is_empty())
        .map(|mapping| mapping.definition.name.to_string())
        .collect())
}

/// The user of the workspace an IdP's `user_ref` value names: by Roster id, else externalId at
/// the connection, else userName, else email; the first key that names exactly one user.
fn resolve_user_ref(
    conn: &mut DbConnection,
    connection: &Connection,
    named: &str,
) -> StoreResult<Option<UserId>> {
    let workspace = connection.workspace_id.to_string();
    let only = |ids: Vec<String>| match ids.as_slice() {
        [one] => parse_user_id(one).map(Some),
        _ => Ok(None),
    };
    if named.parse::<UserId>().is_ok() {
        let ids = users::table
            .filter(users::workspace_id.eq(&workspace))
            .filter(users::id.eq(named))
            .select(users::id)
            .load(conn)?;
        if let Some(id) = only(ids)? {
            return Ok(Some(id));
        }
    }
    let ids = users::table
        .filter(users::workspace_id.eq(&workspace))
        .filter(users::managing_connection_id.eq(connection.id.to_string()))
        .filter(users::external_id.eq(named))
        .select(users::id)
        .limit(2)
        .load(conn)?;
    if let Some(id) = only(ids)? {
        return Ok(Some(id));
    }
    if let Ok(user_name) = UserName::parse(named) {
        let ids = users::table
            .filter(users::workspace_id.eq(&workspace))
            .filter(users::user_name_key.eq(user_name.key()))
            .select(users::id)
            .limit(2)
            .load(conn)?;
        if let Some(id) = only(ids)? {
            return Ok(Some(id));
        }
    }
    if let Ok(email) = Email::parse(named) {
        let ids = users::table
            .filter(users::workspace_id.eq(&workspace))
            .filter(users::email_key.eq(email.key()))
            .select(users::id)
            .limit(2)
            .load(conn)?;
        return only(ids);
    }
    Ok(None)
}

fn touch_identity(conn: &mut DbConnection, identity_id: &str) -> Result<(), JitError> {
    // Every login of a known identity: kept prepared.
    update_kept_prepared!(
        conn,
        diesel::update(identities::table.find(identity_id))
            .set(identities::last_login_at.eq(Some(Timestamp::now().as_micros()))),
        returning identities::id
    )?;
    Ok(())
}

/// Inserts the user of [`JitDecision::Create`] with the attribute values of the login; a user
/// name taken meanwhile (the holder was looked up by the same key, so only a concurrent login
/// can) is `user_name_conflict`.
fn create_user(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace: &Workspace,
    new: NewJitUser,
    attributes: Vec<AttributeEdit>,
) -> Result<User, JitError> {
    let new = NewUser {
        workspace_id: workspace.id,
        user_name: new.user_name,
        email: new.email,
        given_name: new.given_name,
        family_name: new.family_name,
        display_name: new.display_name,
        external_id: None,
        active: true,
        source: Source::Jit,
        managing_connection_id: None,
        scim_attributes: "{}".to_owned(),
        attributes,
    };
    insert_user(conn, actor, &new).map_err(|err| match err {
        StoreError::Conflict { detail, .. } => JitError::Refused {
            failure: LoginFailure::UserNameConflict,
            detail: serde_json::json!({
                "reason": "user_name_conflict",
                "want": "a user name no other user holds",
                "got": new.user_name.as_str(),
                "userName": new.user_name.as_str(),
                "conflict": detail,
            }),
            user_id: None,
        },
        other => JitError::Store(other),
    })
}

/// The user that already owns this email (or, failing that, this user name) in the workspace.
fn holder_of(
    conn: &mut DbConnection,
    workspace: &Workspace,
    user_name: &UserName,
    email: Option<&Email>,
) -> StoreResult<Option<User>> {
    if let Some(email) = email {
        let by_email: Option<String> = users::table
            .filter(users::workspace_id.eq(workspace.id.to_string()))
            .filter(users::email_key.eq(email.key()))
            .order(users::created_at.asc())
            .select(users::id)
            .first(conn)
            .optional()?;
        if let Some(id) = by_email {
            return Ok(Some(find_user(conn, workspace.id, parse_user_id(&id)?)?));
        }
    }
    let by_name: Option<String> = users::table
        .filter(users::workspace_id.eq(workspace.id.to_string()))
        .filter(users::user_name_key.eq(user_name.key()))
        .select(users::id)
        .get_result(conn)
        .optional()?;
    match by_name {
        Some(id) => Ok(Some(find_user(conn, workspace.id, parse_user_id(&id)?)?)),
        None => Ok(None),
    }
}

fn parse_user_id(id: &str) -> StoreResult<UserId> {
    id.parse()
        .map_err(|_| StoreError::Corrupt("users: id".to_owned()))
}

fn insert_identity(
    conn: &mut DbConnection,
    actor: &Actor,
    connection_id: ConnectionId,
    subject: &str,
    user: &User,
) -> Result<(), JitError> {
    let now = Timestamp::now().as_micros();
    let id = IdentityId::new();
    diesel::insert_into(identities::table)
        .values((
            identities::id.eq(id.to_string()),
            identities::workspace_id.eq(user.workspace_id.to_string()),
            identities::connection_id.eq(connection_id.to_string()),
            identities::subject.eq(subject),
            identities::user_id.eq(user.id.to_string()),
            identities::created_at.eq(now),
            identities::last_login_at.eq(Some(now)),
        ))
        .execute(conn)
        .map_err(|err| {
            JitError::Store(crate::error::conflict_on(
                err,
                "identity",
                &[(
                    "subject",
                    "this subject is already linked at this connection",
                )],
            ))
        })?;
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(user.workspace_id),
            actor: actor.clone(),
            action: Action("identity.linked"),
            target_kind: "user",
            target_id: user.id.to_string(),
            detail:
                serde_json::json!({ "connection": connection_id.to_string(), "subject": subject })
                    .to_string(),
        },
    )?;
    Ok(())
}

/// Writes the profile a login decided (`None`: it keeps its names and email) and the attribute
/// values it carried, audits the changed fields and announces them in one `user.updated`
/// (profile fields by their SCIM names, attributes as `attributes.<name>`). The version moves
/// once, whether the profile, the attributes or both changed; nothing changed writes nothing.
fn write_profile(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    profile: Option<ProfileUpdate>,
    attributes: &[AttributeEdit],
) -> Result<User, JitError> {
    let mut changed: Vec<String> = Vec::new();
    let now = Timestamp::now().as_micros();
    if let Some(profile) = profile {
        let ProfileUpdate {
            given_name,
            family_name,
            display_name,
            email,
            changed: fields,
        } = profile;
        diesel::update(users::table.find(user.id.to_string()))
            .set((
                users::given_name.eq(&given_name),
                users::family_name.eq(&family_name),
                users::display_name.eq(&display_name),
                users::display_name_key.eq(display_name.as_deref().map(str::to_lowercase)),
                users::email.eq(email.as_ref().map(ToString::to_string)),
                users::email_key.eq(email.as_ref().map(Email::key)),
                users::version.eq(users::version + 1),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        changed.extend(fields.iter().map(|field| (*field).to_owned()));
    }
    // The references were resolved by the caller: none is left unresolved here.
    let (edited, _unresolved) = write_edits(conn, user, attributes)?;
    if !edited.changed.is_empty() && changed.is_empty() {
        diesel::update(users::table.find(user.id.to_string()))
            .set((
                users::version.eq(users::version + 1),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    changed.extend(edited.changed_names());
    if changed.is_empty() {
        return Ok(user.clone());
    }
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(user.workspace_id),
            actor: actor.clone(),
            action: Action("user.updated"),
            target_kind: "user",
            target_id: user.id.to_string(),
            detail: serde_json::json!({ "changed": changed, "by": "sso_claims" }).to_string(),
        },
    )?;
    let after = find_user(conn, user.workspace_id, user.id)?;
    events::user_event(conn, actor, "user.updated", &after, Some(changed))?;
    recompute_roles_after(conn, actor, user.workspace_id, user.id, &edited)?;
    Ok(after)
}

/// Makes the user's memberships in this connection's IdP groups equal to the claimed values
/// that have a mapping (pending mappings by exact name included); IdP groups without a mapping
/// are neither created nor touched.
fn sync_groups(
    conn: &mut DbConnection,
    actor: &Actor,
    connection: &Connection,
    user_id: UserId,
    values: &[String],
) -> Result<(), JitError> {
    let connection_key = connection.id.to_string();
    // `any_of`, not `eq_any`: one prepared statement whatever the number of values.
    let mapped: Vec<(Option<String>, Option<String>)> =
        on_backend!(conn, |c| group_mappings::table
            .filter(group_mappings::connection_id.eq(&connection_key))
            .filter(
                any_of(group_mappings::idp_group_key, values)
                    .or(any_of(group_mappings::idp_group_name, values)),
            )
            .select((
                group_mappings::idp_group_key,
                group_mappings::idp_group_name,
            ))
            .load(c))?;
    let existing: Vec<(String, Option<String>)> = on_backend!(conn, |c| groups::table
        .filter(groups::connection_id.eq(&connection_key))
        .filter(groups::kind.eq(GroupKind::Idp.as_str()))
        .filter(any_of(groups::external_id, values).or(any_of(groups::id, values)))
        .select((groups::id, groups::external_id))
        .load(c))?;

    let mut target: Vec<String> = existing.iter().map(|(id, _)| id.clone()).collect();
    for value in values {
        let has_group = existing
            .iter()
            .any(|(id, external)| id == value || external.as_deref() == Some(value.as_str()));
        let has_mapping = mapped.iter().any(|(key, name)| {
            key.as_deref() == Some(value.as_str()) || name.as_deref() == Some(value.as_str())
        });
        if has_group || !has_mapping {
            continue;
        }
        let Ok(display_name) = DisplayName::parse(value) else {
            continue;
        };
        let group = insert_group(
            conn,
            actor,
            &NewGroup {
                workspace_id: connection.workspace_id,
                kind: GroupKind::Idp,
                display_name,
                connection_id: Some(connection.id),
                external_id: Some(value.clone()),
                scim_attributes: "{}".to_owned(),
            },
        )?;
        bind_pending(conn, &group)?;
        target.push(group.id.to_string());
    }

    let provenance = Provenance::Idp.to_stored();
    let current: Vec<String> = group_members::table
        .inner_join(groups::table)
        .filter(group_members::user_id.eq(user_id.to_string()))
        .filter(group_members::provenance.eq(&provenance))
        .filter(groups::connection_id.eq(&connection_key))
        .select(groups::id)
        .load(conn)?;
    let user = [user_id.to_string()];
    for group_id in target.iter().filter(|id| !current.contains(id)) {
        let group = find_group(conn, connection.workspace_id, parse_group_id(group_id)?)?;
        let added = add_members(conn, connection.workspace_id, group.id, &provenance, &user)?;
        after_idp_membership_change(conn, actor, &group, &added, &[])?;
    }
    for group_id in current.iter().filter(|id| !target.contains(id)) {
        let group = find_group(conn, connection.workspace_id, parse_group_id(group_id)?)?;
        let removed = remove_members(conn, group.id, &provenance, Some(&user))?;
        after_idp_membership_change(conn, actor, &group, &[], &removed)?;
    }
    Ok(())
}

fn parse_group_id(id: &str) -> Result<roster_domain::GroupId, JitError> {
    id.parse()
        .map_err(|_| JitError::Store(StoreError::Corrupt("groups: id".to_owned())))
}
