//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`. Written as data
//! next to the routes it describes; a test calls every documented operation to prove each one is
//! routed, so the document cannot list an endpoint that does not exist.

use serde_json::{json, Map, Value};

/// (method, path, summary, request body schema name or "", success status).
const OPERATIONS: &[(&str, &str, &str, &str, u16)] = &[
    (
        "post",
        "/api/v1/admin/connections",
        "Create an IdP connection (SAML metadata or URL, OIDC issuer and client, or SCIM-only); the IdP is asked first. A SAML connection without metadata is a draft: its SP values now, logins once its metadata is added",
        "CreateConnection",
        201,
    ),
    (
        "get",
        "/api/v1/admin/connections/{id}",
        "A connection with the values to paste into the IdP (never a secret)",
        "",
        200,
    ),
    (
        "put",
        "/api/v1/admin/connections/{id}/settings",
        "Change a connection's IdP settings (validated like a creation; a draft becomes active), vendor or email domains",
        "UpdateSettings",
        200,
    ),
    (
        "post",
        "/api/v1/admin/connections/{id}/test",
        "Test a connection against its IdP: each check with want and got",
        "",
        200,
    ),
    (
        "delete",
        "/api/v1/admin/connections/{id}",
        "Revoke a connection: its logins and SCIM tokens stop at once",
        "",
        204,
    ),
    (
        "get",
        "/api/v1/admin/scim/migration-plan",
        "Before turning SCIM on: existing users whose userName or email would conflict",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/scim",
        "SCIM connections with their sync status",
        "",
        200,
    ),
    (
        "delete",
        "/api/v1/admin/scim/connections/{id}",
        "Revoke a SCIM connection; its tokens stop at once",
        "",
        204,
    ),
    (
        "get",
        "/api/v1/admin/scim/group-mappings",
        "List group mappings",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/scim/group-mappings",
        "Map an IdP group to a role and/or an app group",
        "CreateMapping",
        201,
    ),
    (
        "delete",
        "/api/v1/admin/scim/group-mappings/{id}",
        "Delete a mapping and what it brought",
        "",
        204,
    ),
    (
        "get",
        "/api/v1/admin/events",
        "Directory events after a cursor",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/webhooks",
        "List webhook endpoints",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/webhooks/event-types",
        "The event types an endpoint may subscribe to (docs/events.md's catalogue)",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/webhooks",
        "Register a webhook endpoint (secret shown once; an unknown event type is refused)",
        "CreateWebhook",
        201,
    ),
    (
        "delete",
        "/api/v1/admin/webhooks/{id}",
        "Delete a webhook endpoint",
        "",
        204,
    ),
    (
        "post",
        "/api/v1/admin/webhooks/{id}/enable",
        "Re-enable a disabled endpoint",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/webhooks/{id}/deliveries",
        "Delivery log of an endpoint",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/webhooks/{id}/resend",
        "Deliver an event again",
        "Resend",
        202,
    ),
    (
        "get",
        "/api/v1/admin/users",
        "Users with search, pagination and allowed actions",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/users",
        "Invite a user (refused while SCIM provisions users)",
        "Invite",
        201,
    ),
    (
        "post",
        "/api/v1/admin/users/{id}/disable",
        "Disable a user; sessions end at once",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/users/{id}/enable",
        "Enable a user",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/users/{id}",
        "One user with the actions the admin may take",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/users/{id}/apps",
        "The apps the user is signed into through Roster's OpenID Provider (live grants; never a token)",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/users/{id}/sign-out-everywhere",
        "End every Roster session of the user and revoke every app grant; answers with what was ended",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/groups",
        "Groups with search and pagination",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/groups/{id}/members",
        "Add a manual member",
        "AddMember",
        200,
    ),
    (
        "delete",
        "/api/v1/admin/groups/{id}/members/{user}",
        "Remove a manual member",
        "",
        204,
    ),
    ("get", "/api/v1/admin/connections", "Connections", "", 200),
    (
        "put",
        "/api/v1/admin/connections/{id}/scim",
        "Turn SCIM provisioning on or off",
        "ScimSwitch",
        200,
    ),
    (
        "get",
        "/api/v1/admin/connections/{id}/tokens",
        "SCIM tokens of a connection (never the secrets)",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/connections/{id}/tokens",
        "Generate a SCIM token (shown once)",
        "NewToken",
        201,
    ),
    (
        "delete",
        "/api/v1/admin/connections/{id}/tokens/{token}",
        "Revoke a SCIM token",
        "",
        204,
    ),
    (
        "get",
        "/api/v1/admin/provisioning-log",
        "SCIM requests, newest first",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/session",
        "Who is signed in, and the CSRF token for cookie-authenticated writes",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/sso-enforcement",
        "Whether SSO is enforced, and whether the caller may change it (and why not)",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/roles",
        "The workspace's roles with rank and how many users each reaches",
        "",
        200,
    ),
    (
        "post",
        "/api/v1/admin/roles",
        "Create a role (a name the workspace does not have, any case; an optional rank)",
        "CreateRole",
        201,
    ),
    (
        "put",
        "/api/v1/admin/sso-enforcement",
        "Enforce SSO: refuse password logins (body {\"enforced\": bool})",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/login-events",
        "SSO login attempts with outcome and reason, newest first",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/audit",
        "Audit trail (JSON or CSV)",
        "",
        200,
    ),
    (
        "get",
        "/api/v1/admin/api-keys",
        "The workspace's API keys: id, name, hint and dates (never the key)",
        "",
        200,
    ),
    (
        "delete",
        "/api/v1/admin/api-keys/{id}",
        "Revoke an API key: it is refused from its next request on",
        "",
        204,
    ),
];

