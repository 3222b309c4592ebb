//! The authorization endpoint over real HTTP: where a browser is sent (the app with a code or
//! an error, the workspace's login, the email-first page, or a page that goes nowhere), what is
//! stored meanwhile, and the resume after the upstream login — each refusal proven to issue
//! nothing. The upstream login itself (SimpleSAMLphp, oidc-provider) runs in the SSO and
//! example-product end-to-end tests; here a password session stands in for it.

use diesel::prelude::*;
use openidconnect::core::{CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeVerifier, RedirectUrl, TokenResponse,
};
use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, ConnectionKind, DisplayName, Domain, Email, GroupSync, ProfileSync, Source, Timestamp,
    User, UserName, Vendor, Workspace,
};
use roster_store::schema::{oauth_auth_requests, oauth_codes, oauth_grants};
use roster_store::testing::test_app;
use roster_store::{NewConnection, NewOAuthApp, NewUser, OAuthApp, SigningAlg};
use serde_json::Value;

use crate::{http, payload, Provider, Reply};

pub const REDIRECT: &str = "https://catalog.example/oidc/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kSn4-1K2E5wEHgA0H7J2dGkIhNo-verifier";
const CHALLENGE: &str = "bom-kBzocdot6rY4UXL5MZaXipSu9hYtMIx9o8fDd2o";
pub const NONCE: &str = "n-0S6_WzA2Mj";
pub const SIGNED_OUT: &str = "https://catalog.example/signed-out";
const PASSWORD: &str = "pw-123456-long";

pub struct Setup {
    pub provider: Provider,
    pub workspace: Workspace,
    pub user: User,
    pub app: OAuthApp,
    pub secret: String,
    agent: ureq::Agent,
}

/// Records `domain` as verified by `workspace`, as a check that found its TXT record would.
pub fn verify_domain(store: &roster_store::Store, workspace: &Workspace, domain: &str) {
    let domain = Domain::parse(domain).unwrap();
    let added = store
        .add_domain(&Actor::Cli, workspace.id, &domain)
        .unwrap();
    store
        .record_domain_check(
            &Actor::Cli,
            workspace.id,
            &domain,
            &added.challenge,
            roster_store::domain::domain_proof::Check::Found,
            roster_store::domain::domain_proof::Trigger::Request,
        )
        .unwrap();
}

/// Roster with workspace `acme` (a SAML connection `okta` for `acme.example`, a domain it
/// verified; not contacted here), its user Ada with a password, and a confidential app.
pub fn setup() -> Setup {
    let provider = Provider::start_self_issued();
    let store = &provider.db.store;
    let workspace = provider.db.workspace("acme");
    store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse("okta").unwrap(),
                kind: ConnectionKind::Saml,
                vendor: Vendor::Okta,
                protocol_config: "{}".to_owned(),
                domains: vec![Domain::parse("acme.example").unwrap()],
                scim_enabled: false,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
    // The workspace proved it owns acme.example (the DNS side: tests/domains), so the domain
    // routes `login_hint` discovery.
    verify_domain(store, &workspace, "acme.example");
    let mut new_user = NewUser::minimal(
        workspace.id,
        UserName::parse("ada@acme.example").unwrap(),
        Source::Invited,
    );
    new_user.email = Some(Email::parse("ada@acme.example").unwrap());
    let user = store.create_user(&Actor::Cli, &new_user).unwrap();
    let hash = roster_store::domain::password::hash_password(PASSWORD).unwrap();
    store
        .set_password_hash(&Actor::Cli, workspace.id, user.id, &hash)
        .unwrap();
    let (app, secret) = provider.db.register_app(&NewOAuthApp {
        id_token_alg: SigningAlg::Es256,
        post_logout_redirect_uris: vec![SIGNED_OUT.to_owned()],
        ..test_app("Data Catalog", REDIRECT)
    });
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    Setup {
        provider,
        workspace,
        user,
        app,
        secret: secret.unwrap(),
        agent,
    }
}

