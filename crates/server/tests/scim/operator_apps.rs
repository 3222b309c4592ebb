//! The OpenID Provider's apps through the operator API over real HTTP: a confidential and a
//! public app registered, listed and shown without their secrets, a secret rotated with its
//! 24-hour grace and with `endPreviousNow` (checked through the store's client authentication, as
//! the token endpoint checks it), an app deleted with the grants issued to it; and the refusals
//! (a workspace's admin key, a URI the registration rules refuse, an unknown client id, a
//! malformed body) answered in the admin API's error shape while nothing changes.

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Timestamp};
use roster_store::{CodeBinding, NewOAuthGrant, OAuthApp, StoreError};
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::operator_api::{operator, operator_key};

const REDIRECT: &str = "https://catalog.example/oidc/callback";

/// Whether `secret` authenticates `client_id` at `now`, as the token endpoint asks.
fn authenticates(app: &TestApp, client_id: &str, secret: &str, now: Timestamp) -> bool {
    match app
        .db
        .store
        .authenticate_oauth_client(client_id, secret, now)
    {
        Ok(found) => found.client_id == client_id,
        Err(StoreError::Unauthorized) => false,
        Err(other) => panic!("{other:?}"),
    }
}

/// The deployment-level audit trail of apps, oldest first: (action, actor kind, target).
fn app_audit(app: &TestApp) -> Vec<(String, String, String)> {
    let mut events: Vec<_> = app
        .db
        .store
        .system_audit_events(1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("oauth_app."))
        .map(|e| (e.action, e.actor_kind, e.target_id))
        .collect();
    events.reverse();
    events
}

