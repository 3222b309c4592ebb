//! Tenant isolation across the whole admin API: every operation of the OpenAPI document is called
//! with workspace B's API key against workspace A's resources. None may succeed on A's ids, no
//! listing may show anything of A, and afterwards A's audit trail, users, tokens and mappings are
//! exactly as they were (API keys included: B cannot list or revoke A's). Driven by the document, so a new endpoint is covered the day it is added.

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use crate::common::{Options, TestApp};

#[test]
fn no_admin_endpoint_lets_another_workspace_read_or_change_anything() {
    let app = TestApp::with(Options {
        allow_private_network_urls: true,
        ..Options::default()
    });
    let key = app.api_key();
    // Workspace A: a user, a group, a mapping, a token, a webhook endpoint, events.
    let user = app.create_user("private-ann", "e-ann");
    let group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Secret Team"})),
        )
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mapping = app.admin(
        &key,
        "POST",
        "/scim/group-mappings",
        Some(json!({"scimGroupId": group, "roleName": "admin"})),
    );
    assert_eq!(mapping.status, 201, "{:#}", mapping.body);
    let mapping = mapping.body["id"].as_str().unwrap().to_owned();
    let token = app.admin(
        &key,
        "POST",
        &format!("/connections/{}/tokens", app.connection.id),
        Some(json!({"name": "a-token"})),
    );
    let token = token.body["id"].as_str().unwrap().to_owned();
    let webhook = app.admin(
        &key,
        "POST",
        "/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/hook"})),
    );
    assert_eq!(webhook.status, 201, "{:#}", webhook.body);
    let webhook = webhook.body["id"].as_str().unwrap().to_owned();
    let event = app.admin(&key, "GET", "/events?limit=1", None).body["events"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let connection = app.connection.id.to_string();
    let store = &app.db.store;
    let api_key = store.list_api_keys(app.workspace.id).unwrap()[0]
        .id
        .to_string();
    let domain = store
        .add_domain(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            &roster_store::domain::Domain::parse("a-private.example").unwrap(),
        )
        .unwrap();
    let challenge = domain.challenge.clone();
    let domain = domain.domain.to_string();
    let test_sign_in = store
        .create_test_sign_in(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            app.connection.id,
        )
        .unwrap()
        .id;
    let (setup_link, _) = store
        .create_setup_link(
            &roster_store::domain::Actor::Cli,
            roster_store::NewSetupLink {
                workspace_id: app.workspace.id,
                intent: roster_store::domain::setup_link::SetupIntent::All,
                lifetime_seconds: 3600,
                return_url: None,
            },
        )
        .unwrap();
    let setup_link = setup_link.id.to_string();
    let (invitation, _) = store
        .create_admin_invitation(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            roster_store::domain::Email::parse("it@a-private.example").unwrap(),
            3600,
        )
        .unwrap();
    let invitation = invitation.id.to_string();
    let attribute = store
        .create_attribute(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            &roster_store::domain::attributes::NewAttributeDefinition::standard(
                roster_store::domain::attributes::StandardAttribute::Department,
            ),
        )
        .unwrap()
        .id
        .to_string();
    let walker = roster_store::domain::RoleName::parse("walker").unwrap();
    store
        .create_role(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            &walker,
            10,
        )
        .unwrap();
    let rule = store
        .create_attribute_role_rule(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            "department",
            "Walking",
            &walker,
        )
        .unwrap()
        .id
        .to_string();

    let snapshot = || -> Value {
        let ws = app.workspace.id;
        json!({
            "audit": store.audit_events(ws, None, 100_000).unwrap().len(),
            "users": store.count_users(ws).unwrap(),
            "user": roster_store::user_json(&store.user(ws, user.parse().unwrap()).unwrap()),
            "sessionEpoch": store.user(ws, user.parse().unwrap()).unwrap().session_epoch,
            "tokens": store.list_scim_tokens(ws, app.connection.id).unwrap().len(),
            "mappings": store.list_mappings(ws).unwrap().len(),
            "attributes": store.attribute_definitions(ws).unwrap().len(),
            "attributeRules": store.attribute_role_rules(ws).unwrap().len(),
            "webhooks": store.list_webhooks(ws).unwrap().len(),
            "apiKeys": store.list_api_keys(ws).unwrap().iter()
                .map(|key| key.id.to_string()).collect::<Vec<_>>(),
            "connections": store.list_connections(ws).unwrap().iter()
                .map(roster_store::connection_json).collect::<Vec<_>>(),
            "domains": store.list_domains(ws).unwrap().iter()
                .map(|d| json!([d.domain.as_str(), d.state.as_str(), d.attempts, d.challenge]))
                .collect::<Vec<_>>(),
            "setupLinks": store.setup_links(ws).unwrap().iter()
                .map(|l| json!([l.id.to_string(), l.revoked_at.map(|t| t.as_micros())]))
                .collect::<Vec<_>>(),
            "invitations": store.admin_invitations(ws).unwrap().iter()
                .map(|i| json!([i.id.to_string(), i.revoked_at.map(|t| t.as_micros())]))
                .collect::<Vec<_>>(),
        })
    };
    let before = snapshot();
    let secrets_of_a = [
        &user,
        &group,
        &mapping,
        &token,
        &webhook,
        &event,
        &connection,
        &api_key,
        &challenge,
        &test_sign_in,
        &setup_link,
        &invitation,
    ];

    // Workspace B's admin.
    let other_key = app.other_workspace_api_key("globex");

    let mut called = 0;
    for (method, template) in roster_admin::openapi::operations() {
        let relative = template.strip_prefix("/api/v1/admin").unwrap();
        let path = relative
            .replace(
                "/test-sign-ins/{test}",
                &format!("/test-sign-ins/{test_sign_in}"),
            )
            .replace(
                "/connections/{id}/tokens/{token}",
                &format!("/connections/{connection}/tokens/{token}"),
            )
            .replace(
                "/connections/{id}/attribute-mappings/{attribute}",
                &format!("/connections/{connection}/attribute-mappings/{attribute}"),
            )
            .replace("/sp-keys/{key}", "/sp-keys/a-key")
            .replace("/connections/{id}", &format!("/connections/{connection}"))
            .replace(
                "/scim/connections/{id}",
                &format!("/scim/connections/{connection}"),
            )
            .replace(
                "/scim/group-mappings/{id}",
                &format!("/scim/group-mappings/{mapping}"),
            )
            .replace("/webhooks/{id}", &format!("/webhooks/{webhook}"))
            .replace("/users/{id}", &format!("/users/{user}"))
            .replace(
                "/groups/{id}/members/{user}",
                &format!("/groups/{group}/members/{user}"),
            )
            .replace("/groups/{id}", &format!("/groups/{group}"))
            .replace("/api-keys/{id}", &format!("/api-keys/{api_key}"))
            .replace("/domains/{domain}", &format!("/domains/{domain}"))
            .replace("/setup-links/{id}", &format!("/setup-links/{setup_link}"))
            .replace(
                "/admins/invitations/{id}",
                &format!("/admins/invitations/{invitation}"),
            )
            .replace("/attributes/{id}", &format!("/attributes/{attribute}"))
            .replace(
                "/attribute-role-rules/{id}",
                &format!("/attribute-role-rules/{rule}"),
            );
        assert!(!path.contains('{'), "no id of A for {template}");
        // Bodies that would succeed in A, so only the workspace boundary can refuse them.
        let body = match (method, relative) {
            ("post", "/groups/{id}/members") => Some(json!({"userId": user})),
            ("post", "/webhooks/{id}/resend") => Some(json!({"eventId": event})),
            ("put", "/connections/{id}/scim") => Some(json!({"enabled": false})),
            ("put", "/users/{id}/attributes") => {
                Some(json!({"attributes": {"department": "Elsewhere"}}))
            }
            ("post", "/connections/{id}/tokens") => Some(json!({"name": "stolen"})),
            ("post", "/connections/{id}/sp-keys") => Some(json!({"use": "encryption"})),
            ("post", "/connections/{id}/sp-keys/{key}/retire") => Some(json!({"confirm": "a-key"})),
            ("put", "/connections/{id}/attribute-mappings/{attribute}") => {
                Some(json!({"protocol": "scim", "sources": ["title"]}))
            }
            ("put", "/connections/{id}/settings") => Some(json!({"saml": {"metadataXml": "<x/>"}})),
            ("post", "/scim/group-mappings") => {
                Some(json!({"scimGroupId": group, "roleName": "admin"}))
            }
            ("post", "/users") => Some(json!({"email": "mallory@globex.test"})),
            ("post", "/webhooks") => Some(json!({"url": "http://127.0.0.1:9/b"})),
            ("post", "/connections") => Some(json!({"name": "b-scim", "kind": "scim"})),
            ("put", "/sso-enforcement") => Some(json!({"enforced": true})),
            ("post" | "put", _) => Some(json!({})),
            _ => None,
        };
        let asked = format!("{path} {}", body.clone().unwrap_or_default());
        let reply = app.admin(&other_key, &method.to_uppercase(), &path, body);
        called += 1;
        let names_an_id_of_a =
            relative.contains('{') || (method, relative) == ("post", "/scim/group-mappings");
        if names_an_id_of_a {
            assert!(
                matches!(reply.status, 400 | 403 | 404),
                "{method} {path} with B's key answered {}: {:#}",
                reply.status,
                reply.body
            );
        } else {
            assert!(reply.status < 500, "{method} {path}: {:#}", reply.body);
        }
        let text = reply.body.to_string();
        // An id B itself sent may be echoed in the error; any other id of A is a leak.
        for id in secrets_of_a
            .iter()
            .filter(|id| !asked.contains(id.as_str()))
        {
            assert!(
                !text.contains(id.as_str()),
                "{method} {path} showed B something of A ({id}): {text}"
            );
        }
    }
    assert!(called >= 30, "every documented operation was called");
    assert_eq!(snapshot(), before, "nothing of A changed");
}
