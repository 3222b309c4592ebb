//! Admin invitations: a one-time link that makes its holder an admin of the workspace, so a
//! customer's IT admin gets in without an account made by hand and a password sent out of band.
//!
//! - `POST /admins/invitations` `{"email", "expires_in"?}` (also under
//!   `/api/v1/operator/workspaces/{workspace}`) answers the link once; `GET` lists, `DELETE
//!   /admins/invitations/{id}` revokes.
//! - `GET /invitations/{token}` shows the two ways in and redeems nothing (mail scanners fetch
//!   links): **set a password** (a new account named by the invited email; refused while the
//!   workspace enforces SSO, and refused if that account exists — an invitation never sets the
//!   password of somebody's existing account) or **sign in with SSO** (when the workspace has an
//!   active SAML or OIDC connection).
//! - `POST /invitations/{token}/password` accepts with a password (store: one transaction makes
//!   the account, its password and its admin role, and marks the link used).
//! - `POST /invitations/{token}/sso` remembers the link in a short HttpOnly cookie scoped to
//!   `/invitations` (the token never travels to the IdP) and starts the workspace's SSO login
//!   for the invited email; its `return_to` is `/invitations/complete`, which accepts the
//!   invitation for the signed-in user when the session came from SSO and its email is the
//!   invited one.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use roster_policy::admin::Action;
use roster_sso::saml::escape_html;
use roster_sso::session::Sessions;
use roster_store::domain::setup_link::{self, LinkRefusal};
use roster_store::domain::{password, ConnectionKind, Email, Timestamp, TokenId, Workspace};
use roster_store::{AdminInvitation, InvitationRefusal, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::{parse_id, IdPath};
use crate::AdminSettings;

/// The cookie that carries an invitation through its SSO sign-in.
const INVITATION_COOKIE: &str = "roster_invitation";
/// How long that cookie lives: one sign-in.
const SSO_ROUND_TRIP_SECONDS: i64 = 900;
/// Passwords shorter than this are refused.
const MIN_PASSWORD_CHARS: usize = 12;

/// The body of `POST /admins/invitations`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// The invitee's work email: the new account's user name, or the email their SSO sign-in
    /// must carry.
    email: String,
    /// Seconds until the link expires: 60 to 604800; a day when absent.
    #[serde(default)]
    expires_in: Option<i64>,
}

/// An invitation as listed: never its link.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    /// `open`, `accepted`, `revoked` or `expired`.
    pub state: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub accepted_at: Option<String>,
    /// The user who became admin by it (`user:ID`).
    pub accepted_by: Option<String>,
}

impl InvitationView {
    fn new(invitation: &AdminInvitation, now: Timestamp) -> Self {
        let state = match invitation.acceptable(now) {
            Ok(()) => "open",
            Err(LinkRefusal::Revoked) => "revoked",
            Err(LinkRefusal::Used) => "accepted",
            Err(LinkRefusal::Expired) => "expired",
        };
        InvitationView {
            id: invitation.id.to_string(),
            email: invitation.email.as_str().to_owned(),
            state: state.to_owned(),
            created_by: invitation.created_by.clone(),
            created_at: invitation.created_at.to_rfc3339(),
            expires_at: invitation.expires_at.to_rfc3339(),
            accepted_at: invitation.accepted_at.map(|t| t.to_rfc3339()),
            accepted_by: invitation.accepted_by.clone(),
        }
    }
}

/// The answer of `POST /admins/invitations`: the one time the link is shown.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedInvitation {
    pub id: String,
    /// The one-time link to send the invitee; shown once.
    pub url: String,
    pub email: String,
    pub expires_at: String,
}

/// The answer of `GET /admins/invitations`, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationList {
    pub invitations: Vec<InvitationView>,
}

/// `POST /admins/invitations`: 201 with the one-time link.
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    body: web::Json<CreateInvitation>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let email =
        Email::parse(&body.email).map_err(|err| AdminError::validation(format!("email: {err}")))?;
    let lifetime = setup_link::link_lifetime(body.expires_in)
        .map_err(|err| AdminError::validation(err.to_string()))?;
    let (invitation, token) = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::InviteAdmins)?;
        Ok::<_, AdminError>(store.create_admin_invitation(
            permit.actor(),
            permit.workspace_id(),
            email,
            lifetime,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedInvitation {
            id: invitation.id.to_string(),
            url: format!(
                "{}/invitations/{}",
                settings.public_url.trim_end_matches('/'),
                token.expose()
            ),
            email: invitation.email.as_str().to_owned(),
            expires_at: invitation.expires_at.to_rfc3339(),
        }))
}

