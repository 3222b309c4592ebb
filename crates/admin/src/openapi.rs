//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`.
//!
//! Each resource module describes its own operations next to its handlers (a `pub(crate) const
//! API: &[Operation]`), naming the Rust types of its query, body and answer; the schemas are
//! derived from those types (`schemars`), so the document cannot drift from what the handlers
//! read and write. A test checks that the route table and this document list the same
//! operations, and `cargo xtask test` runs schemathesis against the served document.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

/// Derives the schema of one type, registering it (and the types it names) as components.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T` as the document refers to it (`$ref` to a component for a named type).
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What an operation answers when it succeeds.
#[derive(Clone, Copy)]
pub enum Success {
    /// A JSON body of this schema, with this status.
    Json(u16, SchemaFn),
    /// `204 No Content`.
    NoContent,
    /// `200` with a JSON body of this schema, or CSV text (`format=csv`).
    JsonOrCsv(SchemaFn),
}

/// One operation of the admin API.
pub struct Operation {
    /// Lower-case HTTP method, as the route table spells it.
    pub method: &'static str,
    /// Path relative to `/api/v1/admin`, with `{name}` parameters.
    pub path: &'static str,
    /// The `operationId`: stable, camelCase, unique.
    pub id: &'static str,
    pub summary: &'static str,
    /// The query string's type (each field a parameter), if the operation reads one.
    pub query: Option<SchemaFn>,
    /// The JSON request body's type, if the operation takes one.
    pub body: Option<SchemaFn>,
    /// Whether the body must be sent (an optional one has defaults for every field).
    pub body_required: bool,
    pub success: Success,
}

impl Operation {
    const fn new(method: &'static str, path: &'static str, id: &'static str) -> Self {
        Operation {
            method,
            path,
            id,
            summary: "",
            query: None,
            body: None,
            body_required: false,
            success: Success::NoContent,
        }
    }

    /// `GET path`, with its `operationId` and summary; it answers `204` until told otherwise.
    pub const fn get(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new("get", path, id).summary(summary)
    }

    pub const fn post(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new("post", path, id).summary(summary)
    }

    pub const fn put(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new("put", path, id).summary(summary)
    }

    pub const fn patch(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new("patch", path, id).summary(summary)
    }

    pub const fn delete(path: &'static str, id: &'static str, summary: &'static str) -> Self {
        Self::new("delete", path, id).summary(summary)
    }

    const fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }

    /// Reads a query string of this type.
    pub const fn query(mut self, query: SchemaFn) -> Self {
        self.query = Some(query);
        self
    }

    /// Takes a JSON body of this type.
    pub const fn body(mut self, body: SchemaFn) -> Self {
        self.body = Some(body);
        self.body_required = true;
        self
    }

    /// Takes a JSON body of this type, or none at all.
    pub const fn optional_body(mut self, body: SchemaFn) -> Self {
        self.body = Some(body);
        self.body_required = false;
        self
    }

    /// Answers `status` with a JSON body of this type.
    pub const fn answers(mut self, status: u16, answer: SchemaFn) -> Self {
        self.success = Success::Json(status, answer);
        self
    }

    /// Answers `200` with JSON of this type, or CSV text.
    pub const fn answers_json_or_csv(mut self, answer: SchemaFn) -> Self {
        self.success = Success::JsonOrCsv(answer);
        self
    }
}

/// The API's resources in the order the document lists them: each a tag and the operations of
/// one module (a tag may span modules).
fn resources() -> [(&'static str, &'static [Operation]); 22] {
    use crate::*;
    [
        ("users", users::API),
        ("users", signed_in::API),
        ("groups", groups::API),
        ("roles", roles::API),
        ("attributes", attributes::API),
        ("attributes", attribute_mappings::API),
        ("attributes", attribute_rules::API),
        ("connections", connections::API),
        ("connections", test_sign_ins::API),
        ("connections", sp_keys::API),
        ("scim", tokens::API),
        ("scim", scim_admin::API),
        ("scim", migration::API),
        ("settings", settings::API),
        ("domains", domains::API),
        ("events", events::API),
        ("webhooks", webhooks::API),
        ("logs", logs::API),
        ("api-keys", api_keys::API),
        ("setup-links", setup_links::API),
        ("admins", invitations::API),
        ("session", auth::API),
    ]
}