impl Setup {
    /// A valid request of the app, with `extra` parameters added or replacing.
    pub fn params(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", self.app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email roles groups"),
            ("state", "st-1"),
            ("nonce", NONCE),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (name, value) in extra {
            params.retain(|(k, _)| k != name);
            if !value.is_empty() {
                params.push((name.to_string(), value.to_string()));
            }
        }
        params
    }

    /// `GET /oauth2/authorize` with these parameters and cookies (`name=value; ...`).
    pub fn authorize(&self, params: &[(String, String)], cookies: &str) -> Reply {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        self.get(&format!("/oauth2/authorize?{query}"), cookies)
    }

    pub fn get(&self, path_and_query: &str, cookies: &str) -> Reply {
        let mut request = self
            .agent
            .get(&format!("{}{path_and_query}", self.provider.server.url()));
        if !cookies.is_empty() {
            request = request.header("Cookie", cookies);
        }
        Reply::read(request.call().unwrap())
    }

    /// A form POST with these cookies and, when given, an `Origin` header.
    pub fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookies: &str,
        origin: Option<&str>,
    ) -> Reply {
        let mut request = self
            .agent
            .post(&format!("{}{path}", self.provider.server.url()));
        if !cookies.is_empty() {
            request = request.header("Cookie", cookies);
        }
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        Reply::read(request.send_form(form.iter().copied()).unwrap())
    }

    /// A Roster session of Ada, from the password login.
    pub fn session(&self) -> String {
        let response = self
            .agent
            .post(&format!("{}/login/password", self.provider.server.url()))
            .send_form([
                ("workspace", "acme"),
                ("user_name", "ada@acme.example"),
                ("password", PASSWORD),
                ("return_to", "/"),
            ])
            .unwrap();
        assert_eq!(response.status().as_u16(), 303, "the password login");
        let reply = Reply::read(response);
        format!(
            "roster_session={}",
            cookie_value(&reply, "roster_session").unwrap()
        )
    }

    /// (stored authorization requests, codes, grants).
    pub fn counts(&self) -> (i64, i64, i64) {
        self.provider
            .db
            .read_rows(|conn| {
                Ok((
                    oauth_auth_requests::table.count().get_result(conn)?,
                    oauth_codes::table.count().get_result(conn)?,
                    oauth_grants::table.count().get_result(conn)?,
                ))
            })
            .unwrap()
    }

    /// Redeems a code through the `openidconnect` crate and returns the verified ID token's
    /// raw claims.
    pub fn redeem(&self, code: &str) -> Value {
        self.redeem_tokens(code).0
    }

    /// Redeems a code: the verified ID token's raw claims, the ID token, the access token and
    /// the refresh token (with `offline_access`).
    pub fn redeem_tokens(&self, code: &str) -> (Value, String, String, Option<String>) {
        let issuer = IssuerUrl::new(self.provider.server.url()).unwrap();
        let metadata = CoreProviderMetadata::discover(&issuer, &http).unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.app.client_id.clone()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(VERIFIER.to_owned()))
            .request(&http)
            .unwrap();
        let id_token = response.id_token().unwrap();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        id_token
            .claims(&verifier, &Nonce::new(NONCE.to_owned()))
            .unwrap();
        (
            payload(&id_token.to_string()),
            id_token.to_string(),
            response.access_token().secret().clone(),
            response.refresh_token().map(|token| token.secret().clone()),
        )
    }
}

/// The value of cookie `name` set by `reply` (empty for a removal).
pub fn cookie_value(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .iter()
        .filter(|(header, _)| header == "set-cookie")
        .find_map(|(_, value)| {
            let pair = value.split(';').next()?;
            let (cookie, value) = pair.split_once('=')?;
            (cookie.trim() == name).then(|| value.to_owned())
        })
}

