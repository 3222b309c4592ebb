//! Why a SAML login failed, on the wire (issue #27): a real Roster gets responses an IdP could
//! send — unsigned, unsolicited on a connection that does not allow it, signed with SHA-1,
//! posted twice (encrypted ones: `saml_encryption.rs`) — and answers each with the error page it always
//! did, records the login event's `reason` with `want` and `got` (docs/troubleshooting.md,
//! "SAML refusals"), and creates no user, identity or session.
//!
//! The IdP is a throw-away key the connection trusts (as in `test_sign_in`): the responses are
//! real signed SAML, so the test runs everywhere, on SQLite and on PostgreSQL.

use diesel::prelude::*;
use pretty_assertions::assert_eq;
use roster_sso::browser::sha256_hex;
use roster_store::domain::{Connection, ConnectionKind, Timestamp};
use roster_store::schema::{identities, users};
use serde_json::{json, Value};

use crate::browser::{agent, cookie_set_by};
use crate::saml_exhaustion::{acs_form, sign, Key};
use crate::support::SsoApp;

const IDP_ENTITY_ID: &str = "https://idp.example.test/metadata";
const IDP_SSO_URL: &str = "https://idp.example.test/sso";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

pub(crate) struct Setup {
    pub(crate) app: SsoApp,
    pub(crate) connection: Connection,
    pub(crate) key: Key,
}

/// What a response looks like.
#[derive(Clone, Copy)]
pub(crate) struct Shape<'a> {
    /// The request it answers; `None`: IdP-initiated.
    pub(crate) in_response_to: Option<&'a str>,
    /// The assertion signed, and how.
    pub(crate) signature: Option<(&'static str, &'static str)>,
}

impl<'a> Shape<'a> {
    pub(crate) fn answering(request_id: &'a str) -> Self {
        Shape {
            in_response_to: Some(request_id),
            signature: Some((RSA_SHA256, SHA256)),
        }
    }
}

/// `acme` with a SAML connection `corp` whose IdP signs with a throw-away key.
pub(crate) fn setup(allow_idp_initiated: bool) -> Setup {
    let app = SsoApp::new();
    let key = Key::new("/CN=refusals-idp");
    let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        key.certificate_b64
    );
    let connection = app.configure(
        &connection,
        json!({ "idp_metadata_xml": metadata, "allow_idp_initiated": allow_idp_initiated }),
    );
    Setup {
        app,
        connection,
        key,
    }
}

impl Setup {
    pub(crate) fn acs(&self) -> String {
        format!("{}/sso/saml/{}/acs", self.app.url(), self.connection.id)
    }

    /// A browser starts a login at Roster: (its binding cookie, the AuthnRequest id).
    pub(crate) fn start_login(&self) -> (String, String) {
        let url = format!(
            "{}/sso/acme/login?connection={}&return_to=%2F",
            self.app.url(),
            self.connection.name
        );
        let response = agent().get(&url).call().unwrap();
        assert_eq!(response.status().as_u16(), 302);
        let binding = cookie_set_by(&response, "roster_sso").expect("the binding cookie");
        let pending = self
            .app
            .db
            .store
            .pending_sso_requests(self.connection.id, &sha256_hex(&binding))
            .unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        (binding, pending[0].clone())
    }

