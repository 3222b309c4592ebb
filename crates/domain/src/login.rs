//! What an SSO login asserts about a person, after the protocol layer (SAML or OIDC) verified it,
//! and the reasons a login can be refused.
//!
//! Both protocols reduce to [`LoginClaims`] so that JIT provisioning, identity linking and group
//! sync have one implementation. Every refusal has a stable machine-readable [`LoginFailure`]
//! code: it is stored in `login_events`, shown to admins and asserted by tests.

use crate::attributes::{AttributeDefinition, RawScalar};

/// The groups a login asserted, or that it could not tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupsClaim {
    /// The IdP sent no group attribute, or said there were too many to send (Entra "overage"):
    /// memberships must not change.
    Unknown,
    /// The exact set of group values (claim values, e.g. Entra object ids or Okta group names).
    Known(Vec<String>),
}

/// Verified claims of one login. `subject` is the stable key at the IdP (OIDC `sub`, SAML
/// persistent NameID or a configured attribute); the identity is `(connection, subject)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginClaims {
    pub subject: String,
    pub email: Option<String>,
    /// `false` when the IdP said the address is unverified (OIDC `email_verified: false`);
    /// SAML IdPs vouch for their attributes, so SAML logins set `true`.
    pub email_verified: bool,
    /// Preferred user name (OIDC `preferred_username`, SAML `uid`); the email is used when absent.
    pub user_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub groups: GroupsClaim,
    /// The workspace's custom attributes this login carries: each mapped attribute that had a
    /// value at one of its sources at this connection, untyped (JIT types them and decides what
    /// is written). An attribute the login did not carry is absent, never empty.
    pub attributes: Vec<ClaimedAttribute>,
}

/// A custom attribute as a login carried it: the first of the attribute's sources (at this
/// connection, for this protocol) that had a value, and what it held.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedAttribute {
    pub definition: AttributeDefinition,
    /// The source that gave the values: a SAML attribute name, an OIDC claim path.
    pub source: String,
    /// Never empty; blank text left out.
    pub values: Vec<RawScalar>,
}

macro_rules! failures {
    ($($(#[$meta:meta])* $variant:ident => $code:literal, $text:literal;)+) => {
        /// Why a login was refused: one stable code each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum LoginFailure {
            $($(#[$meta])* $variant),+
        }

        impl LoginFailure {
            pub const ALL: &'static [LoginFailure] = &[$(LoginFailure::$variant),+];

            /// The machine-readable code stored in login events.
            pub fn code(self) -> &'static str {
                match self { $(LoginFailure::$variant => $code),+ }
            }

            /// A sentence for the person whose login failed.
            pub fn explanation(self) -> &'static str {
                match self { $(LoginFailure::$variant => $text),+ }
            }

            pub fn parse(code: &str) -> Option<Self> {
                match code { $($code => Some(LoginFailure::$variant),)+ _ => None }
            }
        }
    };
}

failures! {
    /// The workspace or connection does not exist, is not an SSO connection, or is revoked.
    ConnectionUnavailable => "connection_unavailable", "This single sign-on connection is not available.";
    /// The connection is a draft: a SAML connection whose IdP metadata was not added yet.
    ConnectionDraft => "connection_draft", "This single sign-on connection is not finished yet: its identity provider's metadata has not been added. Ask your administrator to complete it.";
    /// The connection's configuration is unusable (e.g. SAML metadata without a signing cert).
    ConnectionMisconfigured => "connection_misconfigured", "This single sign-on connection is not configured correctly; ask your administrator.";
    /// No connection matches the email's domain.
    NoConnectionForDomain => "no_connection_for_domain", "No single sign-on connection is set up for this email domain.";
    /// `return_to` was not a same-origin relative path.
    BadReturnTo => "bad_return_to", "The page to return to after login is not allowed.";
    /// State / InResponseTo unknown, expired, already used, or from another browser.
    UnknownRequest => "unknown_request", "This login was not started here, has expired, or was already used. Please start again.";
    /// The IdP answered with an error (OIDC `error=`, SAML non-success status).
    IdpError => "idp_error", "Your identity provider refused the login.";
    /// A SAML response or OIDC token failed a protocol check (signature, audience, time, ...).
    InvalidResponse => "invalid_response", "The identity provider's answer could not be verified.";
    /// The same SAML assertion was presented twice.
    Replay => "replay", "This login response was already used.";
    /// The IdP could not be reached (discovery, token, userinfo).
    IdpUnreachable => "idp_unreachable", "Your identity provider could not be reached. Please try again.";
    /// The login carries no usable subject or email.
    MissingClaims => "missing_claims", "Your identity provider did not send the information needed to sign you in.";
    /// The email's domain is not one of the workspace's domains.
    EmailDomainNotAllowed => "email_domain_not_allowed", "Your email address is not in a domain of this workspace.";
    /// The workspace lists domains and the IdP does not vouch for the email (OIDC
    /// `email_verified` not `true`): an address a user typed in proves no domain.
    EmailUnverified => "email_unverified", "Your identity provider has not verified your email address, so this workspace cannot admit it.";
    /// A user with this email exists and the connection is not authoritative for its domain.
    EmailConflict => "email_conflict", "An account with this email already exists and cannot be linked to this login.";
    /// The user is deactivated or deprovisioned.
    UserInactive => "user_inactive", "Your account is disabled. Contact your administrator.";
    /// The user name is taken by another account.
    UserNameConflict => "user_name_conflict", "An account with this user name already exists.";
    /// Unknown user or wrong password (one answer for both, so names cannot be probed).
    InvalidCredentials => "invalid_credentials", "The user name or password is not correct.";
    /// SSO is enforced and the login did not use SSO.
    SsoRequired => "sso_required", "This workspace requires single sign-on.";
    /// Too many failed password logins for this account or from this address: locked for a while.
    TooManyAttempts => "too_many_attempts", "Too many failed sign-in attempts. Please wait a few minutes and try again.";
    /// A sign-in form (or sign-out) posted by a page of another origin (`Origin`, `Referer` or
    /// `Sec-Fetch-Site` say so): refused before anything else, against login CSRF.
    CrossOrigin => "cross_origin", "This request came from a page of another site. Open this service's own sign-in page and try again.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for failure in LoginFailure::ALL {
            assert!(seen.insert(failure.code()), "duplicate {}", failure.code());
            assert_eq!(LoginFailure::parse(failure.code()), Some(*failure));
            assert!(failure.explanation().ends_with('.'));
        }
    }

    #[test]
    fn every_code_is_explained_in_the_troubleshooting_guide() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/troubleshooting.md");
        let guide = std::fs::read_to_string(path).unwrap_or_default();
        for failure in LoginFailure::ALL {
            let row = format!("| `{}` |", failure.code());
            assert!(guide.contains(&row), "docs/troubleshooting.md lacks {row}");
        }
    }
}