/// The query parameters of a redirect's `Location`.
pub fn location_query(reply: &Reply) -> Vec<(String, String)> {
    let location = reply.header("location").expect("a Location");
    url::Url::parse(&format!("http://x{location}"))
        .or_else(|_| url::Url::parse(location))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A redirect to the app's redirect URI; its query.
#[track_caller]
pub fn to_app(reply: &Reply) -> Vec<(String, String)> {
    assert_eq!(reply.status, 303, "{:#}", reply.body);
    let location = reply.header("location").unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    location_query(reply)
}

/// A page that sends the browser nowhere.
#[track_caller]
pub fn page(reply: &Reply, code: &str) {
    assert_eq!(reply.status, 400, "{:#}", reply.body);
    assert_eq!(reply.header("location"), None, "never redirected");
    let html = reply.body.as_str().unwrap();
    assert!(html.contains(code), "{html}");
    let csp = reply.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
}

#[test]
fn a_live_session_of_the_workspace_answers_with_a_code_the_library_redeems() {
    let s = setup();
    let session = s.session();
    let reply = s.authorize(&s.params(&[("workspace", "acme")]), &session);
    let query = to_app(&reply);
    assert_eq!(param(&query, "state"), Some("st-1"));
    assert_eq!(
        param(&query, "iss"),
        Some(s.provider.server.url().trim_end_matches('/'))
    );
    let code = param(&query, "code").unwrap();
    let claims = s.redeem(code);
    assert_eq!(claims["sub"], s.user.id.to_string());
    assert_eq!(claims["wid"], s.workspace.id.to_string());
    assert_eq!(claims["workspace"], "acme");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sid"].as_str().is_some_and(|sid| sid.len() == 32));
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!((Timestamp::now().as_micros() / 1_000_000 - auth_time).abs() < 60);

    // The same browser asks again (another sign-in of the product): same sid, no IdP.
    let again = to_app(&s.authorize(&s.params(&[("workspace", "acme")]), &session));
    let claims_again = s.redeem(param(&again, "code").unwrap());
    assert_eq!(claims_again["sid"], claims["sid"]);

    // login_hint finds the same workspace by its domain.
    let hinted = s.authorize(&s.params(&[("login_hint", "ADA@acme.example")]), &session);
    assert!(param(&to_app(&hinted), "code").is_some());
}

#[test]
fn without_a_session_the_browser_goes_to_the_workspaces_login_and_comes_back() {
    let s = setup();
    let reply = s.authorize(&s.params(&[("workspace", "acme")]), "");
    assert_eq!(reply.status, 303, "{:#}", reply.body);
    let location = reply.header("location").unwrap().to_owned();
    assert!(location.starts_with("/sso/acme/login?"), "{location}");
    let query = location_query(&reply);
    assert_eq!(param(&query, "connection"), Some("okta"));
    assert_eq!(param(&query, "prompt"), None, "no forced login");
    let return_to = param(&query, "return_to").unwrap().to_owned();
    assert!(return_to.starts_with("/oauth2/authorize/resume?request="));
    let binding = cookie_value(&reply, "roster_authorize").unwrap();
    assert_eq!(binding.len(), 64);
    let set_cookie = reply
        .headers
        .iter()
        .find(|(h, v)| h == "set-cookie" && v.starts_with("roster_authorize="))
        .unwrap()
        .1
        .clone();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/oauth2"));
    assert_eq!(
        s.counts(),
        (1, 0, 0),
        "the request is stored; nothing issued"
    );

    // Another browser (no binding, or another one) cannot finish it, and leaves it alone.
    let session = s.session();
    page(&s.get(&return_to, &session), "authorization_expired");
    let foreign = format!("{session}; roster_authorize={}", "0".repeat(64));
    page(&s.get(&return_to, &foreign), "authorization_expired");
    assert_eq!(s.counts(), (1, 0, 0));

    // The browser that asked, now signed in: a code for the app, and the request is spent.
    let own = format!("{session}; roster_authorize={binding}");
    let back = s.get(&return_to, &own);
    let code = param(&to_app(&back), "code").unwrap().to_owned();
    assert_eq!(param(&to_app(&back), "state"), Some("st-1"));
    assert_eq!(cookie_value(&back, "roster_authorize").as_deref(), Some(""));
    assert_eq!(s.redeem(&code)["sub"], s.user.id.to_string());
    page(&s.get(&return_to, &own), "authorization_expired");
    assert_eq!(s.counts().1, 1, "one code");
}

#[test]
fn a_forced_login_is_not_answered_by_the_session_it_was_asked_to_replace() {
    let s = setup();
    let session = s.session();
    // Session times are whole seconds: the request comes a second after the session.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for extra in [[("prompt", "login")], [("max_age", "0")]] {
        let mut params = s.params(&extra);
        params.push(("workspace".to_owned(), "acme".to_owned()));
        let reply = s.authorize(&params, &session);
        assert_eq!(reply.status, 303);
        let query = location_query(&reply);
        assert_eq!(param(&query, "prompt"), Some("login"), "{extra:?}");
        let return_to = param(&query, "return_to").unwrap().to_owned();
        let binding = cookie_value(&reply, "roster_authorize").unwrap();
        // Back with the old session (the IdP did not authenticate again): refused at the app.
        let back = s.get(
            &return_to,
            &format!("{session}; roster_authorize={binding}"),
        );
        let answer = to_app(&back);
        assert_eq!(param(&answer, "error"), Some("access_denied"), "{extra:?}");
        assert_eq!(param(&answer, "state"), Some("st-1"));
        assert_eq!(s.counts().1, 0, "no code");
    }

    // A session opened after the request answers it.
    let mut params = s.params(&[("prompt", "login")]);
    params.push(("workspace".to_owned(), "acme".to_owned()));
    let reply = s.authorize(&params, &session);
    let query = location_query(&reply);
    let return_to = param(&query, "return_to").unwrap().to_owned();
    let binding = cookie_value(&reply, "roster_authorize").unwrap();
    let fresh = s.session();
    let back = s.get(&return_to, &format!("{fresh}; roster_authorize={binding}"));
    assert!(
        param(&to_app(&back), "code").is_some(),
        "{:?}",
        back.headers
    );
}

