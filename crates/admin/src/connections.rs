//! IdP connections as admins manage them from the console: create (SAML metadata upload or URL,
//! or a SAML draft without them whose SP values go to the IdP first; OIDC issuer and client, or
//! SCIM-only), read with the values to paste into the IdP,
//! reconfigure, test against the IdP as it is now, and revoke.
//!
//! Validation is `roster_sso::setup`, the same code the operator CLI runs, so the console can
//! never create a connection the CLI would refuse (metadata without a signing certificate, an
//! issuer whose discovery fails, a private URL the operator did not allow). Client secrets are
//! write-only: no response ever carries one, and a change of where an OIDC secret is sent needs
//! the secret again ([`client_secret`]). Every route asks the policy first, before any request
//! to an IdP.

mod client_secret;

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_policy::setup::Area as SetupArea;
use roster_sso::config::{
    connection_urls, AuthnContextSettings, ProtocolConfig, SamlConfig, SamlKeySettings,
};
use roster_sso::oidc::{OidcConfig, OidcRp, TokenAuthMethod};
use roster_sso::saml::AssertionEncryption;
use roster_sso::setup::{
    self, ConnectionSpec, CreateError, OidcInput, ProtocolInput, SamlInput, SetupError,
};
use roster_store::domain::{Connection, ConnectionStatus, Timestamp};
use roster_store::domain::{
    ConnectionId, ConnectionKind, DisplayName, Domain, GroupSync, ProfileSync, Vendor,
};
use roster_store::{ConnectionResource, ConnectionUpdate, SpKeyRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::permit::{require, require_read, Permit, Write};
use crate::auth::Principal;
use crate::error::{AdminCode, AdminError};
use crate::openapi::{schema, Operation};
use crate::params::parse_id;
use crate::AdminSettings;
use client_secret::{Proposed, Secret, SecretRequired};

impl From<SetupError> for AdminError {
    fn from(err: SetupError) -> Self {
        match err {
            SetupError::Invalid(message) => AdminError::validation(message),
            SetupError::Unreachable(message) => AdminError::new(AdminCode::IdpUnreachable, message),
        }
    }
}

impl From<CreateError> for AdminError {
    fn from(err: CreateError) -> Self {
        match err {
            CreateError::Setup(err) => err.into(),
            CreateError::Store(err) => err.into(),
        }
    }
}

/// SAML settings in a request.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SamlBody {
    metadata_xml: Option<String>,
    metadata_url: Option<String>,
    #[serde(default)]
    allow_idp_initiated: bool,
    /// Every login makes the IdP authenticate the user again (`ForceAuthn="true"`), even with
    /// a live IdP session. Default false.
    #[serde(default)]
    force_authn: bool,
    /// `AuthnContextClassRef` URIs every AuthnRequest asks for (`RequestedAuthnContext`,
    /// `Comparison="exact"`), e.g. `urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract`;
    /// at most 10. Default none.
    #[serde(default)]
    requested_authn_context: Vec<String>,
    /// `optional` (default): plain and encrypted assertions are accepted; `required`: a plain
    /// assertion is refused (`encryption_required`). The connection's encryption certificate
    /// is in its SP metadata either way.
    #[serde(default)]
    assertion_encryption: AssertionEncryptionBody,
    /// Sign every AuthnRequest with the connection's signing key (also done whenever the IdP's
    /// metadata says `WantAuthnRequestsSigned="true"`). Default false.
    #[serde(default)]
    sign_authn_requests: bool,
    /// A Roster sign-out also asks the IdP to end its session (Single Logout), when the IdP's
    /// metadata offers it. Default true; false for an IdP that publishes a logout endpoint but
    /// was not given Roster's `sloUrl`.
    #[serde(default = "yes")]
    single_logout: bool,
}

fn yes() -> bool {
    true
}

/// Whether a SAML connection still accepts plain assertions.
#[derive(Debug, Default, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssertionEncryptionBody {
    #[default]
    Optional,
    Required,
}

