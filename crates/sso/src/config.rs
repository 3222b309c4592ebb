//! A connection's protocol settings (its `protocol_config` JSON) and the URLs Roster exposes for
//! it. Only this crate reads or writes that JSON, so the shape is defined once, here.

use roster_store::domain::{Connection, ConnectionKind};
use serde::{Deserialize, Serialize};

use crate::oidc::OidcConfig;
use crate::saml::{parse_idp_metadata, IdpMetadata, SamlError, SpSettings, ValidationPolicy};

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
            ..ValidationPolicy::default()
        }
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
            redirect_uri: Some(redirect_uri(public_url, connection)),
            login_url,
        },
        ConnectionKind::Scim => ConnectionUrls {
            sp_entity_id: None,
            acs_url: None,
            metadata_url: None,
            redirect_uri: None,
            login_url: None,
        },
    }
}
