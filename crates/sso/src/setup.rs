//! Connection set-up, shared by the operator CLI and the admin API: turning what an admin gives
//! (SAML metadata or its URL, an OIDC issuer and client) into a validated `protocol_config`, and
//! the "test connection" checks that report exactly what is wrong as want/got pairs.
//!
//! Only [`create_connection`] writes, and only once the checks accepted the settings; other
//! callers store a config only when this module accepted it, so a connection that would accept
//! unsigned assertions, or one pointed at an issuer whose discovery fails, is never created.

use openidconnect::core::CoreProviderMetadata;
use roster_outbound::{Client, OutboundError, ReadBody, SAML_METADATA_MAX_BYTES};
use roster_store::domain::{Connection, ConnectionKind, ConnectionStatus};
use serde::Serialize;

use crate::config::{AuthnContextSettings, SamlConfig, SamlKeySettings};
use crate::oidc::{OidcConfig, OidcRp, TokenAuthMethod};
use crate::saml::IdpMetadata;

mod create;

pub use create::{
    check_protocol, create_connection, CheckedProtocol, ConnectionSpec, CreateError, ProtocolInput,
};

/// Why set-up input was refused; the message names the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The input itself is unusable (malformed URL, metadata without a signing certificate…).
    #[error("{0}")]
    Invalid(String),
    /// The IdP could not be reached or answered something unusable.
    #[error("{0}")]
    Unreachable(String),
}

/// SAML input: the metadata document itself, or the URL it is fetched from.
#[derive(Debug, Clone, Default)]
pub struct SamlInput {
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    pub allow_idp_initiated: bool,
    /// `ForceAuthn` and `RequestedAuthnContext` for every login ([`AuthnContextSettings::check`]).
    pub authn: AuthnContextSettings,
    /// Encryption required, requests signed.
    pub keys: SamlKeySettings,
}

/// Fetches IdP metadata through the outbound client (address policy at connect time, no
/// redirects, 5 MiB at most). Blocking. A URL the policy refuses is `Invalid` (the admin must
/// change it); anything else is `Unreachable`.
pub fn fetch_metadata(url: &str, outbound: &Client) -> Result<String, SetupError> {
    let fetched = outbound
        .get(url, ReadBody::AtMost(SAML_METADATA_MAX_BYTES))
        .map_err(|err| {
            let message = format!("metadata URL {url}: {err}");
            if err.is_refused_by_policy() {
                SetupError::Invalid(message)
            } else {
                SetupError::Unreachable(message)
            }
        })?;
    if !fetched.status().is_success() {
        return Err(SetupError::Unreachable(format!(
            "metadata URL {url}: the server answered HTTP {}",
            fetched.status().as_u16()
        )));
    }
    String::from_utf8(fetched.into_body()).map_err(|_| {
        SetupError::Unreachable(format!("metadata URL {url}: the document is not UTF-8"))
    })
}

/// Checks an OIDC issuer against the outbound policy (its shape and where it resolves now), off
/// the async runtime.
async fn check_issuer(outbound: &Client, issuer: &str) -> Result<(), SetupError> {
    let (outbound, url) = (outbound.clone(), issuer.to_owned());
    let checked = actix_web::rt::task::spawn_blocking(move || outbound.policy().check_url(&url))
        .await
        .map_err(|err| SetupError::Unreachable(format!("issuer {issuer}: {err}")))?;
    checked.map_err(|err: OutboundError| SetupError::Invalid(format!("issuer {issuer}: {err}")))
}

