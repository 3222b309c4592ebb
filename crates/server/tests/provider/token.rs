//! The token and userinfo endpoints as a product's OpenID Connect library drives them: the
//! `openidconnect` crate discovers Roster, exchanges a code, verifies the ID token against the
//! published JWKS, calls userinfo and refreshes; and every refusal is the RFC 6749 answer with
//! nothing issued.
//!
//! Each code is issued directly through `Store::issue_authorization_code`, bound exactly as the
//! authorization endpoint binds it (redirect URI, PKCE S256 challenge, nonce), so these tests
//! need no login; `authorize.rs` gets its codes from the authorization endpoint.

use diesel::prelude::*;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeVerifier, RedirectUrl, TokenResponse,
};
use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, Email, LifecycleEvent, Source, Timestamp, User, UserName, Workspace,
};
use roster_store::schema::{oauth_grants, oauth_refresh_tokens};
use roster_store::testing::test_app;
use roster_store::{
    ClientAuthMethod, CodeBinding, NewOAuthApp, NewOAuthGrant, NewUser, OAuthApp, SigningAlg,
};

use crate::{http, payload, Provider, Reply};

const REDIRECT: &str = "https://catalog.example/oidc/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kSn4-1K2E5wEHgA0H7J2dGkIhNo-verifier";
/// `BASE64URL(SHA256(VERIFIER))`, computed independently (Python's hashlib).
const CHALLENGE: &str = "bom-kBzocdot6rY4UXL5MZaXipSu9hYtMIx9o8fDd2o";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Product {
    provider: Provider,
    workspace: Workspace,
    user: User,
    app: OAuthApp,
    secret: String,
    other_app: OAuthApp,
    other_secret: String,
}

fn register(provider: &Provider, name: &str, alg: SigningAlg) -> (OAuthApp, String) {
    let (app, secret) = provider.db.register_app(&NewOAuthApp {
        id_token_alg: alg,
        ..test_app(name, REDIRECT)
    });
    (app, secret.unwrap())
}

fn product(alg: SigningAlg) -> Product {
    let provider = Provider::start_self_issued();
    let workspace = provider.db.workspace("acme");
    let mut new_user = NewUser::minimal(
        workspace.id,
        UserName::parse("ada@acme.example").unwrap(),
        Source::Scim,
    );
    new_user.email = Some(Email::parse("ada@acme.example").unwrap());
    new_user.given_name = Some("Ada".to_owned());
    new_user.family_name = Some("Lovelace".to_owned());
    new_user.display_name = Some("Ada Lovelace".to_owned());
    let user = provider
        .db
        .store
        .create_user(&Actor::Cli, &new_user)
        .unwrap();
    let (app, secret) = register(&provider, "Data Catalog", alg);
    let (other_app, other_secret) = register(&provider, "Other product", SigningAlg::Rs256);
    Product {
        provider,
        workspace,
        user,
        app,
        secret,
        other_app,
        other_secret,
    }
}

impl Product {
    /// A code for `app`, as the authorization endpoint will issue it.
    fn code(&self, app: &OAuthApp, offline: bool) -> String {
        let scope = if offline {
            "openid profile email roles groups offline_access"
        } else {
            "openid profile email roles groups"
        };
        let (_, code) = self
            .provider
            .db
            .store
            .issue_authorization_code(
                &Actor::System,
                &NewOAuthGrant {
                    client_id: app.client_id.clone(),
                    workspace_id: self.workspace.id,
                    user_id: self.user.id,
                    connection_id: None,
                    session_id: Some("session-1".to_owned()),
                    sid: format!("sid-{}", app.client_id),
                    scope: scope.to_owned(),
                    offline,
                    auth_time: Timestamp::now(),
                    amr: vec!["pwd".to_owned()],
                    acr: None,
                },
                &CodeBinding {
                    redirect_uri: REDIRECT.to_owned(),
                    code_challenge: Some(CHALLENGE.to_owned()),
                    nonce: Some(NONCE.to_owned()),
                },
                Timestamp::now(),
            )
            .unwrap();
        code.expose().to_owned()
    }

