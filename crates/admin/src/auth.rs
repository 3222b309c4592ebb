//! Admin API authentication, two ways:
//! - `Authorization: Bearer <API key>` for automation: acts as an admin whose session did not
//!   come from SSO (the policy treats it so);
//! - `Authorization: Bearer <operator key>` on `/api/v1/operator/workspaces/{workspace}/…`, the
//!   same routes mounted a second time for the SaaS operator ([`crate::operator`]): the workspace
//!   comes from the path, and the audit trail names the operator key;
//! - the `roster_session` cookie of any user of the workspace, for the console. Writes
//!   authenticated by the cookie must echo the session's CSRF token in `X-CSRF-Token` (from
//!   `GET /api/v1/admin/session`): a cross-site form or script can send the cookie but can
//!   neither read nor compute the token;
//! - the `roster_setup` cookie of a setup session (a redeemed setup link,
//!   [`crate::setup_links`]): an admin of its workspace inside the areas its intent opens
//!   (`roster_policy::setup`), refused `setup_scope` on any other route before the route runs,
//!   audited as the link. It takes precedence over `roster_session`, so an IT admin who is also
//!   signed in elsewhere sees the setup they were sent.
//!
//! This module only says *who* calls ([`Principal`]) and whether that user holds the `admin`
//! role; it never refuses a non-admin itself. What the caller may do is the policy's
//! (`roster_policy::admin::allowed`), asked through [`permit`], which is the only way from a
//! principal to its workspace id and audit actor.
//!
//! Keys and tokens are never logged.

pub(crate) mod permit;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use roster_policy::setup::{self as setup_policy, Area as SetupArea};
use roster_sso::session::Sessions;
use roster_store::domain::{
    Actor, SecretKind, SecretToken, TokenId, UserId, WorkspaceId, ADMIN_ROLE,
};
use roster_store::{SetupLink, Store};
use subtle::ConstantTimeEq;

use crate::error::{AdminCode, AdminError};
use crate::openapi::{schema, Operation};

/// How an admin authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    ApiKey(TokenId),
    /// The operator's key, on `/api/v1/operator/workspaces/{workspace}/…`: the workspace comes
    /// from the path.
    OperatorKey(TokenId),
    Session {
        user_id: UserId,
        via_sso: bool,
        csrf_token: String,
    },
    /// A setup session: the link that opened it, and its CSRF token.
    Setup {
        link: Box<SetupLink>,
        csrf_token: String,
    },
}

/// The cookie of a setup session.
pub const SETUP_COOKIE: &str = "roster_setup";

/// The CSRF token of a setup session: derived from its secret cookie, so nothing more is
/// stored, and unknowable to a page that cannot read the cookie.
pub(crate) fn setup_csrf_token(session_token: &str) -> String {
    roster_sso::browser::sha256_hex(&format!("roster-setup-csrf:{session_token}"))
}

/// The setup area of the admin route a request matched (`AdminOnly` for none).
fn route_area(req: &HttpRequest) -> SetupArea {
    let method = req.method().as_str().to_ascii_lowercase();
    let Some(template) = req
        .match_pattern()
        .and_then(|pattern| pattern.strip_prefix(crate::ADMIN_PREFIX).map(str::to_owned))
    else {
        return SetupArea::AdminOnly;
    };
    crate::ROUTES
        .iter()
        .zip(crate::ROUTE_AREAS)
        .find(|((m, path), _)| *m == method && *path == template)
        .map_or(SetupArea::AdminOnly, |(_, area)| *area)
}

/// The refusal of a route outside a setup session's intent.
pub(crate) fn setup_scope_refusal() -> AdminError {
    AdminError::new(
        AdminCode::Forbidden,
        "a setup session reaches only the part of the console its link was made for",
    )
    .with_detail(serde_json::json!({ "refusal": "setup_scope" }))
}

/// An authenticated caller of the admin API: an API key, or a session of a user of the
/// workspace, admin or not. Its fields are private to this module and [`permit`]: a handler
/// reaches the workspace only through a [`permit::Permit`] the policy granted.
#[derive(Debug, Clone)]
pub struct Principal {
    workspace_id: WorkspaceId,
    credential: Credential,
    /// An API key, or a session user whose effective roles include `admin`.
    has_admin_role: bool,
}

