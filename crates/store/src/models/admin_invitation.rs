//! Admin invitations: a one-time link that makes its holder an admin of the workspace — by
//! setting a password for a new account named by the invited email, or by signing in through the
//! workspace's SSO as that email. It replaces the admin account an operator made by hand and
//! whose password travelled out of band.
//!
//! A link opens once (the rules of `roster_domain::setup_link`: revoked, used, expired), and
//! accepting it is one transaction: the invitation is marked accepted (guarded, so two browsers
//! get one admin), the account is created with its password or the SSO user is found, and the
//! admin role is assigned — nothing half-applied. Only the link's SHA-256 is stored.

use diesel::prelude::*;
use roster_domain::setup_link::{self, LinkRefusal, LinkState};
use roster_domain::{
    Action, Actor, Email, NewAuditEvent, SecretKind, SecretToken, Source, Timestamp, TokenId, User,
    UserId, UserName, WorkspaceId, ADMIN_ROLE,
};

use super::role::assign_role_in;
use super::user::{insert_user, NewUser};
use super::{corrupt, record_audit};
use crate::schema::{admin_invitations, users};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// An invitation as listed (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminInvitation {
    pub id: TokenId,
    pub workspace_id: WorkspaceId,
    /// Whose it is: the new account's user name, or the email an SSO sign-in must carry.
    pub email: Email,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    /// The user who became admin by it (`user:ID`).
    pub accepted_by: Option<String>,
    pub revoked_at: Option<Timestamp>,
}

impl AdminInvitation {
    /// Whether it may be accepted now.
    pub fn acceptable(&self, now: Timestamp) -> Result<(), LinkRefusal> {
        setup_link::redeemable(
            LinkState {
                expires_at: self.expires_at,
                redeemed_at: self.accepted_at,
                revoked_at: self.revoked_at,
            },
            now,
        )
    }
}

/// Why an invitation was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationRefusal {
    /// Used, revoked or expired.
    Link(LinkRefusal),
    /// A password was offered, but the workspace already has an account with that user name:
    /// an invitation does not set the password of somebody's existing account.
    AccountExists,
    /// The SSO sign-in was not the invited email's.
    OtherEmail,
}

type Row = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

type Columns = (
    admin_invitations::id,
    admin_invitations::workspace_id,
    admin_invitations::email,
    admin_invitations::created_by,
    admin_invitations::created_at,
    admin_invitations::expires_at,
    admin_invitations::accepted_at,
    admin_invitations::accepted_by,
    admin_invitations::revoked_at,
);

const COLUMNS: Columns = (
    admin_invitations::id,
    admin_invitations::workspace_id,
    admin_invitations::email,
    admin_invitations::created_by,
    admin_invitations::created_at,
    admin_invitations::expires_at,
    admin_invitations::accepted_at,
    admin_invitations::accepted_by,
    admin_invitations::revoked_at,
);

fn invitation(row: Row) -> StoreResult<AdminInvitation> {
    let (
        id,
        workspace_id,
        email,
        created_by,
        created_at,
        expires_at,
        accepted_at,
        accepted_by,
        revoked_at,
    ) = row;
    Ok(AdminInvitation {
        id: id.parse().map_err(corrupt("admin_invitations"))?,
        workspace_id: workspace_id.parse().map_err(corrupt("admin_invitations"))?,
        email: Email::parse(&email).map_err(corrupt("admin_invitations"))?,
        created_by,
        created_at: Timestamp::from_micros(created_at),
        expires_at: Timestamp::from_micros(expires_at),
        accepted_at: accepted_at.map(Timestamp::from_micros),
        accepted_by,
        revoked_at: revoked_at.map(Timestamp::from_micros),
    })
}

fn audit(action: &'static str, actor: &Actor, invitation: &AdminInvitation) -> NewAuditEvent {
    NewAuditEvent {
        workspace_id: Some(invitation.workspace_id),
        actor: actor.clone(),
        action: Action(action),
        target_kind: "admin_invitation",
        target_id: invitation.id.to_string(),
        detail: serde_json::json!({
            "email": invitation.email.as_str(),
            "acceptedBy": invitation.accepted_by,
        })
        .to_string(),
    }
}

fn find_by_token(conn: &mut DbConnection, presented: &str) -> StoreResult<Option<AdminInvitation>> {
    let hash = SecretToken::from_presented(presented).hash();
    admin_invitations::table
        .filter(admin_invitations::token_hash.eq(&hash.0))
        .select(COLUMNS)
        .get_result::<Row>(conn)
        .optional()?
        .map(invitation)
        .transpose()
}

