//! OpenID Connect Back-Channel Logout 1.0 over real HTTP: a user signed into apps is deactivated
//! over SCIM, and each app's back-channel logout URI — a real HTTP server in the test — receives
//! a form POST with a `logout_token` that an independent JWT library (`jsonwebtoken`) verifies
//! against Roster's published JWKS. Failures are retried with fresh tokens, and the outbound
//! policy holds: a redirect is not followed, a private address is not called.
//!
//! Each sign-in is a code issued through `Store::issue_authorization_code` (bound as the
//! authorization endpoint binds it) and redeemed at the token endpoint, so these tests need no
//! IdP; `tests/example_products` signs in through `/oauth2/authorize` and real IdPs.

use roster_store::testing::test_app;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use pretty_assertions::assert_eq;
use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::domain::{Actor, SecretToken, Timestamp, Workspace};
use roster_store::testing::TestStore;
use roster_store::{
    BackchannelLogout, CodeBinding, NewOAuthApp, NewOAuthGrant, OAuthApp, SigningAlg,
};
use serde_json::{json, Value};

use crate::{Provider, Reply};

#[path = "../common/receiver.rs"]
mod receiver;

use receiver::{Received, Receiver};

const REDIRECT: &str = "https://catalog.example/oidc/callback";
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A product registered with Roster: the app and its client secret.
struct App {
    app: OAuthApp,
    secret: String,
}

struct Setup {
    provider: Provider,
    workspace: Workspace,
    scim_token: String,
}

/// Roster with the delivery worker polling only every `poll_interval_ms` (a logout that arrives
/// sooner came from the commit's wake-up call), retrying after 50 ms, and loopback receivers
/// allowed when `allow_private`.
fn start(allow_private: bool, poll_interval_ms: u64) -> Setup {
    let db = TestStore::new();
    let mut settings = Settings::default();
    settings.security.allow_private_network_urls = allow_private;
    settings.webhooks.poll_interval_ms = poll_interval_ms;
    settings.webhooks.retry_base_ms = 50;
    settings.webhooks.retry_max_secs = 1;
    settings.webhooks.lease_secs = 2;
    let server = BackgroundServer::start(&settings, db.store.clone()).unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let workspace = db.workspace("acme");
    let connection = db.scim_connection(workspace.id, "entra", true, false);
    let scim_token = db.scim_token(&connection);
    Setup {
        provider: Provider { db, server, agent },
        workspace,
        scim_token,
    }
}

impl Setup {
    fn register(&self, name: &str, alg: SigningAlg, backchannel_logout_uri: Option<&str>) -> App {
        let (app, secret) = self.provider.db.register_app(&NewOAuthApp {
            id_token_alg: alg,
            backchannel_logout_uri: backchannel_logout_uri.map(str::to_owned),
            ..test_app(name, REDIRECT)
        });
        App {
            app,
            secret: secret.unwrap(),
        }
    }

    fn scim(&self, method: &str, path: &str, body: Value) -> Reply {
        let url = format!("{}/scim/v2{path}", self.provider.server.url());
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Authorization", format!("Bearer {}", self.scim_token))
            .header("Content-Type", "application/scim+json")
            .body(body.to_string())
            .unwrap();
        Reply::read(self.provider.agent.run(request).unwrap())
    }

