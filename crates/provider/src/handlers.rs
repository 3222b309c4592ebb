//! The provider's HTTP endpoints. Each one reads the request, asks the state or one rule, and
//! renders; errors are [`ProviderError`]s, answered in `error.rs`.

use std::net::IpAddr;

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use roster_sso::browser::{check_request_origin, flow_cookie};
use roster_sso::flow::expired_session_cookie;
use roster_sso::session::SESSION_COOKIE;
use roster_store::domain::Timestamp;
use roster_store::StoreError;

use crate::authorize::AuthorizeParams;
use crate::logout::{LogoutAnswer, LogoutParams, LOGOUT_PATH};
use crate::pages;
use crate::sign_in::{Answer, REQUEST_COOKIE};
use crate::{ProviderError, ProviderState};

/// How long clients may cache the metadata (it changes only with `server.public_url`).
const METADATA_MAX_AGE: &str = "public, max-age=3600";
/// How long clients may cache the JWKS. Shorter than the lead with which a rotation publishes
/// the next key, so a cached set always holds it before its first token.
const JWKS_MAX_AGE: &str = "public, max-age=300";

/// `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`,
/// RFC 8414, with the same document).
pub(crate) async fn metadata(state: web::Data<ProviderState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, METADATA_MAX_AGE))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(state.metadata())
}

/// `GET /.well-known/jwks.json`: the keys of session tokens and of the provider's tokens.
pub(crate) async fn jwks(state: web::Data<ProviderState>) -> Result<HttpResponse, ProviderError> {
    let state = state.into_inner();
    let set = web::block(move || state.jwks_at(Timestamp::now()))
        .await
        .map_err(|_| StoreError::Unavailable("no worker to read the keys".to_owned()))??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, JWKS_MAX_AGE))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(set))
}

/// The request's `Authorization` header, when it is text.
fn authorization(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// A client-authenticated form endpoint's answer (token, revocation): what it reads of the
/// request — the `Authorization` header, the body and the TCP peer, which behind a reverse proxy
/// is the proxy (as for the password throttle) — and the clock.
type ClientForm<T> =
    fn(&ProviderState, Option<&str>, &[u8], Option<IpAddr>, Timestamp) -> Result<T, ProviderError>;

/// Runs a client-authenticated form endpoint off the async workers.
async fn client_form<T: Send + 'static>(
    state: web::Data<ProviderState>,
    request: &HttpRequest,
    body: web::Bytes,
    answer: ClientForm<T>,
) -> Result<T, ProviderError> {
    let state = state.into_inner();
    let authorization = authorization(request);
    let address = request.peer_addr().map(|peer| peer.ip());
    roster_store::blocking(move || {
        answer(
            &state,
            authorization.as_deref(),
            &body,
            address,
            Timestamp::now(),
        )
    })
    .await
}

/// `POST /oauth2/token` (RFC 6749 §3.2): the answer is never cached (§5.1).
pub(crate) async fn token(
    state: web::Data<ProviderState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let origin = allowed_origin(&state, &request).await;
    let response = match client_form(state, &request, body, crate::token::exchange).await {
        Ok(answer) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(answer),
        Err(err) => err.error_response(),
    };
    with_origin(response, origin)
}

/// `POST /oauth2/revoke` (RFC 7009): 200 with an empty body whether or not the token was known.
pub(crate) async fn revoke(
    state: web::Data<ProviderState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let origin = allowed_origin(&state, &request).await;
    let response = match client_form(state, &request, body, crate::revoke::revoke).await {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(err) => err.error_response(),
    };
    with_origin(response, origin)
}

/// `OPTIONS` of the token and revocation endpoints: the CORS preflight, granted to the origins
/// of public apps only ([`crate::cors`]).
pub(crate) async fn preflight(
    state: web::Data<ProviderState>,
    request: HttpRequest,
) -> HttpResponse {
    let origin = allowed_origin(&state, &request).await;
    let mut response = HttpResponse::NoContent();
    if origin.is_some() {
        response
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    }
    with_origin(response.finish(), origin)
}

