//! Newtype identifiers, so a user id can never be passed where a group id is expected.
//!
//! Every id is a UUID; ids that are also SCIM `id`s (users, groups) are opaque to IdPs.
//! New ids are UUIDv7: time-ordered, so inserts land at the end of B-tree indexes.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::DomainError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| DomainError::invalid($field, "not a UUID"))
            }
        }
    };
}

uuid_id!(
    /// A workspace (tenant).
    WorkspaceId,
    "workspace id"
);
uuid_id!(
    /// An IdP connection of a workspace.
    ConnectionId,
    "connection id"
);
uuid_id!(
    /// A user; also the user's SCIM `id`.
    UserId,
    "user id"
);
uuid_id!(
    /// A group (app or IdP); also an IdP group's SCIM `id`.
    GroupId,
    "group id"
);
uuid_id!(
    /// A role of a workspace.
    RoleId,
    "role id"
);
uuid_id!(
    /// A group mapping (IdP group -> app group and/or role).
    MappingId,
    "mapping id"
);
uuid_id!(
    /// A SCIM token or API key.
    TokenId,
    "token id"
);
uuid_id!(
    /// A setup link (a one-time URL into the console's guided setup) and its session.
    SetupLinkId,
    "setup link id"
);
uuid_id!(
    /// A link of an IdP subject to a user.
    IdentityId,
    "identity id"
);
uuid_id!(
    /// A custom attribute a workspace declares.
    AttributeId,
    "attribute id"
);
uuid_id!(
    /// A rule granting a role to the users with an attribute value.
    AttributeRuleId,
    "attribute rule id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_garbage() {
        let id = UserId::new();
        assert_eq!(id.to_string().parse::<UserId>(), Ok(id));
        assert!(matches!(
            "not-a-uuid".parse::<GroupId>(),
            Err(DomainError::InvalidValue {
                field: "group id",
                ..
            })
        ));
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let first = WorkspaceId::new();
        let second = WorkspaceId::new();
        assert!(first < second);
    }
}
