#![doc = include_str!("../README.md")]

pub mod attributes;
mod audit;
pub mod certificate_expiry;
mod connection;
pub mod domain_proof;
mod error;
mod group;
mod ids;
pub mod jit;
mod login;
mod names;
pub mod password;
pub mod provisioning;
pub mod query;
mod role;
mod secret;
pub mod setup_link;
pub mod testing;
mod timestamp;
mod user;
mod workspace;

pub use audit::{Action, Actor, AuditEvent, NewAuditEvent};
pub use connection::{
    Connection, ConnectionKind, ConnectionStatus, GroupSync, ProfileSync, Vendor,
};
pub use error::DomainError;
pub use group::{Group, GroupKind, GroupMapping, Provenance};
pub use ids::{
    AttributeId, AttributeRuleId, ConnectionId, GroupId, IdentityId, MappingId, RoleId,
    SetupLinkId, TokenId, UserId, WorkspaceId,
};
pub use login::{ClaimedAttribute, GroupsClaim, LoginClaims, LoginFailure};
pub use names::{DisplayName, Domain, Email, RoleName, Slug, UserName};
pub use role::{Role, ADMIN_ROLE, DEFAULT_ROLE};
pub use secret::{redact_path, token_expiry, SecretHash, SecretKind, SecretToken, MAX_TOKEN_DAYS};
pub use timestamp::Timestamp;
pub use user::{
    email_update, ignored_identifier_changes, EmailUpdate, Identity, IgnoredChange, Lifecycle,
    LifecycleChange, LifecycleEvent, LifecycleNotice, SessionsEnd, Source, User,
};
pub use workspace::Workspace;