/// The request's `Origin` when a public app registered it; `None` otherwise (and when the
/// apps cannot be read: then the browser gets no access, the answer itself is unchanged).
async fn allowed_origin(state: &web::Data<ProviderState>, request: &HttpRequest) -> Option<String> {
    let origin = request
        .headers()
        .get(header::ORIGIN)?
        .to_str()
        .ok()?
        .to_owned();
    let state = state.clone().into_inner();
    let checked = origin.clone();
    match roster_store::blocking(move || state.allows_origin(&checked)).await {
        Ok(true) => Some(origin),
        Ok(false) => None,
        Err(err) => {
            tracing::warn!(error = %err, "cannot check a CORS origin");
            None
        }
    }
}

/// `response`, readable by pages of `origin` when one is given; `Vary: Origin` always, since
/// the answer depends on it.
fn with_origin(mut response: HttpResponse, origin: Option<String>) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
    if let Some(value) = origin.and_then(|origin| header::HeaderValue::from_str(&origin).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::HeaderValue::from_static("WWW-Authenticate, Retry-After"),
        );
    }
    response
}

/// `GET`/`POST /oauth2/userinfo` (Core §5.3) with the access token as a Bearer header. Any
/// origin may read the answer (a bearer token, never a cookie, authorizes it).
pub(crate) async fn userinfo(
    state: web::Data<ProviderState>,
    request: HttpRequest,
) -> HttpResponse {
    let state = state.into_inner();
    let authorization = authorization(&request);
    let claims = roster_store::blocking(move || {
        let token = crate::userinfo::bearer_token(authorization.as_deref());
        crate::userinfo::userinfo(&state, token, Timestamp::now())
    })
    .await;
    let mut response = match claims {
        Ok(claims) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(claims),
        Err(err) => err.error_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("WWW-Authenticate"),
    );
    response
}

/// `OPTIONS /oauth2/userinfo`: the CORS preflight of a bearer request, for any origin.
pub(crate) async fn userinfo_preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Authorization"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish()
}

