//! Setup links and the sessions they open. The rules (once only, revoked beats used beats
//! expired, an hour's session that never outlives the link) are
//! `roster_domain::setup_link`'s; here they are applied in the transaction that redeems a link,
//! so two browsers opening one link at the same moment get one session between them.
//!
//! The link token and the session token are bearer secrets: only their SHA-256 is stored (the
//! lookup is by hash, like every key of Roster's). Every change — created, redeemed, revoked,
//! finished — is audited in the link's workspace, a redeemed link's actions as `setup_link:ID`.

use diesel::prelude::*;
use roster_domain::setup_link::{self, LinkRefusal, LinkState, SetupIntent};
use roster_domain::{
    Action, Actor, NewAuditEvent, SecretHash, SecretKind, SecretToken, SetupLinkId, Timestamp,
    WorkspaceId,
};

use super::{corrupt, record_audit};
use crate::schema::setup_links;
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A setup link as the operator and the console see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLink {
    pub id: SetupLinkId,
    pub workspace_id: WorkspaceId,
    pub intent: SetupIntent,
    /// Where "Done" sends the IT admin (the operator's product), if anywhere.
    pub return_url: Option<String>,
    /// Who made it, as the audit trail names actors (`operator:operator_key:ID`, `admin:…`).
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub redeemed_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// When the session the link opened ends (set when redeemed).
    pub session_expires_at: Option<Timestamp>,
    /// When the IT admin pressed "Done" (the session ended then).
    pub finished_at: Option<Timestamp>,
}

impl SetupLink {
    fn state(&self) -> LinkState {
        LinkState {
            expires_at: self.expires_at,
            redeemed_at: self.redeemed_at,
            revoked_at: self.revoked_at,
        }
    }

    /// Whether it may be redeemed now.
    pub fn redeemable(&self, now: Timestamp) -> Result<(), LinkRefusal> {
        setup_link::redeemable(self.state(), now)
    }

    /// The audit actor of its session.
    pub fn actor(&self) -> Actor {
        Actor::SetupLink {
            link_id: self.id.to_string(),
        }
    }
}

