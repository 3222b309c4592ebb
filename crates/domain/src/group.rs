//! Groups and group mappings.
//!
//! App groups are made by admins; IdP groups are pushed by SCIM (one set per connection, keyed by
//! the IdP's externalId). A membership row records where it came from, so removing a mapping
//! removes exactly the members it brought and leaves manual ones.

use crate::{
    ConnectionId, DisplayName, DomainError, GroupId, MappingId, RoleId, Timestamp, WorkspaceId,
};

/// Who owns a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// Made in the app; membership editable unless mapped.
    App,
    /// Pushed by an IdP through SCIM; membership owned by the IdP.
    Idp,
}

impl GroupKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            GroupKind::App => "app",
            GroupKind::Idp => "idp",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "app" => Ok(GroupKind::App),
            "idp" => Ok(GroupKind::Idp),
            other => Err(DomainError::UnknownVariant {
                field: "group kind",
                value: other.to_owned(),
            }),
        }
    }
}

/// A group of users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub workspace_id: WorkspaceId,
    pub kind: GroupKind,
    pub display_name: DisplayName,
    /// The SCIM connection of an IdP group.
    pub connection_id: Option<ConnectionId>,
    pub external_id: Option<String>,
    pub scim_attributes: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Why a user is a member of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provenance {
    /// Added by an admin.
    Manual,
    /// Pushed by the IdP (SCIM group membership or a login's group claim).
    Idp,
    /// Brought into an app group by a group mapping.
    Mapping(MappingId),
}

impl Provenance {
    /// The stored form: `manual`, `idp` or `mapping:<uuid>`.
    pub fn to_stored(&self) -> String {
        match self {
            Provenance::Manual => "manual".to_owned(),
            Provenance::Idp => "idp".to_owned(),
            Provenance::Mapping(id) => format!("mapping:{id}"),
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "manual" => Ok(Provenance::Manual),
            "idp" => Ok(Provenance::Idp),
            other => match other.strip_prefix("mapping:") {
                Some(id) => Ok(Provenance::Mapping(id.parse()?)),
                None => Err(DomainError::UnknownVariant {
                    field: "provenance",
                    value: other.to_owned(),
                }),
            },
        }
    }
}

/// IdP group -> app group and/or role, per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub id: MappingId,
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    /// The IdP group's stable key: SCIM group id or externalId, or a JIT claim value. `None`
    /// while the mapping waits for a group of `idp_group_name` to be pushed.
    pub idp_group_key: Option<String>,
    /// The exact (case-sensitive) IdP group name a pending mapping waits for.
    pub idp_group_name: Option<String>,
    pub app_group_id: Option<GroupId>,
    pub role_id: Option<RoleId>,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_round_trips() {
        let mapping = MappingId::new();
        for provenance in [
            Provenance::Manual,
            Provenance::Idp,
            Provenance::Mapping(mapping),
        ] {
            assert_eq!(Provenance::parse(&provenance.to_stored()), Ok(provenance));
        }
        assert!(Provenance::parse("mapping:nope").is_err());
        assert!(Provenance::parse("magic").is_err());
    }
}