    /// A response of `shape` for alice, addressed to this connection.
    pub(crate) fn response(&self, shape: Shape<'_>) -> String {
        let acs = self.acs();
        let audience = format!(
            "{}/sso/saml/{}/metadata",
            self.app.url(),
            self.connection.id
        );
        let now = Timestamp::now().as_micros() / 1_000_000;
        let at = |seconds: i64| Timestamp::from_micros((now + seconds) * 1_000_000).to_rfc3339();
        let (issued, before, after) = (at(0), at(-60), at(300));
        let answers = shape
            .in_response_to
            .map(|id| format!(r#" InResponseTo="{id}""#))
            .unwrap_or_default();
        let (response_id, assertion_id) = (format!("_r{}", nonce()), format!("_a{}", nonce()));
        let template = |id: &str| match shape.signature {
            Some((method, digest)) => format!(
                r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
                certificate = self.key.certificate_b64
            ),
            None => String::new(),
        };
        let assertion = format!(
            r#"<saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">s-alice</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{after}" Recipient="{acs}"{answers}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>alice@example.test</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            signature = template(&assertion_id),
        );
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{response_id}" Version="2.0" IssueInstant="{issued}" Destination="{acs}"{answers}><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#
        );
        match shape.signature {
            Some(_) => sign(&xml, &self.key),
            None => xml,
        }
    }

    /// POSTs `xml` to the ACS, from the browser with `binding` if any: (status, the reason code
    /// on the page, whether a session cookie was set).
    pub(crate) fn post(&self, xml: &str, binding: Option<&str>) -> (u16, String, bool) {
        let mut request = agent()
            .post(&self.acs())
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(binding) = binding {
            request = request.header("Cookie", &format!("roster_sso={binding}"));
        }
        let mut response = request.send(acs_form(xml)).unwrap();
        let session = cookie_set_by(&response, "roster_session").is_some();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let code = body
            .split_once("Reason: <code>")
            .and_then(|(_, rest)| rest.split_once("</code>"))
            .map_or("none", |(code, _)| code)
            .to_owned();
        (response.status().as_u16(), code, session)
    }

    /// The newest login event: (outcome, reason code, detail).
    pub(crate) fn last_event(&self) -> (String, Option<String>, Value) {
        let event = self
            .app
            .login_events()
            .into_iter()
            .next()
            .expect("an event");
        let detail = serde_json::from_str(&event.detail).unwrap();
        (event.outcome, event.reason, detail)
    }

    /// Users and identities in the database.
    pub(crate) fn accounts(&self) -> [i64; 2] {
        self.app
            .db
            .read_rows(|conn| {
                Ok([
                    users::table.count().get_result(conn)?,
                    identities::table.count().get_result(conn)?,
                ])
            })
            .unwrap()
    }
}

/// A fresh hex id for XML ids.
fn nonce() -> String {
    roster_sso::browser::new_binding().unwrap()[..32].to_owned()
}

/// Each refusal of a browser that started its login at Roster: the page (status and code) is
/// what it always was; the event has the reason and want/got; nobody is created and no session
/// is set. Then the same browser's well-formed response still signs alice in.
#[test]
fn each_refused_response_records_why_and_creates_nothing() {
    let s = setup(false);
    let (binding, request_id) = s.start_login();
    let answering = Shape::answering(&request_id);
    let sha1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    let cases: Vec<(&str, Shape<'_>, &str, &str, Value, Value)> = vec![
        (
            "unsigned",
            Shape {
                signature: None,
                ..answering
            },
            "invalid_response",
            "signature_missing",
            json!("a signed Response or Assertion"),
            json!("no signature"),
        ),
        (
            "SHA-1",
            Shape {
                signature: Some((RSA_SHA1, SHA1)),
                ..answering
            },
            "invalid_response",
            "algorithm_forbidden",
            json!([
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
            ]),
            json!(sha1),
        ),
    ];
    for (name, shape, code, reason, want, got) in cases {
        let (status, page_code, session) = s.post(&s.response(shape), Some(&binding));
        assert_eq!(
            (status, page_code.as_str(), session),
            (400, code, false),
            "{name}"
        );
        let (outcome, event_code, detail) = s.last_event();
        assert_eq!(
            (outcome.as_str(), event_code.as_deref()),
            ("failure", Some(code)),
            "{name}"
        );
        assert_eq!(detail["reason"], reason, "{name}: {detail}");
        assert_eq!(detail["want"], want, "{name}: {detail}");
        assert_eq!(detail["got"], got, "{name}: {detail}");
        assert_eq!(s.accounts(), [0, 0], "{name}");
    }
    let (_, _, detail) = s.last_event();
    assert_eq!(detail["in"], "SignatureMethod");

    // The request is still pending: the well-formed answer signs alice in, once.
    let good = s.response(answering);
    let (status, _, session) = s.post(&good, Some(&binding));
    assert_eq!((status, session), (302, true), "{:?}", s.last_event());
    assert_eq!(s.accounts(), [1, 1]);

    // A double submit: the first POST answered the request, so the second is an unknown
    // request (not `replay`), says which, and signs nobody in again.
    let (status, code, session) = s.post(&good, Some(&binding));
    assert_eq!(
        (status, code.as_str(), session),
        (400, "unknown_request", false)
    );
    let (outcome, event_code, detail) = s.last_event();
    assert_eq!(
        (outcome.as_str(), event_code.as_deref()),
        ("failure", Some("unknown_request"))
    );
    assert_eq!(detail["reason"], "in_response_to_unknown", "{detail}");
    assert_eq!(detail["got"], request_id.as_str(), "{detail}");
    assert_eq!(
        detail["want"],
        "a request this browser sent in the last 10 minutes, not answered yet"
    );
    assert_eq!(detail["pending_requests"], 0);
    assert_eq!(s.accounts(), [1, 1]);
    let events = s.app.login_events();
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events.iter().filter(|e| e.outcome == "success").count(), 1);
}

/// An IdP-initiated response where the connection does not allow them is an unknown request,
/// with its want/got; where it does, the same assertion posted twice is a replay, with its
/// want/got.
#[test]
fn unsolicited_and_replayed_responses_record_why() {
    let s = setup(false);
    let unsolicited = s.response(Shape {
        in_response_to: None,
        signature: Some((RSA_SHA256, SHA256)),
    });
    let (status, code, session) = s.post(&unsolicited, None);
    assert_eq!(
        (status, code.as_str(), session),
        (400, "unknown_request", false)
    );
    let (outcome, event_code, detail) = s.last_event();
    assert_eq!(
        (outcome.as_str(), event_code.as_deref()),
        ("failure", Some("unknown_request"))
    );
    assert_eq!(
        detail,
        json!({
            "reason": "unsolicited_response",
            "want": "a response to a request Roster sent",
            "got": "none",
        })
    );
    assert_eq!(s.accounts(), [0, 0]);

    let allowed = setup(true);
    let response = allowed.response(Shape {
        in_response_to: None,
        signature: Some((RSA_SHA256, SHA256)),
    });
    let (status, _, session) = allowed.post(&response, None);
    assert_eq!((status, session), (302, true), "{:?}", allowed.last_event());
    let (status, code, session) = allowed.post(&response, None);
    assert_eq!((status, code.as_str(), session), (400, "replay", false));
    let (outcome, event_code, detail) = allowed.last_event();
    assert_eq!(
        (outcome.as_str(), event_code.as_deref()),
        ("failure", Some("replay"))
    );
    assert_eq!(detail["reason"], "assertion_replayed", "{detail}");
    assert_eq!(detail["want"], "an assertion not used before", "{detail}");
    assert_eq!(detail["got"], "an assertion used before", "{detail}");
    assert!(detail["assertion_id"].as_str().unwrap().starts_with("_a"));
    assert_eq!(allowed.accounts(), [1, 1]);
}
