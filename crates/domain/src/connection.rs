//! An IdP connection of a workspace: how its users log in (SAML, OIDC) and whether that IdP
//! provisions them through SCIM.

use crate::{ConnectionId, DisplayName, Domain, DomainError, LoginFailure, Timestamp, WorkspaceId};

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
    /// Where a connection is in its life. A draft is a SAML connection created before its IdP's
    /// metadata (Okta and Entra ask for the SP entity id and ACS URL first): it shows and serves
    /// its SP values and its SCIM, and refuses logins until the metadata arrives. A revoked
    /// connection keeps its history but its tokens and logins stop at once.
    ConnectionStatus, "connection status" {
        Active => "active",
        Draft => "draft",
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
    /// A draft lacks only its login settings, so its provisioning may start before them.
    pub fn accepts_scim(self, scim_enabled: bool) -> bool {
        scim_enabled && self != ConnectionStatus::Revoked
    }

    /// Why a login through a connection in this status is refused; `None` when it may proceed.
    pub fn login_refusal(self) -> Option<LoginFailure> {
        match self {
            ConnectionStatus::Active => None,
            ConnectionStatus::Draft => Some(LoginFailure::ConnectionDraft),
            ConnectionStatus::Revoked => Some(LoginFailure::ConnectionUnavailable),
        }
    }

    /// Whether the connection's SP values (its SAML SP metadata document) are served: a draft
    /// serves them, since the IdP asks for them before it gives its own metadata.
    pub fn serves_sp_metadata(self) -> bool {
        self != ConnectionStatus::Revoked
    }

    /// The status of a new connection of `kind`, given with or without its IdP's settings: a
    /// SAML connection without them is a draft; an OIDC connection needs them at once (its
    /// redirect URI does not depend on them being known first).
    pub fn at_creation(kind: ConnectionKind, with_idp_settings: bool) -> Result<Self, DomainError> {
        match (kind, with_idp_settings) {
            (ConnectionKind::Saml, false) => Ok(ConnectionStatus::Draft),
            (ConnectionKind::Oidc, false) => Err(DomainError::invalid(
                "connection",
                "an OIDC connection needs its issuer and client at creation",
            )),
            (ConnectionKind::Saml | ConnectionKind::Oidc | ConnectionKind::Scim, _) => {
                Ok(ConnectionStatus::Active)
            }
        }
    }

    /// The status once new, validated IdP settings are stored: a draft becomes active; the
    /// others stay as they are (a revoked connection's metadata may still be refreshed).
    pub fn after_new_settings(self) -> Self {
        match self {
            ConnectionStatus::Draft | ConnectionStatus::Active => ConnectionStatus::Active,
            ConnectionStatus::Revoked => ConnectionStatus::Revoked,
        }
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
        for status in ConnectionStatus::ALL {
            assert_eq!(ConnectionStatus::parse(status.as_str()), Ok(*status));
        }
    }

    /// What each status allows: (status, SCIM on, logins refused with, SP metadata served,
    /// status after new settings).
    #[test]
    fn status_table() {
        use ConnectionStatus::{Active, Draft, Revoked};
        let table = [
            (Active, true, None, true, Active),
            (
                Draft,
                true,
                Some(LoginFailure::ConnectionDraft),
                true,
                Active,
            ),
            (
                Revoked,
                false,
                Some(LoginFailure::ConnectionUnavailable),
                false,
                Revoked,
            ),
        ];
        for (status, scim, refusal, sp_metadata, after) in table {
            assert_eq!(status.accepts_scim(true), scim, "{status:?}");
            assert!(!status.accepts_scim(false), "{status:?}");
            assert_eq!(status.login_refusal(), refusal, "{status:?}");
            assert_eq!(status.serves_sp_metadata(), sp_metadata, "{status:?}");
            assert_eq!(status.after_new_settings(), after, "{status:?}");
        }
    }

    /// (kind, given with its IdP settings, status or refused).
    #[test]
    fn status_at_creation() {
        use ConnectionKind::{Oidc, Saml, Scim};
        let table = [
            (Saml, true, Some(ConnectionStatus::Active)),
            (Saml, false, Some(ConnectionStatus::Draft)),
            (Oidc, true, Some(ConnectionStatus::Active)),
            (Oidc, false, None),
            (Scim, false, Some(ConnectionStatus::Active)),
            (Scim, true, Some(ConnectionStatus::Active)),
        ];
        for (kind, with_settings, want) in table {
            assert_eq!(
                ConnectionStatus::at_creation(kind, with_settings).ok(),
                want,
                "{kind:?} {with_settings}"
            );
        }
    }
}
