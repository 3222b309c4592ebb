//! `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes` (RFC 7644 §4). Served without a
//! token, like most SCIM servers: they describe the server, not any tenant's data. With a valid
//! token they also describe the custom extensions that token's workspace declares.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::auth::ScimClient;
use crate::discovery::{self, Capabilities};
use crate::error::ScimError;
use crate::respond::scim_json;
use crate::settings::ScimSettings;

/// What this build supports, stated truthfully.
pub fn capabilities(settings: &ScimSettings) -> Capabilities {
    Capabilities {
        patch: true,
        bulk: true,
        bulk_max_operations: u32::try_from(settings.max_bulk_operations).unwrap_or(u32::MAX),
        max_payload_bytes: settings.max_body_bytes as u64,
        filter: true,
        filter_max_results: u32::try_from(settings.max_page_size).unwrap_or(u32::MAX),
        sort: true,
        etag: true,
        change_password: false,
        cursor_pagination: true,
        default_page_size: u32::try_from(settings.default_page_size).unwrap_or(100),
        max_page_size: u32::try_from(settings.max_page_size).unwrap_or(1000),
        // Cursors are keyset positions: they never expire; a day is what we promise.
        cursor_timeout_secs: 86_400,
    }
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(settings: web::Data<ScimSettings>) -> HttpResponse {
    let body = discovery::service_provider_config(&settings.base_url, &capabilities(&settings));
    scim_json(StatusCode::OK, &body, None)
}

/// The declared attributes of the token's workspace; none without a (valid) token.
fn declared(client: &Option<ScimClient>) -> &[roster_store::AttributeMapping] {
    client.as_ref().map_or(&[], ScimClient::attributes)
}

/// `GET /Schemas`.
pub async fn schemas(
    settings: web::Data<ScimSettings>,
    client: Option<ScimClient>,
) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::list_response(discovery::schemas(&settings.base_url, declared(&client))),
        None,
    )
}

/// `GET /Schemas/{id}`.
pub async fn schema(
    settings: web::Data<ScimSettings>,
    client: Option<ScimClient>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let body = discovery::schema(&settings.base_url, &id, declared(&client))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))?;
    Ok(scim_json(StatusCode::OK, &body, None))
}

/// `GET /ResourceTypes`.
pub async fn resource_types(
    settings: web::Data<ScimSettings>,
    client: Option<ScimClient>,
) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::list_response(discovery::resource_types(
            &settings.base_url,
            declared(&client),
        )),
        None,
    )
}

/// `GET /ResourceTypes/{name}`.
pub async fn resource_type(
    settings: web::Data<ScimSettings>,
    client: Option<ScimClient>,
    name: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let body = discovery::resource_type(&settings.base_url, &name, declared(&client))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name}")))?;
    Ok(scim_json(StatusCode::OK, &body, None))
}
