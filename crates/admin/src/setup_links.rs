//! Setup links: how a customer's IT admin, who has no account, gets into the console to connect
//! their IdP, prove a domain or turn SCIM on. The SaaS operator (or a workspace admin) asks for
//! a link (`POST /setup-links`, also under `/api/v1/operator/workspaces/{workspace}`), emails
//! it, and the IT admin opens it:
//!
//! - `GET /setup/{token}` shows what the link is for and a Continue button, and redeems
//!   nothing: mail scanners and link previews fetch URLs, and must not burn the link;
//! - `POST /setup/{token}` redeems it once (the store's atomic redemption), sets the
//!   `roster_setup` cookie (HttpOnly, SameSite=Lax, at most an hour) and sends the browser to
//!   the console's guided setup (`/admin#setup`); a used, revoked or expired link gets a page
//!   saying which (410), and an unknown one a 404 page;
//! - the console then calls the ordinary admin API with that cookie, refused outside the
//!   link's intent ([`crate::auth`], `roster_policy::setup`);
//! - `POST /setup/finish` ("Done") ends the session and answers where to go (`returnUrl`).
//!
//! The link and the session are bearer secrets, stored hashed, never logged.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use roster_policy::admin::Action;
use roster_sso::saml::escape_html;
use roster_store::domain::setup_link::{self, LinkRefusal, SetupIntent};
use roster_store::domain::{SetupLinkId, Timestamp};
use roster_store::{NewSetupLink, SetupLink, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::{Principal, SETUP_COOKIE};
use crate::error::{AdminCode, AdminError};
use crate::link_pages;
use crate::openapi::{schema, Operation};
use crate::params::parse_id;
use crate::AdminSettings;

/// The body of `POST /setup-links` (the contract: snake_case).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSetupLink {
    /// `sso`, `scim`, `domain` or `all`: which part of the console the session reaches.
    intent: String,
    /// Seconds until the link expires: 60 to 604800; a day when absent.
    #[serde(default)]
    expires_in: Option<i64>,
    /// Where "Done" sends the IT admin: an `https://` URL (or `http://` on localhost).
    #[serde(default)]
    return_url: Option<String>,
}

/// A setup link as listed: never its token.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupLinkView {
    pub id: String,
    pub intent: String,
    /// `open`, `redeemed`, `finished`, `revoked` or `expired`.
    pub state: String,
    pub return_url: Option<String>,
    /// Who made it, as the audit trail names actors.
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub redeemed_at: Option<String>,
    pub revoked_at: Option<String>,
    pub finished_at: Option<String>,
}

impl SetupLinkView {
    fn new(link: &SetupLink, now: Timestamp) -> Self {
        let state = if link.revoked_at.is_some() {
            "revoked"
        } else if link.finished_at.is_some() {
            "finished"
        } else if link.redeemed_at.is_some() {
            "redeemed"
        } else if now >= link.expires_at {
            "expired"
        } else {
            "open"
        };
        let at = |time: Option<Timestamp>| time.map(|t| t.to_rfc3339());
        SetupLinkView {
            id: link.id.to_string(),
            intent: link.intent.as_str().to_owned(),
            state: state.to_owned(),
            return_url: link.return_url.clone(),
            created_by: link.created_by.clone(),
            created_at: link.created_at.to_rfc3339(),
            expires_at: link.expires_at.to_rfc3339(),
            redeemed_at: at(link.redeemed_at),
            revoked_at: at(link.revoked_at),
            finished_at: at(link.finished_at),
        }
    }
}

/// The answer of `POST /setup-links`: the one time the URL is shown.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSetupLink {
    pub id: String,
    /// The one-time URL to send the IT admin; shown once.
    pub url: String,
    pub intent: String,
    pub expires_at: String,
    pub return_url: Option<String>,
}

/// The answer of `GET /setup-links`, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupLinkList {
    pub setup_links: Vec<SetupLinkView>,
}

/// The answer of `POST /setup/finish`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FinishedSetup {
    /// Where to send the browser now (the link's `return_url`), if anywhere.
    pub return_url: Option<String>,
}

/// A `return_url` the browser may be sent to: absolute `https://`, or `http://` on a loopback
/// host (a developer's machine); no credentials, no whitespace, at most 2048 characters.
fn check_return_url(url: &str) -> Result<(), AdminError> {
    let refuse = |why: &str| AdminError::validation(format!("return_url: {why}"));
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("at most 2048 characters, without spaces"));
    }
    let parsed = url::Url::parse(url).map_err(|_| refuse("not an absolute URL"))?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(refuse("must be https (http only on localhost)")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(refuse("has no host"));
    }
    Ok(())
}