/// `GET /admins/invitations`.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let invitations = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.admin_invitations(permit.workspace_id())?)
    })
    .await?;
    let now = Timestamp::now();
    Ok(HttpResponse::Ok().json(InvitationList {
        invitations: invitations
            .iter()
            .map(|i| InvitationView::new(i, now))
            .collect(),
    }))
}

/// `DELETE /admins/invitations/{id}`: the link no longer opens.
pub async fn revoke(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: TokenId = parse_id(&id, "admin invitation")?;
    let invitation = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::InviteAdmins)?;
        Ok::<_, AdminError>(store.revoke_admin_invitation(
            permit.actor(),
            permit.workspace_id(),
            id,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(InvitationView::new(&invitation, Timestamp::now())))
}

const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:40rem;\
         margin:4rem auto;padding:0 1rem;color:#222}}.muted{{color:#666;font-size:.9em}}\
         label{{display:block;margin:.6rem 0 .2rem}}section{{border-top:1px solid #ddd;\
         margin-top:1.5rem}}</style></head><body>{body}</body></html>",
        title = escape_html(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

fn refused(status: StatusCode, reason: &str, code: &str) -> HttpResponse {
    page(
        status,
        "Invitation not accepted",
        &format!(
            "<h1>This invitation cannot be used</h1><p>{}</p>\
             <p class=\"muted\">Reason: <code>{}</code></p>",
            escape_html(reason),
            escape_html(code)
        ),
    )
}

fn link_refused(refusal: LinkRefusal) -> HttpResponse {
    let reason = match refusal {
        LinkRefusal::Revoked => "This invitation was revoked. Ask for a new one.",
        LinkRefusal::Used => "This invitation was already accepted; each works once.",
        LinkRefusal::Expired => "This invitation has expired. Ask for a new one.",
    };
    refused(StatusCode::GONE, reason, refusal.code())
}

fn unknown() -> HttpResponse {
    refused(
        StatusCode::NOT_FOUND,
        "No such invitation: check that the whole link was copied.",
        "unknown",
    )
}

fn unavailable() -> HttpResponse {
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "Roster is busy; the invitation was not used. Try again in a moment.",
        "unavailable",
    )
}

/// Whether a request came from another site (a form there must not accept an invitation in a
/// visitor's browser).
fn cross_site(req: &HttpRequest) -> bool {
    matches!(
        req.headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok()),
        Some("cross-site" | "same-site")
    )
}

/// What the page needs to know: the invitation, its workspace, whether SSO is there to use.
struct Found {
    invitation: AdminInvitation,
    workspace: Workspace,
    has_sso: bool,
}

async fn find(store: web::Data<Store>, token: String) -> Result<Option<Found>, StoreError> {
    roster_store::blocking(move || {
        let Some(invitation) = store.admin_invitation_by_token(&token)? else {
            return Ok(None);
        };
        let workspace = store.workspace(invitation.workspace_id)?;
        let has_sso = store
            .list_connections(workspace.id)?
            .iter()
            .any(|c| c.kind != ConnectionKind::Scim && c.status.login_refusal().is_none());
        Ok(Some(Found {
            invitation,
            workspace,
            has_sso,
        }))
    })
    .await
}

