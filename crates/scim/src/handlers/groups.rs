//! `/Groups`: list (GET and `.search`), create, read, replace, patch, delete. Members are loaded
//! only when the response includes them, and PATCH answers 204 unless the client asks for
//! attributes, so large groups cost what a request changes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::Store;

use crate::auth::ScimClient;
use crate::body::json_body;
use crate::error::ScimError;
use crate::list::{list_response, ListParams};
use crate::ops::{self, render_group_with, Ctx};
use crate::projection::Projection;
use crate::respond::{if_match, query_pairs, run_op, scim_json};
use crate::settings::ScimSettings;
use crate::translate::{Declared, GroupResource};

type StoreData = web::Data<Store>;
type SettingsData = web::Data<ScimSettings>;

async fn list(
    client: ScimClient,
    store: StoreData,
    settings: SettingsData,
    params: ListParams,
) -> Result<HttpResponse, ScimError> {
    let request = params.parse::<GroupResource>(&settings, &Declared::none())?;
    let body = roster_store::blocking(move || {
        let ctx = Ctx {
            client: &client,
            store: &store,
            settings: &settings,
        };
        let listing = store.scim_list_groups(client.scope(), &request.query)?;
        let last_id = listing.items.last().map(|g| g.id.to_string());
        let resources = listing
            .items
            .iter()
            .map(|group| render_group_with(&ctx, group, &request.projection))
            .collect::<Result<Vec<_>, ScimError>>()?;
        Ok::<_, ScimError>(list_response(&request, resources, last_id, listing.total))
    })
    .await?;
    Ok(scim_json(StatusCode::OK, &body, None))
}

/// `GET /Groups`.
pub async fn get_list(
    client: ScimClient,
    req: HttpRequest,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    list(
        client,
        store,
        settings,
        ListParams::from_pairs(&query_pairs(&req)?),
    )
    .await
}

/// `POST /Groups/.search`.
pub async fn search(
    client: ScimClient,
    req: HttpRequest,
    payload: web::Payload,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let body = json_body(&req, payload, &settings).await?;
    list(
        client,
        store,
        settings,
        ListParams::from_search_body(&body)?,
    )
    .await
}

/// The projection a request asks for, and whether it asked at all.
fn projection_of(req: &HttpRequest) -> Result<(Projection, bool), ScimError> {
    let params = ListParams::from_pairs(&query_pairs(req)?);
    let asked = params.attributes.is_some() || params.excluded_attributes.is_some();
    let projection = Projection::parse(
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    )
    .map_err(ScimError::invalid_value)?;
    Ok((projection, asked))
}

/// `GET /Groups/{id}`.
pub async fn get(
    client: ScimClient,
    req: HttpRequest,
    id: web::Path<String>,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let (projection, _) = projection_of(&req)?;
    let (resource, version) = roster_store::blocking(move || {
        let ctx = Ctx {
            client: &client,
            store: &store,
            settings: &settings,
        };
        let group = store.scim_group(client.scope(), &id)?;
        Ok::<_, ScimError>((render_group_with(&ctx, &group, &projection)?, group.version))
    })
    .await?;
    Ok(scim_json(StatusCode::OK, &resource, Some(version)))
}

/// `POST /Groups`.
pub async fn create(
    client: ScimClient,
    req: HttpRequest,
    payload: web::Payload,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let body = json_body(&req, payload, &settings).await?;
    run_op(client, store, settings, move |ctx| {
        ops::create_group(ctx, &body)
    })
    .await
}

/// `PUT /Groups/{id}`.
pub async fn replace(
    client: ScimClient,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let expected = if_match(&req)?;
    let body = json_body(&req, payload, &settings).await?;
    run_op(client, store, settings, move |ctx| {
        ops::replace_group(ctx, &id, &body, expected)
    })
    .await
}

/// `PATCH /Groups/{id}`: 204 unless attributes are asked.
pub async fn patch(
    client: ScimClient,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let expected = if_match(&req)?;
    let (projection, asked) = projection_of(&req)?;
    let body = json_body(&req, payload, &settings).await?;
    run_op(client, store, settings, move |ctx| {
        ops::patch_group(ctx, &id, &body, expected, asked.then_some(&projection))
    })
    .await
}

/// `DELETE /Groups/{id}`.
pub async fn delete(
    client: ScimClient,
    req: HttpRequest,
    id: web::Path<String>,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let expected = if_match(&req)?;
    run_op(client, store, settings, move |ctx| {
        ops::delete_group(ctx, &id, expected)
    })
    .await
}