impl SamlBody {
    fn authn(&self) -> AuthnContextSettings {
        AuthnContextSettings {
            force_authn: self.force_authn,
            requested_authn_context: self.requested_authn_context.clone(),
        }
    }

    fn keys(&self) -> SamlKeySettings {
        SamlKeySettings {
            assertion_encryption: match self.assertion_encryption {
                AssertionEncryptionBody::Optional => AssertionEncryption::Optional,
                AssertionEncryptionBody::Required => AssertionEncryption::Required,
            },
            sign_authn_requests: self.sign_authn_requests,
            single_logout: self.single_logout,
        }
    }
}

/// OIDC settings in a request.
#[derive(Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcBody {
    issuer: String,
    client_id: String,
    /// Required at creation; on update, absent keeps the current secret as long as the issuer
    /// and the client id stay the same.
    client_secret: Option<String>,
    token_auth_method: Option<String>,
}

impl std::fmt::Debug for OidcBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcBody")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// The body of `POST /connections`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateConnection {
    name: String,
    kind: String,
    vendor: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    scim_enabled: bool,
    profile_sync: Option<String>,
    group_sync: Option<String>,
    saml: Option<SamlBody>,
    oidc: Option<OidcBody>,
}

/// The body of `PUT /connections/{id}/settings`: any of the protocol settings, the vendor and
/// the email domains; what is absent stays as it is.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSettings {
    saml: Option<SamlBody>,
    oidc: Option<OidcBody>,
    vendor: Option<String>,
    domains: Option<Vec<String>>,
}

const VENDOR_CHOICES: &str = "vendor must be one of entra, okta, onelogin, google, generic";

fn parse_domains(domains: &[String]) -> Result<Vec<Domain>, AdminError> {
    domains
        .iter()
        .map(|d| Domain::parse(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AdminError::validation(e.to_string()))
}

fn token_auth_method(value: Option<&str>) -> Result<TokenAuthMethod, AdminError> {
    match value.unwrap_or("client_secret_basic") {
        "client_secret_basic" => Ok(TokenAuthMethod::ClientSecretBasic),
        "client_secret_post" => Ok(TokenAuthMethod::ClientSecretPost),
        other => Err(AdminError::validation(format!(
            "tokenAuthMethod must be client_secret_basic or client_secret_post, not {other:?}"
        ))),
    }
}

fn saml_input(body: SamlBody) -> SamlInput {
    SamlInput {
        authn: body.authn(),
        keys: body.keys(),
        metadata_xml: body.metadata_xml.filter(|xml| !xml.trim().is_empty()),
        metadata_url: body.metadata_url.filter(|url| !url.trim().is_empty()),
        allow_idp_initiated: body.allow_idp_initiated,
    }
}

/// What a settings change did, for the audit trail: the request fields that changed and, for
/// OIDC, whether the client secret was replaced. Never a value.
#[derive(Debug)]
struct SettingsChange {
    changed: Vec<&'static str>,
    client_secret_replaced: Option<bool>,
}

impl SettingsChange {
    /// `{"changed": [...], "clientSecretReplaced": bool}` (the latter for OIDC only).
    fn audit_detail(&self) -> Value {
        let mut detail = json!({ "changed": self.changed });
        if let Some(replaced) = self.client_secret_replaced {
            detail["clientSecretReplaced"] = json!(replaced);
        }
        detail
    }
}

/// Whether settings without the IdP's part are accepted: at creation a SAML connection may be a
/// draft; an update must bring them (the same checks as a creation with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drafts {
    Allowed,
    Refused,
}

