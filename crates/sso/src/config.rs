//! A connection's protocol settings (its `protocol_config` JSON) and the URLs Roster exposes for
//! it. Only this crate reads or writes that JSON, so the shape is defined once, here.

use roster_store::domain::{Connection, ConnectionKind};
use serde::{Deserialize, Serialize};

use crate::oidc::OidcConfig;
use crate::saml::{
    parse_idp_metadata, AssertionEncryption, IdpMetadata, SamlError, SpSettings, ValidationPolicy,
};

/// A SAML connection's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlConfig {
    /// The IdP metadata document, as fetched or uploaded (re-parsed on use, so a bad document
    /// can never skip the signing-certificate check).
    pub idp_metadata_xml: String,
    /// Where the metadata came from, for scheduled refreshes.
    #[serde(default)]
    pub idp_metadata_url: Option<String>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: i64,
    /// What every AuthnRequest of this connection asks of the IdP's authentication.
    #[serde(flatten)]
    pub authn: AuthnContextSettings,
    /// What the connection's own keys do: encryption required, requests signed.
    #[serde(flatten)]
    pub keys: SamlKeySettings,
}

/// What a SAML connection's own keys (`sp_keys.rs`) are used for, beyond being published:
/// whether only encrypted assertions are taken, and which requests they sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlKeySettings {
    /// Whether plain assertions are refused (encrypted ones are always accepted).
    #[serde(default)]
    pub assertion_encryption: AssertionEncryption,
    /// Sign AuthnRequests (also done whenever the IdP's metadata says
    /// `WantAuthnRequestsSigned="true"`).
    #[serde(default)]
    pub sign_authn_requests: bool,
    /// Whether a Roster sign-out also sends the IdP a signed `LogoutRequest` (SP-initiated
    /// Single Logout), when the IdP's metadata offers it. Off for an IdP that publishes a logout
    /// endpoint but was not given Roster's: its error page would end the sign-out.
    #[serde(default = "yes")]
    pub single_logout: bool,
}

impl Default for SamlKeySettings {
    fn default() -> Self {
        Self {
            assertion_encryption: AssertionEncryption::default(),
            sign_authn_requests: false,
            single_logout: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// A SAML connection's authentication context settings: whether each login makes the IdP
/// authenticate the user again (`ForceAuthn`), and which `AuthnContextClassRef`s it must use
/// (`RequestedAuthnContext`, compared `exact`: the IdP uses one of them or refuses the login).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthnContextSettings {
    #[serde(default)]
    pub force_authn: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requested_authn_context: Vec<String>,
}

/// The most class references a connection may request.
pub const MAX_REQUESTED_AUTHN_CONTEXTS: usize = 10;

impl AuthnContextSettings {
    /// Checks the requested class references: at most [`MAX_REQUESTED_AUTHN_CONTEXTS`], each an
    /// absolute URI (`urn:…` or `https://…`) of at most 1024 characters without whitespace,
    /// no duplicates. The error says which one is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.requested_authn_context.len() > MAX_REQUESTED_AUTHN_CONTEXTS {
            return Err(format!(
                "requestedAuthnContext takes at most {MAX_REQUESTED_AUTHN_CONTEXTS} class references"
            ));
        }
        for (index, class) in self.requested_authn_context.iter().enumerate() {
            let uri = url::Url::parse(class).ok();
            let usable = class.len() <= 1024
                && !class.chars().any(|c| c.is_whitespace() || c.is_control())
                && uri.is_some_and(|uri| !uri.cannot_be_a_base() || uri.scheme() == "urn");
            if !usable {
                return Err(format!(
                    "requestedAuthnContext[{index}] must be an absolute URI such as \
                     urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract, not {class:?}"
                ));
            }
            if self.requested_authn_context[..index].contains(class) {
                return Err(format!("requestedAuthnContext[{index}] repeats {class:?}"));
            }
        }
        Ok(())
    }
}

