//! Just-in-time provisioning's rules: what a verified SSO login does to the directory, decided
//! from the login's claims and the users that hold its keys before anything is written.
//!
//! The rules (docs/sso.md "JIT rules", DESIGN.md "JIT", notes/sso-security.md A5/A6), in the
//! order they apply:
//! - an email claim that is no email refuses the login (`missing_claims`);
//! - when the workspace lists domains, the asserted email must be in one of them, and the IdP must
//!   vouch for it (`email_verified`: OIDC's claim, always true for SAML): an OIDC provider that
//!   lets people type their own address would otherwise let anyone claim the workspace's domain.
//!   This holds at every login, not only the first;
//! - a login is matched by `(connection, subject)` only, never by email alone: a known identity
//!   logs its user in, unless the user is inactive (SCIM `active=false` wins over the IdP);
//! - a new subject whose email (or user name) belongs to an existing user is linked only when the
//!   connection provisions that user through SCIM, or is authoritative for the email's domain (it
//!   lists the domain and the workspace verified it with a DNS record) and the IdP says the
//!   address is verified; otherwise `email_conflict` (or `user_name_conflict`);
//! - otherwise a `jit` user is created from the claims, named by the user name claim or the email;
//! - the profile is copied at the first login (into the fields a linked user lacks), and at every
//!   login only with `every_login`; SCIM-managed users are never overwritten by claims, and an
//!   absent claim keeps the value;
//! - custom attributes follow the profile's policy, and what SCIM sources stays SCIM's
//!   ([`attributes`]);
//! - group claims set the user's memberships in the connection's mapped IdP groups at every login
//!   with `group_sync = every_login`; `Unknown` changes nothing, and SCIM owns the memberships of
//!   a SCIM connection and of the users SCIM manages.
//!
//! The store loads the inputs ([`JitInput`]: the user the subject's identity links to, or the
//! user holding the keys of [`first_login_keys`]), calls [`decide`], and persists the
//! [`JitDecision`] in one transaction; a refusal writes nothing but the caller's login event.

use crate::{
    Connection, Domain, Email, GroupSync, GroupsClaim, Lifecycle, LoginClaims, LoginFailure,
    ProfileSync, User, UserId, UserName, Workspace,
};

pub mod attributes;

/// What [`decide`] decides from.
#[derive(Debug, Clone, Copy)]
pub struct JitInput<'a> {
    pub workspace: &'a Workspace,
    pub connection: &'a Connection,
    pub claims: &'a LoginClaims,
    /// The user the subject's identity at this connection links to; `None` for a subject seen
    /// for the first time.
    pub known: Option<&'a User>,
    /// For a subject seen for the first time: the workspace's user with the login's email or,
    /// failing that, its user name ([`first_login_keys`]). Ignored for a known subject.
    pub holder: Option<&'a User>,
    /// The workspace's verified domains ([`crate::domain_proof`]): a connection is authoritative
    /// for an email domain it lists only when the workspace proved it owns that domain.
    pub verified_domains: &'a [Domain],
}

/// The keys a subject's first login looks an existing user up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstLoginKeys {
    /// The user name a created user gets: the user name claim, or the email.
    pub user_name: UserName,
    pub email: Option<Email>,
}

/// What a login does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JitDecision<'a> {
    /// The subject is known and its user active: log it in; `profile` is what the connection's
    /// `every_login` profile sync changes (`None`: nothing).
    Login {
        user: &'a User,
        profile: Option<ProfileUpdate>,
    },
    /// A new subject that may take over an existing active user: link the subject to it;
    /// `profile` fills the fields the user lacks from the claims (`None`: nothing).
    Link {
        user: &'a User,
        profile: Option<ProfileUpdate>,
    },
    /// A new subject whose keys nobody holds: a `jit` user from the claims, linked to it.
    Create(NewJitUser),
    /// Refused; nothing is written but the login event.
    Refuse(JitRefusal),
}

/// The user a first login creates (active, source `jit`, managed by no connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJitUser {
    pub user_name: UserName,
    pub email: Option<Email>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
}

/// A user's profile after the claims were copied to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<Email>,
    /// The SCIM names of the attributes that changed (never empty), for the audit trail and
    /// the `user.updated` event.
    pub changed: Vec<&'static str>,
}

