//! The OpenID Provider's apps in the operator API (`/api/v1/operator/apps`): a SaaS backend
//! registers its products (OAuth/OIDC clients), lists them, rotates a client secret and deletes
//! an app without a shell on the server.
//!
//! Apps belong to the deployment, not to a workspace, so only the operator key reaches them
//! ([`Operator`]); a workspace's admin API key is refused with a 403. The use cases are
//! `roster-provider`'s (`roster_provider::apps`: the registration rules, the 24-hour grace of a
//! rotated secret, the deletion with everything issued to the app), the same functions the
//! `roster app` commands call; this module only reads the request and renders camelCase views.
//! A client secret is in the answer of a creation or a rotation, once, and nowhere else. Every
//! write is audited as the operator key.

use actix_web::{web, HttpResponse};
use roster_provider::apps::{self, AppRegistration};
use roster_provider::ProviderError;
use roster_store::domain::Timestamp;
use roster_store::{OAuthApp, SigningAlg, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::operator::Operator;

/// An app as the operator sees it: never its secret, only the secret's first characters.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    /// The OAuth `client_id`.
    pub client_id: String,
    pub name: String,
    /// Where codes may be sent, matched byte for byte, in the order registered.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// `client_secret_basic` (a confidential app) or `none` (a public app: PKCE, no secret).
    pub token_endpoint_auth_method: String,
    /// `RS256` or `ES256`.
    pub id_token_alg: String,
    /// The first characters of the current client secret (null for a public app).
    pub client_secret_hint: Option<String>,
    /// Until when the secret replaced by the last rotation still works (RFC 3339), if it does.
    pub previous_secret_valid_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl AppView {
    fn at(app: &OAuthApp, now: Timestamp) -> Self {
        AppView {
            client_id: app.client_id.clone(),
            name: app.name.clone(),
            redirect_uris: app.redirect_uris.clone(),
            post_logout_redirect_uris: app.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: app.backchannel_logout_uri.clone(),
            token_endpoint_auth_method: app.auth_method.as_str().to_owned(),
            id_token_alg: app.id_token_alg.as_str().to_owned(),
            client_secret_hint: app.secret_hint.clone(),
            previous_secret_valid_until: app
                .previous_secret_until
                .filter(|until| *until > now)
                .map(|until| until.to_rfc3339()),
            created_at: app.created_at.to_rfc3339(),
            updated_at: app.updated_at.to_rfc3339(),
        }
    }
}

/// A new app, with its client secret shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAppView {
    #[serde(flatten)]
    pub app: AppView,
    /// The client secret, shown this once (only its hash is kept); null for a public app.
    pub client_secret: Option<String>,
}

/// The answer of `GET /apps`, oldest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AppList {
    pub apps: Vec<AppView>,
}

/// A rotated client secret, shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedSecretView {
    pub client_id: String,
    /// The new client secret, shown this once.
    pub client_secret: String,
    /// Until when the previous secret still works (RFC 3339): 24 hours on, or now with
    /// `endPreviousNow`.
    pub previous_secret_valid_until: String,
}

/// The body of `POST /apps`: the fields of `roster app create`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApp {
    /// The product's name, 1 to 200 characters.
    name: String,
    /// Where codes may be sent, exactly as the product's OIDC library sends them: https, or http
    /// on 127.0.0.1 / [::1]; at least one.
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to.
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed.
    #[serde(default)]
    backchannel_logout_uri: Option<String>,
    /// A public app (SPA, native app): no client secret; PKCE required. False when absent.
    #[serde(default)]
    public: bool,
    /// How ID tokens are signed: `RS256` (when absent) or `ES256`.
    #[serde(default)]
    #[schemars(extend("enum" = ["RS256", "ES256", null]))]
    id_token_alg: Option<String>,
}

/// The body of `POST /apps/{client_id}/rotate-secret`; optional.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecret {
    /// End the previous secret now (after a leak) instead of in 24 hours. False when absent.
    #[serde(default)]
    end_previous_now: bool,
}

/// The provider's errors as the admin API answers them. Only registration's own variants and
/// the store's can come from `roster_provider::apps`; the rest belong to the OAuth endpoints and
/// are logged as unexpected here. No catch-all arm: a new variant forces a decision.
impl From<ProviderError> for AdminError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::InvalidRedirectUri { uri, reason } => {
                AdminError::validation(format!("invalid URI {uri:?}: {reason}"))
                    .with_detail(json!({ "uri": uri }))
            }
            ProviderError::InvalidClientMetadata(message) => AdminError::validation(message),
            ProviderError::Store(err) => err.into(),
            ProviderError::UnknownClient
            | ProviderError::UnregisteredRedirectUri
            | ProviderError::MalformedAuthorizeRequest(_)
            | ProviderError::AuthorizationExpired
            | ProviderError::LogoutRefused(_)
            | ProviderError::Redirect(_)
            | ProviderError::InvalidToken(_)
            | ProviderError::InvalidRequest(_)
            | ProviderError::InvalidClient { .. }
            | ProviderError::ClientLocked { .. }
            | ProviderError::InvalidGrant(_)
            | ProviderError::UnsupportedGrantType
            | ProviderError::GrantNotLive(_)
            | ProviderError::Key(_) => {
                tracing::error!(error = %err, "unexpected provider error in the operator API");
                AdminError::internal("internal error")
            }
        }
    }
}

