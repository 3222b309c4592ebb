//! Test support for the crates whose rules decide on domain values: one way to build a user, so
//! the table tests of the lifecycle, provisioning, JIT and the admin policy state only what
//! their rows vary.

use crate::{
    ConnectionId, Email, Lifecycle, Source, Timestamp, User, UserId, UserName, WorkspaceId,
};

/// A user named `user_name` with `email` and no names, in `lifecycle`, from `source`, managed by
/// `managed_by` when given.
#[expect(
    clippy::expect_used,
    reason = "test support: a broken fixture should fail loudly"
)]
pub fn user(
    user_name: &str,
    email: Option<&str>,
    lifecycle: Lifecycle,
    source: Source,
    managed_by: Option<ConnectionId>,
) -> User {
    User {
        id: UserId::new(),
        workspace_id: WorkspaceId::new(),
        user_name: UserName::parse(user_name).expect("a valid user name"),
        email: email.map(|email| Email::parse(email).expect("a valid email")),
        given_name: None,
        family_name: None,
        display_name: None,
        external_id: None,
        lifecycle,
        source,
        managing_connection_id: managed_by,
        scim_attributes: "{}".into(),
        attributes: "{}".into(),
        version: 1,
        session_epoch: 0,
        created_at: Timestamp::from_micros(0),
        updated_at: Timestamp::from_micros(0),
    }
}

/// A declared attribute `name` of `kind` (text compared without case, released, not standard,
/// in no SCIM extension), as the protocol crates' table tests need one.
#[expect(
    clippy::expect_used,
    reason = "test support: a broken fixture should fail loudly"
)]
pub fn attribute(
    name: &str,
    kind: crate::attributes::AttributeKind,
) -> crate::attributes::AttributeDefinition {
    crate::attributes::AttributeDefinition {
        id: crate::AttributeId::new(),
        workspace_id: WorkspaceId::new(),
        name: crate::attributes::AttributeName::parse(name).expect("a valid attribute name"),
        label: name.to_owned(),
        kind,
        case_exact: false,
        released: true,
        standard: None,
        scim_schema: None,
        created_at: Timestamp::from_micros(0),
    }
}