/// Why a login is refused, with the facts the login log shows (want/got).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JitRefusal {
    /// `missing_claims`: the email claim is not an email address.
    EmailInvalid { got: String, error: String },
    /// `missing_claims`: a first login with neither a user name nor an email to name a user by.
    NoEmailOrUserName { subject: String },
    /// `missing_claims`: the user name claim is not a valid user name.
    UserNameInvalid { got: String, error: String },
    /// `email_unverified`: the email is in a domain of the workspace, but the IdP does not
    /// vouch for it.
    EmailUnverified { email_domain: String },
    /// `email_domain_not_allowed`: the workspace lists domains (`want`) and the email (of domain
    /// `got`, if any) is in none.
    EmailDomainNotAllowed {
        want: Vec<String>,
        got: Option<String>,
    },
    /// `user_inactive`: the user is deactivated or deprovisioned.
    UserInactive { user: UserId, lifecycle: Lifecycle },
    /// `email_conflict` or `user_name_conflict`: a new subject's email or user name belongs to
    /// a user this connection may not take over.
    Unlinkable {
        failure: LoginFailure,
        existing_user: UserId,
        connection_domains: Vec<String>,
        email_verified: bool,
        same_email: bool,
    },
}

impl JitRefusal {
    /// The stable code of the login log.
    pub fn failure(&self) -> LoginFailure {
        match self {
            JitRefusal::EmailInvalid { .. }
            | JitRefusal::NoEmailOrUserName { .. }
            | JitRefusal::UserNameInvalid { .. } => LoginFailure::MissingClaims,
            JitRefusal::EmailUnverified { .. } => LoginFailure::EmailUnverified,
            JitRefusal::EmailDomainNotAllowed { .. } => LoginFailure::EmailDomainNotAllowed,
            JitRefusal::UserInactive { .. } => LoginFailure::UserInactive,
            JitRefusal::Unlinkable { failure, .. } => *failure,
        }
    }

    /// The user the login event names: only an inactive user's (the login proved who it is).
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            JitRefusal::UserInactive { user, .. } => Some(*user),
            _ => None,
        }
    }
}

/// Decides what a verified login does (see the module docs for the rules).
pub fn decide<'a>(input: &JitInput<'a>) -> JitDecision<'a> {
    match decide_or_refuse(input) {
        Ok(decision) => decision,
        Err(refusal) => JitDecision::Refuse(refusal),
    }
}

fn decide_or_refuse<'a>(input: &JitInput<'a>) -> Result<JitDecision<'a>, JitRefusal> {
    let JitInput {
        workspace,
        connection,
        claims,
        known,
        holder,
        verified_domains,
    } = *input;
    let email = claimed_email(claims)?;
    check_workspace_domain(workspace, email.as_ref(), claims.email_verified)?;
    if let Some(user) = known {
        refuse_inactive(user)?;
        let profile = (connection.profile_sync == ProfileSync::EveryLogin
            && !user.is_scim_managed())
        .then(|| profile_update(user, claims, email.as_ref(), true))
        .flatten();
        return Ok(JitDecision::Login { user, profile });
    }
    let user_name = claimed_user_name(claims, email.as_ref())?;
    if let Some(user) = holder {
        check_link(
            connection,
            verified_domains,
            claims,
            user,
            &user_name,
            email.as_ref(),
        )?;
        refuse_inactive(user)?;
        let profile = (!user.is_scim_managed())
            .then(|| profile_update(user, claims, email.as_ref(), false))
            .flatten();
        return Ok(JitDecision::Link { user, profile });
    }
    Ok(JitDecision::Create(NewJitUser {
        user_name,
        email,
        given_name: claims.given_name.clone(),
        family_name: claims.family_name.clone(),
        display_name: claims.display_name.clone(),
    }))
}

/// The keys the store looks the holder of a first login up by, or `None` when the claims name
/// no valid user ([`decide`] then refuses, whoever holds what).
pub fn first_login_keys(claims: &LoginClaims) -> Option<FirstLoginKeys> {
    let email = claimed_email(claims).ok()?;
    let user_name = claimed_user_name(claims, email.as_ref()).ok()?;
    Some(FirstLoginKeys { user_name, email })
}

/// The group values a login reconciles the user's IdP group memberships with, or `None` when
/// the login leaves them alone: the connection does not sync groups, SCIM owns the memberships
/// (a SCIM connection, a SCIM-managed user), or the IdP could not tell the groups.
pub fn synced_groups<'c>(
    connection: &Connection,
    user: &User,
    claims: &'c LoginClaims,
) -> Option<&'c [String]> {
    if connection.group_sync != GroupSync::EveryLogin
        || connection.scim_enabled
        || user.is_scim_managed()
    {
        return None;
    }
    match &claims.groups {
        GroupsClaim::Known(values) => Some(values),
        GroupsClaim::Unknown => None,
    }
}