/// The SAML request fields whose stored values differ in `new`.
fn saml_changes(current: Option<&SamlConfig>, new: &SamlConfig) -> Vec<&'static str> {
    let Some(current) = current else {
        return vec![
            "metadataXml",
            "metadataUrl",
            "allowIdpInitiated",
            "forceAuthn",
            "requestedAuthnContext",
            "assertionEncryption",
            "signAuthnRequests",
            "singleLogout",
        ];
    };
    [
        (
            current.idp_metadata_xml != new.idp_metadata_xml,
            "metadataXml",
        ),
        (
            current.idp_metadata_url != new.idp_metadata_url,
            "metadataUrl",
        ),
        (
            current.allow_idp_initiated != new.allow_idp_initiated,
            "allowIdpInitiated",
        ),
        (
            current.authn.force_authn != new.authn.force_authn,
            "forceAuthn",
        ),
        (
            current.authn.requested_authn_context != new.authn.requested_authn_context,
            "requestedAuthnContext",
        ),
        (
            current.keys.assertion_encryption != new.keys.assertion_encryption,
            "assertionEncryption",
        ),
        (
            current.keys.sign_authn_requests != new.keys.sign_authn_requests,
            "signAuthnRequests",
        ),
        (
            current.keys.single_logout != new.keys.single_logout,
            "singleLogout",
        ),
    ]
    .into_iter()
    .filter_map(|(changed, name)| changed.then_some(name))
    .collect()
}

/// What a request's protocol settings for `kind` are, as input to the checks
/// ([`setup::check_protocol`]), and what they change from the stored ones (`current`, the
/// connection's `protocol_config`; `None` at creation). SAML's changed fields are known only
/// once the new metadata is read ([`saml_changes`]). Whether the stored OIDC secret may stay is
/// decided here, before any request to the proposed issuer.
fn protocol_input(
    kind: ConnectionKind,
    (saml, oidc): (Option<SamlBody>, Option<OidcBody>),
    current: Option<&str>,
    drafts: Drafts,
) -> Result<(ProtocolInput, SettingsChange), AdminError> {
    let without_metadata = |saml: &Option<SamlBody>| {
        saml.as_ref().is_none_or(|body| {
            let blank =
                |value: &Option<String>| value.as_deref().is_none_or(|v| v.trim().is_empty());
            blank(&body.metadata_xml) && blank(&body.metadata_url)
        })
    };
    let unchanged = SettingsChange {
        changed: Vec::new(),
        client_secret_replaced: None,
    };
    match (kind, saml, oidc) {
        (ConnectionKind::Scim, None, None) => Ok((ProtocolInput::Scim, unchanged)),
        (ConnectionKind::Saml, saml, None)
            if drafts == Drafts::Allowed && without_metadata(&saml) =>
        {
            let allow_idp_initiated = saml.as_ref().is_some_and(|body| body.allow_idp_initiated);
            let authn = saml.as_ref().map(SamlBody::authn).unwrap_or_default();
            let keys = saml.as_ref().map(SamlBody::keys).unwrap_or_default();
            Ok((
                ProtocolInput::SamlDraft {
                    allow_idp_initiated,
                    authn,
                    keys,
                },
                unchanged,
            ))
        }
        (ConnectionKind::Saml, Some(saml), None) => {
            Ok((ProtocolInput::Saml(saml_input(saml)), unchanged))
        }
        (ConnectionKind::Oidc, None, Some(oidc)) => {
            let stored = current.and_then(|text| serde_json::from_str::<OidcConfig>(text).ok());
            let method = token_auth_method(oidc.token_auth_method.as_deref())?;
            let decided = client_secret::decide(
                stored.as_ref(),
                &Proposed {
                    issuer: &oidc.issuer,
                    client_id: &oidc.client_id,
                    token_auth_method: method,
                    client_secret: oidc.client_secret.as_deref(),
                },
            )
            .map_err(|required| {
                let changed = match &required {
                    SecretRequired::NoneStored => Vec::new(),
                    SecretRequired::BindingChanged(fields) => client_secret::names(fields),
                };
                AdminError::validation(required.message())
                    .with_detail(json!({ "field": "oidc.clientSecret", "changed": changed }))
            })?;
            let client_secret = match decided.secret {
                Secret::Replaced => oidc.client_secret.unwrap_or_default(),
                Secret::Kept => stored.map(|c| c.client_secret).unwrap_or_default(),
            };
            let input = OidcInput {
                token_auth_method: method,
                issuer: oidc.issuer,
                client_id: oidc.client_id,
                client_secret,
            };
            Ok((
                ProtocolInput::Oidc(input),
                SettingsChange {
                    changed: client_secret::names(&decided.changed),
                    client_secret_replaced: Some(decided.secret == Secret::Replaced),
                },
            ))
        }
        (kind, ..) => Err(AdminError::validation(format!(
            "a {} connection takes {}",
            kind.as_str(),
            match kind {
                ConnectionKind::Saml => match drafts {
                    Drafts::Allowed =>
                        "no `oidc` (a `saml` object with the IdP metadata, or none for a draft)",
                    Drafts::Refused => "a `saml` object with the IdP metadata and no `oidc`",
                },
                ConnectionKind::Oidc => "an `oidc` object and no `saml`",
                ConnectionKind::Scim => "neither `saml` nor `oidc`",
            }
        ))),
    }
}