/// `GET /oauth2/authorize` (parameters in the query) and `POST` (in a form body, Core §3.1.2.1).
pub(crate) async fn authorize(
    state: web::Data<ProviderState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ProviderError> {
    let text = if request.method() == actix_web::http::Method::POST {
        std::str::from_utf8(&body)
            .map_err(|_| ProviderError::MalformedAuthorizeRequest("not UTF-8".to_owned()))?
    } else {
        request.query_string()
    };
    let params = web::Query::<AuthorizeParams>::from_query(text)
        .map_err(|err| ProviderError::MalformedAuthorizeRequest(err.to_string()))?
        .into_inner();
    let session = cookie(&request, SESSION_COOKIE);
    let state = state.into_inner();
    let secure = state.issuer().starts_with("https://");
    let answer = roster_store::blocking(move || {
        crate::sign_in::authorize(&state, params, session.as_deref(), Timestamp::now())
    })
    .await?;
    Ok(match answer {
        Answer::ToApp(location) => redirect(location).finish(),
        Answer::ToLogin { location, binding } => redirect(location)
            .cookie(request_cookie(binding, secure))
            .finish(),
        Answer::AskEmail { params, message } => pages::response(
            actix_web::http::StatusCode::OK,
            &pages::email_first(&params, message.as_deref()),
        ),
    })
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ResumeQuery {
    request: String,
}

/// `GET /oauth2/authorize/resume`: where the upstream login sends the browser back.
pub(crate) async fn resume(
    state: web::Data<ProviderState>,
    request: HttpRequest,
) -> Result<HttpResponse, ProviderError> {
    let query = web::Query::<ResumeQuery>::from_query(request.query_string())
        .map_err(|_| ProviderError::AuthorizationExpired)?
        .into_inner();
    let session = cookie(&request, SESSION_COOKIE);
    let binding = cookie(&request, REQUEST_COOKIE);
    let state = state.into_inner();
    let secure = state.issuer().starts_with("https://");
    let location = roster_store::blocking(move || {
        crate::sign_in::resume(
            &state,
            &query.request,
            binding.as_deref(),
            session.as_deref(),
            Timestamp::now(),
        )
    })
    .await?;
    let mut spent = request_cookie(String::new(), secure);
    spent.make_removal();
    Ok(redirect(location).cookie(spent).finish())
}

/// A 303 (the next request is a GET, also after a POSTed authorization request) that no cache
/// keeps; the same status as the errors sent back to the app.
fn redirect(location: String) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

fn cookie(request: &HttpRequest, name: &str) -> Option<String> {
    request.cookie(name).map(|cookie| cookie.value().to_owned())
}

/// The cookie binding a stored authorization request to this browser, sent only to `/oauth2`.
fn request_cookie(value: String, secure: bool) -> Cookie<'static> {
    flow_cookie(
        REQUEST_COOKIE,
        value,
        "/oauth2",
        roster_store::AUTH_REQUEST_TTL_SECONDS,
        secure,
    )
}

/// `GET`/`POST /oauth2/logout` (RP-Initiated Logout 1.0). A POST confirms only when it carries
/// `confirm=yes` and came from Roster's own origin (the confirmation page's button); a
/// cross-origin one is asked again, and nothing ends.
pub(crate) async fn logout(
    state: web::Data<ProviderState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ProviderError> {
    let post = request.method() == actix_web::http::Method::POST;
    let text = if post {
        std::str::from_utf8(&body).map_err(|_| ProviderError::LogoutRefused("invalid_request"))?
    } else {
        request.query_string()
    };
    let params = web::Query::<LogoutParams>::from_query(text)
        .map_err(|_| ProviderError::LogoutRefused("invalid_request"))?
        .into_inner();
    let confirmed = post
        && params.confirm.as_deref() == Some("yes")
        && check_request_origin(&request, state.issuer()).is_ok();
    let session = cookie(&request, SESSION_COOKIE);
    let state = state.into_inner();
    let secure = state.issuer().starts_with("https://");
    let answer = roster_store::blocking(move || {
        crate::logout::logout(
            &state,
            params,
            session.as_deref(),
            confirmed,
            Timestamp::now(),
        )
    })
    .await?;
    // A session a SAML login made: the IdP ends its own session first, and its answer brings
    // the browser on to where the logout was going (the app's URI, else Roster's `/`).
    let answer = match (
        answer,
        request.app_data::<web::Data<roster_sso::SsoState>>(),
    ) {
        (
            LogoutAnswer::SignedOut {
                location,
                ended_session: Some(sid),
            },
            Some(sso),
        ) => {
            let (sso, return_to) = (
                sso.clone(),
                location.clone().unwrap_or_else(|| "/".to_owned()),
            );
            let to_idp = roster_store::blocking(move || {
                roster_sso::idp_logout_redirect(&sso, &sid, &return_to)
            })
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cannot start SAML Single Logout; signed out of Roster only");
                None
            });
            if let Some((idp_location, binding)) = to_idp {
                return Ok(redirect(idp_location)
                    .cookie(expired_session_cookie(secure))
                    .cookie(binding)
                    .finish());
            }
            LogoutAnswer::SignedOut {
                location,
                ended_session: None,
            }
        }
        (answer, _) => answer,
    };
    Ok(match answer {
        LogoutAnswer::Confirm(params) => pages::response(
            actix_web::http::StatusCode::OK,
            &roster_sso::pages::confirm_app_sign_out(LOGOUT_PATH, &params.hidden_fields()),
        ),
        LogoutAnswer::SignedOut {
            location: Some(location),
            ..
        } => redirect(location)
            .cookie(expired_session_cookie(secure))
            .finish(),
        LogoutAnswer::SignedOut { location: None, .. } => {
            let mut page = pages::response(
                actix_web::http::StatusCode::OK,
                &roster_sso::pages::signed_out(),
            );
            page.add_cookie(&expired_session_cookie(secure))
                .map_err(|err| ProviderError::Key(format!("cannot set a cookie: {err}")))?;
            page
        }
    })
}