/// Whether `hint` (the first characters and an ellipsis) is a hint of `secret`.
fn hints_at(hint: &str, secret: &str) -> bool {
    let shown = hint.trim_end_matches('…');
    !shown.is_empty() && shown.len() < secret.len() && secret.starts_with(shown)
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {body:#}"))
}

#[test]
fn an_operator_registers_lists_rotates_and_deletes_apps() {
    let app = TestApp::new();
    let key = operator_key(&app);

    // A confidential app: its secret in the answer, once.
    let created = operator(
        &app,
        &key,
        "POST",
        "/apps",
        Some(json!({
            "name": "Data Catalog",
            "redirectUris": [REDIRECT],
            "postLogoutRedirectUris": ["https://catalog.example/signed-out"],
            "backchannelLogoutUri": "https://catalog.example/oidc/backchannel",
        })),
    );
    assert_eq!(created.status, 201, "{:#}", created.body);
    let client_id = str_of(&created.body, "clientId").to_owned();
    let secret = str_of(&created.body, "clientSecret").to_owned();
    assert!(secret.starts_with("rscs_"), "{secret}");
    assert_eq!(created.body["name"], "Data Catalog");
    assert_eq!(created.body["redirectUris"], json!([REDIRECT]));
    assert_eq!(
        created.body["postLogoutRedirectUris"],
        json!(["https://catalog.example/signed-out"])
    );
    assert_eq!(
        created.body["backchannelLogoutUri"],
        "https://catalog.example/oidc/backchannel"
    );
    assert_eq!(
        created.body["tokenEndpointAuthMethod"],
        "client_secret_basic"
    );
    assert_eq!(created.body["idTokenAlg"], "RS256");
    assert!(hints_at(str_of(&created.body, "clientSecretHint"), &secret));
    assert_eq!(created.body["previousSecretValidUntil"], Value::Null);
    assert!(authenticates(&app, &client_id, &secret, Timestamp::now()));

    // A public app: no secret, PKCE; ES256 on request.
    let public = operator(
        &app,
        &key,
        "POST",
        "/apps",
        Some(json!({
            "name": "Desktop",
            "redirectUris": ["http://127.0.0.1/callback"],
            "public": true,
            "idTokenAlg": "ES256",
        })),
    );
    assert_eq!(public.status, 201, "{:#}", public.body);
    let public_id = str_of(&public.body, "clientId").to_owned();
    assert_eq!(public.body["clientSecret"], Value::Null);
    assert_eq!(public.body["clientSecretHint"], Value::Null);
    assert_eq!(public.body["tokenEndpointAuthMethod"], "none");
    assert_eq!(public.body["idTokenAlg"], "ES256");

    // Listed and shown: never a secret.
    let listed = operator(&app, &key, "GET", "/apps", None);
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    let apps = listed.body["apps"].as_array().unwrap();
    let ids: Vec<&str> = apps.iter().map(|a| str_of(a, "clientId")).collect();
    assert_eq!(ids, [client_id.as_str(), public_id.as_str()]);
    assert!(apps.iter().all(|a| a.get("clientSecret").is_none()));
    assert!(!listed.body.to_string().contains(&secret));
    let shown = operator(&app, &key, "GET", &format!("/apps/{client_id}"), None);
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.body, apps[0]);
    assert!(shown.body.get("clientSecret").is_none());

    // A rotation: the new secret once; the previous one keeps working for 24 hours.
    let rotated = operator(
        &app,
        &key,
        "POST",
        &format!("/apps/{client_id}/rotate-secret"),
        None,
    );
    assert_eq!(rotated.status, 200, "{:#}", rotated.body);
    assert_eq!(rotated.body["clientId"], client_id.as_str());
    let second = str_of(&rotated.body, "clientSecret").to_owned();
    assert_ne!(second, secret);
    let until = str_of(&rotated.body, "previousSecretValidUntil");
    let now = Timestamp::now();
    assert!(
        until > now.plus_seconds(23 * 3600).to_rfc3339().as_str(),
        "{until}"
    );
    assert!(
        until < now.plus_seconds(25 * 3600).to_rfc3339().as_str(),
        "{until}"
    );
    assert!(authenticates(&app, &client_id, &second, now));
    assert!(
        authenticates(&app, &client_id, &secret, now),
        "in its grace"
    );
    assert!(!authenticates(
        &app,
        &client_id,
        &secret,
        now.plus_seconds(25 * 3600)
    ));
    let shown = operator(&app, &key, "GET", &format!("/apps/{client_id}"), None);
    assert_eq!(shown.body["previousSecretValidUntil"], until);
    assert!(hints_at(str_of(&shown.body, "clientSecretHint"), &second));

    // After a leak: the previous secret ends now (and the one before it with it).
    let rotated = operator(
        &app,
        &key,
        "POST",
        &format!("/apps/{client_id}/rotate-secret"),
        Some(json!({ "endPreviousNow": true })),
    );
    assert_eq!(rotated.status, 200, "{:#}", rotated.body);
    let third = str_of(&rotated.body, "clientSecret").to_owned();
    let now = Timestamp::now();
    assert!(authenticates(&app, &client_id, &third, now));
    assert!(!authenticates(&app, &client_id, &second, now));
    assert!(!authenticates(&app, &client_id, &secret, now));
    let shown = operator(&app, &key, "GET", &format!("/apps/{client_id}"), None);
    assert_eq!(shown.body["previousSecretValidUntil"], Value::Null);

    // A user signed in to the app: deleting the app ends the grant with it.
    let user = app.user(&app.create_user("ada@example.com", "ada"));
    let (grant, _code) = app
        .db
        .store
        .issue_authorization_code(
            &Actor::System,
            &NewOAuthGrant {
                client_id: client_id.clone(),
                workspace_id: user.workspace_id,
                user_id: user.id,
                connection_id: None,
                session_id: None,
                sid: "sid-catalog".to_owned(),
                scope: "openid email".to_owned(),
                offline: false,
                auth_time: Timestamp::now(),
                amr: vec!["pwd".to_owned()],
                acr: None,
            },
            &CodeBinding {
                redirect_uri: REDIRECT.to_owned(),
                code_challenge: None,
                nonce: None,
            },
            Timestamp::now(),
        )
        .unwrap();
    let deleted = operator(&app, &key, "DELETE", &format!("/apps/{client_id}"), None);
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    assert_eq!(deleted.body, Value::Null);
    operator(&app, &key, "GET", &format!("/apps/{client_id}"), None)
        .assert_admin_error(404, "not_found");
    assert!(matches!(
        app.db.store.oauth_grant(&grant.id),
        Err(StoreError::NotFound { .. })
    ));
    assert!(!authenticates(&app, &client_id, &third, Timestamp::now()));
    let listed = operator(&app, &key, "GET", "/apps", None);
    let ids: Vec<&str> = listed.body["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "clientId"))
        .collect();
    assert_eq!(ids, [public_id.as_str()]);

    // Every write audited at deployment level as the operator key.
    let operator_kind =
        |action: &str, target: &str| (action.to_owned(), "operator".to_owned(), target.to_owned());
    assert_eq!(
        app_audit(&app),
        [
            operator_kind("oauth_app.created", &client_id),
            operator_kind("oauth_app.created", &public_id),
            operator_kind("oauth_app.secret_rotated", &client_id),
            operator_kind("oauth_app.secret_rotated", &client_id),
            operator_kind("oauth_app.deleted", &client_id),
        ]
    );
}

#[test]
fn refused_app_requests_answer_in_the_admin_shape_and_change_nothing() {
    let app = TestApp::new();
    let key = operator_key(&app);
    let admin_key = app.api_key();
    let confidential = operator(
        &app,
        &key,
        "POST",
        "/apps",
        Some(json!({ "name": "Catalog", "redirectUris": [REDIRECT] })),
    );
    assert_eq!(confidential.status, 201, "{:#}", confidential.body);
    let client_id = str_of(&confidential.body, "clientId").to_owned();
    let secret = str_of(&confidential.body, "clientSecret").to_owned();
    let public = operator(
        &app,
        &key,
        "POST",
        "/apps",
        Some(json!({ "name": "SPA", "redirectUris": [REDIRECT], "public": true })),
    );
    assert_eq!(public.status, 201, "{:#}", public.body);
    let public_id = str_of(&public.body, "clientId").to_owned();
    let apps_before: Vec<OAuthApp> = app.db.store.oauth_apps().unwrap();
    let audit_before = app_audit(&app);

    // A workspace's admin API key: 403 on every app route.
    for (method, path, body) in [
        ("GET", "/apps".to_owned(), None),
        (
            "POST",
            "/apps".to_owned(),
            Some(json!({ "name": "Sneaky", "redirectUris": [REDIRECT] })),
        ),
        ("GET", format!("/apps/{client_id}"), None),
        ("POST", format!("/apps/{client_id}/rotate-secret"), None),
        ("DELETE", format!("/apps/{client_id}"), None),
    ] {
        let reply = operator(&app, &admin_key, method, &path, body);
        reply.assert_admin_error(403, "forbidden");
        assert_eq!(reply.body["detail"]["refusal"], "workspace_key");
    }
    // No key at all: 401.
    app.raw("GET", "/api/v1/operator/apps", None, &[])
        .assert_admin_error(401, "unauthorized");

    // Registrations the rules refuse: 400 validation, with what is wrong.
    for (body, expected) in [
        (
            json!({ "name": "Bad", "redirectUris": ["http://catalog.example/cb"] }),
            "http://catalog.example/cb",
        ),
        (
            json!({ "name": "Bad", "redirectUris": ["https://catalog.example/cb#x"] }),
            "fragment",
        ),
        (
            json!({ "name": "Bad", "redirectUris": [REDIRECT], "postLogoutRedirectUris": ["javascript:alert(1)"] }),
            "javascript",
        ),
        (
            json!({ "name": "Bad", "redirectUris": [REDIRECT], "backchannelLogoutUri": "https://user@catalog.example/bcl" }),
            "user name",
        ),
        (
            json!({ "name": "Bad", "redirectUris": [REDIRECT, REDIRECT] }),
            "listed twice",
        ),
        (
            json!({ "name": "Bad", "redirectUris": [] }),
            "at least one redirect URI",
        ),
        (json!({ "name": " ", "redirectUris": [REDIRECT] }), "name"),
        (
            json!({ "name": "Bad", "redirectUris": [REDIRECT], "idTokenAlg": "HS256" }),
            "idTokenAlg",
        ),
        (
            json!({ "name": "Bad", "redirectUris": [REDIRECT], "secret": "mine" }),
            "unknown field",
        ),
        (json!({ "name": "Bad" }), "redirectUris"),
    ] {
        let reply = operator(&app, &key, "POST", "/apps", Some(body.clone()));
        let message = reply.assert_admin_error(400, "validation");
        assert!(message.contains(expected), "{body}: {message:?}");
    }
    // A rotation with a malformed body, and of a public app (it has no secret): 400.
    for body in [
        json!({ "endPreviousNow": "yes" }),
        json!({ "revoke": true }),
    ] {
        operator(
            &app,
            &key,
            "POST",
            &format!("/apps/{client_id}/rotate-secret"),
            Some(body),
        )
        .assert_admin_error(400, "validation");
    }
    operator(
        &app,
        &key,
        "POST",
        &format!("/apps/{public_id}/rotate-secret"),
        None,
    )
    .assert_admin_error(400, "validation");

    // An unknown client id: 404 whatever the method.
    for (method, path) in [
        ("GET", "/apps/no-such-client"),
        ("POST", "/apps/no-such-client/rotate-secret"),
        ("DELETE", "/apps/no-such-client"),
    ] {
        let message = operator(&app, &key, method, path, None).assert_admin_error(404, "not_found");
        assert!(message.contains("no-such-client"), "{message}");
    }
    // A method the path does not have: 405 with what it does answer.
    let reply = operator(&app, &key, "PUT", "/apps", Some(json!({})));
    reply.assert_admin_error(405, "method_not_allowed");
    assert_eq!(reply.body["detail"]["allow"], json!(["GET", "POST"]));
    let reply = operator(
        &app,
        &key,
        "GET",
        &format!("/apps/{client_id}/rotate-secret"),
        None,
    );
    reply.assert_admin_error(405, "method_not_allowed");
    assert_eq!(reply.body["detail"]["allow"], json!(["POST"]));

    // Nothing changed: the same apps, secrets and audit trail.
    assert_eq!(app.db.store.oauth_apps().unwrap(), apps_before);
    assert_eq!(app_audit(&app), audit_before);
    assert!(authenticates(&app, &client_id, &secret, Timestamp::now()));
}