/// The email claim: absent or blank is none, anything else must be an address.
fn claimed_email(claims: &LoginClaims) -> Result<Option<Email>, JitRefusal> {
    match claims.email.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => Email::parse(raw)
            .map(Some)
            .map_err(|err| JitRefusal::EmailInvalid {
                got: raw.to_owned(),
                error: err.to_string(),
            }),
    }
}

/// The user name a first login creates a user with: the user name claim, or the email.
fn claimed_user_name(claims: &LoginClaims, email: Option<&Email>) -> Result<UserName, JitRefusal> {
    let text = claims
        .user_name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .or_else(|| email.map(ToString::to_string))
        .ok_or_else(|| JitRefusal::NoEmailOrUserName {
            subject: claims.subject.clone(),
        })?;
    UserName::parse(&text).map_err(|err| JitRefusal::UserNameInvalid {
        got: text,
        error: err.to_string(),
    })
}

/// The workspace's domain allowlist: when it lists domains, the email must be in one of them and
/// vouched for by the IdP. The domain is checked first, so `email_unverified` names only an address
/// the allowlist would otherwise have admitted.
fn check_workspace_domain(
    workspace: &Workspace,
    email: Option<&Email>,
    email_verified: bool,
) -> Result<(), JitRefusal> {
    if workspace.domains.is_empty() {
        return Ok(());
    }
    let want: Vec<String> = workspace
        .domains
        .iter()
        .map(|domain| domain.as_str().to_owned())
        .collect();
    let got = email.map(Email::domain);
    match got {
        Some(domain) if want.contains(&domain) && email_verified => Ok(()),
        Some(domain) if want.contains(&domain) => Err(JitRefusal::EmailUnverified {
            email_domain: domain,
        }),
        got => Err(JitRefusal::EmailDomainNotAllowed { want, got }),
    }
}

fn refuse_inactive(user: &User) -> Result<(), JitRefusal> {
    if user.lifecycle.is_active() {
        return Ok(());
    }
    Err(JitRefusal::UserInactive {
        user: user.id,
        lifecycle: user.lifecycle,
    })
}

/// Whether a new subject may take over `existing`: only for users this connection provisions
/// through SCIM (same email, user name, or the subject as externalId), or when the connection is
/// authoritative for the verified email's domain and the email is the user's own.
fn check_link(
    connection: &Connection,
    verified_domains: &[Domain],
    claims: &LoginClaims,
    existing: &User,
    user_name: &UserName,
    email: Option<&Email>,
) -> Result<(), JitRefusal> {
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
            && verified_domains.iter().any(|d| d.as_str() == domain)
    });
    if same_email && authoritative && claims.email_verified {
        return Ok(());
    }
    let failure = if same_email || email.is_some() && existing.email.is_none() {
        LoginFailure::EmailConflict
    } else {
        LoginFailure::UserNameConflict
    };
    Err(JitRefusal::Unlinkable {
        failure,
        existing_user: existing.id,
        connection_domains: connection
            .domains
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect(),
        email_verified: claims.email_verified,
        same_email,
    })
}

/// The claims copied to `user`'s names and email: with `overwrite`, every claim sent; without,
/// only into the fields the user lacks. An absent claim keeps the stored value. `None` when
/// nothing changes.
fn profile_update(
    user: &User,
    claims: &LoginClaims,
    email: Option<&Email>,
    overwrite: bool,
) -> Option<ProfileUpdate> {
    let pick = |claimed: &Option<String>, stored: &Option<String>| -> Option<String> {
        match (claimed, stored) {
            (Some(value), _) if overwrite || stored.is_none() => Some(value.clone()),
            (_, stored) => stored.clone(),
        }
    };
    let given_name = pick(&claims.given_name, &user.given_name);
    let family_name = pick(&claims.family_name, &user.family_name);
    let display_name = pick(&claims.display_name, &user.display_name);
    let email = match (email, &user.email) {
        (Some(claimed), _) if overwrite || user.email.is_none() => Some(claimed.clone()),
        (_, stored) => stored.clone(),
    };
    let mut changed = Vec::new();
    if given_name != user.given_name {
        changed.push("givenName");
    }
    if family_name != user.family_name {
        changed.push("familyName");
    }
    if display_name != user.display_name {
        changed.push("displayName");
    }
    if email != user.email {
        changed.push("email");
    }
    (!changed.is_empty()).then_some(ProfileUpdate {
        given_name,
        family_name,
        display_name,
        email,
        changed,
    })
}

#[cfg(test)]
mod tests;
