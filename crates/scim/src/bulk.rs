//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, each run exactly as the same
//! request sent alone (through [`crate::ops`]) and in its own transaction.
//!
//! `bulkId` references (`"bulkId:qwerty"` in a path or anywhere in `data`) resolve to the id of
//! the resource that the operation with that `bulkId` created. An operation whose references are
//! not resolved yet waits until they are (so order in the request does not matter); one that can
//! never be resolved fails with 409. `failOnErrors` stops processing after that many errors.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::discovery::BULK_RESPONSE_SCHEMA;
use crate::error::{ScimError, ScimType};
use crate::names::canonical;
use crate::ops::{self, Ctx, Outcome};
use crate::user_resource::etag;

const BULK_ID: &str = "bulkId:";

/// One operation of a BulkRequest.
#[derive(Debug, Clone)]
struct BulkOp {
    method: String,
    path: String,
    bulk_id: Option<String>,
    version: Option<i64>,
    data: Value,
}

fn parse_ops(
    body: &Value,
    max_operations: usize,
) -> Result<(Vec<BulkOp>, Option<usize>), ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest must be a JSON object",
        ));
    };
    let map: Map<String, Value> = map.iter().map(|(k, v)| (canonical(k), v.clone())).collect();
    let fail_on_errors = match map.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "failOnErrors must be an integer, not {other}"
            )))
        }
    };
    let operations = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v)
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest needs an Operations array"))?;
    if operations.len() > max_operations {
        return Err(ScimError::new(
            413,
            None,
            format!("more than {max_operations} operations in one Bulk request"),
        ));
    }
    let mut parsed = Vec::with_capacity(operations.len());
    for (index, op) in operations.iter().enumerate() {
        let field = |name: &str| {
            op.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v)
        };
        let text = |name: &str| field(name).and_then(Value::as_str).map(str::to_owned);
        let method = text("method")
            .ok_or_else(|| ScimError::invalid_syntax(format!("operation {index} has no method")))?
            .to_ascii_uppercase();
        let path = text("path")
            .ok_or_else(|| ScimError::invalid_syntax(format!("operation {index} has no path")))?;
        let version = match text("version") {
            None => None,
            Some(tag) => Some(
                tag.trim_start_matches("W/")
                    .trim_matches('"')
                    .parse::<i64>()
                    .map_err(|_| {
                        ScimError::invalid_value(format!(
                            "operation {index}: version {tag:?} is not one of ours"
                        ))
                    })?,
            ),
        };
        let bulk_id = text("bulkId");
        if method == "POST" && bulk_id.is_none() {
            return Err(ScimError::invalid_syntax(format!(
                "operation {index}: a POST needs a bulkId"
            )));
        }
        parsed.push(BulkOp {
            method,
            path,
            bulk_id,
            version,
            data: field("data").cloned().unwrap_or(Value::Null),
        });
    }
    Ok((parsed, fail_on_errors))
}

