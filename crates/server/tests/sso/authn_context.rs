//! Authentication context over real HTTP (issue #27): a product signs in through Roster's
//! OpenID Provider and a SAML connection whose IdP is a throw-away key the test signs with.
//! The connection's `requestedAuthnContext` and `forceAuthn` appear in the AuthnRequest the
//! browser carries to the IdP; the app's `prompt=login` and `max_age` force a fresh IdP login;
//! the `AuthnContextClassRef` the IdP asserts reaches the product's ID token as `acr`, with the
//! `amr` docs/sso.md's table gives it. SQLite, or PostgreSQL with `TEST_DATABASE_URL`.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use pretty_assertions::assert_eq;
use roster_store::domain::{Connection, ConnectionKind, Timestamp};
use roster_store::testing::test_app;
use roster_store::{ClientAuthMethod, NewOAuthApp};
use serde_json::{json, Value};

use crate::browser::agent;
use crate::saml_exhaustion::{acs_form, sign, Key};
use crate::support::SsoApp;

const IDP_ENTITY_ID: &str = "https://idp.example.test/metadata";
const IDP_SSO_URL: &str = "https://idp.example.test/sso";
const REDIRECT: &str = "https://product.test/oidc/callback";
const MFA: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

struct Setup {
    app: SsoApp,
    connection: Connection,
    key: Key,
    metadata: String,
    client_id: String,
    secret: String,
}

/// What the browser carried to the IdP: the AuthnRequest's XML and its id.
struct ToIdp {
    xml: String,
    request_id: String,
}

/// A browser: its cookies, by name.
#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
}

fn setup() -> Setup {
    let app = SsoApp::new();
    let key = Key::new("/CN=authn-context-idp");
    let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        key.certificate_b64
    );
    let (registered, secret) = app.db.register_app(&NewOAuthApp {
        auth_method: ClientAuthMethod::ClientSecretPost,
        ..test_app("Product", REDIRECT)
    });
    let setup = Setup {
        app,
        connection,
        key,
        metadata,
        client_id: registered.client_id,
        secret: secret.unwrap(),
    };
    setup.settings(false, &[MFA]);
    setup
}

impl Setup {
    /// The connection's authentication context settings, as the admin API stores them.
    fn settings(&self, force_authn: bool, requested: &[&str]) {
        self.app.configure(
            &self.connection,
            json!({
                "idp_metadata_xml": self.metadata,
                "force_authn": force_authn,
                "requested_authn_context": requested,
            }),
        );
    }

    fn authorize_path(&self, extra: &str) -> String {
        format!(
            "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}\
             &scope=openid%20email&state=s-1&nonce=n-1&workspace=acme{extra}",
            self.client_id,
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        )
    }

    /// Follows Roster's redirects from `path` until they leave Roster: the final `Location`.
    fn follow(&self, browser: &mut Browser, path: &str) -> String {
        let base = self.app.url();
        let base = base.trim_end_matches('/');
        let mut url = format!("{base}{path}");
        for _ in 0..10 {
            let mut request = agent().get(&url);
            if let Some(cookie) = browser.header() {
                request = request.header("Cookie", &cookie);
            }
            let response = request.call().unwrap();
            browser.keep(&response);
            let status = response.status().as_u16();
            assert!(
                status == 302 || status == 303,
                "{url}: {status} {}",
                response.into_body().read_to_string().unwrap_or_default()
            );
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            url = if location.starts_with('/') {
                format!("{base}{location}")
            } else if location.starts_with(base) {
                location
            } else {
                return location;
            };
        }
        panic!("too many redirects");
    }

    /// The product's authorization request goes (through Roster's login) to the IdP.
    fn to_idp(&self, browser: &mut Browser, extra: &str) -> ToIdp {
        let location = self.follow(browser, &self.authorize_path(extra));
        assert!(location.starts_with(IDP_SSO_URL), "{location}");
        let url = url::Url::parse(&location).unwrap();
        let saml_request = url
            .query_pairs()
            .find(|(name, _)| name == "SAMLRequest")
            .map(|(_, value)| value.into_owned())
            .unwrap();
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(saml_request)
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .read_to_string(&mut xml)
            .unwrap();
        let request: samael::schema::AuthnRequest = xml.parse().unwrap();
        ToIdp {
            xml,
            request_id: request.id,
        }
    }