    fn client(
        &self,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        let issuer = IssuerUrl::new(self.provider.server.url()).unwrap();
        let metadata = CoreProviderMetadata::discover(&issuer, &http).unwrap();
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.app.client_id.clone()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
    }

    /// (grants revoked, refresh tokens) in the database.
    fn counts(&self) -> (i64, i64) {
        self.provider
            .db
            .read_rows(|conn| {
                let revoked = oauth_grants::table
                    .filter(oauth_grants::revoked_at.is_not_null())
                    .count()
                    .get_result(conn)?;
                let refresh = oauth_refresh_tokens::table.count().get_result(conn)?;
                Ok((revoked, refresh))
            })
            .unwrap()
    }

    fn token(&self, basic: Option<&str>, form: &[(&str, &str)]) -> Reply {
        self.provider.post_form("/oauth2/token", basic, form)
    }

    fn basic(&self) -> String {
        format!("{}:{}", self.app.client_id, self.secret)
    }

    /// Redeems `code` with the authorization request's redirect URI and PKCE verifier.
    fn redeem(&self, basic: &str, code: &str) -> Reply {
        self.token(
            Some(basic),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
    }
}

fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{:#}", reply.body);
    assert_eq!(reply.body["error"], error, "{:#}", reply.body);
    assert!(reply.body.get("access_token").is_none(), "nothing issued");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "no CORS on credential endpoints"
    );
}

#[test]
fn a_client_library_exchanges_a_code_verifies_the_id_token_calls_userinfo_and_refreshes() {
    for alg in [SigningAlg::Rs256, SigningAlg::Es256] {
        let product = product(alg);
        let client = product.client();
        let code = product.code(&product.app, true);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(VERIFIER.to_owned()))
            .request(&http)
            .unwrap();
        let id_token = response.id_token().unwrap();
        let verifier = client.id_token_verifier().set_allowed_algs(vec![match alg {
            SigningAlg::Rs256 => openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            SigningAlg::Es256 => openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        }]);
        let claims = id_token
            .claims(&verifier, &Nonce::new(NONCE.to_owned()))
            .unwrap();
        assert_eq!(claims.subject().as_str(), product.user.id.to_string());
        assert_eq!(
            claims.email().map(|email| email.as_str()),
            Some("ada@acme.example")
        );
        let raw = payload(&id_token.to_string());
        assert_eq!(raw["wid"], product.workspace.id.to_string());
        assert_eq!(raw["workspace"], "acme");
        assert_eq!(raw["preferred_username"], "ada@acme.example");
        assert!(raw["roles"].is_array(), "{raw:#}");
        assert_eq!(raw["groups"], serde_json::json!([]));
        assert_eq!(
            response.scopes().map(|scopes| scopes.len()),
            Some(6),
            "the granted scope is echoed"
        );
        let access = payload(response.access_token().secret());
        assert_eq!(access["aud"], product.app.client_id);
        let refresh = response.refresh_token().unwrap().clone();

        // Userinfo, through the library and as raw JSON.
        let info: CoreUserInfoClaims = client
            .user_info(response.access_token().clone(), None)
            .unwrap()
            .request(&http)
            .unwrap();
        assert_eq!(info.subject().as_str(), product.user.id.to_string());
        let raw_info = product
            .provider
            .get_bearer("/oauth2/userinfo", response.access_token().secret());
        assert_eq!(raw_info.status, 200, "{:#}", raw_info.body);
        assert_eq!(raw_info.header("cache-control"), Some("no-store"));
        assert_eq!(raw_info.body["wid"], product.workspace.id.to_string());
        assert_eq!(raw_info.body["family_name"], "Lovelace");
        assert_eq!(raw_info.body["email_verified"], true);

        // Refresh: a new access token and a new refresh token; the old one is spent.
        let refreshed = client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request(&http)
            .unwrap();
        let new_refresh = refreshed.refresh_token().unwrap();
        assert_ne!(new_refresh.secret(), refresh.secret());
        assert_eq!(
            payload(refreshed.access_token().secret())["sub"],
            product.user.id.to_string()
        );
        let again = product.token(
            Some(&product.basic()),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", new_refresh.secret()),
            ],
        );
        assert_eq!(again.status, 200, "{:#}", again.body);
        assert_eq!(again.header("cache-control"), Some("no-store"));
        assert_eq!(again.body["token_type"], "Bearer");
        assert_eq!(again.body["expires_in"], 300);
    }
}