/// What the operator asks for.
#[derive(Debug, Clone)]
pub struct NewSetupLink {
    pub workspace_id: WorkspaceId,
    pub intent: SetupIntent,
    /// Seconds, already checked by `setup_link::link_lifetime`.
    pub lifetime_seconds: i64,
    pub return_url: Option<String>,
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

type Columns = (
    setup_links::id,
    setup_links::workspace_id,
    setup_links::intent,
    setup_links::return_url,
    setup_links::created_by,
    setup_links::created_at,
    setup_links::expires_at,
    setup_links::redeemed_at,
    setup_links::revoked_at,
    setup_links::session_expires_at,
    setup_links::finished_at,
);

const COLUMNS: Columns = (
    setup_links::id,
    setup_links::workspace_id,
    setup_links::intent,
    setup_links::return_url,
    setup_links::created_by,
    setup_links::created_at,
    setup_links::expires_at,
    setup_links::redeemed_at,
    setup_links::revoked_at,
    setup_links::session_expires_at,
    setup_links::finished_at,
);

fn link(row: Row) -> StoreResult<SetupLink> {
    let (
        id,
        workspace_id,
        intent,
        return_url,
        created_by,
        created_at,
        expires_at,
        redeemed_at,
        revoked_at,
        session_expires_at,
        finished_at,
    ) = row;
    let at = |micros: Option<i64>| micros.map(Timestamp::from_micros);
    Ok(SetupLink {
        id: id.parse().map_err(corrupt("setup_links"))?,
        workspace_id: workspace_id.parse().map_err(corrupt("setup_links"))?,
        intent: SetupIntent::parse(&intent).map_err(corrupt("setup_links"))?,
        return_url,
        created_by,
        created_at: Timestamp::from_micros(created_at),
        expires_at: Timestamp::from_micros(expires_at),
        redeemed_at: at(redeemed_at),
        revoked_at: at(revoked_at),
        session_expires_at: at(session_expires_at),
        finished_at: at(finished_at),
    })
}

fn audit(action: &'static str, actor: &Actor, link: &SetupLink) -> NewAuditEvent {
    NewAuditEvent {
        workspace_id: Some(link.workspace_id),
        actor: actor.clone(),
        action: Action(action),
        target_kind: "setup_link",
        target_id: link.id.to_string(),
        detail: serde_json::json!({
            "intent": link.intent.as_str(),
            "expiresAt": link.expires_at.to_rfc3339(),
        })
        .to_string(),
    }
}

fn find_by_hash(conn: &mut DbConnection, hash: &SecretHash) -> StoreResult<Option<SetupLink>> {
    setup_links::table
        .filter(setup_links::token_hash.eq(&hash.0))
        .select(COLUMNS)
        .get_result::<Row>(conn)
        .optional()?
        .map(link)
        .transpose()
}

fn find(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    id: SetupLinkId,
) -> StoreResult<SetupLink> {
    setup_links::table
        .filter(setup_links::id.eq(id.to_string()))
        .filter(setup_links::workspace_id.eq(workspace_id.to_string()))
        .select(COLUMNS)
        .get_result::<Row>(conn)
        .optional()?
        .map(link)
        .transpose()?
        .ok_or(StoreError::NotFound { what: "setup link" })
}

impl Store {
    /// Creates a setup link; returns it with its token, shown once. Audited as
    /// `setup_link.created`.
    pub fn create_setup_link(
        &self,
        actor: &Actor,
        new: NewSetupLink,
    ) -> StoreResult<(SetupLink, SecretToken)> {
        let token = SecretToken::generate(SecretKind::SetupLink)?;
        let now = Timestamp::now();
        let (kind, id) = actor.to_stored();
        let created = SetupLink {
            id: SetupLinkId::new(),
            workspace_id: new.workspace_id,
            intent: new.intent,
            return_url: new.return_url,
            created_by: id.map_or_else(|| kind.to_owned(), |id| format!("{kind}:{id}")),
            created_at: now,
            expires_at: now.plus_seconds(new.lifetime_seconds),
            redeemed_at: None,
            revoked_at: None,
            session_expires_at: None,
            finished_at: None,
        };
        self.write(|conn| {
            diesel::insert_into(setup_links::table)
                .values((
                    setup_links::id.eq(created.id.to_string()),
                    setup_links::workspace_id.eq(created.workspace_id.to_string()),
                    setup_links::intent.eq(created.intent.as_str()),
                    setup_links::token_hash.eq(token.hash().0),
                    setup_links::return_url.eq(&created.return_url),
                    setup_links::created_by.eq(&created.created_by),
                    setup_links::created_at.eq(created.created_at.as_micros()),
                    setup_links::expires_at.eq(created.expires_at.as_micros()),
                ))
                .execute(conn)?;
            record_audit(conn, &audit("setup_link.created", actor, &created))
        })?;
        Ok((created, token))
    }