fn default_skew() -> i64 {
    180
}

impl SamlConfig {
    /// Parses the stored metadata; refuses metadata without a signing certificate.
    pub fn idp(&self) -> Result<IdpMetadata, SamlError> {
        parse_idp_metadata(&self.idp_metadata_xml)
    }

    pub fn policy(&self) -> ValidationPolicy {
        ValidationPolicy {
            clock_skew_seconds: self.clock_skew_seconds,
            allow_idp_initiated: self.allow_idp_initiated,
            assertion_encryption: self.keys.assertion_encryption,
            ..ValidationPolicy::default()
        }
    }

    /// Whether this connection's requests are signed: when the admin said so, or when the
    /// IdP's metadata (`idp`, already parsed by the caller) asks for it: an IdP that wants them
    /// signed refuses unsigned ones.
    pub fn signs_requests(&self, idp: &IdpMetadata) -> bool {
        self.keys.sign_authn_requests || idp.want_authn_requests_signed
    }
}

/// The settings of a connection, by kind.
#[derive(Debug, Clone)]
pub enum ProtocolConfig {
    Saml(SamlConfig),
    Oidc(OidcConfig),
}

impl ProtocolConfig {
    /// Reads a login connection's settings; `None` for SCIM-only connections or unreadable JSON.
    pub fn of(connection: &Connection) -> Option<Self> {
        match connection.kind {
            ConnectionKind::Saml => serde_json::from_str(&connection.protocol_config)
                .ok()
                .map(ProtocolConfig::Saml),
            ConnectionKind::Oidc => serde_json::from_str(&connection.protocol_config)
                .ok()
                .map(ProtocolConfig::Oidc),
            ConnectionKind::Scim => None,
        }
    }
}

/// The URLs of a connection that an admin pastes into the IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionUrls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// SAML: the Single Logout service (HTTP-Redirect and HTTP-POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
}

/// The SP identity of a SAML connection: its entity id is its metadata URL.
pub fn sp_settings(public_url: &str, connection: &Connection) -> SpSettings {
    let base = public_url.trim_end_matches('/');
    SpSettings {
        entity_id: format!("{base}/sso/saml/{}/metadata", connection.id),
        acs_url: format!("{base}/sso/saml/{}/acs", connection.id),
    }
}

/// The OIDC redirect URI of a connection (one per connection, against mix-up attacks).
pub fn redirect_uri(public_url: &str, connection: &Connection) -> String {
    format!(
        "{}/sso/oidc/{}/callback",
        public_url.trim_end_matches('/'),
        connection.id
    )
}

/// Every URL of a connection, for the CLI and the admin API.
pub fn connection_urls(
    public_url: &str,
    workspace_slug: &str,
    connection: &Connection,
) -> ConnectionUrls {
    let base = public_url.trim_end_matches('/');
    let login_url = Some(format!(
        "{base}/sso/{workspace_slug}/login?connection={}",
        url::form_urlencoded::byte_serialize(connection.name.as_str().as_bytes())
            .collect::<String>()
    ));
    match connection.kind {
        ConnectionKind::Saml => {
            let sp = sp_settings(public_url, connection);
            ConnectionUrls {
                slo_url: Some(sp.slo_url()),
                metadata_url: Some(sp.entity_id.clone()),
                sp_entity_id: Some(sp.entity_id),
                acs_url: Some(sp.acs_url),
                redirect_uri: None,
                login_url,
            }
        }
        ConnectionKind::Oidc => ConnectionUrls {
            sp_entity_id: None,
            acs_url: None,
            metadata_url: None,
            slo_url: None,
            redirect_uri: Some(redirect_uri(public_url, connection)),
            login_url,
        },
        ConnectionKind::Scim => ConnectionUrls {
            sp_entity_id: None,
            acs_url: None,
            metadata_url: None,
            slo_url: None,
            redirect_uri: None,
            login_url: None,
        },
    }
}