#[test]
fn a_wrong_secret_is_401_with_a_basic_challenge_and_two_methods_are_400() {
    let product = product(SigningAlg::Rs256);
    let code = product.code(&product.app, true);
    let redeem = |basic: Option<&str>, extra: &[(&str, &str)]| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        form.extend_from_slice(extra);
        product.token(basic, &form)
    };
    let wrong = format!("{}:not-the-secret", product.app.client_id);
    let reply = redeem(Some(&wrong), &[]);
    assert_oauth_error(&reply, 401, "invalid_client");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Basic realm="roster", charset="UTF-8""#)
    );
    // The same wrong secret in the form: 401 without a Basic challenge.
    let reply = redeem(
        None,
        &[
            ("client_id", &product.app.client_id),
            ("client_secret", "not-the-secret"),
        ],
    );
    assert_oauth_error(&reply, 401, "invalid_client");
    assert_eq!(reply.header("www-authenticate"), None);
    // No secret at all for a confidential app.
    let reply = redeem(None, &[("client_id", &product.app.client_id)]);
    assert_oauth_error(&reply, 401, "invalid_client");
    // Basic and a body secret together.
    let reply = redeem(
        Some(&product.basic()),
        &[("client_secret", product.secret.as_str())],
    );
    assert_oauth_error(&reply, 400, "invalid_request");
    assert_eq!(product.counts(), (0, 0), "nothing issued, nothing revoked");

    // The code was not consumed by any of these: its owner still redeems it, and with
    // client_secret_post too.
    let reply = redeem(
        None,
        &[
            ("client_id", &product.app.client_id),
            ("client_secret", product.secret.as_str()),
        ],
    );
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(product.counts(), (0, 1));
}

#[test]
fn basic_credentials_are_form_urldecoded() {
    let product = product(SigningAlg::Rs256);
    let code = product.code(&product.app, false);
    // Every character percent-encoded, as RFC 6749 §2.3.1 allows.
    let encode = |text: &str| -> String { text.bytes().map(|b| format!("%{b:02X}")).collect() };
    let basic = format!(
        "{}:{}",
        encode(&product.app.client_id),
        encode(&product.secret)
    );
    let reply = product.redeem(&basic, &code);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert!(reply.body.get("refresh_token").is_none(), "not offline");
}