#[test]
fn prompt_none_without_a_session_is_login_required_at_the_app() {
    let s = setup();
    let answer = to_app(&s.authorize(&s.params(&[("prompt", "none"), ("workspace", "acme")]), ""));
    assert_eq!(param(&answer, "error"), Some("login_required"));
    assert_eq!(param(&answer, "state"), Some("st-1"));
    assert!(param(&answer, "iss").is_some());
    // With no workspace at all, too (no page may be shown).
    let answer = to_app(&s.authorize(&s.params(&[("prompt", "none")]), ""));
    assert_eq!(param(&answer, "error"), Some("login_required"));
    // With a session, prompt=none answers.
    let session = s.session();
    let answer = to_app(&s.authorize(
        &s.params(&[("prompt", "none"), ("workspace", "acme")]),
        &session,
    ));
    assert!(param(&answer, "code").is_some());
    assert_eq!(s.counts().0, 0, "nothing stored");
}

#[test]
fn a_session_of_another_workspace_does_not_answer() {
    let s = setup();
    let session = s.session();
    let other = s.provider.db.workspace("globex");
    let reply = s.authorize(
        &s.params(&[("workspace", "globex"), ("prompt", "none")]),
        &session,
    );
    assert_eq!(param(&to_app(&reply), "error"), Some("login_required"));
    // Without prompt=none: globex has no sign-in connection, which the app hears.
    let reply = s.authorize(&s.params(&[("workspace", other.slug.as_str())]), &session);
    assert_eq!(param(&to_app(&reply), "error"), Some("access_denied"));
    assert_eq!(s.counts(), (0, 0, 0));
}

#[test]
fn unknown_apps_and_redirect_uris_get_a_page_and_go_nowhere() {
    let s = setup();
    let session = s.session();
    for (name, extra) in [
        ("unknown client", ("client_id", "nobody")),
        ("no client", ("client_id", "")),
    ] {
        let reply = s.authorize(&s.params(&[extra, ("workspace", "acme")]), &session);
        page(&reply, "unknown_client");
        assert!(
            !reply.body.as_str().unwrap().contains("catalog.example"),
            "{name}: the URI is not echoed as a link"
        );
    }
    for uri in [
        "https://catalog.example/oidc/callback/",
        "https://catalog.example/oidc/Callback",
        "https://CATALOG.example/oidc/callback",
        "https://catalog.example/oidc/callback?x=1",
        "https://catalog.example/oidc/callback#f",
        "https://evil.example@catalog.example/oidc/callback",
        "https://catalog.example.evil.example/oidc/callback",
        "http://catalog.example/oidc/callback",
        "",
    ] {
        let reply = s.authorize(
            &s.params(&[("redirect_uri", uri), ("workspace", "acme")]),
            &session,
        );
        page(&reply, "unregistered_redirect_uri");
    }
    // A repeated parameter (RFC 6749 §3.1): the request cannot be trusted, so a page.
    let mut params = s.params(&[("workspace", "acme")]);
    params.push((
        "redirect_uri".to_owned(),
        "https://evil.example/cb".to_owned(),
    ));
    page(&s.authorize(&params, &session), "invalid_request");
    assert_eq!(s.counts(), (0, 0, 0), "nothing stored or issued");
}