/// Every documented (method, path), for the routing test.
pub fn operations() -> impl Iterator<Item = (&'static str, &'static str)> {
    OPERATIONS.iter().map(|(method, path, ..)| (*method, *path))
}

fn object(properties: &[(&str, &str)], required: &[&str]) -> Value {
    let props: Map<String, Value> = properties
        .iter()
        .map(|(name, kind)| {
            let schema = match *kind {
                "string[]" => json!({"type": "array", "items": {"type": "string"}}),
                other => json!({ "type": other }),
            };
            ((*name).to_owned(), schema)
        })
        .collect();
    json!({ "type": "object", "additionalProperties": false, "properties": props, "required": required })
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, body, status) in OPERATIONS {
        let mut operation = json!({
            "summary": summary,
            "security": [{ "apiKey": [] }],
            "responses": {
                status.to_string(): { "description": "success" },
                "default": {
                    "description": "error",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            }
        });
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        if !body.is_empty() {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } }
            });
        }
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Roster admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Workspace administration: SCIM connections and tokens, group mappings, users and groups, events and webhooks. Errors are {code, message, detail}."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "An API key from `roster api-key create`" } },
            "schemas": {
                "Error": object(&[("code", "string"), ("message", "string"), ("detail", "object")], &["code", "message"]),
                "CreateRole": object(&[("name", "string"), ("rank", "integer")], &["name"]),
                "CreateMapping": object(&[("scimGroupName", "string"), ("scimGroupId", "string"), ("roleName", "string"), ("groupName", "string"), ("connectionId", "string")], &[]),
                "CreateWebhook": {
                    "type": "object", "additionalProperties": false, "required": ["url"],
                    "properties": {
                        "url": {"type": "string"},
                        "eventTypes": {"type": "array", "items": {"enum": roster_store::EVENT_TYPES}, "description": "empty or absent: every type"}
                    }
                },
                "Resend": object(&[("eventId", "string")], &["eventId"]),
                "Invite": object(&[("email", "string"), ("userName", "string"), ("givenName", "string"), ("familyName", "string")], &["email"]),
                "AddMember": object(&[("userId", "string")], &["userId"]),
                "ScimSwitch": object(&[("enabled", "boolean")], &["enabled"]),
                "CreateConnection": {
                    "type": "object", "additionalProperties": false, "required": ["name", "kind"],
                    "properties": {
                        "name": {"type": "string"}, "kind": {"enum": ["saml", "oidc", "scim"]},
                        "vendor": {"enum": ["entra", "okta", "onelogin", "google", "generic"]},
                        "domains": {"type": "array", "items": {"type": "string"}},
                        "scimEnabled": {"type": "boolean"},
                        "profileSync": {"enum": ["first_login", "every_login"]},
                        "groupSync": {"enum": ["off", "every_login"]},
                        "saml": {"$ref": "#/components/schemas/SamlSettings"},
                        "oidc": {"$ref": "#/components/schemas/OidcSettings"}
                    }
                },
                "UpdateSettings": object(&[("saml", "object"), ("oidc", "object"), ("vendor", "string"), ("domains", "string[]")], &[]),
                "SamlSettings": object(&[("metadataXml", "string"), ("metadataUrl", "string"), ("allowIdpInitiated", "boolean")], &[]),
                "OidcSettings": object(&[("issuer", "string"), ("clientId", "string"), ("clientSecret", "string"), ("tokenAuthMethod", "string")], &["issuer", "clientId"]),
                "NewToken": object(&[("name", "string"), ("expiresInDays", "integer")], &[]),
            }
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn endpoint() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(document())
}