/// Collects the bulkIds an operation refers to.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID) {
                out.push(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn resolve(value: &Value, ids: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => match s.strip_prefix(BULK_ID).and_then(|id| ids.get(id)) {
            Some(resolved) => Value::String(resolved.clone()),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, ids)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Runs one operation as the same request sent alone, logged with its own method and path.
fn run_one(ctx: &Ctx<'_>, op: &BulkOp) -> Result<Outcome, ScimError> {
    let bulk_path = &ctx.client.request.path;
    let base = bulk_path.strip_suffix("/Bulk").unwrap_or(bulk_path);
    let mut client = ctx.client.clone();
    client.request.method = op.method.clone();
    client.request.path = format!("{base}/{}", op.path.trim_start_matches('/'));
    let ctx = &Ctx {
        client: &client,
        ..ctx.clone()
    };
    let trimmed = op.path.trim_end_matches('/');
    let mut parts = trimmed.trim_start_matches('/').splitn(2, '/');
    let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
    let id = parts.next();
    match (op.method.as_str(), kind.as_str(), id) {
        ("POST", "users", None) => ops::create_user(ctx, &op.data),
        ("POST", "groups", None) => ops::create_group(ctx, &op.data),
        ("PUT", "users", Some(id)) => ops::replace_user(ctx, id, op.data.clone(), op.version),
        ("PUT", "groups", Some(id)) => ops::replace_group(ctx, id, &op.data, op.version),
        ("PATCH", "users", Some(id)) => ops::patch_user(ctx, id, &op.data, op.version),
        ("PATCH", "groups", Some(id)) => ops::patch_group(ctx, id, &op.data, op.version, None),
        ("DELETE", "users", Some(id)) => ops::delete_user(ctx, id, op.version),
        ("DELETE", "groups", Some(id)) => ops::delete_group(ctx, id, op.version),
        _ => Err(ScimError::invalid_value(format!(
            "{} {} is not a Bulk operation this server supports",
            op.method, op.path
        ))),
    }
}

fn result_entry(op: &BulkOp, result: &Result<Outcome, ScimError>) -> Value {
    let mut entry = json!({ "method": op.method });
    if let Some(bulk_id) = &op.bulk_id {
        entry["bulkId"] = json!(bulk_id);
    }
    match result {
        Ok(outcome) => {
            entry["status"] = json!(outcome.status.to_string());
            let location = outcome.location.clone().or_else(|| {
                outcome
                    .resource
                    .as_ref()
                    .and_then(|r| r["meta"]["location"].as_str().map(str::to_owned))
            });
            if let Some(location) = location {
                entry["location"] = json!(location);
            }
            if let Some(version) = outcome.version {
                entry["version"] = json!(etag(version));
            }
        }
        Err(err) => {
            entry["status"] = json!(err.status.to_string());
            entry["response"] = err.body();
        }
    }
    entry
}

/// Runs a BulkRequest; returns the BulkResponse and the warnings of its operations.
pub fn run_bulk(ctx: &Ctx<'_>, body: &Value) -> Result<(Value, Vec<String>), ScimError> {
    let (pending, fail_on_errors) = parse_ops(body, ctx.settings.max_bulk_operations)?;
    let declared: Vec<String> = pending.iter().filter_map(|op| op.bulk_id.clone()).collect();
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results: Vec<(usize, Value)> = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = 0usize;
    let mut queue: Vec<(usize, BulkOp)> = pending.into_iter().enumerate().collect();
    while !queue.is_empty() {
        let mut progressed = false;
        let mut waiting = Vec::new();
        for (index, op) in queue {
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                break;
            }
            let mut refs = Vec::new();
            for segment in op.path.split('/') {
                references(&Value::String(segment.to_owned()), &mut refs);
            }
            references(&op.data, &mut refs);
            let unresolved: Vec<&String> =
                refs.iter().filter(|r| !created.contains_key(*r)).collect();
            let can_wait =
                unresolved.iter().all(|r| declared.contains(r)) && !unresolved.is_empty();
            if can_wait {
                waiting.push((index, op));
                continue;
            }
            progressed = true;
            let result = if unresolved.is_empty() {
                let path_segments: Vec<String> = op
                    .path
                    .split('/')
                    .map(
                        |segment| match resolve(&Value::String(segment.to_owned()), &created) {
                            Value::String(resolved) => resolved,
                            _ => segment.to_owned(),
                        },
                    )
                    .collect();
                let resolved = BulkOp {
                    path: path_segments.join("/"),
                    data: resolve(&op.data, &created),
                    ..op.clone()
                };
                run_one(ctx, &resolved)
            } else {
                Err(ScimError::new(
                    409,
                    Some(ScimType::InvalidValue),
                    format!(
                        "unknown bulkId reference(s): {}",
                        unresolved
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            };
            match &result {
                Ok(outcome) => {
                    warnings.extend(outcome.facts.warnings.iter().cloned());
                    if let (Some(bulk_id), Some(id)) =
                        (&op.bulk_id, outcome.facts.resource_id.as_ref())
                    {
                        if op.method == "POST" {
                            created.insert(bulk_id.clone(), id.clone());
                        }
                    }
                }
                Err(_) => errors += 1,
            }
            results.push((index, result_entry(&op, &result)));
        }
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        if !progressed {
            // Everything left waits on operations that failed or wait themselves: a cycle.
            for (index, op) in waiting {
                let err = ScimError::new(
                    409,
                    Some(ScimType::InvalidValue),
                    "circular or failed bulkId reference",
                );
                results.push((index, result_entry(&op, &Err(err))));
            }
            break;
        }
        queue = waiting;
    }
    results.sort_by_key(|(index, _)| *index);
    let operations: Vec<Value> = results.into_iter().map(|(_, entry)| entry).collect();
    Ok((
        json!({ "schemas": [BULK_RESPONSE_SCHEMA], "Operations": operations }),
        warnings,
    ))
}