/// Checks the request's protocol settings against the IdP, for a change of the connection's
/// stored ones (`current`): the new `protocol_config` and what changed.
async fn checked_settings(
    rp: &OidcRp,
    outbound: &roster_outbound::Client,
    kind: ConnectionKind,
    body: (Option<SamlBody>, Option<OidcBody>),
    current: &str,
) -> Result<(String, SettingsChange), AdminError> {
    let (input, mut change) = protocol_input(kind, body, Some(current), Drafts::Refused)?;
    let checked = setup::check_protocol(rp, outbound, input).await?;
    if kind == ConnectionKind::Saml {
        let stored = serde_json::from_str::<SamlConfig>(current).ok();
        let new = serde_json::from_str::<SamlConfig>(&checked.config).map_err(|err| {
            AdminError::validation(format!("cannot read the new SAML settings: {err}"))
        })?;
        change.changed = saml_changes(stored.as_ref(), &new);
    }
    Ok((checked.config, change))
}

/// The values an admin pastes into the IdP; each is null where it does not apply to the kind.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpValues {
    /// The SP entity id (SAML).
    entity_id: Option<String>,
    /// The assertion consumer service URL (SAML).
    acs_url: Option<String>,
    /// The SP metadata URL (SAML).
    metadata_url: Option<String>,
    /// The Single Logout URL (SAML; HTTP-Redirect and HTTP-POST).
    slo_url: Option<String>,
    /// The redirect URI to register at the IdP (OIDC).
    redirect_uri: Option<String>,
    /// Where users start a login through this connection (SAML and OIDC).
    login_url: Option<String>,
    /// The SCIM base URL an IdP provisions to.
    scim_base_url: String,
    /// SAML: when the connection's own signing certificate (the one that signs its requests
    /// and logout messages) expires, RFC 3339; null until its keys are first made.
    signing_certificate_expires_at: Option<String>,
    /// SAML: when its newest encryption certificate expires.
    encryption_certificate_expires_at: Option<String>,
}

/// A SAML connection's IdP settings, as its metadata says.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SamlIdpSummary {
    entity_id: String,
    /// The HTTP-Redirect SingleSignOnService, else the HTTP-POST one.
    sso_url: Option<String>,
    /// How many signing certificates the metadata carries (several during a rollover).
    signing_certificates: usize,
    /// When the last of them expires (RFC 3339): the day logins stop unless the metadata is
    /// updated (`connection.certificate_expiring` warns 30, 7 and 1 days before).
    signing_certificates_expire_at: Option<String>,
    /// Where the metadata is fetched from, when it came from a URL.
    metadata_url: Option<String>,
    allow_idp_initiated: bool,
    /// Every login makes the IdP authenticate the user again (`ForceAuthn`).
    force_authn: bool,
    /// The `AuthnContextClassRef`s every AuthnRequest asks for (empty: none).
    requested_authn_context: Vec<String>,
    /// `optional` or `required` (plain assertions refused).
    assertion_encryption: &'static str,
    /// Whether the admin asked for signed AuthnRequests.
    sign_authn_requests: bool,
    /// Whether AuthnRequests are signed: asked for, or the IdP's metadata wants them signed.
    authn_requests_signed: bool,
    /// Whether a Roster sign-out also ends the IdP's session (when its metadata offers it).
    single_logout: bool,
    /// Whether the IdP's metadata has an HTTP-Redirect SingleLogoutService.
    idp_single_logout: bool,
}

