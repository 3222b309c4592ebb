//! A product signing its users in through Roster's OpenID Provider, with SimpleSAMLphp as the
//! workspace's IdP: the product's authorization request goes through the SAML login (JIT, mapped
//! groups and roles) and comes back to the product with a code, whose ID token says who signed
//! in where; a second request is answered from the Roster session without the IdP, and
//! `prompt=login` makes the IdP ask for the password again (`ForceAuthn`).

use base64::Engine;
use pretty_assertions::assert_eq;
use roster_store::testing::test_app;
use roster_store::{ClientAuthMethod, NewOAuthApp};
use serde_json::{json, Value};

use crate::idps::{browser, BrowserOutcome, SamlIdp};
use crate::saml::{saml_app, SamlSetup};
use crate::support::{e2e_enabled, SsoApp};

const REDIRECT: &str = "https://product.test/oidc/callback";

struct Product {
    app: SsoApp,
    idp: SamlIdp,
    client_id: String,
    secret: String,
}

fn product() -> Product {
    let SamlSetup {
        app,
        connection,
        idp,
        ..
    } = saml_app(false);
    app.map(&connection, "engineering", "Engineering", "engineer");
    let (registered, secret) = app.db.register_app(&NewOAuthApp {
        auth_method: ClientAuthMethod::ClientSecretPost,
        ..test_app("Product", REDIRECT)
    });
    Product {
        app,
        idp,
        client_id: registered.client_id,
        secret: secret.unwrap(),
    }
}

impl Product {
    fn authorize_url(&self, extra: &str) -> String {
        format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}\
             &scope=openid%20email%20roles%20groups&state=s-1&nonce=n-1{extra}",
            self.app.url(),
            self.client_id,
            url_encode(REDIRECT),
        )
    }

    /// The code the product's callback received, after checking `state` and `iss`.
    fn code_of(&self, outcome: &BrowserOutcome) -> String {
        assert_eq!(
            outcome.json["url"]
                .as_str()
                .map(|u| u.starts_with(REDIRECT)),
            Some(true),
            "{}\n{}",
            outcome.json,
            self.idp.log()
        );
        let params = &outcome.json["params"];
        assert_eq!(params["state"], "s-1");
        assert_eq!(params["iss"], self.app.url().trim_end_matches('/'));
        params["code"].as_str().expect("a code").to_owned()
    }

    /// The ID token's claims for `code` (client_secret_post).
    fn id_token(&self, code: &str) -> Value {
        let reply = self.app.post_form(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", &self.client_id),
                ("client_secret", &self.secret),
            ],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        let id_token = body["id_token"].as_str().unwrap();
        let part = id_token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    }
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[test]
fn a_product_signs_in_through_the_workspaces_saml_idp() {
    if !e2e_enabled() {
        return;
    }
    let p = product();
    let jar = p.app.jar("browser");

    // By the email's domain: Roster → SimpleSAMLphp (password) → Roster → the product.
    let first = browser(
        &p.authorize_url("&login_hint=alice%40example.test"),
        Some(("alice", "alice-password")),
        Some(REDIRECT),
        &jar,
    );
    let claims = p.id_token(&p.code_of(&first));
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["workspace"], "acme");
    assert_eq!(claims["wid"], p.app.workspace.id.to_string());
    assert_eq!(claims["groups"], json!(["Engineering"]));
    assert_eq!(claims["roles"], json!(["engineer"]));
    // SimpleSAMLphp asserts a password class: `fed` and then `pwd` (docs/sso.md's table).
    assert_eq!(claims["amr"][0], "fed", "{claims}");
    assert!(
        claims["acr"]
            .as_str()
            .is_some_and(|acr| acr.starts_with("urn:oasis:names:tc:SAML:2.0:ac:classes:")),
        "{claims}"
    );
    assert_eq!(claims["nonce"], "n-1");
    assert!(claims["idp"].is_string());
    assert_eq!(p.app.user_count(), 1, "JIT created Alice");

    // Again in the same browser: the Roster session answers; no IdP page (no password given,
    // so a login form would fail the browser).
    let second = browser(
        &p.authorize_url("&workspace=acme"),
        None,
        Some(REDIRECT),
        &jar,
    );
    let again = p.id_token(&p.code_of(&second));
    assert_eq!(again["sub"], claims["sub"]);
    assert_eq!(again["sid"], claims["sid"]);
    assert_eq!(again["auth_time"], claims["auth_time"]);

    // prompt=login: SimpleSAMLphp is asked to authenticate again (ForceAuthn) and asks for the
    // password though its own session is live; the new auth_time is later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let without_password = browser(
        &p.authorize_url("&workspace=acme&prompt=login"),
        None,
        Some(REDIRECT),
        &jar,
    );
    assert_ne!(without_password.exit_code, 0, "{}", without_password.json);
    let forced = browser(
        &p.authorize_url("&workspace=acme&prompt=login"),
        Some(("alice", "alice-password")),
        Some(REDIRECT),
        &jar,
    );
    let fresh = p.id_token(&p.code_of(&forced));
    assert_eq!(fresh["sub"], claims["sub"]);
    assert!(
        fresh["auth_time"].as_i64() > claims["auth_time"].as_i64(),
        "{fresh:#}"
    );
}