    /// A user provisioned over SCIM; its id.
    fn scim_user(&self, user_name: &str) -> String {
        let reply = self.scim(
            "POST",
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "active": true,
            }),
        );
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// SCIM `active=false`, answered.
    fn deactivate(&self, user_id: &str) {
        let reply = self.scim(
            "PATCH",
            &format!("/Users/{user_id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}],
            }),
        );
        assert_eq!(reply.status, 200, "{:#}", reply.body);
    }

    /// A grant of `app` for `user_id` in Roster session `session` (the app sees `sid`), with its
    /// code, as the authorization endpoint leaves it.
    fn grant(&self, app: &App, user_id: &str, session: &str, sid: &str) -> SecretToken {
        let (_, code) = self
            .provider
            .db
            .store
            .issue_authorization_code(
                &Actor::System,
                &NewOAuthGrant {
                    client_id: app.app.client_id.clone(),
                    workspace_id: self.workspace.id,
                    user_id: user_id.parse().unwrap(),
                    connection_id: None,
                    session_id: Some(session.to_owned()),
                    sid: sid.to_owned(),
                    scope: "openid offline_access".to_owned(),
                    offline: true,
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
        code
    }

    /// Signs `user_id` into `app` in Roster session `session`: a code as the authorization
    /// endpoint issues it, redeemed at the token endpoint. (ID token, refresh token.)
    fn sign_in(&self, app: &App, user_id: &str, session: &str) -> (String, String) {
        let sid = roster_provider::tokens::app_sid(session, &app.app.client_id);
        let code = self.grant(app, user_id, session, &sid);
        let reply = self.token(
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("redirect_uri", REDIRECT),
            ],
        );
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        (
            reply.body["id_token"].as_str().unwrap().to_owned(),
            reply.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    fn token(&self, app: &App, form: &[(&str, &str)]) -> Reply {
        let basic = format!("{}:{}", app.app.client_id, app.secret);
        self.provider.post_form("/oauth2/token", Some(&basic), form)
    }

    fn refresh(&self, app: &App, refresh_token: &str) -> Reply {
        self.token(
            app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }

    fn logouts(&self, user_id: &str) -> Vec<BackchannelLogout> {
        self.provider
            .db
            .store
            .user_backchannel_logouts(self.workspace.id, user_id.parse().unwrap())
            .unwrap()
    }

    /// Verifies a logout token as a product does, with `jsonwebtoken` and the published JWKS:
    /// signature (the app's algorithm), `iss`, `aud`, `exp`, `iat`; returns its claims.
    fn verify_logout_token(&self, token: &str, app: &App) -> Value {
        let header = decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
        let alg = match app.app.id_token_alg {
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::Es256 => Algorithm::ES256,
        };
        assert_eq!(header.alg, alg, "signed like the app's ID tokens");
        let jwks = self.provider.get("/.well-known/jwks.json").body;
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|key| key["kid"] == header.kid.clone().unwrap().as_str())
                .unwrap()
                .clone(),
        )
        .unwrap();
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[self.provider.server.url()]);
        validation.set_audience(&[&app.app.client_id]);
        validation.set_required_spec_claims(&["iss", "aud", "exp", "iat", "sub"]);
        validation.leeway = 0;
        decode::<Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
            .unwrap()
            .claims
    }
}

/// The form fields of a received POST (the test's own tiny parser: a logout token needs no
/// percent-encoding).
fn form(received: &Received) -> BTreeMap<String, String> {
    assert_eq!(
        received.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    received
        .body
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            assert!(!value.contains('%'), "{value}");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// The logout token of a received POST, which must carry nothing else.
fn logout_token(received: &Received) -> String {
    let fields = form(received);
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        vec!["logout_token"],
        "only the logout token (§2.5)"
    );
    fields["logout_token"].clone()
}

fn claim(jwt: &str, name: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()[name].clone()
}

/// Checks the claims of a verified logout token (Back-Channel Logout 1.0 §2.4).
fn assert_logout_claims(claims: &Value, user_id: &str, sid: &Value) {
    assert_eq!(claims["sub"], user_id);
    assert_eq!(&claims["sid"], sid, "the sid of the app's ID token");
    assert_eq!(claims["events"], json!({ BACKCHANNEL_EVENT: {} }));
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16));
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    let now = Timestamp::now().as_micros() / 1_000_000;
    assert!((now - 10..=now).contains(&iat), "iat {iat} is now ({now})");
    assert!(
        exp > iat && exp - iat <= 120,
        "a short lifetime: {iat}..{exp}"
    );
}