#[test]
fn refused_codes_are_invalid_grant_and_issue_nothing() {
    let product = product(SigningAlg::Rs256);
    let code = product.code(&product.app, true);
    let form = |code: &str, redirect: &'static str, verifier: &'static str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let send = |basic: &str, form: Vec<(&str, String)>| {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        product.token(Some(basic), &form)
    };
    let other_basic = format!("{}:{}", product.other_app.client_id, product.other_secret);
    for (basic, form) in [
        // Another client's code.
        (other_basic.as_str(), form(&code, REDIRECT, VERIFIER)),
        // A redirect URI other than the authorization request's.
        (
            product.basic().as_str(),
            form(&code, "https://catalog.example/oidc/callback/", VERIFIER),
        ),
        // A wrong PKCE verifier.
        (
            product.basic().as_str(),
            form(
                &code,
                REDIRECT,
                "wrong-verifier-wrong-verifier-wrong-verifier-wrong",
            ),
        ),
        // No such code.
        (product.basic().as_str(), form("0000", REDIRECT, VERIFIER)),
    ] {
        assert_oauth_error(&send(basic, form), 400, "invalid_grant");
    }
    assert_eq!(product.counts(), (0, 0), "nothing issued, nothing revoked");

    // Its owner redeems it once; a second use is refused and revokes what the first issued.
    let first = send(&product.basic(), form(&code, REDIRECT, VERIFIER));
    assert_eq!(first.status, 200, "{:#}", first.body);
    let access_token = first.body["access_token"].as_str().unwrap();
    assert_eq!(
        product
            .provider
            .get_bearer("/oauth2/userinfo", access_token)
            .status,
        200
    );
    let second = send(&product.basic(), form(&code, REDIRECT, VERIFIER));
    assert_oauth_error(&second, 400, "invalid_grant");
    assert_eq!(
        product.counts(),
        (1, 1),
        "the grant is revoked, nothing new"
    );
    let info = product
        .provider
        .get_bearer("/oauth2/userinfo", access_token);
    assert_eq!(info.status, 401, "{:#}", info.body);
    assert_eq!(
        info.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token", error_description="the access token is not valid""#)
    );
    let refresh = first.body["refresh_token"].as_str().unwrap();
    let reply = product.token(
        Some(&product.basic()),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    );
    assert_oauth_error(&reply, 400, "invalid_grant");
    assert_eq!(product.counts(), (1, 1));
}