/// Stored SAML settings this build cannot read.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UnreadableIdp {
    /// What is wrong with them.
    error: String,
}

/// An OIDC connection's IdP settings (never the client secret).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcIdpSummary {
    issuer: String,
    client_id: String,
    /// `client_secret_basic` or `client_secret_post`.
    token_auth_method: String,
    scopes: Vec<String>,
}

/// A summary of a connection's IdP settings.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum IdpSummary {
    Saml(SamlIdpSummary),
    Oidc(OidcIdpSummary),
    Unreadable(UnreadableIdp),
}

/// A connection as the console shows it: state, the values to paste into the IdP and a summary
/// of its IdP settings (never a secret).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    #[serde(flatten)]
    resource: ConnectionResource,
    /// `entra`, `okta`, `onelogin`, `google` or `generic`.
    vendor: &'static str,
    /// The email domains that route logins to this connection.
    domains: Vec<String>,
    /// `first_login` or `every_login`.
    profile_sync: &'static str,
    /// `off` or `every_login`.
    group_sync: &'static str,
    /// The last SCIM request through it (RFC 3339), if any.
    last_sync_at: Option<String>,
    created_at: String,
    sp: SpValues,
    /// Null for a SCIM-only connection and for a draft (which has no IdP settings yet).
    idp: Option<IdpSummary>,
}

fn token_auth_method_name(method: TokenAuthMethod) -> &'static str {
    match method {
        TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
        TokenAuthMethod::ClientSecretPost => "client_secret_post",
    }
}

impl ConnectionView {
    /// `sp_keys`: the connection's published SAML keys (`Store::sp_keys`), oldest first.
    fn new(
        settings: &AdminSettings,
        workspace_slug: &str,
        c: &Connection,
        sp_keys: &[SpKeyRecord],
    ) -> Self {
        let expiry = |at: i64| Timestamp::from_micros(at).to_rfc3339();
        let signing_certificate_expires_at =
            roster_store::signing_sp_key(sp_keys).map(|key| expiry(key.not_after));
        let encryption_certificate_expires_at = sp_keys
            .iter()
            .filter(|key| key.key_use == "encryption")
            .map(|key| key.not_after)
            .max()
            .map(expiry);
        let urls = connection_urls(&settings.public_url, workspace_slug, c);
        let idp = match ProtocolConfig::of(c) {
            // A draft has no IdP settings yet; its `status` says so and `sp` is what to paste.
            Some(ProtocolConfig::Saml(_)) if c.status == ConnectionStatus::Draft => None,
            Some(ProtocolConfig::Saml(saml)) => Some(match saml.idp() {
                Ok(idp) => IdpSummary::Saml(SamlIdpSummary {
                    authn_requests_signed: saml.signs_requests(&idp),
                    entity_id: idp.entity_id,
                    sso_url: idp.sso_redirect_url.or(idp.sso_post_url),
                    signing_certificates: idp.signing_certificates.len(),
                    signing_certificates_expire_at: roster_sso::certificates::signing_expiry(c)
                        .map(|at| at.to_rfc3339()),
                    metadata_url: saml.idp_metadata_url,
                    allow_idp_initiated: saml.allow_idp_initiated,
                    force_authn: saml.authn.force_authn,
                    assertion_encryption: match saml.keys.assertion_encryption {
                        AssertionEncryption::Optional => "optional",
                        AssertionEncryption::Required => "required",
                    },
                    sign_authn_requests: saml.keys.sign_authn_requests,
                    single_logout: saml.keys.single_logout,
                    idp_single_logout: idp.slo_redirect_url.is_some(),
                    requested_authn_context: saml.authn.requested_authn_context,
                }),
                Err(err) => IdpSummary::Unreadable(UnreadableIdp {
                    error: err.to_string(),
                }),
            }),
            Some(ProtocolConfig::Oidc(oidc)) => Some(IdpSummary::Oidc(OidcIdpSummary {
                issuer: oidc.issuer,
                client_id: oidc.client_id,
                token_auth_method: token_auth_method_name(oidc.token_auth_method).to_owned(),
                scopes: oidc.scopes,
            })),
            None => None,
        };
        ConnectionView {
            resource: ConnectionResource::from(c),
            vendor: c.vendor.as_str(),
            domains: c.domains.iter().map(|d| d.as_str().to_owned()).collect(),
            profile_sync: c.profile_sync.as_str(),
            group_sync: c.group_sync.as_str(),
            last_sync_at: c.last_sync_at.map(|at| at.to_rfc3339()),
            created_at: c.created_at.to_rfc3339(),
            sp: SpValues {
                entity_id: urls.sp_entity_id,
                acs_url: urls.acs_url,
                metadata_url: urls.metadata_url,
                slo_url: urls.slo_url,
                redirect_uri: urls.redirect_uri,
                login_url: urls.login_url,
                scim_base_url: scim_base_url(settings),
                signing_certificate_expires_at,
                encryption_certificate_expires_at,
            },
            idp,
        }
    }
}