/// The contract's end-to-end path: deactivated over SCIM, the user's two apps with a
/// back-channel URI each receive one logout token within the contract's bound — long before the
/// worker's next poll, so the commit woke it — that `jsonwebtoken` verifies against the JWKS,
/// naming the user and the `sid` of that app's ID token. The app without a URI receives nothing,
/// and refresh is refused at once.
#[test]
fn a_scim_deactivation_reaches_each_app_as_a_logout_token_it_verifies_with_the_jwks() {
    let setup = start(true, 5_000);
    let catalog_receiver = Receiver::start();
    let billing_receiver = Receiver::start();
    let catalog = setup.register("Catalog", SigningAlg::Es256, Some(&catalog_receiver.url));
    let billing = setup.register("Billing", SigningAlg::Rs256, Some(&billing_receiver.url));
    let wiki = setup.register("Wiki", SigningAlg::Rs256, None);
    let user_id = setup.scim_user("ada@acme.example");
    let bystander_id = setup.scim_user("grace@acme.example");
    let (catalog_id_token, catalog_refresh) = setup.sign_in(&catalog, &user_id, "session-1");
    let (billing_id_token, _) = setup.sign_in(&billing, &user_id, "session-1");
    let (_, wiki_refresh) = setup.sign_in(&wiki, &user_id, "session-1");
    let (_, bystander_refresh) = setup.sign_in(&catalog, &bystander_id, "session-2");

    let deactivated = Instant::now();
    setup.deactivate(&user_id);
    let received = catalog_receiver.wait_for("the catalog's logout", |r| !r.is_empty());
    let billing_received = billing_receiver.wait_for("billing's logout", |r| !r.is_empty());
    // The contract's end-to-end bound (2 s; typically tens of milliseconds here), and well
    // before the worker's first poll (5 s): the commit woke it.
    let took = deactivated.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "delivered {took:?} after the deactivation, before any poll"
    );

    for (received, app, id_token) in [
        (&received[0], &catalog, &catalog_id_token),
        (&billing_received[0], &billing, &billing_id_token),
    ] {
        let token = logout_token(received);
        let claims = setup.verify_logout_token(&token, app);
        assert_logout_claims(&claims, &user_id, &claim(id_token, "sid"));
        assert_eq!(claims["aud"], app.app.client_id.as_str());
    }
    for (reply, what) in [
        (setup.refresh(&catalog, &catalog_refresh), "catalog"),
        (setup.refresh(&wiki, &wiki_refresh), "wiki"),
    ] {
        assert_eq!(reply.status, 400, "{what}: {:#}", reply.body);
        assert_eq!(reply.body["error"], "invalid_grant");
    }
    let logouts = setup.logouts(&user_id);
    assert_eq!(logouts.len(), 2, "one per app with a URI: {logouts:#?}");
    assert!(logouts
        .iter()
        .all(|l| l.delivered_at.is_some() && l.attempts == 1));

    // Nothing else arrives: no second delivery, nothing for the bystander.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(catalog_receiver.all().len(), 1);
    assert_eq!(billing_receiver.all().len(), 1);
    assert_eq!(setup.logouts(&bystander_id), vec![]);
    assert_eq!(setup.refresh(&catalog, &bystander_refresh).status, 200);
}

/// A receiver answering 500 gets the logout again, each attempt with a fresh token (new `jti`,
/// verifying on its own), until it answers 2xx; then the logout is delivered and not sent again.
#[test]
fn a_failing_receiver_is_retried_with_fresh_tokens_until_it_answers_2xx() {
    let setup = start(true, 20);
    let receiver = Receiver::start();
    receiver.status.store(500, Ordering::SeqCst);
    let catalog = setup.register("Catalog", SigningAlg::Rs256, Some(&receiver.url));
    let user_id = setup.scim_user("ada@acme.example");
    let (id_token, _) = setup.sign_in(&catalog, &user_id, "session-1");

    setup.deactivate(&user_id);
    receiver.wait_for("three failed attempts", |r| r.len() >= 3);
    let logout = &setup.logouts(&user_id)[0];
    assert_eq!((logout.last_status, logout.delivered_at), (Some(500), None));
    receiver.status.store(204, Ordering::SeqCst);
    let logout = wait_for_logout(&setup, &user_id, |l| l.delivered_at.is_some());
    assert_eq!(logout.last_status, Some(204));
    std::thread::sleep(Duration::from_millis(200));
    let all = receiver.all();
    assert_eq!(
        all.len(),
        usize::try_from(logout.attempts).unwrap(),
        "not sent again"
    );
    let tokens: Vec<String> = all.iter().map(logout_token).collect();
    let jtis: std::collections::BTreeSet<String> = tokens
        .iter()
        .map(|token| claim(token, "jti").as_str().unwrap().to_owned())
        .collect();
    assert_eq!(jtis.len(), tokens.len(), "a fresh jti per attempt");
    for token in &tokens {
        let claims = setup.verify_logout_token(token, &catalog);
        assert_logout_claims(&claims, &user_id, &claim(&id_token, "sid"));
    }
}

