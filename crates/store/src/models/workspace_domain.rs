//! A workspace's domains as records with a state (`pending`, `verified`, `failed`) and the
//! challenge its TXT record must hold. The rules (transitions, backoff, which domains can be
//! claimed) are `roster_domain::domain_proof`'s; here they are loaded and persisted, with the
//! audit trail and the `domain.verified` / `domain.verification_failed` events in the same
//! transaction. At most one workspace holds a domain verified (a partial unique index), and only
//! a verified domain routes `login_hint` discovery ([`Store::connections_for_domain`]) and lets a
//! connection link existing users by email (the JIT input's `verified_domains`).

use diesel::prelude::*;
use roster_domain::domain_proof::{self, Check, DomainEvent, DomainState, Trigger};
use roster_domain::{Action, Actor, Domain, NewAuditEvent, Timestamp, WorkspaceId};

use super::events::{record_event, NewEvent};
use super::{corrupt, record_audit};
use crate::schema::{workspace_domains, workspaces};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// How long a background checker holds the domains it claimed.
pub const CLAIM_SECS: i64 = 300;

const ONE_WORKSPACE: &str =
    "the domain is verified by another workspace; a domain is verified by one workspace at most";

/// A domain of a workspace and where its proof stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceDomain {
    pub workspace_id: WorkspaceId,
    pub domain: Domain,
    pub state: DomainState,
    /// The value the TXT record `_roster-challenge.DOMAIN` must hold.
    pub challenge: String,
    /// Checks run so far (on request and in the background).
    pub attempts: u32,
    /// What the last check found: `found`, `wrong`, `missing` or `unreachable`.
    pub last_check: Option<String>,
    pub last_checked_at: Option<Timestamp>,
    /// When the background checker looks again (`None`: it does not).
    pub next_check_at: Option<Timestamp>,
    pub verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl WorkspaceDomain {
    /// The name of the TXT record to publish.
    pub fn record_name(&self) -> String {
        domain_proof::challenge_name(&self.domain)
    }

    /// The domain as events carry it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "domain": self.domain.as_str(),
            "state": self.state.as_str(),
            "record": {
                "type": "TXT",
                "name": self.record_name(),
                "value": self.challenge,
            },
            "lastCheck": self.last_check,
            "lastCheckedAt": self.last_checked_at.map(|t| t.to_rfc3339()),
            "verifiedAt": self.verified_at.map(|t| t.to_rfc3339()),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = workspace_domains)]
struct DomainRow {
    workspace_id: String,
    domain: String,
    state: String,
    challenge: String,
    attempts: i32,
    last_check: Option<String>,
    last_checked_at: Option<i64>,
    next_check_at: Option<i64>,
    verified_at: Option<i64>,
    created_at: i64,
}

impl DomainRow {
    fn into_domain(self) -> StoreResult<WorkspaceDomain> {
        let bad = corrupt("workspace_domains");
        Ok(WorkspaceDomain {
            workspace_id: self.workspace_id.parse().map_err(&bad)?,
            domain: Domain::parse(&self.domain).map_err(&bad)?,
            state: DomainState::parse(&self.state).map_err(&bad)?,
            challenge: self.challenge,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            last_check: self.last_check,
            last_checked_at: self.last_checked_at.map(Timestamp::from_micros),
            next_check_at: self.next_check_at.map(Timestamp::from_micros),
            verified_at: self.verified_at.map(Timestamp::from_micros),
            created_at: Timestamp::from_micros(self.created_at),
        })
    }
}

fn find_domain(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
    domain: &Domain,
) -> StoreResult<WorkspaceDomain> {
    workspace_domains::table
        .find((workspace_id.to_string(), domain.as_str()))
        .select(DomainRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "domain" })?
        .into_domain()
}

/// The workspace that holds `domain` verified, if any.
fn verified_holder(conn: &mut DbConnection, domain: &Domain) -> StoreResult<Option<String>> {
    Ok(workspace_domains::table
        .filter(workspace_domains::domain.eq(domain.as_str()))
        .filter(workspace_domains::state.eq(DomainState::Verified.as_str()))
        .select(workspace_domains::workspace_id)
        .first(conn)
        .optional()?)
}

