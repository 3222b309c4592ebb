//! Reading request bodies: size-capped (413 with SCIM Error JSON, not the framework's page),
//! parsed as JSON whatever the client's Content-Type (`application/scim+json`, `application/json`
//! and Okta's `text/json` all occur), malformed JSON a 400 `invalidSyntax`.

use actix_web::web::{self, BytesMut};
use actix_web::HttpRequest;
use futures_util::StreamExt;
use serde_json::Value;

use crate::error::ScimError;
use crate::settings::ScimSettings;

fn too_large(limit: usize) -> ScimError {
    ScimError::new(413, None, format!("request body larger than {limit} bytes"))
}

/// Reads the whole body (at most `max_body_bytes`) and parses it as a JSON object.
pub async fn json_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    settings: &ScimSettings,
) -> Result<Value, ScimError> {
    let limit = settings.max_body_bytes;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|err| ScimError::invalid_syntax(format!("reading the body: {err}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        ));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|err| ScimError::invalid_syntax(format!("the body is not valid JSON: {err}")))?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax("the body must be a JSON object"));
    }
    Ok(value)
}
