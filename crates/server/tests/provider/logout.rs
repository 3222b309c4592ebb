//! RP-initiated logout (`/oauth2/logout`) over real HTTP: a product's ID token as the hint ends
//! the browser's Roster session and the grants it gave, then the browser goes back to the
//! registered post-logout URI; without proof that the request is the browser's own, Roster
//! asks first; unregistered URIs and foreign hints get a page and change nothing.

use pretty_assertions::assert_eq;

use crate::authorize::{cookie_value, page, param, setup, to_app, Setup, SIGNED_OUT};

/// A signed-in browser and the tokens the product holds: (session cookie, ID token, access
/// token, refresh token when `offline`).
fn signed_in(s: &Setup, offline: bool) -> (String, String, String, Option<String>) {
    let session = s.session();
    let (id_token, access, refresh) = signed_into_product(s, &session, offline);
    (session, id_token, access, refresh)
}

/// The product's sign-in in a browser with `session`: (ID token, access token, refresh token).
fn signed_into_product(
    s: &Setup,
    session: &str,
    offline: bool,
) -> (String, String, Option<String>) {
    let scope = if offline {
        "openid email offline_access"
    } else {
        "openid email"
    };
    let reply = s.authorize(
        &s.params(&[("workspace", "acme"), ("scope", scope)]),
        session,
    );
    let code = param(&to_app(&reply), "code").unwrap().to_owned();
    let (_, id_token, access, refresh) = s.redeem_tokens(&code);
    (id_token, access, refresh)
}

fn logout_url(params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("/oauth2/logout?{query}")
}

/// Whether the session cookie still signs the browser in.
fn session_is_live(s: &Setup, session: &str) -> bool {
    s.get("/api/v1/me", session).status == 200
}

fn userinfo_status(s: &Setup, access: &str) -> u16 {
    s.provider.get_bearer("/oauth2/userinfo", access).status
}

#[test]
fn the_products_id_token_ends_the_session_and_its_grants_and_goes_back() {
    let s = setup();
    let (session, id_token, access, _) = signed_in(&s, false);
    // The same session signs the product in again with offline_access.
    let (_, _, refresh) = signed_into_product(&s, &session, true);
    assert!(session_is_live(&s, &session));
    assert_eq!(userinfo_status(&s, &access), 200);

    let reply = s.get(
        &logout_url(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("state", "bye 1"),
        ]),
        &session,
    );
    assert_eq!(reply.status, 303, "{:#}", reply.body);
    assert_eq!(
        reply.header("location"),
        Some(format!("{SIGNED_OUT}?state=bye+1").as_str())
    );
    assert_eq!(cookie_value(&reply, "roster_session").as_deref(), Some(""));
    assert!(!session_is_live(&s, &session), "the Roster session ended");
    assert_eq!(userinfo_status(&s, &access), 401, "its grant was revoked");
    // prompt=none finds no session now.
    let again = s.authorize(
        &s.params(&[("workspace", "acme"), ("prompt", "none")]),
        &session,
    );
    assert_eq!(param(&to_app(&again), "error"), Some("login_required"));
    // An offline_access grant outlives the session (Back-Channel Logout §2.7).
    let refreshed = s.provider.post_form(
        "/oauth2/token",
        Some(&format!("{}:{}", s.app.client_id, s.secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_deref().unwrap()),
        ],
    );
    assert_eq!(refreshed.status, 200, "{:#}", refreshed.body);
}

#[test]
fn without_a_matching_hint_roster_asks_and_only_a_same_origin_confirmation_signs_out() {
    let s = setup();
    let (session, _, access, _) = signed_in(&s, false);
    // Another session of the same user: its ID token does not name this browser's session.
    let (_, other_id_token, _, _) = signed_in(&s, false);
    for params in [
        vec![
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("client_id", s.app.client_id.as_str()),
        ],
        vec![("id_token_hint", other_id_token.as_str())],
    ] {
        let reply = s.get(&logout_url(&params), &session);
        assert_eq!(reply.status, 200);
        let html = reply.body.as_str().unwrap();
        assert!(html.contains(r#"action="/oauth2/logout""#), "{html}");
        assert!(html.contains(r#"name="confirm" value="yes""#));
        assert!(reply
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert!(session_is_live(&s, &session), "asking ends nothing");
    }

    let form = [
        ("post_logout_redirect_uri", SIGNED_OUT),
        ("client_id", s.app.client_id.as_str()),
        ("confirm", "yes"),
    ];
    // A confirmation posted by another site: asked again, nothing ends.
    let forged = s.post(
        "/oauth2/logout",
        &form,
        &session,
        Some("https://evil.example"),
    );
    assert_eq!(forged.status, 200);
    assert!(forged.body.as_str().unwrap().contains("Sign out?"));
    assert!(session_is_live(&s, &session));
    assert_eq!(userinfo_status(&s, &access), 200);

    // The confirmation page's own button.
    let origin = s.provider.server.url();
    let confirmed = s.post(
        "/oauth2/logout",
        &form,
        &session,
        Some(origin.trim_end_matches('/')),
    );
    assert_eq!(confirmed.status, 303, "{:#}", confirmed.body);
    assert_eq!(confirmed.header("location"), Some(SIGNED_OUT));
    assert!(!session_is_live(&s, &session));
    assert_eq!(userinfo_status(&s, &access), 401);
}

#[test]
fn unregistered_uris_and_foreign_or_forged_hints_get_a_page_and_end_nothing() {
    let s = setup();
    let (session, id_token, access, _) = signed_in(&s, false);
    let access_token_as_hint = access.clone();
    for (params, code) in [
        (
            vec![
                ("id_token_hint", id_token.as_str()),
                (
                    "post_logout_redirect_uri",
                    "https://catalog.example/signed-out/",
                ),
            ],
            "unregistered_post_logout_redirect_uri",
        ),
        (
            vec![
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
            "unregistered_post_logout_redirect_uri",
        ),
        (
            vec![("post_logout_redirect_uri", SIGNED_OUT)],
            "post_logout_redirect_uri_without_client",
        ),
        (
            vec![
                ("id_token_hint", id_token.as_str()),
                ("client_id", "another-app"),
            ],
            "client_id_mismatch",
        ),
        (
            vec![("id_token_hint", "not.a.token")],
            "invalid_id_token_hint",
        ),
        (
            vec![("id_token_hint", access_token_as_hint.as_str())],
            "invalid_id_token_hint",
        ),
    ] {
        let reply = s.get(&logout_url(&params), &session);
        page(&reply, code);
        assert_eq!(cookie_value(&reply, "roster_session"), None, "{code}");
        assert!(session_is_live(&s, &session), "{code}");
        assert_eq!(userinfo_status(&s, &access), 200, "{code}");
    }
}

#[test]
fn a_browser_without_a_session_is_signed_out_at_once() {
    let s = setup();
    let (_, id_token, access, _) = signed_in(&s, false);
    // Another browser (no cookie) with the product's hint: nothing to end there, and the hint
    // alone ends nobody's session.
    let reply = s.get(
        &logout_url(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ]),
        "",
    );
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some(SIGNED_OUT));
    assert_eq!(userinfo_status(&s, &access), 200);
    let reply = s.get("/oauth2/logout", "");
    assert_eq!(reply.status, 200);
    assert!(reply.body.as_str().unwrap().contains("Signed out"));
    assert_eq!(reply.header("location"), None);
}