/// The workspace's verified domains (what may route discovery and email linking to it).
pub(crate) fn verified_domains(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
) -> StoreResult<Vec<Domain>> {
    let names: Vec<String> = workspace_domains::table
        .filter(workspace_domains::workspace_id.eq(workspace_id.to_string()))
        .filter(workspace_domains::state.eq(DomainState::Verified.as_str()))
        .order(workspace_domains::domain.asc())
        .select(workspace_domains::domain)
        .load(conn)?;
    names
        .iter()
        .map(|name| Domain::parse(name).map_err(corrupt("workspace_domains")))
        .collect()
}

/// Records domains the operator declared (creating a workspace or, with the CLI, a connection)
/// as verified, as the upgrade did for the domains that existed before verification: the
/// operator runs the deployment. A domain the workspace already has is left as it is; one
/// another workspace holds verified is recorded pending, to prove.
pub(crate) fn declare_domains(
    conn: &mut DbConnection,
    actor: &Actor,
    workspace_id: WorkspaceId,
    domains: &[Domain],
    note: &str,
) -> StoreResult<()> {
    let now = Timestamp::now();
    for domain in domains {
        domain_proof::check_claimable(domain)?;
        let known: i64 = workspace_domains::table
            .find((workspace_id.to_string(), domain.as_str()))
            .count()
            .get_result(conn)?;
        if known > 0 {
            continue;
        }
        let taken = verified_holder(conn, domain)?.is_some();
        let state = if taken {
            DomainState::Pending
        } else {
            DomainState::Verified
        };
        let next_check = domain_proof::next_check_after(state, 0).map(|secs| {
            now.plus_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
                .as_micros()
        });
        diesel::insert_into(workspace_domains::table)
            .values((
                workspace_domains::workspace_id.eq(workspace_id.to_string()),
                workspace_domains::domain.eq(domain.as_str()),
                workspace_domains::state.eq(state.as_str()),
                workspace_domains::challenge.eq(domain_proof::new_challenge()?),
                workspace_domains::next_check_at.eq(next_check),
                workspace_domains::verified_at.eq((!taken).then_some(now.as_micros())),
                workspace_domains::created_at.eq(now.as_micros()),
                workspace_domains::updated_at.eq(now.as_micros()),
            ))
            .execute(conn)?;
        record_audit(
            conn,
            &NewAuditEvent {
                workspace_id: Some(workspace_id),
                actor: actor.clone(),
                action: Action("domain.declared"),
                target_kind: "domain",
                target_id: domain.to_string(),
                detail: serde_json::json!({
                    "state": state.as_str(),
                    "note": if taken {
                        "verified for another workspace: pending"
                    } else {
                        note
                    },
                })
                .to_string(),
            },
        )?;
    }
    Ok(())
}