    /// The workspace's setup links, newest first.
    pub fn setup_links(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<SetupLink>> {
        let rows: Vec<Row> = self.read(|conn| {
            Ok(setup_links::table
                .filter(setup_links::workspace_id.eq(workspace_id.to_string()))
                .order((setup_links::created_at.desc(), setup_links::id.desc()))
                .select(COLUMNS)
                .load(conn)?)
        })?;
        rows.into_iter().map(link).collect()
    }

    /// One setup link of the workspace (`NotFound` otherwise).
    pub fn setup_link(&self, workspace_id: WorkspaceId, id: SetupLinkId) -> StoreResult<SetupLink> {
        self.read(|conn| find(conn, workspace_id, id))
    }

    /// Revokes a link: it no longer opens, and the session it opened (if any) ends at once.
    /// Revoking a revoked link changes nothing. Audited as `setup_link.revoked`.
    pub fn revoke_setup_link(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: SetupLinkId,
    ) -> StoreResult<SetupLink> {
        self.write(|conn| {
            let mut link = find(conn, workspace_id, id)?;
            if link.revoked_at.is_some() {
                return Ok(link);
            }
            let now = Timestamp::now();
            diesel::update(setup_links::table.find(id.to_string()))
                .set((
                    setup_links::revoked_at.eq(now.as_micros()),
                    setup_links::session_hash.eq(None::<String>),
                ))
                .execute(conn)?;
            link.revoked_at = Some(now);
            record_audit(conn, &audit("setup_link.revoked", actor, &link))?;
            Ok(link)
        })
    }

    /// The link a presented token names, whatever its state (`None`: no such link). For the
    /// page that asks the visitor to continue, which says what the link is for or why it is
    /// refused; opening the page redeems nothing (mail scanners fetch links).
    pub fn setup_link_by_token(&self, presented: &str) -> StoreResult<Option<SetupLink>> {
        let hash = SecretToken::from_presented(presented).hash();
        self.read(|conn| find_by_hash(conn, &hash))
    }

    /// Redeems a link once: opens its session and returns the session's token, shown once (the
    /// cookie). `Ok(Err(refusal))` for a used, revoked or expired link, which is left as it
    /// was; `NotFound` for an unknown token. Audited as `setup_link.redeemed`.
    pub fn redeem_setup_link(
        &self,
        presented: &str,
    ) -> StoreResult<Result<(SetupLink, SecretToken), LinkRefusal>> {
        let hash = SecretToken::from_presented(presented).hash();
        let session = SecretToken::generate(SecretKind::SetupSession)?;
        self.write(|conn| {
            let Some(mut link) = find_by_hash(conn, &hash)? else {
                return Err(StoreError::NotFound { what: "setup link" });
            };
            let now = Timestamp::now();
            if let Err(refusal) = link.redeemable(now) {
                return Ok(Err(refusal));
            }
            let ends = setup_link::session_expiry(now, link.expires_at);
            // The guard makes a concurrent second redemption update nothing (PostgreSQL
            // re-reads the row after the first one's commit; SQLite serialises writers).
            let opened = diesel::update(
                setup_links::table
                    .find(link.id.to_string())
                    .filter(setup_links::redeemed_at.is_null())
                    .filter(setup_links::revoked_at.is_null()),
            )
            .set((
                setup_links::redeemed_at.eq(now.as_micros()),
                setup_links::session_hash.eq(session.hash().0),
                setup_links::session_expires_at.eq(ends.as_micros()),
            ))
            .execute(conn)?;
            if opened == 0 {
                return Ok(Err(LinkRefusal::Used));
            }
            link.redeemed_at = Some(now);
            link.session_expires_at = Some(ends);
            record_audit(conn, &audit("setup_link.redeemed", &link.actor(), &link))?;
            Ok(Ok((link, session)))
        })
    }

    /// The link whose live session a presented session token is: not revoked, not finished,
    /// not past its end. `None` otherwise.
    pub fn setup_session(&self, presented: &str) -> StoreResult<Option<SetupLink>> {
        let token = SecretToken::from_presented(presented);
        if !token.claims(SecretKind::SetupSession) {
            return Ok(None);
        }
        let hash = token.hash();
        let found = self.read(|conn| {
            setup_links::table
                .filter(setup_links::session_hash.eq(&hash.0))
                .select(COLUMNS)
                .get_result::<Row>(conn)
                .optional()?
                .map(link)
                .transpose()
        })?;
        let now = Timestamp::now();
        Ok(found.filter(|link| {
            link.revoked_at.is_none()
                && link.finished_at.is_none()
                && link.session_expires_at.is_some_and(|ends| now < ends)
        }))
    }

    /// Ends a setup session because the IT admin is done. Audited as `setup_link.finished`.
    pub fn finish_setup_session(&self, link: &SetupLink) -> StoreResult<SetupLink> {
        self.write(|conn| {
            let now = Timestamp::now();
            diesel::update(setup_links::table.find(link.id.to_string()))
                .set((
                    setup_links::finished_at.eq(now.as_micros()),
                    setup_links::session_hash.eq(None::<String>),
                ))
                .execute(conn)?;
            let finished = SetupLink {
                finished_at: Some(now),
                ..link.clone()
            };
            record_audit(
                conn,
                &audit("setup_link.finished", &link.actor(), &finished),
            )?;
            Ok(finished)
        })
    }
}