#[test]
fn a_deactivated_user_cannot_refresh_or_read_userinfo() {
    let product = product(SigningAlg::Rs256);
    let code = product.code(&product.app, true);
    let reply = product.redeem(&product.basic(), &code);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let access_token = reply.body["access_token"].as_str().unwrap();
    let refresh = reply.body["refresh_token"].as_str().unwrap();
    product
        .provider
        .db
        .store
        .change_lifecycle(
            &Actor::Cli,
            product.workspace.id,
            product.user.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    let info = product
        .provider
        .get_bearer("/oauth2/userinfo", access_token);
    assert_eq!(info.status, 401, "{:#}", info.body);
    assert!(info
        .header("www-authenticate")
        .unwrap()
        .contains(r#"error="invalid_token""#));
    let before = product.counts();
    let reply = product.token(
        Some(&product.basic()),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    );
    assert_oauth_error(&reply, 400, "invalid_grant");
    assert_eq!(product.counts(), before, "no refresh token issued");
    // And a token that is not Roster's at all.
    let info = product
        .provider
        .get_bearer("/oauth2/userinfo", "abc.def.ghi");
    assert_eq!(info.status, 401);
}

#[test]
fn a_public_app_authenticates_with_its_client_id_and_pkce_only() {
    let product = product(SigningAlg::Rs256);
    let (public, _) = product.provider.db.register_app(&NewOAuthApp {
        auth_method: ClientAuthMethod::None,
        ..test_app("Desktop app", REDIRECT)
    });
    let code = product.code(&public, false);
    let redeem = |extra: &[(&str, &str)]| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", public.client_id.as_str()),
        ];
        form.extend_from_slice(extra);
        product.token(None, &form)
    };
    // A public app has no secret to present: one presented is refused.
    assert_oauth_error(
        &redeem(&[("client_secret", "guess")]),
        401,
        "invalid_client",
    );
    // A parameter sent twice (RFC 6749 §3.2), and an unknown grant type.
    assert_oauth_error(&redeem(&[("code", "again")]), 400, "invalid_request");
    let reply = product.token(
        None,
        &[("grant_type", "password"), ("client_id", &public.client_id)],
    );
    assert_oauth_error(&reply, 400, "unsupported_grant_type");
    let reply = redeem(&[]);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(
        payload(reply.body["id_token"].as_str().unwrap())["nonce"],
        NONCE
    );
}

#[test]
fn repeated_failed_client_authentications_lock_the_client() {
    let product = product(SigningAlg::Rs256);
    let code = product.code(&product.app, false);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let wrong = format!("{}:guess", product.app.client_id);
    for _ in 0..roster_provider::client_throttle::MAX_FAILURES {
        assert_oauth_error(&product.token(Some(&wrong), &form), 401, "invalid_client");
    }
    // Locked: even the right secret waits, so guessing cannot go on.
    let reply = product.token(Some(&product.basic()), &form);
    assert_oauth_error(&reply, 429, "invalid_client");
    assert!(reply.header("retry-after").is_some());
    // Other clients are not affected.
    let other = format!("{}:guess", product.other_app.client_id);
    assert_oauth_error(&product.token(Some(&other), &form), 401, "invalid_client");
    assert_eq!(product.counts(), (0, 0));
}

#[test]
fn a_reused_refresh_token_revokes_its_grant() {
    let product = product(SigningAlg::Rs256);
    let code = product.code(&product.app, true);
    let reply = product.redeem(&product.basic(), &code);
    let refresh = reply.body["refresh_token"].as_str().unwrap().to_owned();
    let use_refresh = |token: &str, extra: &[(&str, &str)]| {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        form.extend_from_slice(extra);
        product.token(Some(&product.basic()), &form)
    };
    // A wider scope than granted is invalid_scope, and spends nothing.
    assert_oauth_error(
        &use_refresh(&refresh, &[("scope", "openid admin")]),
        400,
        "invalid_scope",
    );
    // Another app's credentials with this app's token.
    let other = format!("{}:{}", product.other_app.client_id, product.other_secret);
    let reply = product.token(
        Some(&other),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_oauth_error(&reply, 400, "invalid_grant");
    let rotated = use_refresh(&refresh, &[("scope", "openid email")]);
    assert_eq!(rotated.status, 200, "{:#}", rotated.body);
    assert_eq!(rotated.body["scope"], "openid email");
    let child = rotated.body["refresh_token"].as_str().unwrap();
    assert_eq!(product.counts(), (0, 2));
    // The rotated token again: the whole grant ends, its child with it.
    assert_oauth_error(&use_refresh(&refresh, &[]), 400, "invalid_grant");
    assert_eq!(product.counts(), (1, 2));
    assert_oauth_error(&use_refresh(child, &[]), 400, "invalid_grant");
    let info = product.provider.get_bearer(
        "/oauth2/userinfo",
        rotated.body["access_token"].as_str().unwrap(),
    );
    assert_eq!(info.status, 401);
}

#[test]
fn a_code_of_a_user_who_is_not_active_issues_nothing() {
    let product = product(SigningAlg::Rs256);
    product
        .provider
        .db
        .store
        .change_lifecycle(
            &Actor::Cli,
            product.workspace.id,
            product.user.id,
            LifecycleEvent::Deactivate,
        )
        .unwrap();
    // A grant made after the deactivation (the authorization endpoint refuses inactive users;
    // this is the token endpoint's own check).
    let code = product.code(&product.app, true);
    let reply = product.redeem(&product.basic(), &code);
    assert_oauth_error(&reply, 400, "invalid_grant");
    let (revoked, _) = product.counts();
    assert_eq!(
        revoked, 1,
        "the grant, and the refresh token it made, are revoked"
    );
}

#[test]
fn revocation_ends_the_apps_own_grant_and_answers_200_for_anything_else() {
    let product = product(SigningAlg::Rs256);
    let exchange = |app: &OAuthApp, basic: &str| {
        let code = product.code(app, true);
        let reply = product.redeem(basic, &code);
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        (
            reply.body["access_token"].as_str().unwrap().to_owned(),
            reply.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    };
    let other_basic = format!("{}:{}", product.other_app.client_id, product.other_secret);
    let (access, refresh) = exchange(&product.app, &product.basic());
    let (other_access, other_refresh) = exchange(&product.other_app, &other_basic);
    let revoke = |basic: Option<&str>, form: &[(&str, &str)]| {
        product.provider.post_form("/oauth2/revoke", basic, form)
    };

    // A request that names no client, a wrong secret, no token: refused, nothing revoked.
    assert_oauth_error(
        &revoke(None, &[("token", &refresh)]),
        400,
        "invalid_request",
    );
    let wrong = format!("{}:not-the-secret", product.app.client_id);
    assert_oauth_error(
        &revoke(Some(&wrong), &[("token", &refresh)]),
        401,
        "invalid_client",
    );
    assert_oauth_error(&revoke(Some(&product.basic()), &[]), 400, "invalid_request");
    // Another app's tokens and unknown ones: 200 (RFC 7009 §2.2), and left alone.
    for token in [
        other_refresh.as_str(),
        other_access.as_str(),
        "no-such-token",
    ] {
        let reply = revoke(Some(&product.basic()), &[("token", token)]);
        assert_eq!(reply.status, 200, "{:#}", reply.body);
    }
    assert_eq!(product.counts().0, 0, "nothing was revoked");
    assert_eq!(
        product
            .provider
            .get_bearer("/oauth2/userinfo", &other_access)
            .status,
        200
    );

    // Its own refresh token: the grant ends — refresh and userinfo stop at once.
    let reply = revoke(
        Some(&product.basic()),
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    );
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(product.counts().0, 1);
    assert_eq!(
        product
            .provider
            .get_bearer("/oauth2/userinfo", &access)
            .status,
        401
    );
    let again = product.token(
        Some(&product.basic()),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_oauth_error(&again, 400, "invalid_grant");
    // Revoking it again is still 200.
    assert_eq!(
        revoke(Some(&product.basic()), &[("token", &refresh)]).status,
        200
    );

    // The other app revokes by its access token: its grant ends too.
    let reply = revoke(Some(&other_basic), &[("token", &other_access)]);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(product.counts().0, 2);
    assert_eq!(
        product
            .provider
            .get_bearer("/oauth2/userinfo", &other_access)
            .status,
        401
    );
}

/// A single-page app (a public app) reads the token and revocation answers from the origin of
/// its redirect URI, and only from there; userinfo answers any origin (a bearer token, no
/// cookie, authorizes it); server-side requests (no `Origin`) get no CORS headers.
#[test]
fn browser_apps_read_token_answers_only_from_their_own_origin() {
    let product = product(SigningAlg::Rs256);
    product.provider.db.register_app(&NewOAuthApp {
        auth_method: ClientAuthMethod::None,
        id_token_alg: SigningAlg::Es256,
        ..test_app("Single-page app", "https://spa.example/callback")
    });
    let form = [("grant_type", "authorization_code"), ("code", "nope")];
    for (origin, allowed) in [
        (Some("https://spa.example"), true),
        (Some("https://evil.example"), false),
        (Some("https://catalog.example"), false),
        (None, false),
    ] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        for path in ["/oauth2/token", "/oauth2/revoke"] {
            let reply = product.provider.send("POST", path, &headers, &form);
            assert!(reply.status >= 400, "{path}: {:#}", reply.body);
            assert_eq!(
                reply.header("access-control-allow-origin"),
                origin.filter(|_| allowed),
                "{path} from {origin:?}"
            );
            assert_eq!(reply.header("vary"), Some("Origin"));
            let mut preflight = headers.clone();
            preflight.push(("Access-Control-Request-Method", "POST"));
            let reply = product.provider.send("OPTIONS", path, &preflight, &[]);
            assert_eq!(reply.status, 204);
            assert_eq!(
                reply.header("access-control-allow-origin"),
                origin.filter(|_| allowed),
                "preflight of {path} from {origin:?}"
            );
        }
    }
    let reply = product.provider.send(
        "GET",
        "/oauth2/userinfo",
        &[
            ("Origin", "https://anywhere.example"),
            ("Authorization", "Bearer x"),
        ],
        &[],
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let reply = product.provider.send(
        "OPTIONS",
        "/oauth2/userinfo",
        &[("Origin", "https://anywhere.example")],
        &[],
    );
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("Authorization")
    );
}
