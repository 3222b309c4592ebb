//! `/Users`: list (GET and `.search`), create, read, replace, patch, delete. Each handler parses
//! the request and runs one operation of [`crate::ops`] on the blocking pool.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::Store;

use crate::auth::ScimClient;
use crate::body::json_body;
use crate::error::ScimError;
use crate::list::{list_response, ListParams};
use crate::ops;
use crate::projection::Projection;
use crate::respond::{if_match, query_pairs, run_op, scim_json};
use crate::settings::ScimSettings;
use crate::translate::{Declared, UserResource};
use crate::user_resource::render_user;

type StoreData = web::Data<Store>;
type SettingsData = web::Data<ScimSettings>;

async fn list(
    client: ScimClient,
    store: StoreData,
    settings: SettingsData,
    params: ListParams,
) -> Result<HttpResponse, ScimError> {
    let declared = Declared::new(&client.principal.connection.attributes);
    let request = params.parse::<UserResource>(&settings, &declared)?;
    let scope = client.scope();
    let query = request.query.clone();
    let listing = if query.is_unique_lookup() {
        roster_store::offload::point_read(&store, move |store| store.scim_list_users(scope, &query))
            .await?
    } else {
        let store = store.into_inner();
        roster_store::blocking(move || store.scim_list_users(scope, &query)).await?
    };
    let last_id = listing.items.last().map(|u| u.id.to_string());
    let resources = listing
        .items
        .iter()
        .map(|user| {
            let mut resource = render_user(user, &settings.base_url, client.attributes());
            request.projection.apply(&mut resource);
            resource
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(&request, resources, last_id, listing.total),
        None,
    ))
}

/// `GET /Users`.
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

/// `POST /Users/.search`.
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

/// `GET /Users/{id}`.
pub async fn get(
    client: ScimClient,
    req: HttpRequest,
    id: web::Path<String>,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let params = ListParams::from_pairs(&query_pairs(&req)?);
    let projection = Projection::parse(
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    )
    .map_err(ScimError::invalid_value)?;
    let scope = client.scope();
    let user =
        roster_store::offload::point_read(&store, move |store| store.scim_user(scope, &id)).await?;
    let mut resource = render_user(&user, &settings.base_url, client.attributes());
    projection.apply(&mut resource);
    Ok(scim_json(StatusCode::OK, &resource, Some(user.version)))
}

/// `POST /Users`: create, or adopt a matching pre-SCIM user, or bring back an inactive one.
pub async fn create(
    client: ScimClient,
    req: HttpRequest,
    payload: web::Payload,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let body = json_body(&req, payload, &settings).await?;
    run_op(client, store, settings, move |ctx| {
        ops::create_user(ctx, &body)
    })
    .await
}

/// `PUT /Users/{id}`.
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
        ops::replace_user(ctx, &id, body, expected)
    })
    .await
}

/// `PATCH /Users/{id}`.
pub async fn patch(
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
        ops::patch_user(ctx, &id, &body, expected)
    })
    .await
}

/// `DELETE /Users/{id}`: deprovisions (see the store); 404 afterwards.
pub async fn delete(
    client: ScimClient,
    req: HttpRequest,
    id: web::Path<String>,
    store: StoreData,
    settings: SettingsData,
) -> Result<HttpResponse, ScimError> {
    let expected = if_match(&req)?;
    run_op(client, store, settings, move |ctx| {
        ops::delete_user(ctx, &id, expected)
    })
    .await
}