/// Marks the invitation accepted by `user`, unless a concurrent acceptance came first.
fn mark_accepted(
    conn: &mut DbConnection,
    invitation: &mut AdminInvitation,
    user: UserId,
) -> StoreResult<bool> {
    let now = Timestamp::now();
    let accepted_by = format!("user:{user}");
    let updated = diesel::update(
        admin_invitations::table
            .find(invitation.id.to_string())
            .filter(admin_invitations::accepted_at.is_null())
            .filter(admin_invitations::revoked_at.is_null()),
    )
    .set((
        admin_invitations::accepted_at.eq(now.as_micros()),
        admin_invitations::accepted_by.eq(&accepted_by),
    ))
    .execute(conn)?;
    invitation.accepted_at = Some(now);
    invitation.accepted_by = Some(accepted_by);
    Ok(updated == 1)
}

/// What accepting answers: the new admin, or why not (nothing written then).
pub type Acceptance = Result<(AdminInvitation, User), InvitationRefusal>;

/// Rolls the transaction back with a refusal as its answer.
enum Outcome {
    Refused(InvitationRefusal),
    Failed(StoreError),
}

impl From<StoreError> for Outcome {
    fn from(err: StoreError) -> Self {
        Outcome::Failed(err)
    }
}

impl From<diesel::result::Error> for Outcome {
    fn from(err: diesel::result::Error) -> Self {
        Outcome::Failed(err.into())
    }
}

impl Store {
    /// Invites `email` to become an admin of the workspace; returns the invitation and its
    /// token, shown once. Audited as `admin_invitation.created`.
    pub fn create_admin_invitation(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        email: Email,
        lifetime_seconds: i64,
    ) -> StoreResult<(AdminInvitation, SecretToken)> {
        let token = SecretToken::generate(SecretKind::AdminInvitation)?;
        let now = Timestamp::now();
        let (kind, id) = actor.to_stored();
        let created = AdminInvitation {
            id: TokenId::new(),
            workspace_id,
            email,
            created_by: id.map_or_else(|| kind.to_owned(), |id| format!("{kind}:{id}")),
            created_at: now,
            expires_at: now.plus_seconds(lifetime_seconds),
            accepted_at: None,
            accepted_by: None,
            revoked_at: None,
        };
        self.write(|conn| {
            diesel::insert_into(admin_invitations::table)
                .values((
                    admin_invitations::id.eq(created.id.to_string()),
                    admin_invitations::workspace_id.eq(created.workspace_id.to_string()),
                    admin_invitations::email.eq(created.email.as_str()),
                    admin_invitations::token_hash.eq(token.hash().0),
                    admin_invitations::created_by.eq(&created.created_by),
                    admin_invitations::created_at.eq(created.created_at.as_micros()),
                    admin_invitations::expires_at.eq(created.expires_at.as_micros()),
                ))
                .execute(conn)?;
            record_audit(conn, &audit("admin_invitation.created", actor, &created))
        })?;
        Ok((created, token))
    }

    /// The workspace's invitations, newest first.
    pub fn admin_invitations(
        &self,
        workspace_id: WorkspaceId,
    ) -> StoreResult<Vec<AdminInvitation>> {
        let rows: Vec<Row> = self.read(|conn| {
            Ok(admin_invitations::table
                .filter(admin_invitations::workspace_id.eq(workspace_id.to_string()))
                .order((
                    admin_invitations::created_at.desc(),
                    admin_invitations::id.desc(),
                ))
                .select(COLUMNS)
                .load(conn)?)
        })?;
        rows.into_iter().map(invitation).collect()
    }

    /// Revokes an invitation (idempotent). Audited as `admin_invitation.revoked`.
    pub fn revoke_admin_invitation(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: TokenId,
    ) -> StoreResult<AdminInvitation> {
        self.write(|conn| {
            let mut found = admin_invitations::table
                .filter(admin_invitations::id.eq(id.to_string()))
                .filter(admin_invitations::workspace_id.eq(workspace_id.to_string()))
                .select(COLUMNS)
                .get_result::<Row>(conn)
                .optional()?
                .map(invitation)
                .transpose()?
                .ok_or(StoreError::NotFound {
                    what: "admin invitation",
                })?;
            if found.revoked_at.is_some() {
                return Ok(found);
            }
            let now = Timestamp::now();
            diesel::update(admin_invitations::table.find(id.to_string()))
                .set(admin_invitations::revoked_at.eq(now.as_micros()))
                .execute(conn)?;
            found.revoked_at = Some(now);
            record_audit(conn, &audit("admin_invitation.revoked", actor, &found))?;
            Ok(found)
        })
    }

