//! Custom attributes through the OpenID Provider (issue #28) over real HTTP: an admin declares
//! attributes and sets a user's values with the admin API, and an app that asked for the
//! `attributes` scope reads the released ones in the ID token and at userinfo — never an
//! unreleased one, nothing without the scope, and the current values after a change (a refresh
//! re-reads the user).

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Source, UserName};
use roster_store::NewUser;
use serde_json::{json, Value};

use crate::authorize::{param, setup, to_app, Setup};
use crate::{payload, Reply};

/// The ID token claims, access token and refresh token of a sign-in of Ada asking for `scope`.
fn sign_in(s: &Setup, session: &str, scope: &str) -> (Value, String, Option<String>) {
    let query = to_app(&s.authorize(
        &s.params(&[("workspace", "acme"), ("scope", scope)]),
        session,
    ));
    let (claims, _, access, refresh) = s.redeem_tokens(param(&query, "code").unwrap());
    (claims, access, refresh)
}

fn userinfo(s: &Setup, access: &str) -> Value {
    let reply = s.provider.get_bearer("/oauth2/userinfo", access);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body
}

#[track_caller]
fn ok(reply: Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{:#}", reply.body);
    reply.body
}

#[test]
fn released_attributes_reach_the_id_token_and_userinfo_under_their_scope_and_stay_current() {
    let s = setup();
    let (_, key) = s
        .provider
        .db
        .store
        .create_api_key(&Actor::Cli, s.workspace.id, "test")
        .unwrap();
    let key = key.expose();
    let admin =
        |method: &str, path: &str, body: Value| s.provider.admin(key, method, path, Some(body));
    for declaration in [
        json!({"template": "department"}),
        json!({"name": "skills", "type": "string_list"}),
        json!({"name": "salary", "type": "number", "released": false}),
        json!({"template": "manager"}),
        json!({"template": "title"}),
        json!({"name": "level", "type": "number"}),
        json!({"name": "remote", "type": "boolean"}),
    ] {
        ok(admin("POST", "/attributes", declaration), 201);
    }
    let grace = s
        .provider
        .db
        .store
        .create_user(
            &Actor::Cli,
            &NewUser::minimal(
                s.workspace.id,
                UserName::parse("grace@acme.example").unwrap(),
                Source::Invited,
            ),
        )
        .unwrap();
    let values = ok(
        admin(
            "PUT",
            &format!("/users/{}/attributes", s.user.id),
            json!({"attributes": {
                "department": "Sales",
                "skills": ["negotiation", "SQL"],
                "salary": 90000,
                "manager": grace.id.to_string(),
                "level": 3,
                "remote": "true",
            }}),
        ),
        200,
    );
    assert_eq!(
        values["attributes"]["salary"].as_f64(),
        Some(90000.0),
        "stored, for the admin"
    );
    // Each value as stored: typed against its declaration when it was set.
    let released = json!({
        "department": "Sales",
        "skills": ["negotiation", "SQL"],
        "manager": grace.id.to_string(),
        "level": 3,
        "remote": true,
    });

    // With the scope: the released values (a user_ref is the user's sub), never `salary`, and
    // `title` without a value is absent.
    let session = s.session();
    let (claims, access, refresh) = sign_in(&s, &session, "openid attributes offline_access");
    assert_eq!(claims["attributes"], released, "{claims:#}");
    assert!(claims.get("attributes_truncated").is_none());
    assert_eq!(userinfo(&s, &access)["attributes"], released);

    // Without it: no `attributes` claim at all, in either place.
    let (plain, plain_access, _) = sign_in(&s, &session, "openid email roles");
    assert_eq!(plain["sub"], s.user.id.to_string());
    assert!(plain.get("attributes").is_none(), "{plain:#}");
    assert!(userinfo(&s, &plain_access).get("attributes").is_none());

    // The department changes: userinfo answers the new value at once, and the ID token of the
    // next refresh carries it.
    ok(
        admin(
            "PUT",
            &format!("/users/{}/attributes", s.user.id),
            json!({"attributes": {"department": "Marketing", "skills": null}}),
        ),
        200,
    );
    let current = json!({
        "department": "Marketing",
        "manager": grace.id.to_string(),
        "level": 3,
        "remote": true,
    });
    assert_eq!(userinfo(&s, &access)["attributes"], current);
    let basic = format!("{}:{}", s.app.client_id, s.secret);
    let refreshed = s.provider.post_form(
        "/oauth2/token",
        Some(&basic),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh.unwrap()),
        ],
    );
    let refreshed = ok(refreshed, 200);
    let id_token = payload(refreshed["id_token"].as_str().unwrap());
    assert_eq!(id_token["attributes"], current, "{id_token:#}");
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&s, access)["attributes"], current);
}
