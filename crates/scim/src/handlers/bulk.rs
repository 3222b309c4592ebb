//! `POST /Bulk`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::Store;

use crate::auth::ScimClient;
use crate::body::json_body;
use crate::bulk::run_bulk;
use crate::error::ScimError;
use crate::ops::Ctx;
use crate::respond::{scim_json, with_facts, LogFacts};
use crate::settings::ScimSettings;

/// `POST /Bulk`: 200 with a BulkResponse listing each operation's status.
pub async fn bulk(
    client: ScimClient,
    req: HttpRequest,
    payload: web::Payload,
    store: web::Data<Store>,
    settings: web::Data<ScimSettings>,
) -> Result<HttpResponse, ScimError> {
    let body = json_body(&req, payload, &settings).await?;
    let (response, warnings) = roster_store::blocking(move || {
        let ctx = Ctx {
            client: &client,
            store: &store,
            settings: &settings,
        };
        run_bulk(&ctx, &body)
    })
    .await?;
    Ok(with_facts(
        scim_json(StatusCode::OK, &response, None),
        LogFacts {
            warnings,
            ..LogFacts::default()
        },
    ))
}