    /// The invitation a presented token names, whatever its state (`None`: no such one).
    pub fn admin_invitation_by_token(
        &self,
        presented: &str,
    ) -> StoreResult<Option<AdminInvitation>> {
        self.read(|conn| find_by_token(conn, presented))
    }

    /// Accepts an invitation by setting a password: creates the account (user name and email:
    /// the invited email; source `invited`), sets its password hash and makes it admin, in one
    /// transaction. `NotFound` for an unknown token.
    pub fn accept_admin_invitation_with_password(
        &self,
        presented: &str,
        password_hash: &str,
    ) -> StoreResult<Acceptance> {
        self.accept(presented, |conn, invitation| {
            let user_name =
                UserName::parse(invitation.email.as_str()).map_err(StoreError::Invalid)?;
            let taken: i64 = users::table
                .filter(users::workspace_id.eq(invitation.workspace_id.to_string()))
                .filter(users::user_name_key.eq(UserName::key_of(user_name.as_str())))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Err(Outcome::Refused(InvitationRefusal::AccountExists));
            }
            let new = NewUser {
                email: Some(invitation.email.clone()),
                ..NewUser::minimal(invitation.workspace_id, user_name, Source::Invited)
            };
            // Nobody's account exists yet: the invitation itself creates it.
            let actor = Actor::Admin {
                id: format!("admin_invitation:{}", invitation.id),
            };
            let user = insert_user(conn, &actor, &new)?;
            diesel::update(users::table.find(user.id.to_string()))
                .set(users::password_hash.eq(password_hash))
                .execute(conn)?;
            Ok(user)
        })
    }

    /// Accepts an invitation for a user who signed in through the workspace's SSO: that user
    /// (whose email must be the invited one) becomes admin. `NotFound` for an unknown token.
    pub fn accept_admin_invitation_as(
        &self,
        presented: &str,
        user_id: UserId,
    ) -> StoreResult<Acceptance> {
        self.accept(presented, |conn, invitation| {
            let user = super::user::find_user(conn, invitation.workspace_id, user_id)?;
            let same = user.email.as_ref().is_some_and(|email| {
                email
                    .as_str()
                    .eq_ignore_ascii_case(invitation.email.as_str())
            });
            if !same {
                return Err(Outcome::Refused(InvitationRefusal::OtherEmail));
            }
            Ok(user)
        })
    }

    /// The one acceptance: find, check, mark accepted (guarded), `account` finds or makes the
    /// user, assign the admin role, audit — or roll everything back with the refusal.
    fn accept(
        &self,
        presented: &str,
        account: impl FnOnce(&mut DbConnection, &AdminInvitation) -> Result<User, Outcome>,
    ) -> StoreResult<Acceptance> {
        let outcome = self.write_with(|conn| -> Result<(AdminInvitation, User), Outcome> {
            let Some(mut invitation) = find_by_token(conn, presented)? else {
                return Err(Outcome::Failed(StoreError::NotFound {
                    what: "admin invitation",
                }));
            };
            if let Err(refusal) = invitation.acceptable(Timestamp::now()) {
                return Err(Outcome::Refused(InvitationRefusal::Link(refusal)));
            }
            let user = account(conn, &invitation)?;
            if !mark_accepted(conn, &mut invitation, user.id)? {
                return Err(Outcome::Refused(InvitationRefusal::Link(LinkRefusal::Used)));
            }
            let actor = Actor::Admin {
                id: format!("user:{}", user.id),
            };
            assign_role_in(conn, &actor, invitation.workspace_id, user.id, ADMIN_ROLE)?;
            record_audit(
                conn,
                &audit("admin_invitation.accepted", &actor, &invitation),
            )?;
            Ok((invitation, user))
        });
        match outcome {
            Ok(accepted) => Ok(Ok(accepted)),
            Err(Outcome::Refused(refusal)) => Ok(Err(refusal)),
            Err(Outcome::Failed(err)) => Err(err),
        }
    }
}
