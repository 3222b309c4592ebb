//! The provider's HTTP endpoints. Each one reads the request, asks the state or one rule, and
//! renders; errors are [`ProviderError`]s, answered in `error.rs`.

use std::net::IpAddr;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_sso::session::SESSION_COOKIE;
use roster_store::domain::Timestamp;
use roster_store::StoreError;

use crate::authorize::AuthorizeParams;
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

/// Runs blocking provider work (store, signatures) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProviderError> + Send + 'static,
) -> Result<T, ProviderError> {
    web::block(work)
        .await
        .map_err(|_| StoreError::Unavailable("no worker to answer".to_owned()))?
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
    blocking(move || {
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
) -> Result<HttpResponse, ProviderError> {
    let answer = client_form(state, &request, body, crate::token::exchange).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}

/// `POST /oauth2/revoke` (RFC 7009): 200 with an empty body whether or not the token was known.
pub(crate) async fn revoke(
    state: web::Data<ProviderState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ProviderError> {
    client_form(state, &request, body, crate::revoke::revoke).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `GET`/`POST /oauth2/userinfo` (Core §5.3) with the access token as a Bearer header.
pub(crate) async fn userinfo(
    state: web::Data<ProviderState>,
    request: HttpRequest,
) -> Result<HttpResponse, ProviderError> {
    let state = state.into_inner();
    let authorization = authorization(&request);
    let claims = blocking(move || {
        let token = crate::userinfo::bearer_token(authorization.as_deref());
        crate::userinfo::userinfo(&state, token, Timestamp::now())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(claims))
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
    let answer = blocking(move || {
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
    let location = blocking(move || {
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

/// The cookie binding a stored authorization request to this browser: sent only to `/oauth2`,
/// readable by no script, and (over https) sent on the cross-site return from the IdP.
fn request_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(REQUEST_COOKIE, value)
        .path("/oauth2")
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(actix_web::cookie::time::Duration::seconds(
            roster_store::AUTH_REQUEST_TTL_SECONDS,
        ))
        .finish()
}
