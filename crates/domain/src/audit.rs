//! Audit events: who did what to which resource, written in the same transaction as the change.

use crate::{Timestamp, WorkspaceId};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator at the `roster` command line.
    Cli,
    /// Roster itself (migrations, schedules).
    System,
    /// A SCIM client, identified by its connection and token.
    Scim {
        connection_id: String,
        token_id: String,
    },
    /// A workspace admin (user id or API key id).
    Admin { id: String },
    /// An end user's SSO login at a connection.
    Login { connection_id: String },
    /// The SaaS operator's backend, by its operator key (`/api/v1/operator`).
    Operator { key_id: String },
    /// A customer's IT admin in the console session a setup link opened: no account, only the
    /// link (`setup_link:ID`).
    SetupLink { link_id: String },
}

impl Actor {
    /// (kind, id) as stored.
    pub fn to_stored(&self) -> (&'static str, Option<String>) {
        match self {
            Actor::Cli => ("cli", None),
            Actor::System => ("system", None),
            Actor::Scim {
                connection_id,
                token_id,
            } => ("scim", Some(format!("{connection_id}/{token_id}"))),
            Actor::Admin { id } => ("admin", Some(id.clone())),
            Actor::Login { connection_id } => ("login", Some(connection_id.clone())),
            Actor::Operator { key_id } => ("operator", Some(format!("operator_key:{key_id}"))),
            Actor::SetupLink { link_id } => ("setup_link", Some(format!("setup_link:{link_id}"))),
        }
    }
}

/// What happened, as a stable dotted name (`user.created`, `scim_token.revoked`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Action(pub &'static str);

/// An audit event about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub workspace_id: Option<WorkspaceId>,
    pub actor: Actor,
    pub action: Action,
    /// (`user`, `<uuid>`), (`connection`, `<uuid>`), ...
    pub target_kind: &'static str,
    pub target_id: String,
    /// Extra facts as a JSON object text (never a secret).
    pub detail: String,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Monotonic per database: the order events were committed in.
    pub seq: i64,
    pub workspace_id: Option<WorkspaceId>,
    pub occurred_at: Timestamp,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub detail: String,
}