fn scim_base_url(settings: &AdminSettings) -> String {
    format!("{}/scim/v2", settings.public_url.trim_end_matches('/'))
}

/// One check of a connection test: what Roster needs and what the IdP gave.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CheckView {
    /// What is checked: `metadata`, `metadata_url`, `entity_id`, `single_sign_on_service`,
    /// `signing_certificate`, `certificate_validity`, `settings`, `discovery`, `issuer`,
    /// `response_type`, `token_endpoint`, `token_auth_method`, `kind`, ….
    name: &'static str,
    ok: bool,
    want: String,
    got: String,
}

/// The answer of `POST /connections/{id}/test`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TestReport {
    /// Whether every check passed.
    ok: bool,
    checks: Vec<CheckView>,
}

/// A connection in the listing.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionListItem {
    #[serde(flatten)]
    resource: ConnectionResource,
    /// The last SCIM request through it (RFC 3339), if any.
    last_sync_at: Option<String>,
    /// The SCIM base URL an IdP provisions to.
    scim_base_url: String,
}

/// The answer of `GET /connections`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConnectionList {
    connections: Vec<ConnectionListItem>,
}

fn parse_choice<T, E>(
    value: Option<&str>,
    default: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    message: &str,
) -> Result<T, AdminError> {
    parse(value.unwrap_or(default)).map_err(|_| AdminError::validation(message))
}

/// Asks the policy whether the caller may manage connections (off the async runtime).
async fn manage_connections(
    store: web::Data<Store>,
    principal: Principal,
) -> Result<Permit<Write>, AdminError> {
    roster_store::blocking(move || require(&store, &principal, Action::ManageConnections)).await
}