impl Principal {
    /// The actor recorded in the audit trail.
    fn audit_actor(&self) -> Actor {
        let id = match &self.credential {
            Credential::ApiKey(key) => format!("api_key:{key}"),
            Credential::Session { user_id, .. } => format!("user:{user_id}"),
            Credential::OperatorKey(key) => {
                return Actor::Operator {
                    key_id: key.to_string(),
                }
            }
            Credential::Setup { link, .. } => return link.actor(),
        };
        Actor::Admin { id }
    }

    /// The user whose session calls, if any (an API key is nobody's account).
    fn acting_user(&self) -> Option<UserId> {
        match &self.credential {
            Credential::ApiKey(_) | Credential::OperatorKey(_) | Credential::Setup { .. } => None,
            Credential::Session { user_id, .. } => Some(*user_id),
        }
    }

    /// The link of a setup session.
    pub(crate) fn setup_link(&self) -> Option<&SetupLink> {
        match &self.credential {
            Credential::Setup { link, .. } => Some(link),
            _ => None,
        }
    }

    /// The actor as the policy sees it.
    fn policy_actor(&self) -> roster_policy::admin::Actor {
        roster_policy::admin::Actor {
            is_admin: self.has_admin_role,
            signed_in_with_sso: matches!(
                self.credential,
                Credential::Session { via_sso: true, .. }
            ),
        }
    }
}

pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim().to_owned())
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequest for Principal {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let bearer = bearer(req);
        let cookie = req.cookie("roster_session").map(|c| c.value().to_owned());
        let setup_cookie = req.cookie(SETUP_COOKIE).map(|c| c.value().to_owned());
        // Only a setup session is scoped by route: nobody else pays for the lookup.
        let area = setup_cookie.as_ref().map(|_| route_area(req));
        let csrf_header = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let write = is_write(req.method());
        let store = req.app_data::<web::Data<Store>>().cloned();
        let verifier = req.app_data::<web::Data<Sessions>>().cloned();
        // Mounted under `/api/v1/operator/workspaces/{workspace}`: the operator's entry point.
        let operator_scope = req.match_info().get("workspace").map(str::to_owned);
        Box::pin(async move {
            let store = store.ok_or_else(|| AdminError::internal("internal error"))?;
            if let Some(workspace) = operator_scope {
                let (key_id, workspace_id) =
                    crate::operator::authenticate_for_workspace(store, bearer, workspace).await?;
                return Ok(Principal {
                    workspace_id,
                    credential: Credential::OperatorKey(key_id),
                    has_admin_role: true,
                });
            }
            if let Some(token) = bearer {
                if SecretToken::from_presented(&token).claims(SecretKind::OperatorKey) {
                    return Err(AdminError::new(
                        AdminCode::Forbidden,
                        "an operator key calls the operator API: /api/v1/operator/workspaces/{workspace}/…",
                    )
                    .with_detail(serde_json::json!({ "refusal": "operator_key" })));
                }
                let principal =
                    roster_store::blocking(move || store.authenticate_api_key(&token)).await?;
                return Ok(Principal {
                    workspace_id: principal.workspace_id,
                    credential: Credential::ApiKey(principal.key_id),
                    has_admin_role: true,
                });
            }
            if let (Some(token), Some(area)) = (setup_cookie, area) {
                return setup_principal(store, token, area, write, csrf_header).await;
            }
            let (Some(token), Some(verifier)) = (cookie, verifier) else {
                return Err(AdminError::unauthorized(
                    "sign in, or send Authorization: Bearer <API key>",
                ));
            };
            let principal = roster_store::blocking(move || -> Result<Principal, AdminError> {
                let session = verifier.verify_session(&token).ok_or_else(|| {
                    AdminError::unauthorized("the session is invalid or has ended")
                })?;
                let workspace = store.workspace(session.workspace_id)?;
                let roles = store.effective_roles(&workspace, session.user_id)?;
                Ok(Principal {
                    workspace_id: session.workspace_id,
                    credential: Credential::Session {
                        user_id: session.user_id,
                        via_sso: session.via_sso,
                        csrf_token: session.csrf_token,
                    },
                    has_admin_role: roles.roles.iter().any(|r| r.as_str() == ADMIN_ROLE),
                })
            })
            .await?;
            if write {
                if let Credential::Session { csrf_token, .. } = &principal.credential {
                    check_csrf(csrf_header, csrf_token)?;
                }
            }
            Ok(principal)
        })
    }
}

/// Checks an echoed CSRF token against the session's, in constant time.
fn check_csrf(echoed: Option<String>, expected: &str) -> Result<(), AdminError> {
    let echoed = echoed.unwrap_or_default();
    if bool::from(echoed.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(AdminError::new(
            AdminCode::Csrf,
            "send the session's CSRF token (GET /api/v1/admin/session) in X-CSRF-Token",
        ))
    }
}

