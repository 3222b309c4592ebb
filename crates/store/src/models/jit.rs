//! Just-in-time provisioning: turns verified login claims into a user, in one transaction.
//!
//! The rules (DESIGN.md "JIT", notes/sso-security.md A5/A6) in the order they apply:
//! - a login is matched by `(connection, subject)` only, never by email alone;
//! - a known identity of an inactive user is refused (SCIM `active=false` wins over the IdP);
//! - when the workspace lists domains, the asserted email must be in one of them, and the IdP must
//!   vouch for it (`email_verified`: OIDC's claim, always true for SAML): an OIDC provider that
//!   lets people type their own address would otherwise let anyone claim the workspace's domain;
//! - a new subject whose email (or user name) belongs to an existing user is linked only when
//!   the connection provisions that user through SCIM, or is authoritative for the email's domain
//!   and the IdP says the address is verified; otherwise `email_conflict`;
//! - otherwise a `jit` user is created from the claims;
//! - the profile is copied at the first login, and at every login only with `every_login`;
//!   SCIM-managed users are never overwritten by claims, and an absent claim keeps the value;
//! - group claims reconcile the user's memberships in this connection's IdP groups that have a
//!   mapping ("mapped groups only"); `Unknown` (absent attribute, Entra overage) changes nothing;
//!   on a SCIM connection SCIM owns memberships, so claims are ignored.
//!
//! A refusal rolls the whole transaction back: nothing is written but the caller's login event.

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, Connection, ConnectionId, DisplayName, Email, GroupKind, GroupSync, GroupsClaim,
    IdentityId, LoginClaims, LoginFailure, NewAuditEvent, ProfileSync, Provenance, Source,
    Timestamp, User, UserId, UserName, Workspace,
};

use super::group::{add_members, find_group, insert_group, remove_members, NewGroup};
use super::mapping::{after_idp_membership_change, bind_pending};
use super::user::{find_user, insert_user, NewUser};
use super::{events, record_audit};
use crate::any_of::any_of;
use crate::db::on_backend;
use crate::schema::{group_mappings, group_members, groups, identities, users};
use crate::{DbConnection, Store, StoreError};