/// `POST /connections`: validates everything (the IdP is asked), then creates in one write.
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    rp: web::Data<OidcRp>,
    body: web::Json<CreateConnection>,
) -> Result<HttpResponse, AdminError> {
    let permit = manage_connections(store.clone(), principal).await?;
    let body = body.into_inner();
    let name = DisplayName::parse(&body.name).map_err(|e| AdminError::validation(e.to_string()))?;
    let kind = ConnectionKind::parse(&body.kind)
        .map_err(|_| AdminError::validation("kind must be saml, oidc or scim"))?;
    // A setup session reaches this route for either job; the body says which it is doing.
    if kind != ConnectionKind::Scim {
        permit.require_setup_area(SetupArea::ConfigureSso)?;
    }
    if kind == ConnectionKind::Scim || body.scim_enabled {
        permit.require_setup_area(SetupArea::ConfigureScim)?;
    }
    let vendor = parse_choice(
        body.vendor.as_deref(),
        "generic",
        Vendor::parse,
        VENDOR_CHOICES,
    )?;
    let profile_sync = parse_choice(
        body.profile_sync.as_deref(),
        "first_login",
        ProfileSync::parse,
        "profileSync must be first_login or every_login",
    )?;
    let group_sync = parse_choice(
        body.group_sync.as_deref(),
        "every_login",
        GroupSync::parse,
        "groupSync must be off or every_login",
    )?;
    let spec = ConnectionSpec {
        workspace_id: permit.workspace_id(),
        name,
        vendor,
        domains: parse_domains(&body.domains)?,
        scim: body.scim_enabled,
        profile_sync,
        group_sync,
    };
    let (protocol, _) = protocol_input(kind, (body.saml, body.oidc), None, Drafts::Allowed)?;
    let connection = setup::create_connection(
        &store,
        &rp,
        &settings.outbound,
        permit.actor(),
        spec,
        protocol,
    )
    .await?;
    let (workspace, sp_keys) = roster_store::blocking({
        let store = store.clone();
        let id = connection.id;
        move || Ok::<_, AdminError>((store.workspace(permit.workspace_id())?, store.sp_keys(id)?))
    })
    .await?;
    Ok(HttpResponse::Created().json(ConnectionView::new(
        &settings,
        workspace.slug.as_str(),
        &connection,
        &sp_keys,
    )))
}

/// `GET /connections/{id}`.
pub async fn get(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let (workspace, connection, sp_keys) = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>((
            store.workspace(permit.workspace_id())?,
            store.connection(permit.workspace_id(), id)?,
            store.sp_keys(id)?,
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ConnectionView::new(
        &settings,
        workspace.slug.as_str(),
        &connection,
        &sp_keys,
    )))
}

/// Asks the policy whether the caller may manage connections, then reads the connection (404
/// for another workspace's).
async fn managed_connection(
    store: web::Data<Store>,
    principal: Principal,
    id: ConnectionId,
) -> Result<(Permit<Write>, Connection), AdminError> {
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageConnections)?;
        let connection = store.connection(permit.workspace_id(), id)?;
        Ok::<_, AdminError>((permit, connection))
    })
    .await
}

/// `PUT /connections/{id}/settings`: new IdP metadata (a rolled certificate), a new issuer or a
/// rotated client secret, validated like a creation, and/or a new vendor or new email domains;
/// the old settings stay when the new ones are refused. A draft SAML connection becomes active
/// with its first accepted metadata. A new issuer or client id needs the client secret in the
/// same request. The audit event names the fields that changed and whether the secret was
/// replaced.
pub async fn update_settings(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    rp: web::Data<OidcRp>,
    id: web::Path<crate::params::IdPath>,
    body: web::Json<UpdateSettings>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let body = body.into_inner();
    let (permit, current) = managed_connection(store.clone(), principal, id).await?;
    let vendor = body
        .vendor
        .as_deref()
        .map(|v| Vendor::parse(v).map_err(|_| AdminError::validation(VENDOR_CHOICES)))
        .transpose()?;
    let domains = body.domains.as_deref().map(parse_domains).transpose()?;
    let protocol = body.saml.is_some() || body.oidc.is_some();
    if !protocol && vendor.is_none() && domains.is_none() {
        return Err(AdminError::validation(
            "give what to change: saml, oidc, vendor and/or domains",
        ));
    }
    if current.status == ConnectionStatus::Revoked {
        return Err(AdminError::conflict("the connection is revoked"));
    }
    let validated = if protocol {
        Some(
            checked_settings(
                &rp,
                &settings.outbound,
                current.kind,
                (body.saml, body.oidc),
                &current.protocol_config,
            )
            .await?,
        )
    } else {
        None
    };
    let mut audit = validated.as_ref().map_or_else(
        || json!({ "changed": [] }),
        |(_, change)| change.audit_detail(),
    );
    if let Some(changed) = audit["changed"].as_array_mut() {
        if vendor.is_some_and(|v| v != current.vendor) {
            changed.push(json!("vendor"));
        }
        if domains.as_ref().is_some_and(|d| *d != current.domains) {
            changed.push(json!("domains"));
        }
    }
    let updated = roster_store::blocking(move || {
        let connection = store.update_connection(
            permit.actor(),
            permit.workspace_id(),
            id,
            ConnectionUpdate {
                protocol_config: validated.as_ref().map(|(config, _)| config.as_str()),
                vendor,
                domains: domains.as_deref(),
            },
            &audit,
        )?;
        let sp_keys = store.sp_keys(connection.id)?;
        Ok::<_, AdminError>((store.workspace(permit.workspace_id())?, connection, sp_keys))
    })
    .await?;
    let (workspace, connection, sp_keys) = updated;
    Ok(HttpResponse::Ok().json(ConnectionView::new(
        &settings,
        workspace.slug.as_str(),
        &connection,
        &sp_keys,
    )))
}