#[test]
fn request_errors_go_back_to_the_app_with_state_and_iss() {
    let s = setup();
    let session = s.session();
    for (extra, error) in [
        (("response_type", "token"), "unsupported_response_type"),
        (("scope", "email"), "invalid_scope"),
        (("code_challenge_method", "plain"), "invalid_request"),
        (("workspace", "no-such-workspace"), "invalid_request"),
        (("connection", "not-an-id"), "invalid_request"),
        (("request", "eyJ..."), "request_not_supported"),
    ] {
        let mut params = s.params(&[extra]);
        if extra.0 != "workspace" {
            params.push(("workspace".to_owned(), "acme".to_owned()));
        }
        let answer = to_app(&s.authorize(&params, &session));
        assert_eq!(param(&answer, "error"), Some(error), "{extra:?}");
        assert_eq!(param(&answer, "state"), Some("st-1"));
        assert_eq!(param(&answer, "code"), None);
    }
    assert_eq!(s.counts(), (0, 0, 0));
}

#[test]
fn without_a_workspace_the_email_first_page_asks_and_finds_it() {
    let s = setup();
    let reply = s.authorize(&s.params(&[]), "");
    assert_eq!(reply.status, 200);
    let html = reply.body.as_str().unwrap();
    assert!(html.contains(r#"name="login_hint""#), "{html}");
    assert!(html.contains(r#"action="/oauth2/authorize""#));
    assert!(html.contains(&format!(r#"name="client_id" value="{}""#, s.app.client_id)));
    assert!(html.contains(r#"name="state" value="st-1""#));
    assert!(reply
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));

    // An address of no workspace: the page again, saying so.
    let reply = s.authorize(&s.params(&[("login_hint", "bob@nowhere.example")]), "");
    assert_eq!(reply.status, 200);
    assert!(reply
        .body
        .as_str()
        .unwrap()
        .contains("No workspace signs in people at nowhere.example"));

    // A domain a connection lists but its workspace never verified routes nowhere: typing a
    // domain on a connection proves nothing.
    let store = &s.provider.db.store;
    let globex = s.provider.db.workspace("globex");
    store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: globex.id,
                name: DisplayName::parse("squat").unwrap(),
                kind: ConnectionKind::Saml,
                vendor: Vendor::Okta,
                protocol_config: "{}".to_owned(),
                domains: vec![
                    Domain::parse("globex.example").unwrap(),
                    Domain::parse("acme.example").unwrap(),
                ],
                scim_enabled: false,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
    let reply = s.authorize(&s.params(&[("login_hint", "bob@globex.example")]), "");
    assert_eq!(reply.status, 200);
    assert!(reply
        .body
        .as_str()
        .unwrap()
        .contains("No workspace signs in people at globex.example"));
    // Pending is not verified either.
    store
        .add_domain(
            &Actor::Cli,
            globex.id,
            &Domain::parse("globex.example").unwrap(),
        )
        .unwrap();
    let reply = s.authorize(&s.params(&[("login_hint", "bob@globex.example")]), "");
    assert_eq!(reply.status, 200);

    // The workspace's verified domain: on to its login (globex listing it changes nothing).
    let reply = s.authorize(&s.params(&[("login_hint", "bob@acme.example")]), "");
    assert_eq!(reply.status, 303);
    assert!(reply
        .header("location")
        .unwrap()
        .starts_with("/sso/acme/login?connection=okta"));
    assert_eq!(s.counts(), (1, 0, 0));
}

#[test]
fn a_deactivated_users_session_answers_nothing() {
    let s = setup();
    let session = s.session();
    s.provider
        .db
        .store
        .change_lifecycle(
            &Actor::Cli,
            s.workspace.id,
            s.user.id,
            roster_store::domain::LifecycleEvent::Deactivate,
        )
        .unwrap();
    let reply = s.authorize(
        &s.params(&[("workspace", "acme"), ("prompt", "none")]),
        &session,
    );
    assert_eq!(param(&to_app(&reply), "error"), Some("login_required"));
    assert_eq!(s.counts(), (0, 0, 0));
}