/// What a successful login resolved to.
#[derive(Debug, Clone)]
pub struct JitOutcome {
    pub user: User,
    /// The user was created by this login.
    pub created: bool,
    /// An existing user was linked to this subject by this login.
    pub linked: bool,
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

fn refuse(failure: LoginFailure, detail: serde_json::Value) -> JitError {
    JitError::Refused {
        failure,
        detail,
        user_id: None,
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

pub(super) fn login_in_transaction(
    conn: &mut DbConnection,
    workspace: &Workspace,
    connection: &Connection,
    claims: &LoginClaims,
) -> Result<JitOutcome, JitError> {
    let actor = Actor::Login {
        connection_id: connection.id.to_string(),
    };
    let email = parse_email(claims)?;
    check_workspace_domain(workspace, email.as_ref(), claims.email_verified)?;

    let identity: Option<(String, String)> = identities::table
        .filter(identities::connection_id.eq(connection.id.to_string()))
        .filter(identities::subject.eq(&claims.subject))
        .select((identities::id, identities::user_id))
        .get_result(conn)
        .optional()?;
    let (user, created, linked) = match identity {
        Some((identity_id, user_id)) => {
            let user_id: UserId = user_id
                .parse()
                .map_err(|_| StoreError::Corrupt("identities: user id".to_owned()))?;
            let user = find_user(conn, workspace.id, user_id)?;
            refuse_inactive(&user)?;
            touch_identity(conn, &identity_id)?;
            let user = if connection.profile_sync == ProfileSync::EveryLogin {
                sync_profile(conn, &actor, &user, claims, email.as_ref())?
            } else {
                user
            };
            (user, false, false)
        }
        None => first_login(conn, &actor, workspace, connection, claims, email)?,
    };

    if connection.group_sync == GroupSync::EveryLogin
        && !connection.scim_enabled
        && !user.is_scim_managed()
    {
        if let GroupsClaim::Known(values) = &claims.groups {
            sync_groups(conn, &actor, connection, user.id, values)?;
        }
    }
    let user = find_user(conn, workspace.id, user.id)?;
    Ok(JitOutcome {
        user,
        created,
        linked,
    })
}

fn parse_email(claims: &LoginClaims) -> Result<Option<Email>, JitError> {
    match claims.email.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => Email::parse(raw).map(Some).map_err(|err| {
            refuse(
                LoginFailure::MissingClaims,
                serde_json::json!({ "reason": "email_invalid", "got": raw, "error": err.to_string() }),
            )
        }),
    }
}

/// The workspace's domain allowlist: when it lists domains, the email must be in one of them and
/// vouched for by the IdP. The domain is checked first, so `email_unverified` names only an address
/// the allowlist would otherwise have admitted.
fn check_workspace_domain(
    workspace: &Workspace,
    email: Option<&Email>,
    email_verified: bool,
) -> Result<(), JitError> {
    if workspace.domains.is_empty() {
        return Ok(());
    }
    let want: Vec<&str> = workspace.domains.iter().map(|d| d.as_str()).collect();
    let got = email.map(Email::domain);
    match &got {
        Some(domain) if want.contains(&domain.as_str()) && email_verified => Ok(()),
        Some(domain) if want.contains(&domain.as_str()) => Err(refuse(
            LoginFailure::EmailUnverified,
            serde_json::json!({
                "claim": "email_verified",
                "want": true,
                "got": false,
                "email_domain": domain,
            }),
        )),
        _ => Err(refuse(
            LoginFailure::EmailDomainNotAllowed,
            serde_json::json!({ "want": want, "got": got }),
        )),
    }
}

fn refuse_inactive(user: &User) -> Result<(), JitError> {
    if user.lifecycle.is_active() {
        return Ok(());
    }
    Err(JitError::Refused {
        failure: LoginFailure::UserInactive,
        detail: serde_json::json!({ "lifecycle": user.lifecycle.as_str() }),
        user_id: Some(user.id),
    })
}

fn touch_identity(conn: &mut DbConnection, identity_id: &str) -> Result<(), JitError> {
    diesel::update(identities::table.find(identity_id))
        .set(identities::last_login_at.eq(Some(Timestamp::now().as_micros())))
        .execute(conn)?;
    Ok(())
}

/// A subject seen for the first time at this connection: link or create.
fn first_login(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace: &Workspace,
    connection: &Connection,
    claims: &LoginClaims,
    email: Option<Email>,
) -> Result<(User, bool, bool), JitError> {
    let user_name_text = claims
        .user_name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .or_else(|| email.as_ref().map(ToString::to_string))
        .ok_or_else(|| {
            refuse(
                LoginFailure::MissingClaims,
                serde_json::json!({ "reason": "no_email_or_user_name", "subject": claims.subject }),
            )
        })?;
    let user_name = UserName::parse(&user_name_text).map_err(|err| {
        refuse(
            LoginFailure::MissingClaims,
            serde_json::json!({ "reason": "user_name_invalid", "got": user_name_text, "error": err.to_string() }),
        )
    })?;

    if let Some(existing) = existing_user(conn, workspace, &user_name, email.as_ref())? {
        check_link(connection, claims, &existing, &user_name, email.as_ref())?;
        refuse_inactive(&existing)?;
        insert_identity(conn, actor, connection.id, &claims.subject, &existing)?;
        let user = if existing.is_scim_managed() {
            existing
        } else {
            fill_profile(conn, actor, &existing, claims, email.as_ref(), false)?
        };
        return Ok((user, false, true));
    }

    let new = NewUser {
        workspace_id: workspace.id,
        user_name,
        email,
        given_name: claims.given_name.clone(),
        family_name: claims.family_name.clone(),
        display_name: claims.display_name.clone(),
        external_id: None,
        active: true,
        source: Source::Jit,
        managing_connection_id: None,
        scim_attributes: "{}".to_owned(),
    };
    let user = insert_user(conn, actor, &new).map_err(|err| match err {
        StoreError::Conflict { detail, .. } => refuse(
            LoginFailure::UserNameConflict,
            serde_json::json!({ "userName": new.user_name.as_str(), "conflict": detail }),
        ),
        other => JitError::Store(other),
    })?;
    insert_identity(conn, actor, connection.id, &claims.subject, &user)?;
    Ok((user, true, false))
}

/// The user that already owns this email (or, failing that, this user name) in the workspace.
fn existing_user(
    conn: &mut DbConnection,
    workspace: &Workspace,
    user_name: &UserName,
    email: Option<&Email>,
) -> Result<Option<User>, JitError> {
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

fn parse_user_id(id: &str) -> Result<UserId, JitError> {
    id.parse()
        .map_err(|_| JitError::Store(StoreError::Corrupt("users: id".to_owned())))
}

/// Whether a new subject may take over `existing`: only for users this connection provisions
/// through SCIM (same email or user name), or when the connection is authoritative for the
/// verified email's domain and the email is the user's own.
fn check_link(
    connection: &Connection,
    claims: &LoginClaims,
    existing: &User,
    user_name: &UserName,
    email: Option<&Email>,
) -> Result<(), JitError> {
    let same_email = match (email, &existing.email) {
        (Some(claimed), Some(own)) => claimed.key() == own.key(),
        _ => false,
    };
    if existing.managing_connection_id == Some(connection.id)
        && (same_email
            || existing.user_name.key() == user_name.key()
            || existing.external_id.as_deref() == Some(claims.subject.as_str()))
    {
        return Ok(());
    }
    let authoritative = email.is_some_and(|email| {
        let domain = email.domain();
        connection.domains.iter().any(|d| d.as_str() == domain)
    });
    if same_email && authoritative && claims.email_verified {
        return Ok(());
    }
    let failure = if same_email || email.is_some() && existing.email.is_none() {
        LoginFailure::EmailConflict
    } else {
        LoginFailure::UserNameConflict
    };
    Err(JitError::Refused {
        failure,
        detail: serde_json::json!({
            "existing_user": existing.id.to_string(),
            "connection_domains": connection.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            "email_verified": claims.email_verified,
            "same_email": same_email,
        }),
        user_id: None,
    })
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

/// `every_login`: copies the claims to a non-SCIM user's profile.
fn sync_profile(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    claims: &LoginClaims,
    email: Option<&Email>,
) -> Result<User, JitError> {
    if user.is_scim_managed() {
        return Ok(user.clone());
    }
    fill_profile(conn, actor, user, claims, email, true)
}

/// Writes the claimed names (and, with `overwrite`, email) that differ; an absent claim keeps the
/// stored value. Audits the changed fields.
fn fill_profile(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    claims: &LoginClaims,
    email: Option<&Email>,
    overwrite: bool,
) -> Result<User, JitError> {
    let pick = |claimed: &Option<String>, stored: &Option<String>| -> Option<String> {
        match (claimed, stored) {
            (Some(value), _) if overwrite || stored.is_none() => Some(value.clone()),
            (_, stored) => stored.clone(),
        }
    };
    let given = pick(&claims.given_name, &user.given_name);
    let family = pick(&claims.family_name, &user.family_name);
    let display = pick(&claims.display_name, &user.display_name);
    let new_email = match (email, &user.email) {
        (Some(claimed), _) if overwrite || user.email.is_none() => Some(claimed.clone()),
        (_, stored) => stored.clone(),
    };
    let mut changed = Vec::new();
    if given != user.given_name {
        changed.push("givenName");
    }
    if family != user.family_name {
        changed.push("familyName");
    }
    if display != user.display_name {
        changed.push("displayName");
    }
    if new_email != user.email {
        changed.push("email");
    }
    if changed.is_empty() {
        return Ok(user.clone());
    }
    diesel::update(users::table.find(user.id.to_string()))
        .set((
            users::given_name.eq(&given),
            users::family_name.eq(&family),
            users::display_name.eq(&display),
            users::display_name_key.eq(display.as_deref().map(str::to_lowercase)),
            users::email.eq(new_email.as_ref().map(ToString::to_string)),
            users::email_key.eq(new_email.as_ref().map(Email::key)),
            users::version.eq(users::version + 1),
            users::updated_at.eq(Timestamp::now().as_micros()),
        ))
        .execute(conn)?;
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
    events::user_event(
        conn,
        actor,
        "user.updated",
        &after,
        Some(changed.iter().map(|c| (*c).to_owned()).collect()),
    )?;
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

#[cfg(test)]
mod tests {
    use roster_domain::{Domain, RoleName, Slug, WorkspaceId};

    use super::*;

    fn workspace(domains: &[&str]) -> Workspace {
        Workspace {
            id: WorkspaceId::new(),
            slug: Slug::parse("acme").unwrap(),
            name: "acme".to_owned(),
            sso_enforced: false,
            default_role: RoleName::parse("member").unwrap(),
            domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    /// (workspace domains, email, email_verified) -> the refusal, if any.
    type Case = (
        &'static [&'static str],
        Option<&'static str>,
        bool,
        Option<LoginFailure>,
    );

    #[test]
    fn the_domain_allowlist_counts_only_vouched_emails() {
        let cases: &[Case] = &[
            (&[], Some("eve@evil.test"), false, None),
            (&[], None, false, None),
            (&["example.test"], Some("a@example.test"), true, None),
            (&["example.test"], Some("A@EXAMPLE.test"), true, None),
            (
                &["example.test"],
                Some("a@example.test"),
                false,
                Some(LoginFailure::EmailUnverified),
            ),
            (
                &["example.test"],
                Some("eve@evil.test"),
                true,
                Some(LoginFailure::EmailDomainNotAllowed),
            ),
            (
                &["example.test"],
                Some("eve@evil.test"),
                false,
                Some(LoginFailure::EmailDomainNotAllowed),
            ),
            (
                &["example.test"],
                None,
                true,
                Some(LoginFailure::EmailDomainNotAllowed),
            ),
        ];
        for (domains, email, verified, want) in cases {
            let email = email.map(|e| Email::parse(e).unwrap());
            let got = match check_workspace_domain(&workspace(domains), email.as_ref(), *verified) {
                Ok(()) => None,
                Err(JitError::Refused { failure, .. }) => Some(failure),
                Err(JitError::Store(err)) => panic!("{err}"),
            };
            assert_eq!(got, *want, "{domains:?} {email:?} verified={verified}");
        }
    }
}