/// A validated SAML config (as JSON text) and what its metadata says.
pub fn saml_config(
    input: SamlInput,
    outbound: &Client,
) -> Result<(String, IdpMetadata), SetupError> {
    let xml = match (input.metadata_xml, &input.metadata_url) {
        (Some(xml), None) => xml,
        (None, Some(url)) => fetch_metadata(url, outbound)?,
        _ => {
            return Err(SetupError::Invalid(
                "a SAML connection needs exactly one of the IdP metadata document or its URL"
                    .to_owned(),
            ))
        }
    };
    input.authn.check().map_err(SetupError::Invalid)?;
    let config = SamlConfig {
        idp_metadata_xml: xml,
        idp_metadata_url: input.metadata_url,
        allow_idp_initiated: input.allow_idp_initiated,
        clock_skew_seconds: 180,
        authn: input.authn,
        keys: input.keys,
    };
    let idp = config
        .idp()
        .map_err(|err| SetupError::Invalid(format!("the IdP metadata is not usable: {err}")))?;
    let json = serde_json::to_string(&config)
        .map_err(|err| SetupError::Invalid(format!("cannot encode the settings: {err}")))?;
    Ok((json, idp))
}

/// The settings of a draft SAML connection: no IdP metadata yet (Okta and Entra ask for the SP
/// values first). Its logins are refused until [`saml_config`] accepts the metadata; stored
/// settings never skip that check, since [`SamlConfig::idp`] parses the (empty) document anew.
pub fn saml_draft_config(
    allow_idp_initiated: bool,
    authn: AuthnContextSettings,
    keys: SamlKeySettings,
) -> Result<String, SetupError> {
    authn.check().map_err(SetupError::Invalid)?;
    let config = SamlConfig {
        idp_metadata_xml: String::new(),
        idp_metadata_url: None,
        allow_idp_initiated,
        clock_skew_seconds: 180,
        authn,
        keys,
    };
    serde_json::to_string(&config)
        .map_err(|err| SetupError::Invalid(format!("cannot encode the settings: {err}")))
}

/// OIDC input; the secret is never echoed back by any caller.
#[derive(Clone, Default)]
pub struct OidcInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub token_auth_method: TokenAuthMethod,
}

impl std::fmt::Debug for OidcInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcInput")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A validated OIDC config (as JSON text): the issuer passes the outbound policy, and its
/// discovery answers for exactly that issuer with endpoints the policy allows.
pub async fn oidc_config(rp: &OidcRp, input: OidcInput) -> Result<String, SetupError> {
    if input.client_id.trim().is_empty() {
        return Err(SetupError::Invalid("the client id is empty".to_owned()));
    }
    if input.client_secret.trim().is_empty() {
        return Err(SetupError::Invalid("the client secret is empty".to_owned()));
    }
    check_issuer(rp.outbound(), &input.issuer).await?;
    let config = OidcConfig {
        issuer: input.issuer,
        client_id: input.client_id,
        client_secret: input.client_secret.trim().to_owned(),
        token_auth_method: input.token_auth_method,
        scopes: ["openid", "email", "profile", "groups"]
            .map(str::to_owned)
            .to_vec(),
        clock_skew_seconds: 120,
    };
    rp.discover(&config).await.map_err(|err| {
        let message = format!("OIDC discovery for {} failed: {err}", config.issuer);
        if err.is_misconfiguration() {
            SetupError::Invalid(message)
        } else {
            SetupError::Unreachable(message)
        }
    })?;
    serde_json::to_string(&config)
        .map_err(|err| SetupError::Invalid(format!("cannot encode the settings: {err}")))
}

/// One check of "test connection": what Roster needs and what the IdP gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub want: String,
    pub got: String,
}

impl Check {
    fn new(name: &'static str, ok: bool, want: impl Into<String>, got: impl Into<String>) -> Self {
        Self {
            name,
            ok,
            want: want.into(),
            got: got.into(),
        }
    }
}