/// `GET /invitations/{token}`: the ways in; redeems nothing.
pub async fn show(store: web::Data<Store>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    let found = match find(store, token.clone()).await {
        Ok(Some(found)) => found,
        Ok(None) => return unknown(),
        Err(err) => {
            tracing::warn!(error = %err, "could not look an invitation up");
            return unavailable();
        }
    };
    if let Err(refusal) = found.invitation.acceptable(Timestamp::now()) {
        return link_refused(refusal);
    }
    let token = escape_html(&token);
    let email = escape_html(found.invitation.email.as_str());
    let sso = if found.has_sso {
        format!(
            "<section><h2>Sign in with your company account</h2><p>Sign in through single \
             sign-on as <strong>{email}</strong>.</p><form method=\"post\" \
             action=\"/invitations/{token}/sso\"><button type=\"submit\">Sign in with SSO\
             </button></form></section>"
        )
    } else {
        String::new()
    };
    let password = if found.workspace.sso_enforced {
        "<p class=\"muted\">This workspace requires single sign-on: there is no password to \
         set.</p>"
            .to_owned()
    } else {
        format!(
            "<section><h2>Set a password</h2><p>Your user name will be <strong>{email}</strong>.\
             </p><form method=\"post\" action=\"/invitations/{token}/password\">\
             <label for=\"password\">Password (at least {MIN_PASSWORD_CHARS} characters)</label>\
             <input id=\"password\" name=\"password\" type=\"password\" required \
             autocomplete=\"new-password\" minlength=\"{MIN_PASSWORD_CHARS}\">\
             <label for=\"confirm\">The same password again</label>\
             <input id=\"confirm\" name=\"confirm\" type=\"password\" required \
             autocomplete=\"new-password\"> <button type=\"submit\">Set password</button>\
             </form></section>"
        )
    };
    page(
        StatusCode::OK,
        "Admin invitation",
        &format!(
            "<h1>Become an admin of {name}</h1><p>You were invited to administer \
             <strong>{name}</strong> in Roster.</p>{sso}{password}\
             <p class=\"muted\">The invitation works once.</p>",
            name = escape_html(&found.workspace.name),
        ),
    )
}

/// The form of the password page.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    password: String,
    confirm: String,
}

fn accepted(workspace: &Workspace, user_name: &str) -> HttpResponse {
    page(
        StatusCode::OK,
        "You are an admin",
        &format!(
            "<h1>You are an admin of {}</h1><p>Sign in to the console as <strong>{}</strong> \
             with the password you chose.</p><p><a href=\"/admin\">Open the console</a></p>",
            escape_html(&workspace.name),
            escape_html(user_name)
        ),
    )
}

fn refusal_page(refusal: InvitationRefusal) -> HttpResponse {
    match refusal {
        InvitationRefusal::Link(link) => link_refused(link),
        InvitationRefusal::AccountExists => refused(
            StatusCode::CONFLICT,
            "An account with this email already exists: sign in with SSO instead, or ask an \
             admin to make that account an admin.",
            "account_exists",
        ),
        InvitationRefusal::OtherEmail => refused(
            StatusCode::FORBIDDEN,
            "You signed in as someone else than the invited email. Sign out and sign in as the \
             invited person.",
            "other_email",
        ),
    }
}

/// `POST /invitations/{token}/password`: accepts with a new account and its password.
pub async fn accept_with_password(
    req: HttpRequest,
    store: web::Data<Store>,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    if cross_site(&req) {
        return refused(
            StatusCode::FORBIDDEN,
            "The request did not come from the invitation page. Open the link again.",
            "cross_site",
        );
    }
    let token = token.into_inner();
    let form = form.into_inner();
    let found = match find(store.clone(), token.clone()).await {
        Ok(Some(found)) => found,
        Ok(None) => return unknown(),
        Err(_) => return unavailable(),
    };
    if found.workspace.sso_enforced {
        return refused(
            StatusCode::FORBIDDEN,
            "This workspace requires single sign-on: sign in with SSO instead.",
            "sso_required",
        );
    }
    if form.password.chars().count() < MIN_PASSWORD_CHARS || form.password != form.confirm {
        return refused(
            StatusCode::BAD_REQUEST,
            "The two passwords must match and have at least 12 characters. Go back and try again.",
            "weak_password",
        );
    }
    let Ok(hash) = password::hash_password(&form.password) else {
        return unavailable();
    };
    let outcome =
        roster_store::blocking(move || store.accept_admin_invitation_with_password(&token, &hash))
            .await;
    match outcome {
        Ok(Ok((_, user))) => accepted(&found.workspace, user.user_name.as_str()),
        Ok(Err(refusal)) => refusal_page(refusal),
        Err(StoreError::NotFound { .. }) => unknown(),
        Err(err) => {
            tracing::warn!(error = %err, "could not accept an invitation");
            unavailable()
        }
    }
}