const PREFIX: &str = "/api/v1/admin";
const OPERATOR_PREFIX: &str = "/api/v1/operator";

/// The `operationId` of a workspace admin operation as the operator calls it: `listUsers` →
/// `operatorListUsers`.
fn operator_id(id: &str) -> String {
    let mut chars = id.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase());
    format!(
        "operator{}{}",
        first.map(String::from).unwrap_or_default(),
        chars.as_str()
    )
}

/// Every documented (method, path), paths in full (`/api/v1/admin/...`), for the routing tests.
pub fn operations() -> impl Iterator<Item = (&'static str, String)> {
    resources()
        .into_iter()
        .flat_map(|(_, operations)| operations.iter())
        .map(|op| (op.method, format!("{PREFIX}{}", op.path)))
}

fn json_content(schema: Schema) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The query parameters of a query type: each property of its (inline) object schema.
fn query_parameters(query: SchemaFn, generator: &mut SchemaGenerator) -> Vec<Value> {
    let schema = query(generator);
    let reference = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned);
    // A named query type is registered as a component; its parameters are what the document
    // needs, so the component is taken back out.
    let object = match reference {
        Some(name) => generator
            .definitions_mut()
            .remove(&name)
            .unwrap_or_default(),
        None => schema.to_value(),
    };
    let required: Vec<&str> = object["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // A query type is a struct, so an object with properties (a test checks each has some).
    object["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            let mut parameter = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if let Some(description) = schema.get("description") {
                parameter["description"] = description.clone();
            }
            parameter
        })
        .collect()
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect()
}

/// Where an operation is mounted: its full path, its `operationId` and who may call it.
struct Mounted<'a> {
    path: &'a str,
    id: &'a str,
    security: &'static str,
}

fn describe(op: &Operation, at: &Mounted, tag: &str, generator: &mut SchemaGenerator) -> Value {
    let error = schema::<crate::error::ErrorBody>(generator);
    let mut responses = Map::new();
    match op.success {
        Success::Json(status, answer) => {
            responses.insert(
                status.to_string(),
                json!({ "description": "success", "content": json_content(answer(generator)) }),
            );
        }
        Success::NoContent => {
            responses.insert("204".into(), json!({ "description": "done; no body" }));
        }
        Success::JsonOrCsv(answer) => {
            let mut content = json_content(answer(generator));
            content["text/csv"] = json!({ "schema": { "type": "string" } });
            responses.insert(
                "200".into(),
                json!({ "description": "success", "content": content }),
            );
        }
    }
    responses.insert(
        "default".into(),
        json!({ "description": "error: `code` is one of docs/admin-api.md's table", "content": json_content(error) }),
    );
    let mut operation = json!({
        "operationId": at.id,
        "summary": op.summary,
        "tags": [tag],
        "security": [{ at.security: [] }],
        "responses": responses,
    });
    let mut parameters = path_parameters(at.path);
    if let Some(query) = op.query {
        parameters.extend(query_parameters(query, generator));
    }
    if !parameters.is_empty() {
        operation["parameters"] = json!(parameters);
    }
    if let Some(body) = op.body {
        operation["requestBody"] =
            json!({ "required": op.body_required, "content": json_content(body(generator)) });
    }
    operation
}