/// `POST /setup-links`: 201 with the one-time URL (policy: `manage setup links`; a setup
/// session cannot make links).
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    body: web::Json<CreateSetupLink>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let intent =
        SetupIntent::parse(&body.intent).map_err(|err| AdminError::validation(err.to_string()))?;
    let lifetime_seconds = setup_link::link_lifetime(body.expires_in)
        .map_err(|err| AdminError::validation(err.to_string()))?;
    if let Some(url) = &body.return_url {
        check_return_url(url)?;
    }
    let (link, token) = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageSetupLinks)?;
        Ok::<_, AdminError>(store.create_setup_link(
            permit.actor(),
            NewSetupLink {
                workspace_id: permit.workspace_id(),
                intent,
                lifetime_seconds,
                return_url: body.return_url,
            },
        )?)
    })
    .await?;
    let url = format!(
        "{}/setup/{}",
        settings.public_url.trim_end_matches('/'),
        token.expose()
    );
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedSetupLink {
            id: link.id.to_string(),
            url,
            intent: link.intent.as_str().to_owned(),
            expires_at: link.expires_at.to_rfc3339(),
            return_url: link.return_url,
        }))
}

/// `GET /setup-links`: the workspace's links, newest first, with their state.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let links = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.setup_links(permit.workspace_id())?)
    })
    .await?;
    let now = Timestamp::now();
    Ok(HttpResponse::Ok().json(SetupLinkList {
        setup_links: links.iter().map(|l| SetupLinkView::new(l, now)).collect(),
    }))
}

/// `DELETE /setup-links/{id}`: the link no longer opens, and a session it opened ends at once.
pub async fn revoke(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let link_id: SetupLinkId = parse_id(&id, "setup link")?;
    let link = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageSetupLinks)?;
        Ok::<_, AdminError>(store.revoke_setup_link(
            permit.actor(),
            permit.workspace_id(),
            link_id,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SetupLinkView::new(&link, Timestamp::now())))
}

/// `POST /setup/finish`: "Done". Ends the setup session (its cookie too) and answers the
/// link's `returnUrl`. Only a setup session has one to finish.
pub async fn finish(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
) -> Result<HttpResponse, AdminError> {
    let caller = principal.clone();
    let read_store = store.clone();
    roster_store::blocking(move || require_read(&read_store, &caller)).await?;
    let Some(link) = principal.setup_link().cloned() else {
        return Err(AdminError::new(
            AdminCode::Forbidden,
            "only a setup session (opened by a setup link) can be finished",
        )
        .with_detail(serde_json::json!({ "refusal": "not_a_setup_session" })));
    };
    let finished = roster_store::blocking(move || store.finish_setup_session(&link)).await?;
    Ok(HttpResponse::Ok()
        .cookie(setup_cookie(
            String::new(),
            secure(&settings),
            CookieDuration::ZERO,
        ))
        .json(FinishedSetup {
            return_url: finished.return_url,
        }))
}

fn secure(settings: &AdminSettings) -> bool {
    settings.public_url.starts_with("https://")
}

fn setup_cookie(value: String, secure: bool, max_age: CookieDuration) -> Cookie<'static> {
    link_pages::link_cookie(SETUP_COOKIE, value, "/", secure, max_age)
}

fn intent_sentence(intent: SetupIntent) -> &'static str {
    match intent {
        SetupIntent::Sso => "connect your identity provider for single sign-on",
        SetupIntent::Scim => "turn on user provisioning (SCIM) from your identity provider",
        SetupIntent::Domain => "prove that your organisation owns its email domain",
        SetupIntent::All => {
            "connect your identity provider, prove your email domain and turn on provisioning"
        }
    }
}

fn refused_page(refusal: LinkRefusal) -> HttpResponse {
    link_pages::refused(
        StatusCode::GONE,
        "This setup link cannot be used",
        refusal.reason(),
        refusal.code(),
    )
}

fn unknown_page() -> HttpResponse {
    link_pages::page(
        StatusCode::NOT_FOUND,
        "Setup link not found",
        "<h1>Setup link not found</h1><p>Check that the whole link was copied, or ask for a \
         new one.</p>",
    )
}

fn unavailable_page() -> HttpResponse {
    link_pages::page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "<h1>Roster is busy</h1><p>The setup link was not used. Try again in a moment.</p>",
    )
}