    /// The IdP answers `request_id` for alice, authenticated as `class`; the browser posts it
    /// to the ACS and follows Roster back to the product: the code it brings.
    fn idp_answers(&self, browser: &mut Browser, request_id: &str, class: &str) -> String {
        let acs = format!("{}/sso/saml/{}/acs", self.app.url(), self.connection.id);
        let audience = format!(
            "{}/sso/saml/{}/metadata",
            self.app.url(),
            self.connection.id
        );
        let now = Timestamp::now().as_micros() / 1_000_000;
        let at = |seconds: i64| Timestamp::from_micros((now + seconds) * 1_000_000).to_rfc3339();
        let (issued, before, after) = (at(0), at(-60), at(300));
        let id = roster_sso::browser::new_binding().unwrap()[..32].to_owned();
        let assertion_id = format!("_a{id}");
        let xml = format!(
            r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{id}" Version="2.0" IssueInstant="{issued}" Destination="{acs}" InResponseTo="{request_id}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{assertion_id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">s-alice</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{after}" Recipient="{acs}" InResponseTo="{request_id}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>{class}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>alice@example.test</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##,
            certificate = self.key.certificate_b64,
        );
        let mut request = agent()
            .post(&acs)
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(cookie) = browser.header() {
            request = request.header("Cookie", &cookie);
        }
        let response = request.send(acs_form(&sign(&xml, &self.key))).unwrap();
        browser.keep(&response);
        let status = response.status().as_u16();
        assert!(
            status == 302 || status == 303,
            "the ACS signs alice in: {status}"
        );
        let back = response.headers()["location"].to_str().unwrap().to_owned();
        let back = back
            .strip_prefix(self.app.url().trim_end_matches('/'))
            .unwrap_or(&back)
            .to_owned();
        let at_product = self.follow(browser, &back);
        code_at_product(&at_product)
    }

    /// The ID token's claims for `code`.
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
        let part = body["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    }
}

impl Browser {
    fn keep(&mut self, response: &ureq::http::Response<ureq::Body>) {
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// The code in the product's callback URL.
#[track_caller]
fn code_at_product(location: &str) -> String {
    assert!(location.starts_with(REDIRECT), "{location}");
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .expect("a code")
}

#[test]
fn the_requested_context_goes_to_the_idp_and_the_asserted_one_reaches_the_app() {
    let s = setup();
    let mut browser = Browser::default();

    // The connection requests MFA (exact) and does not force: the AuthnRequest says so.
    let first = s.to_idp(&mut browser, "");
    assert!(!first.xml.contains("ForceAuthn"), "{}", first.xml);
    assert!(first.xml.contains(r#"Comparison="exact""#), "{}", first.xml);
    assert!(first.xml.contains(MFA), "{}", first.xml);

    // The IdP asserts MFA: the product's ID token says it, as acr and amr.
    let code = s.idp_answers(&mut browser, &first.request_id, MFA);
    let claims = s.id_token(&code);
    assert_eq!(claims["acr"], MFA);
    assert_eq!(claims["amr"], json!(["fed", "mfa"]));
    assert_eq!(claims["email"], "alice@example.test");

    // The Roster session answers the next request without the IdP, with the same acr.
    let location = s.follow(&mut browser, &s.authorize_path(""));
    let again = s.id_token(&code_at_product(&location));
    assert_eq!(again["acr"], MFA);
    assert_eq!(again["auth_time"], claims["auth_time"]);

    // prompt=login and max_age=0: the IdP is asked to authenticate again, though the Roster
    // session is live; what it asserts this time is what the product gets.
    for extra in ["&prompt=login", "&max_age=0"] {
        let forced = s.to_idp(&mut browser, extra);
        assert!(
            forced.xml.contains(r#"ForceAuthn="true""#),
            "{extra}: {}",
            forced.xml
        );
        assert!(forced.xml.contains(MFA), "{extra}: {}", forced.xml);
        let code = s.idp_answers(&mut browser, &forced.request_id, PASSWORD);
        let claims = s.id_token(&code);
        assert_eq!(claims["acr"], PASSWORD, "{extra}");
        assert_eq!(claims["amr"], json!(["fed", "pwd"]), "{extra}");
    }
}

#[test]
fn a_connection_that_forces_authentication_says_so_in_every_request() {
    let s = setup();
    s.settings(true, &[]);
    let mut browser = Browser::default();
    let request = s.to_idp(&mut browser, "");
    assert!(
        request.xml.contains(r#"ForceAuthn="true""#),
        "{}",
        request.xml
    );
    assert!(
        !request.xml.contains("RequestedAuthnContext"),
        "{}",
        request.xml
    );

    // An IdP that names no class we know: acr is the class as asserted, amr only `fed`.
    let code = s.idp_answers(&mut browser, &request.request_id, "urn:example:custom");
    let claims = s.id_token(&code);
    assert_eq!(claims["acr"], "urn:example:custom");
    assert_eq!(claims["amr"], json!(["fed"]));
}