fn wait_for_logout(
    setup: &Setup,
    user_id: &str,
    condition: impl Fn(&BackchannelLogout) -> bool,
) -> BackchannelLogout {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logouts = setup.logouts(user_id);
        if let Some(logout) = logouts.iter().find(|l| condition(l)) {
            return logout.clone();
        }
        assert!(Instant::now() < deadline, "timed out: {logouts:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The outbound policy holds for logouts: a receiver answering a redirect is a failed attempt
/// and the `Location` (here another local server) is never called.
#[test]
fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let setup = start(true, 20);
    let receiver = Receiver::start();
    let target = Receiver::start();
    receiver.redirect_to(302, &target.url);
    let catalog = setup.register("Catalog", SigningAlg::Es256, Some(&receiver.url));
    let user_id = setup.scim_user("ada@acme.example");
    setup.sign_in(&catalog, &user_id, "session-1");

    setup.deactivate(&user_id);
    receiver.wait_for("two attempts", |r| r.len() >= 2);
    let logout = wait_for_logout(&setup, &user_id, |l| l.attempts >= 2);
    assert_eq!(logout.last_status, Some(302));
    assert_eq!(logout.delivered_at, None);
    assert!(
        logout
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("redirect"),
        "{logout:?}"
    );
    assert_eq!(target.all().len(), 0, "the redirect was not followed");
}

/// With the default policy (public addresses only), a back-channel URI on a loopback address is
/// refused before connecting: the receiver sees nothing, the logout stays undelivered with the
/// reason, and is tried again later (the address may be fixed).
#[test]
fn a_private_address_is_refused_per_the_outbound_policy() {
    let setup = start(false, 20);
    let receiver = Receiver::start();
    let catalog = setup.register("Catalog", SigningAlg::Rs256, Some(&receiver.url));
    let user_id = setup.scim_user("ada@acme.example");
    setup.sign_in(&catalog, &user_id, "session-1");

    setup.deactivate(&user_id);
    let logout = wait_for_logout(&setup, &user_id, |l| l.attempts >= 2);
    assert_eq!((logout.last_status, logout.delivered_at), (None, None));
    let error = logout.last_error.unwrap_or_default();
    assert!(error.contains("127.0.0.1"), "{error}");
    assert!(
        !error.contains(&receiver.url),
        "the URL is not quoted: {error}"
    );
    assert_eq!(receiver.all().len(), 0, "nothing was sent");
}

/// On a fresh deployment no token was ever signed, so the provider's keys do not exist until
/// something needs one. A burst of logouts must not be that something: keys created by one
/// delivery thread would sign only from after another thread read the clock, and that thread's
/// attempt would fail (and wait for its retry). Every logout here goes out at its first attempt.
#[test]
fn the_first_logouts_of_a_fresh_deployment_go_out_at_the_first_attempt() {
    let setup = start(true, 250);
    let receiver = Receiver::start();
    let catalog = setup.register("Catalog", SigningAlg::Rs256, Some(&receiver.url));
    let ids: Vec<String> = (0..24)
        .map(|n| {
            let id = setup.scim_user(&format!("user{n}@acme.example"));
            // A grant as the authorization endpoint leaves it, no token minted yet.
            setup.grant(&catalog, &id, &format!("session-{n}"), &format!("sid-{n}"));
            id
        })
        .collect();
    std::thread::scope(|scope| {
        for chunk in ids.chunks(4) {
            let setup = &setup;
            scope.spawn(move || chunk.iter().for_each(|id| setup.deactivate(id)));
        }
    });
    receiver.wait_for("every logout", |r| r.len() >= ids.len());
    for id in &ids {
        wait_for_logout(&setup, id, |l| l.delivered_at.is_some());
        let logouts = setup.logouts(id);
        assert_eq!(logouts.len(), 1);
        assert_eq!(
            (logouts[0].attempts, logouts[0].last_status),
            (1, Some(200)),
            "{logouts:?}"
        );
    }
}