/// The document.
pub fn document() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .into_generator();
    let mut paths = Map::new();
    let mut tags = Vec::new();
    let mut add = |op: &Operation, at: Mounted, tag: &str, generator: &mut SchemaGenerator| {
        if !tags.contains(&json!({ "name": tag })) {
            tags.push(json!({ "name": tag }));
        }
        let described = describe(op, &at, tag, generator);
        let entry = paths.entry(at.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = described;
    };
    for (tag, operations) in resources() {
        for op in operations {
            let path = format!("{PREFIX}{}", op.path);
            let at = Mounted {
                path: &path,
                id: op.id,
                security: "apiKey",
            };
            add(op, at, tag, &mut generator);
        }
    }
    for op in crate::operator::API
        .iter()
        .chain(crate::operator_apps::API)
        .chain(crate::operator_webhooks::API)
    {
        let path = format!("{OPERATOR_PREFIX}{}", op.path);
        let at = Mounted {
            path: &path,
            id: op.id,
            security: "operatorKey",
        };
        add(op, at, "operator", &mut generator);
    }
    // The workspace admin API again, for the operator, under each workspace.
    for (tag, operations) in resources() {
        for op in operations {
            let path = format!("{OPERATOR_PREFIX}/workspaces/{{workspace}}{}", op.path);
            let id = operator_id(op.id);
            let at = Mounted {
                path: &path,
                id: &id,
                security: "operatorKey",
            };
            add(op, at, tag, &mut generator);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Roster admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Workspace administration (/api/v1/admin, with a workspace's API key): connections, SCIM tokens and group mappings, users and groups, roles, events and webhooks, the audit trail. The operator API (/api/v1/operator, with the operator's key): workspaces, the OpenID Provider's apps, and each workspace's admin routes under /api/v1/operator/workspaces/{workspace}. Every error is {code, message, detail} (docs/admin-api.md)."
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "A workspace's admin API key, from `roster api-key create`" },
                "operatorKey": { "type": "http", "scheme": "bearer", "description": "The operator's key, from `roster operator-key create`: every workspace, under /api/v1/operator" }
            },
            "schemas": generator.take_definitions(true),
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn endpoint() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Operation ids are unique (clients generate method names from them).
    #[test]
    fn operation_ids_are_unique() {
        let ids: Vec<&str> = super::resources()
            .into_iter()
            .flat_map(|(_, operations)| operations.iter().map(|op| op.id))
            .chain(crate::operator::API.iter().map(|op| op.id))
            .chain(crate::operator_apps::API.iter().map(|op| op.id))
            .chain(crate::operator_webhooks::API.iter().map(|op| op.id))
            .collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }

    /// The operator's app routes are in the document as the operator's (tag, security), and the
    /// rotation's body is optional.
    #[test]
    fn the_operator_app_operations_are_documented_for_the_operator_key() {
        let document = super::document();
        for op in crate::operator_apps::API {
            let path = format!("{}{}", super::OPERATOR_PREFIX, op.path);
            let described = &document["paths"][path.as_str()][op.method];
            assert_eq!(described["operationId"], op.id, "{path}");
            assert_eq!(described["tags"], serde_json::json!(["operator"]), "{path}");
            assert_eq!(
                described["security"],
                serde_json::json!([{ "operatorKey": [] }]),
                "{path}"
            );
        }
        let rotate = &document["paths"]["/api/v1/operator/apps/{client_id}/rotate-secret"]["post"];
        assert_eq!(rotate["requestBody"]["required"], false);
        let create = &document["paths"]["/api/v1/operator/apps"]["post"];
        assert_eq!(create["requestBody"]["required"], true);
    }

    /// Every answer with a body is a named view (a component), never "any JSON": the document
    /// says what each operation answers.
    #[test]
    fn every_answer_is_a_named_view() {
        let document = super::document();
        let mut answers = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let schema = &response["content"]["application/json"]["schema"];
                    if status == "204" {
                        assert!(schema.is_null(), "{method} {path} {status}");
                        continue;
                    }
                    assert!(
                        schema["$ref"]
                            .as_str()
                            .is_some_and(|r| r.starts_with("#/components/schemas/")),
                        "{method} {path} {status}: {schema}"
                    );
                    answers += 1;
                }
            }
        }
        assert!(answers > 100, "{answers}");
    }

    /// Every query type becomes parameters, and the type's component is not left behind.
    #[test]
    fn query_types_become_query_parameters() {
        let document = super::document();
        for (_, operations) in super::resources() {
            for op in operations.iter().filter(|op| op.query.is_some()) {
                let path = format!("{}{}", super::PREFIX, op.path);
                let parameters = document["paths"][&path][op.method]["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert!(
                    parameters.iter().any(|p| p["in"] == "query"),
                    "{} has query parameters",
                    op.id
                );
            }
        }
        for name in ["ListQuery", "FeedQuery", "AuditQuery"] {
            assert!(document["components"]["schemas"][name].is_null(), "{name}");
        }
    }
}