impl Store {
    /// The workspace's domains, by name.
    pub fn list_domains(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<WorkspaceDomain>> {
        self.read(|conn| {
            workspace_domains::table
                .filter(workspace_domains::workspace_id.eq(workspace_id.to_string()))
                .order(workspace_domains::domain.asc())
                .select(DomainRow::as_select())
                .load(conn)?
                .into_iter()
                .map(DomainRow::into_domain)
                .collect()
        })
    }

    /// One domain of the workspace; `NotFound` when it has none of that name.
    pub fn workspace_domain(
        &self,
        workspace_id: WorkspaceId,
        domain: &Domain,
    ) -> StoreResult<WorkspaceDomain> {
        self.read(|conn| find_domain(conn, workspace_id, domain))
    }

    /// Records `domains` as declared by the operator (see [`declare_domains`]): verified unless
    /// another workspace holds one verified (then pending); domains the workspace has are left
    /// alone. A public mail domain is `Invalid` and nothing is written. Audited as
    /// `domain.declared` with `note`.
    pub fn declare_domains(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        domains: &[Domain],
        note: &str,
    ) -> StoreResult<()> {
        for domain in domains {
            domain_proof::check_claimable(domain)?;
        }
        self.write(|conn| declare_domains(conn, actor, workspace_id, domains, note))
    }

    /// The workspace's verified domains.
    pub fn verified_domains(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Domain>> {
        self.read(|conn| verified_domains(conn, workspace_id))
    }

    /// Adds a pending domain with a fresh challenge; the background checker looks for its
    /// record from a minute on. A public mail domain is `Invalid`, a domain the workspace
    /// already has a `Conflict`. Audited as `domain.added`.
    pub fn add_domain(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        domain: &Domain,
    ) -> StoreResult<WorkspaceDomain> {
        domain_proof::check_claimable(domain)?;
        let challenge = domain_proof::new_challenge()?;
        let now = Timestamp::now();
        let next_check = domain_proof::next_check_after(DomainState::Pending, 0).map(|secs| {
            now.plus_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
                .as_micros()
        });
        self.write(|conn| {
            let exists: i64 = workspaces::table
                .find(workspace_id.to_string())
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(StoreError::NotFound { what: "workspace" });
            }
            let taken: i64 = workspace_domains::table
                .find((workspace_id.to_string(), domain.as_str()))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Err(StoreError::Conflict {
                    what: "domain",
                    detail: format!("the workspace already has the domain {domain}"),
                });
            }
            diesel::insert_into(workspace_domains::table)
                .values((
                    workspace_domains::workspace_id.eq(workspace_id.to_string()),
                    workspace_domains::domain.eq(domain.as_str()),
                    workspace_domains::state.eq(DomainState::Pending.as_str()),
                    workspace_domains::challenge.eq(&challenge),
                    workspace_domains::next_check_at.eq(next_check),
                    workspace_domains::created_at.eq(now.as_micros()),
                    workspace_domains::updated_at.eq(now.as_micros()),
                ))
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("domain.added"),
                    target_kind: "domain",
                    target_id: domain.to_string(),
                    detail: serde_json::json!({ "state": "pending" }).to_string(),
                },
            )?;
            find_domain(conn, workspace_id, domain)
        })
    }

    /// Deletes a domain of the workspace (whatever its state): it stops routing discovery and
    /// email linking at once. Audited as `domain.deleted`.
    pub fn delete_domain(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        domain: &Domain,
    ) -> StoreResult<WorkspaceDomain> {
        self.write(|conn| {
            let found = find_domain(conn, workspace_id, domain)?;
            diesel::delete(
                workspace_domains::table.find((workspace_id.to_string(), domain.as_str())),
            )
            .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("domain.deleted"),
                    target_kind: "domain",
                    target_id: domain.to_string(),
                    detail: serde_json::json!({ "state": found.state.as_str() }).to_string(),
                },
            )?;
            Ok(found)
        })
    }

    /// Records what a DNS check found, as `domain_proof` decides: the new state, the check count
    /// and time, the next background check, and on a change of state its audit entry and event.
    ///
    /// `challenge` is the value the check looked for: a domain re-added with a new challenge
    /// since then is left alone (`Conflict`). A record found for a domain another workspace
    /// holds verified is a `Conflict` on request and, in the background, counts as a wrong
    /// record — a domain is verified by at most one workspace.
    pub fn record_domain_check(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        domain: &Domain,
        challenge: &str,
        check: Check,
        trigger: Trigger,
    ) -> StoreResult<WorkspaceDomain> {
        self.write(|conn| {
            let before = find_domain(conn, workspace_id, domain)?;
            if before.challenge != challenge {
                return Err(StoreError::Conflict {
                    what: "domain",
                    detail: "the domain changed during the check; check again".to_owned(),
                });
            }
            let mut check = check;
            if check == Check::Found {
                if let Some(holder) = verified_holder(conn, domain)? {
                    if holder != workspace_id.to_string() {
                        if trigger == Trigger::Request {
                            return Err(StoreError::Conflict {
                                what: "domain",
                                detail: format!(
                                    "{domain} is verified by another workspace; a domain is verified by one workspace at most"
                                ),
                            });
                        }
                        check = Check::Wrong;
                    }
                }
            }
            let transition = before.state.apply(check, trigger, before.attempts);
            let attempts = before.attempts.saturating_add(1);
            let now = Timestamp::now();
            let next_check = domain_proof::next_check_after(transition.to, attempts)
                .map(|secs| now.plus_seconds(i64::try_from(secs).unwrap_or(i64::MAX)).as_micros());
            let verified_at = match (before.state, transition.to) {
                (DomainState::Verified, DomainState::Verified) => {
                    before.verified_at.map(|t| t.as_micros())
                }
                (_, DomainState::Verified) => Some(now.as_micros()),
                _ => None,
            };
            diesel::update(
                workspace_domains::table.find((workspace_id.to_string(), domain.as_str())),
            )
            .set((
                workspace_domains::state.eq(transition.to.as_str()),
                workspace_domains::attempts.eq(i32::try_from(attempts).unwrap_or(i32::MAX)),
                workspace_domains::last_check.eq(check.as_str()),
                workspace_domains::last_checked_at.eq(now.as_micros()),
                workspace_domains::next_check_at.eq(next_check),
                workspace_domains::verified_at.eq(verified_at),
                workspace_domains::updated_at.eq(now.as_micros()),
            ))
            .execute(conn)
            .map_err(|err| {
                crate::error::conflict_on(
                    err,
                    "domain",
                    &[
                        ("workspace_domains_verified_once", ONE_WORKSPACE),
                        ("workspace_domains.domain", ONE_WORKSPACE),
                    ],
                )
            })?;
            let after = find_domain(conn, workspace_id, domain)?;
            if let Some(event) = transition.event {
                // The catalogue's names, spelt out here for the tidy check that every emitted
                // type is documented (`DomainEvent::event_type` says the same).
                let kind = match event {
                    DomainEvent::Verified => "domain.verified",
                    DomainEvent::VerificationFailed => "domain.verification_failed",
                };
                record_audit(
                    conn,
                    &NewAuditEvent {
                        workspace_id: Some(workspace_id),
                        actor: actor.clone(),
                        action: Action(kind),
                        target_kind: "domain",
                        target_id: domain.to_string(),
                        detail: serde_json::json!({
                            "from": before.state.as_str(),
                            "to": after.state.as_str(),
                            "check": check.as_str(),
                        })
                        .to_string(),
                    },
                )?;
                record_event(
                    conn,
                    NewEvent {
                        workspace_id,
                        event_type: kind,
                        actor,
                        resource_kind: "domain",
                        resource_id: domain.to_string(),
                        resource: after.to_json(),
                        changed: Some(vec!["state".to_owned()]),
                    },
                )?;
            }
            Ok(after)
        })
    }

    /// Claims the pending domains whose next background check is due at `now`, the most
    /// overdue first, at most `limit`: each claimed domain's next check moves
    /// [`CLAIM_SECS`] on, so a second replica's checker does not check it at the same time (a
    /// claim another replica won first is skipped). The check's own record sets the real next
    /// time; a checker that dies mid-way leaves the domain due again after the claim.
    pub fn claim_due_domains(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<WorkspaceDomain>> {
        self.write(|conn| {
            let due: Vec<WorkspaceDomain> = workspace_domains::table
                .filter(workspace_domains::next_check_at.le(now.as_micros()))
                .order(workspace_domains::next_check_at.asc())
                .limit(limit)
                .select(DomainRow::as_select())
                .load(conn)?
                .into_iter()
                .map(DomainRow::into_domain)
                .collect::<StoreResult<_>>()?;
            let mut claimed = Vec::with_capacity(due.len());
            for domain in due {
                let taken = diesel::update(
                    workspace_domains::table
                        .find((domain.workspace_id.to_string(), domain.domain.as_str()))
                        .filter(
                            workspace_domains::next_check_at
                                .eq(domain.next_check_at.map(|t| t.as_micros())),
                        ),
                )
                .set(workspace_domains::next_check_at.eq(now.plus_seconds(CLAIM_SECS).as_micros()))
                .execute(conn)?;
                if taken == 1 {
                    claimed.push(domain);
                }
            }
            Ok(claimed)
        })
    }
}