/// `GET /setup/{token}`: what the link is for, and the button that opens it. Redeems nothing.
pub async fn show(store: web::Data<Store>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    let lookup_token = token.clone();
    let found = roster_store::blocking(move || {
        let Some(link) = store.setup_link_by_token(&lookup_token)? else {
            return Ok(None);
        };
        let workspace = store.workspace(link.workspace_id)?;
        Ok::<_, StoreError>(Some((link, workspace)))
    })
    .await;
    let (link, workspace) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return unknown_page(),
        Err(err) => {
            tracing::warn!(error = %err, "could not look a setup link up");
            return unavailable_page();
        }
    };
    if let Err(refusal) = link.redeemable(Timestamp::now()) {
        return refused_page(refusal);
    }
    link_pages::page(
        StatusCode::OK,
        "Set up sign-in",
        &format!(
            "<h1>Set up {name}</h1><p>You were invited to {what} for <strong>{name}</strong>.</p>\
             <form method=\"post\" action=\"/setup/{token}\"><button type=\"submit\">Continue\
             </button></form><p class=\"muted\">The link works once; the setup session lasts \
             up to an hour.</p>",
            name = escape_html(&workspace.name),
            what = intent_sentence(link.intent),
            token = escape_html(&token),
        ),
    )
}

/// `POST /setup/{token}`: redeems the link once and opens the console's guided setup.
pub async fn redeem(
    req: HttpRequest,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    token: web::Path<String>,
) -> HttpResponse {
    // A cross-site form must not open a setup session in the visitor's browser (login CSRF).
    if link_pages::cross_site(&req) {
        return link_pages::cross_site_refused();
    }
    let token = token.into_inner();
    let redeemed = roster_store::blocking(move || store.redeem_setup_link(&token)).await;
    let (link, session) = match redeemed {
        Ok(Ok(opened)) => opened,
        Ok(Err(refusal)) => return refused_page(refusal),
        Err(StoreError::NotFound { .. }) => return unknown_page(),
        Err(err) => {
            tracing::warn!(error = %err, "could not redeem a setup link");
            return unavailable_page();
        }
    };
    let seconds = link
        .session_expires_at
        .map_or(0, |ends| {
            (ends.as_micros() - Timestamp::now().as_micros()) / 1_000_000
        })
        .max(0);
    HttpResponse::SeeOther()
        .cookie(setup_cookie(
            session.expose().to_owned(),
            secure(&settings),
            CookieDuration::seconds(seconds),
        ))
        .insert_header((header::LOCATION, "/admin#setup"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Mounts `/setup/{token}` (the page and its button's POST) on the server's root.
pub fn configure_setup_pages(cfg: &mut web::ServiceConfig, settings: AdminSettings) {
    cfg.service(
        web::scope("/setup")
            .app_data(web::Data::new(settings))
            .route("/{token}", web::get().to(show))
            .route("/{token}", web::post().to(redeem)),
    );
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/setup-links",
        "listSetupLinks",
        "The workspace's setup links with their state (never their URL)",
    )
    .answers(200, schema::<SetupLinkList>),
    Operation::post(
        "/setup-links",
        "createSetupLink",
        "A one-time link into the console's guided setup for the customer's IT admin",
    )
    .body(schema::<CreateSetupLink>)
    .answers(201, schema::<CreatedSetupLink>),
    Operation::delete(
        "/setup-links/{id}",
        "revokeSetupLink",
        "Revoke a setup link: it no longer opens, and a session it opened ends",
    )
    .answers(200, schema::<SetupLinkView>),
    Operation::post(
        "/setup/finish",
        "finishSetup",
        "End the setup session (Done) and get where to send the browser",
    )
    .answers(200, schema::<FinishedSetup>),
];

#[cfg(test)]
mod tests {
    use super::check_return_url;

    #[test]
    fn return_urls_are_https_or_loopback_http_without_credentials() {
        for good in [
            "https://app.example.com/settings/sso",
            "https://app.example.com",
            "http://localhost:3000/done",
            "http://127.0.0.1/done",
        ] {
            assert!(check_return_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://app.example.com/done",
            "javascript:alert(1)",
            "/relative",
            "https://user:pw@app.example.com/",
            "https://app.example.com/a b",
            "data:text/html,hi",
            "ftp://app.example.com/",
        ] {
            assert!(check_return_url(bad).is_err(), "{bad}");
        }
    }
}
