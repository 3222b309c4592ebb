//! An IdP connection of a workspace: how its users log in (SAML, OIDC) and whether that IdP
//! provisions them through SCIM.

use crate::{ConnectionId, DisplayName, Domain, DomainError, Timestamp, WorkspaceId};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(value: &str) -> Result<Self, DomainError> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(DomainError::UnknownVariant { field: $field, value: other.to_owned() }),
                }
            }
        }
    };
}

string_enum!(
    /// The protocol of a connection.
    ConnectionKind, "connection kind" {
        /// SAML 2.0 login (may also provision through SCIM).
        Saml => "saml",
        /// OpenID Connect login (may also provision through SCIM).
        Oidc => "oidc",
        /// Provisioning only: SCIM, no login.
        Scim => "scim",
    }
);

string_enum!(
    /// Which IdP product sits behind a connection: a hint for defaults and setup guides.
    Vendor, "vendor" {
        Entra => "entra",
        Okta => "okta",
        Onelogin => "onelogin",
        Google => "google",
        Generic => "generic",
    }
);

string_enum!(
    /// When JIT copies profile attributes from the assertion to the user.
    ProfileSync, "profile_sync" {
        FirstLogin => "first_login",
        EveryLogin => "every_login",
    }
);

string_enum!(
    /// Whether group claims of a login change the user's mapped groups.
    GroupSync, "group_sync" {
        Off => "off",
        EveryLogin => "every_login",
    }
);

string_enum!(
    /// A revoked connection keeps its history but its tokens and logins stop at once.
    ConnectionStatus, "connection status" {
        Active => "active",
        Revoked => "revoked",
    }
);

/// An IdP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub name: DisplayName,
    pub kind: ConnectionKind,
    pub vendor: Vendor,
    pub status: ConnectionStatus,
    /// Protocol settings (IdP metadata, issuer, client id, ...) as a JSON object text; only the
    /// protocol crate that owns `kind` interprets it.
    pub protocol_config: String,
    /// Email domains this connection is authoritative for.
    pub domains: Vec<Domain>,
    pub profile_sync: ProfileSync,
    pub group_sync: GroupSync,
    pub scim_enabled: bool,
    /// Refuse (400 `mutability`) instead of ignoring SCIM changes of userName/email.
    pub strict_immutability: bool,
    pub last_sync_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Connection {
    /// Whether SCIM requests with this connection's tokens are served.
    pub fn accepts_scim(&self) -> bool {
        self.status.accepts_scim(self.scim_enabled)
    }
}

impl ConnectionStatus {
    /// Whether a connection in this status, with SCIM switched on or off, serves SCIM requests
    /// (the rule of [`Connection::accepts_scim`], for a caller that read only these two columns).
    pub fn accepts_scim(self, scim_enabled: bool) -> bool {
        scim_enabled && self == ConnectionStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for kind in ConnectionKind::ALL {
            assert_eq!(ConnectionKind::parse(kind.as_str()), Ok(*kind));
        }
        for vendor in Vendor::ALL {
            assert_eq!(Vendor::parse(vendor.as_str()), Ok(*vendor));
        }
        assert!(ConnectionKind::parse("ldap").is_err());
    }
}