fn invitation_cookie(value: String, secure: bool, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(INVITATION_COOKIE, value)
        .path("/invitations")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

/// `POST /invitations/{token}/sso`: keeps the invitation in a cookie and starts the SSO login.
pub async fn start_sso(
    req: HttpRequest,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    token: web::Path<String>,
) -> HttpResponse {
    if cross_site(&req) {
        return refused(
            StatusCode::FORBIDDEN,
            "The request did not come from the invitation page. Open the link again.",
            "cross_site",
        );
    }
    let token = token.into_inner();
    let found = match find(store, token.clone()).await {
        Ok(Some(found)) => found,
        Ok(None) => return unknown(),
        Err(_) => return unavailable(),
    };
    if let Err(refusal) = found.invitation.acceptable(Timestamp::now()) {
        return link_refused(refusal);
    }
    let login = format!(
        "/sso/{}/login?email={}&return_to=%2Finvitations%2Fcomplete",
        found.workspace.slug.as_str(),
        url::form_urlencoded::byte_serialize(found.invitation.email.as_str().as_bytes())
            .collect::<String>(),
    );
    HttpResponse::SeeOther()
        .cookie(invitation_cookie(
            token,
            settings.public_url.starts_with("https://"),
            CookieDuration::seconds(SSO_ROUND_TRIP_SECONDS),
        ))
        .insert_header((header::LOCATION, login))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `GET /invitations/complete`: back from the SSO login; the signed-in user becomes admin if
/// they are the invited email.
pub async fn complete_sso(
    req: HttpRequest,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    sessions: Option<web::Data<Sessions>>,
) -> HttpResponse {
    let Some(token) = req.cookie(INVITATION_COOKIE).map(|c| c.value().to_owned()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "No invitation is in progress in this browser. Open the invitation link again.",
            "no_invitation",
        );
    };
    let session = req
        .cookie("roster_session")
        .and_then(|c| sessions.as_ref()?.verify_session(c.value()));
    let Some(session) = session.filter(|s| s.via_sso) else {
        return refused(
            StatusCode::FORBIDDEN,
            "The single sign-on did not complete. Open the invitation link again.",
            "not_signed_in",
        );
    };
    let outcome = roster_store::blocking(move || {
        let invitation = store
            .admin_invitation_by_token(&token)?
            .ok_or(StoreError::NotFound {
                what: "admin invitation",
            })?;
        if invitation.workspace_id != session.workspace_id {
            return Ok(Err(InvitationRefusal::OtherEmail));
        }
        store.accept_admin_invitation_as(&token, session.user_id)
    })
    .await;
    let clear = invitation_cookie(
        String::new(),
        settings.public_url.starts_with("https://"),
        CookieDuration::ZERO,
    );
    let mut answer = match outcome {
        Ok(Ok(_)) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin"))
            .finish(),
        Ok(Err(refusal)) => refusal_page(refusal),
        Err(StoreError::NotFound { .. }) => unknown(),
        Err(err) => {
            tracing::warn!(error = %err, "could not accept an invitation");
            unavailable()
        }
    };
    if answer.add_cookie(&clear).is_err() {
        tracing::warn!("could not clear the invitation cookie");
    }
    answer
}

/// Mounts `/invitations/…` on the server's root.
pub fn configure_invitation_pages(cfg: &mut web::ServiceConfig, settings: AdminSettings) {
    cfg.service(
        web::scope("/invitations")
            .app_data(web::Data::new(settings))
            .route("/complete", web::get().to(complete_sso))
            .route("/{token}", web::get().to(show))
            .route("/{token}/password", web::post().to(accept_with_password))
            .route("/{token}/sso", web::post().to(start_sso)),
    );
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/admins/invitations",
        "listAdminInvitations",
        "The workspace's admin invitations with their state (never their link)",
    )
    .answers(200, schema::<InvitationList>),
    Operation::post(
        "/admins/invitations",
        "createAdminInvitation",
        "A one-time link to become an admin: set a password, or sign in with the workspace's SSO",
    )
    .body(schema::<CreateInvitation>)
    .answers(201, schema::<CreatedInvitation>),
    Operation::delete(
        "/admins/invitations/{id}",
        "revokeAdminInvitation",
        "Revoke an admin invitation: its link no longer opens",
    )
    .answers(200, schema::<InvitationView>),
];