/// A `NotFound` of the app named in the path says which client id; other errors as usual.
fn app_error(client_id: &str) -> impl FnOnce(ProviderError) -> AdminError + '_ {
    move |err| match err {
        ProviderError::Store(StoreError::NotFound { .. }) => {
            AdminError::not_found(format!("no app with client_id {client_id:?}"))
        }
        other => other.into(),
    }
}

/// `POST /apps`: 201 with the app and, for a confidential app, its client secret (this once).
/// A URI the registration rules refuse, an empty name or no redirect URI: 400, nothing written.
pub async fn create(
    operator: Operator,
    store: web::Data<Store>,
    body: web::Json<CreateApp>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let id_token_alg = match body.id_token_alg.as_deref() {
        None => SigningAlg::Rs256,
        Some(alg) => SigningAlg::parse(alg).map_err(|_| {
            AdminError::validation(format!("idTokenAlg must be RS256 or ES256, not {alg:?}"))
                .with_detail(json!({ "field": "idTokenAlg" }))
        })?,
    };
    let registration = AppRegistration {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        backchannel_logout_uri: body.backchannel_logout_uri,
        public: body.public,
        id_token_alg,
    };
    let now = Timestamp::now();
    let registered = roster_store::blocking(move || {
        apps::register(&store, &operator.actor(), &registration, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(CreatedAppView {
        app: AppView::at(&registered.app, now),
        client_secret: registered
            .client_secret
            .as_ref()
            .map(|secret| secret.expose().to_owned()),
    }))
}

/// `GET /apps`: every app, oldest first, never a secret.
pub async fn list(
    _operator: Operator,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let found = roster_store::blocking(move || store.oauth_apps()).await?;
    let now = Timestamp::now();
    Ok(HttpResponse::Ok().json(AppList {
        apps: found.iter().map(|app| AppView::at(app, now)).collect(),
    }))
}

/// `GET /apps/{client_id}`: one app, never its secret.
pub async fn get(
    _operator: Operator,
    store: web::Data<Store>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let client_id = client_id.into_inner();
    let found = roster_store::blocking({
        let client_id = client_id.clone();
        move || Ok::<_, ProviderError>(store.oauth_app(&client_id)?)
    })
    .await
    .map_err(app_error(&client_id))?;
    Ok(HttpResponse::Ok().json(AppView::at(&found, Timestamp::now())))
}

/// `POST /apps/{client_id}/rotate-secret` with an optional `{"endPreviousNow": bool}`: the new
/// secret (this once); the previous one works for 24 hours more, or not at all with
/// `endPreviousNow`. A public app has no secret: 400.
pub async fn rotate_secret(
    operator: Operator,
    store: web::Data<Store>,
    client_id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    // The body may be absent; when present it is read as strictly as any other.
    let request: RotateSecret = if body.iter().all(u8::is_ascii_whitespace) {
        RotateSecret::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| AdminError::validation(format!("invalid JSON body: {err}")))?
    };
    let client_id = client_id.into_inner();
    let rotated = roster_store::blocking({
        let client_id = client_id.clone();
        move || {
            apps::rotate_secret(
                &store,
                &operator.actor(),
                &client_id,
                Timestamp::now(),
                request.end_previous_now,
            )
        }
    })
    .await
    .map_err(app_error(&client_id))?;
    let client_secret = rotated
        .client_secret
        .as_ref()
        .map(|secret| secret.expose().to_owned())
        .ok_or_else(|| AdminError::internal("internal error"))?;
    Ok(HttpResponse::Ok().json(RotatedSecretView {
        client_id: rotated.client_id,
        client_secret,
        previous_secret_valid_until: rotated.previous_secret_valid_until,
    }))
}

/// `DELETE /apps/{client_id}`: 204; the app goes at once with every grant, code and refresh
/// token issued to it.
pub async fn delete(
    operator: Operator,
    store: web::Data<Store>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let client_id = client_id.into_inner();
    roster_store::blocking({
        let client_id = client_id.clone();
        move || apps::delete(&store, &operator.actor(), &client_id)
    })
    .await
    .map_err(app_error(&client_id))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The apps' operations, relative to `/api/v1/operator`.
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/apps",
        "listApps",
        "The OpenID Provider's apps, oldest first",
    )
    .answers(200, schema::<AppList>),
    Operation::post(
        "/apps",
        "createApp",
        "Register an app (an OAuth/OIDC client); its client secret is shown this once",
    )
    .body(schema::<CreateApp>)
    .answers(201, schema::<CreatedAppView>),
    Operation::get("/apps/{client_id}", "getApp", "One app, never its secret")
        .answers(200, schema::<AppView>),
    Operation::post(
        "/apps/{client_id}/rotate-secret",
        "rotateAppSecret",
        "A new client secret, shown this once; the previous one works for 24 hours (or ends now)",
    )
    .optional_body(schema::<RotateSecret>)
    .answers(200, schema::<RotatedSecretView>),
    Operation::delete(
        "/apps/{client_id}",
        "deleteApp",
        "Delete an app with every grant, code and refresh token issued to it",
    ),
];