/// Runs the checks of a login connection against its IdP as it is now (SAML metadata is fetched
/// again when it came from a URL; OIDC discovery is asked again). Never writes.
pub async fn test_connection(
    rp: &OidcRp,
    outbound: &Client,
    connection: &Connection,
) -> Vec<Check> {
    if connection.status == ConnectionStatus::Draft {
        return vec![Check::new(
            "metadata",
            false,
            "the IdP's metadata (its document or URL), given once the IdP knows Roster's SP values",
            "none yet: a draft connection; add the metadata to activate it",
        )];
    }
    match connection.kind {
        ConnectionKind::Saml => {
            let Ok(config) = serde_json::from_str::<SamlConfig>(&connection.protocol_config) else {
                return vec![Check::new(
                    "settings",
                    false,
                    "readable SAML settings",
                    "unreadable",
                )];
            };
            let url = config.idp_metadata_url.clone();
            let fetched = match url {
                Some(url) => {
                    let outbound = outbound.clone();
                    let fetched =
                        actix_web::web::block(move || fetch_metadata(&url, &outbound)).await;
                    Some(match fetched {
                        Ok(result) => result,
                        Err(err) => Err(SetupError::Unreachable(err.to_string())),
                    })
                }
                None => None,
            };
            saml_checks(&config, fetched)
        }
        ConnectionKind::Oidc => {
            let Ok(config) = serde_json::from_str::<OidcConfig>(&connection.protocol_config) else {
                return vec![Check::new(
                    "settings",
                    false,
                    "readable OIDC settings",
                    "unreadable",
                )];
            };
            let discovered = match check_issuer(rp.outbound(), &config.issuer).await {
                Ok(()) => rp.discover(&config).await.map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            oidc_checks(&config, discovered)
        }
        ConnectionKind::Scim => vec![Check::new(
            "kind",
            true,
            "a login connection (SAML or OIDC) to test against an IdP",
            "a SCIM-only connection: nothing to test; use its token from the IdP",
        )],
    }
}

fn saml_checks(config: &SamlConfig, fetched: Option<Result<String, SetupError>>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut xml = config.idp_metadata_xml.clone();
    if let (Some(url), Some(fetched)) = (&config.idp_metadata_url, fetched) {
        match fetched {
            Ok(body) => {
                checks.push(Check::new(
                    "metadata_url",
                    true,
                    format!("metadata at {url}"),
                    "fetched",
                ));
                xml = body;
            }
            Err(err) => checks.push(Check::new(
                "metadata_url",
                false,
                format!("metadata at {url}"),
                err.to_string(),
            )),
        }
    }
    let candidate = SamlConfig {
        idp_metadata_xml: xml,
        ..config.clone()
    };
    let idp = match candidate.idp() {
        Ok(idp) => idp,
        Err(err) => {
            checks.push(Check::new(
                "metadata",
                false,
                "IdP metadata with an entity id, a SingleSignOnService and a signing certificate",
                err.to_string(),
            ));
            return checks;
        }
    };
    checks.push(Check::new(
        "entity_id",
        !idp.entity_id.is_empty(),
        "the IdP's entity id",
        idp.entity_id.clone(),
    ));
    let sso = idp
        .sso_redirect_url
        .clone()
        .or_else(|| idp.sso_post_url.clone());
    checks.push(Check::new(
        "single_sign_on_service",
        sso.is_some(),
        "an HTTP-Redirect or HTTP-POST SingleSignOnService",
        sso.unwrap_or_else(|| "none".to_owned()),
    ));
    checks.push(Check::new(
        "signing_certificate",
        !idp.signing_certificates.is_empty(),
        "at least one signing certificate",
        format!("{} certificate(s)", idp.signing_certificates.len()),
    ));
    for (index, certificate) in idp.signing_certificates.iter().enumerate() {
        let (ok, got) = certificate_validity(certificate);
        checks.push(Check::new(
            "certificate_validity",
            ok,
            format!("signing certificate {} not expired", index + 1),
            got,
        ));
    }
    checks
}

/// Whether a base64 DER certificate is still valid, and its notAfter as text.
fn certificate_validity(base64_der: &str) -> (bool, String) {
    use base64::Engine;
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(base64_der) else {
        return (false, "not base64".to_owned());
    };
    let Ok(certificate) = openssl::x509::X509::from_der(&der) else {
        return (false, "not an X.509 certificate".to_owned());
    };
    let not_after = certificate.not_after();
    let expired = openssl::asn1::Asn1Time::days_from_now(0)
        .ok()
        .and_then(|now| not_after.compare(&now).ok())
        .is_some_and(|order| order == std::cmp::Ordering::Less);
    let when = not_after.to_string();
    if expired {
        (false, format!("expired {when}"))
    } else {
        (true, format!("valid until {when}"))
    }
}

fn oidc_checks(
    config: &OidcConfig,
    discovered: Result<CoreProviderMetadata, String>,
) -> Vec<Check> {
    let metadata = match discovered {
        Ok(metadata) => metadata,
        Err(err) => {
            return vec![Check::new(
                "discovery",
                false,
                format!(
                    "{}/.well-known/openid-configuration for issuer {}",
                    config.issuer.trim_end_matches('/'),
                    config.issuer
                ),
                err,
            )]
        }
    };
    let mut checks = vec![Check::new(
        "issuer",
        metadata.issuer().as_str() == config.issuer,
        config.issuer.clone(),
        metadata.issuer().as_str(),
    )];
    let offered_flows: Vec<String> = metadata
        .response_types_supported()
        .iter()
        .map(|types| {
            types
                .iter()
                .map(|t| AsRef::<str>::as_ref(t).to_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    checks.push(Check::new(
        "response_type",
        offered_flows.iter().any(|flow| flow == "code"),
        "authorization code flow (response_type code)",
        offered_flows.join(", "),
    ));
    checks.push(Check::new(
        "token_endpoint",
        metadata.token_endpoint().is_some(),
        "a token endpoint",
        metadata
            .token_endpoint()
            .map_or_else(|| "none".to_owned(), |url| url.as_str().to_owned()),
    ));
    let wanted = match config.token_auth_method {
        TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
        TokenAuthMethod::ClientSecretPost => "client_secret_post",
    };
    // Absent means the spec default, client_secret_basic.
    let offered: Vec<String> = metadata
        .token_endpoint_auth_methods_supported()
        .map(|methods| methods.iter().map(|m| m.as_ref().to_owned()).collect())
        .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]);
    checks.push(Check::new(
        "token_endpoint_auth_method",
        offered.iter().any(|m| m == wanted),
        wanted,
        offered.join(", "),
    ));
    let keys = metadata.jwks().keys().len();
    checks.push(Check::new(
        "signing_keys",
        keys > 0,
        "at least one key in the JWKS",
        format!("{keys} key(s) at {}", metadata.jwks_uri().as_str()),
    ));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_both_or_neither_metadata_source() {
        let outbound = Client::default();
        let neither = saml_config(SamlInput::default(), &outbound);
        assert!(matches!(neither, Err(SetupError::Invalid(m)) if m.contains("exactly one")));
        let both = saml_config(
            SamlInput {
                metadata_xml: Some("<x/>".into()),
                metadata_url: Some("https://idp.example/md".into()),
                ..SamlInput::default()
            },
            &outbound,
        );
        assert!(matches!(both, Err(SetupError::Invalid(_))));
    }

    #[test]
    fn unusable_metadata_is_refused_with_the_reason() {
        let refused = saml_config(
            SamlInput {
                metadata_xml: Some("<EntityDescriptor/>".into()),
                ..SamlInput::default()
            },
            &Client::default(),
        );
        assert!(
            matches!(refused, Err(SetupError::Invalid(m)) if m.starts_with("the IdP metadata is not usable"))
        );
    }

    #[test]
    fn garbage_certificates_are_reported_not_trusted() {
        assert!(!certificate_validity("%%%").0);
        assert_eq!(
            certificate_validity("aGVsbG8=").1,
            "not an X.509 certificate"
        );
    }
}