/// `POST /connections/{id}/test`: every check with want/got; `ok` only when all pass.
pub async fn test(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    rp: web::Data<OidcRp>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let (_, connection) = managed_connection(store, principal, id).await?;
    let checks = setup::test_connection(&rp, &settings.outbound, &connection).await;
    Ok(HttpResponse::Ok().json(TestReport {
        ok: checks.iter().all(|check| check.ok),
        checks: checks
            .into_iter()
            .map(|check| CheckView {
                name: check.name,
                ok: check.ok,
                want: check.want,
                got: check.got,
            })
            .collect(),
    }))
}

/// `DELETE /connections/{id}`: revokes it (logins and SCIM through it stop at once; its users,
/// groups and logs stay, as the audit trail needs them).
pub async fn revoke(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let permit = manage_connections(store.clone(), principal).await?;
    roster_store::blocking(move || {
        store.revoke_connection(permit.actor(), permit.workspace_id(), id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /connections`.
pub async fn list_connections(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
) -> Result<HttpResponse, AdminError> {
    let list = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.list_connections(permit.workspace_id())?)
    })
    .await?;
    let connections = list
        .iter()
        .map(|c| ConnectionListItem {
            resource: ConnectionResource::from(c),
            last_sync_at: c.last_sync_at.map(|at| at.to_rfc3339()),
            scim_base_url: format!("{}/scim/v2", settings.public_url),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConnectionList { connections }))
}

/// The body of `PUT /connections/{id}/scim`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimSwitch {
    enabled: bool,
}

/// `PUT /connections/{id}/scim`: "Automate provisioning with SCIM" on or off.
pub async fn set_scim(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
    body: web::Json<ScimSwitch>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let enabled = body.enabled;
    let connection = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ToggleScim)?;
        Ok::<_, AdminError>(store.set_connection_scim(
            permit.actor(),
            permit.workspace_id(),
            id,
            enabled,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ConnectionResource::from(&connection)))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get("/connections", "listConnections", "Connections")
        .answers(200, schema::<ConnectionList>),
    Operation::post("/connections", "createConnection", "Create an IdP connection (SAML metadata or URL, OIDC issuer and client, or SCIM-only); the IdP is asked first. A SAML connection without metadata is a draft: its SP values now, logins once its metadata is added")
        .body(schema::<CreateConnection>)
        .answers(201, schema::<ConnectionView>),
    Operation::get("/connections/{id}", "getConnection", "A connection with the values to paste into the IdP (never a secret)")
        .answers(200, schema::<ConnectionView>),
    Operation::delete("/connections/{id}", "revokeConnection", "Revoke a connection: its logins and SCIM tokens stop at once"),
    Operation::put("/connections/{id}/settings", "updateConnectionSettings", "Change a connection's IdP settings (validated like a creation; a draft becomes active), vendor or email domains")
        .body(schema::<UpdateSettings>)
        .answers(200, schema::<ConnectionView>),
    Operation::post("/connections/{id}/test", "testConnection", "Test a connection against its IdP: each check with want and got")
        .answers(200, schema::<TestReport>),
    Operation::put("/connections/{id}/scim", "setConnectionScim", "Turn SCIM provisioning on or off")
        .body(schema::<ScimSwitch>)
        .answers(200, schema::<ConnectionResource>),
];