/// A setup session's principal, refused outside its intent's areas before anything else.
async fn setup_principal(
    store: web::Data<Store>,
    token: String,
    area: SetupArea,
    write: bool,
    csrf_header: Option<String>,
) -> Result<Principal, AdminError> {
    let csrf_token = setup_csrf_token(&token);
    let link = roster_store::blocking(move || store.setup_session(&token))
        .await?
        .ok_or_else(|| AdminError::unauthorized("the setup session is invalid or has ended"))?;
    if !setup_policy::reaches(link.intent, area) {
        return Err(setup_scope_refusal());
    }
    if write {
        check_csrf(csrf_header, &csrf_token)?;
    }
    Ok(Principal {
        workspace_id: link.workspace_id,
        credential: Credential::Setup {
            link: Box::new(link),
            csrf_token,
        },
        has_admin_role: true,
    })
}

/// Who is calling: an API key, or a console session with its CSRF token.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub workspace_id: String,
    /// The API key's id, when an API key calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// The operator key's id, when the operator API calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_key_id: Option<String>,
    /// The signed-in admin, for a console session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub signed_in_with_sso: bool,
    /// What a console session sends in `X-CSRF-Token` with each write; null for an API key.
    pub csrf_token: Option<String>,
    /// A setup session's link, intent and workspace: the console shows only the guided setup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupSessionView>,
}

/// What a setup session is for, for the console.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupSessionView {
    pub link_id: String,
    /// `sso`, `scim`, `domain` or `all`.
    pub intent: String,
    /// When the session ends (at most an hour after the link was opened).
    pub expires_at: Option<String>,
    /// Where "Done" sends the visitor, if anywhere.
    pub return_url: Option<String>,
    pub workspace: SetupWorkspaceView,
}

/// The workspace being set up.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupWorkspaceView {
    pub slug: String,
    pub display_name: String,
}

/// `GET /session`: who is signed in, and the CSRF token the console sends with writes (a
/// non-admin's session is refused like every other read, so the console shows the reason).
pub async fn session(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<actix_web::HttpResponse, AdminError> {
    let caller = principal.clone();
    let (permit, workspace) = roster_store::blocking(move || {
        let permit = permit::require_read(&store, &caller)?;
        // Only a setup session's answer names the workspace.
        let workspace = match caller.setup_link() {
            Some(_) => Some(store.workspace(permit.workspace_id())?),
            None => None,
        };
        Ok::<_, AdminError>((permit, workspace))
    })
    .await?;
    let workspace_id = permit.workspace_id().to_string();
    let body = match &principal.credential {
        Credential::ApiKey(key) => SessionView {
            workspace_id,
            api_key_id: Some(key.to_string()),
            operator_key_id: None,
            user_id: None,
            signed_in_with_sso: false,
            csrf_token: None,
            setup: None,
        },
        Credential::OperatorKey(key) => SessionView {
            workspace_id,
            api_key_id: None,
            operator_key_id: Some(key.to_string()),
            user_id: None,
            signed_in_with_sso: false,
            csrf_token: None,
            setup: None,
        },
        Credential::Session {
            user_id,
            via_sso,
            csrf_token,
        } => SessionView {
            workspace_id,
            api_key_id: None,
            operator_key_id: None,
            user_id: Some(user_id.to_string()),
            signed_in_with_sso: *via_sso,
            csrf_token: Some(csrf_token.clone()),
            setup: None,
        },
        Credential::Setup { link, csrf_token } => SessionView {
            workspace_id,
            api_key_id: None,
            operator_key_id: None,
            user_id: None,
            signed_in_with_sso: false,
            csrf_token: Some(csrf_token.clone()),
            setup: workspace.map(|workspace| SetupSessionView {
                link_id: link.id.to_string(),
                intent: link.intent.as_str().to_owned(),
                expires_at: link.session_expires_at.map(|at| at.to_rfc3339()),
                return_url: link.return_url.clone(),
                workspace: SetupWorkspaceView {
                    slug: workspace.slug.as_str().to_owned(),
                    display_name: workspace.name,
                },
            }),
        },
    };
    Ok(actix_web::HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[Operation::get(
    "/session",
    "getSession",
    "Who is signed in, and the CSRF token for cookie-authenticated writes",
)
.answers(200, schema::<SessionView>)];
