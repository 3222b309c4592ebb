//! Test sign-in on the wire (docs/sso.md "Test sign-in"): an admin starts one through the admin
//! API, a browser opens its URL and goes to the IdP, and the IdP's signed answer reaches the
//! real ACS. The report says what arrived and what a real sign-in would do — create, link,
//! sign in, or refuse with the check's want/got — and nothing is written: no user, identity,
//! membership, directory event, login event or session.
//!
//! The IdP is a throw-away key the connection trusts (as in `saml_exhaustion`): the responses
//! are real signed SAML, so the test runs everywhere, on SQLite and on PostgreSQL.

use base64::Engine as _;
use diesel::prelude::*;
use pretty_assertions::assert_eq;
use roster_sso::browser::sha256_hex;
use roster_store::domain::{
    Actor, Connection, ConnectionKind, Email, Slug, Source, Timestamp, UserName,
};
use roster_store::schema::{events, group_members, identities, login_events, users};
use roster_store::{NewUser, NewWorkspace};
use serde_json::{json, Value};

use crate::browser::{admin_call, agent, cookie_set_by};
use crate::saml_exhaustion::{acs_form, sign, Key};
use crate::support::SsoApp;

const IDP_ENTITY_ID: &str = "https://idp.example.test/metadata";
const IDP_SSO_URL: &str = "https://idp.example.test/sso";

struct Setup {
    app: SsoApp,
    connection: Connection,
    key: Key,
    api_key: String,
}

/// `acme` with a SAML connection `corp` (authoritative for the verified `example.test`) whose
/// IdP signs with `key`, and an admin API key.
fn setup() -> Setup {
    let app = SsoApp::new();
    let key = Key::new("/CN=test-sign-in-idp");
    let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
    let connection = app.configure(&connection, json!({ "idp_metadata_xml": metadata(&key) }));
    let api_key = admin_key(&app, app.workspace.id);
    Setup {
        app,
        connection,
        key,
        api_key,
    }
}

fn admin_key(app: &SsoApp, workspace: roster_store::domain::WorkspaceId) -> String {
    let (_, key) = app
        .db
        .store
        .create_api_key(&Actor::Cli, workspace, "admin")
        .unwrap();
    key.expose().to_owned()
}

pub(crate) fn metadata(key: &Key) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        key.certificate_b64
    )
}

impl Setup {
    fn sp_entity_id(&self) -> String {
        format!(
            "{}/sso/saml/{}/metadata",
            self.app.url(),
            self.connection.id
        )
    }

    fn acs(&self) -> String {
        format!("{}/sso/saml/{}/acs", self.app.url(), self.connection.id)
    }

    /// An admin API call with `key`: (status, JSON body).
    fn admin(&self, method: &str, path: &str, key: &str) -> (u16, Value) {
        admin_call(&self.app.url(), key, method, path, None)
    }

    /// Starts a test sign-in and opens its URL in a fresh browser: (test id, the browser's
    /// binding cookie, the AuthnRequest id the browser was sent to the IdP with).
    fn start_test(&self) -> (String, String, String) {
        let (status, started) = self.admin(
            "POST",
            &format!("/connections/{}/test-sign-in", self.connection.id),
            &self.api_key,
        );
        assert_eq!(status, 201, "{started}");
        let test_id = started["id"].as_str().unwrap().to_owned();
        assert_eq!(
            started["url"],
            format!("{}/sso/acme/test/{test_id}", self.app.url())
        );
        assert!(started["expiresAt"].as_str().unwrap().ends_with('Z'));
        let (status, location, binding) = self.open(started["url"].as_str().unwrap(), None);
        assert_eq!(status, 302);
        assert!(location.starts_with(&format!("{IDP_SSO_URL}?SAMLRequest=")));
        let binding = binding.expect("the browser binding cookie");
        let request_id = self.request_of(&binding);
        (test_id, binding, request_id)
    }

    /// GETs `url` as a browser with the binding cookie `binding`: (status, Location, the
    /// binding cookie set). Never a session cookie.
    fn open(&self, url: &str, binding: Option<&str>) -> (u16, String, Option<String>) {
        let mut request = agent().get(url);
        if let Some(binding) = binding {
            request = request.header("Cookie", &format!("roster_sso={binding}"));
        }
        let response = request.call().unwrap();
        assert_eq!(cookie_set_by(&response, "roster_session"), None);
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            response.status().as_u16(),
            location,
            cookie_set_by(&response, "roster_sso"),
        )
    }

    /// The one pending AuthnRequest of the browser with `binding`.
    fn request_of(&self, binding: &str) -> String {
        let pending = self
            .app
            .db
            .store
            .pending_sso_requests(self.connection.id, &sha256_hex(binding))
            .unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        pending[0].clone()
    }

    /// POSTs `xml` (signed) to the ACS from the browser with `binding`: (status, Location,
    /// session cookie set, body).
    fn post_acs(&self, xml: &str, binding: &str) -> (u16, String, Option<String>, String) {
        let mut response = agent()
            .post(&self.acs())
            .header("Cookie", &format!("roster_sso={binding}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(acs_form(xml))
            .unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let session = cookie_set_by(&response, "roster_session");
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), location, session, body)
    }

    /// The test's view from the admin API.
    fn report(&self, test_id: &str) -> Value {
        let (status, view) = self.admin(
            "GET",
            &format!(
                "/connections/{}/test-sign-ins/{test_id}",
                self.connection.id
            ),
            &self.api_key,
        );
        assert_eq!(status, 200, "{view}");
        view
    }

    /// Rows a sign-in could write: users, identities, memberships, directory events, login
    /// events.
    fn counts(&self) -> [i64; 5] {
        // On PostgreSQL events reach `events` through the outbox, moved in the background:
        // publish what is committed first, so a count taken before a late move is not short.
        self.app.db.store.publish_events().unwrap();
        self.app
            .db
            .read_rows(|conn| {
                Ok([
                    users::table.count().get_result(conn)?,
                    identities::table.count().get_result(conn)?,
                    group_members::table.count().get_result(conn)?,
                    events::table.count().get_result(conn)?,
                    login_events::table.count().get_result(conn)?,
                ])
            })
            .unwrap()
    }

    /// A signed response from the IdP for `subject` (persistent NameID) with `email`, answering
    /// `in_response_to` (none: IdP-initiated), addressed to `audience`.
    fn response(
        &self,
        in_response_to: Option<&str>,
        audience: &str,
        subject: &str,
        email: &str,
    ) -> String {
        signed_response(
            &self.key,
            &self.acs(),
            audience,
            in_response_to,
            subject,
            &[
                ("mail", None, &[email]),
                ("displayName", None, &["Test Person"]),
                ("groups", None, &["engineering", "admins"]),
            ],
        )
    }
}

/// A response of the IdP that signs with `key`, posted to `acs`, for `subject` (persistent
/// NameID), answering `in_response_to` (none: IdP-initiated), addressed to `audience`, with
/// `attributes` (Name, FriendlyName, values) in its assertion, which is signed.
pub(crate) fn signed_response(
    key: &Key,
    acs: &str,
    audience: &str,
    in_response_to: Option<&str>,
    subject: &str,
    attributes: &[(&str, Option<&str>, &[&str])],
) -> String {
    let now = Timestamp::now().as_micros() / 1_000_000;
    let at = |seconds: i64| Timestamp::from_micros((now + seconds) * 1_000_000).to_rfc3339();
    let (issued, before, after) = (at(0), at(-60), at(300));
    let answers = in_response_to
        .map(|id| format!(r#" InResponseTo="{id}""#))
        .unwrap_or_default();
    let assertion_id = format!("_a{}", uuid_like());
    let attributes: String = attributes
        .iter()
        .map(|(name, friendly, values)| {
            let friendly = friendly
                .map(|friendly| format!(r#" FriendlyName="{friendly}""#))
                .unwrap_or_default();
            let values: String = values
                .iter()
                .map(|value| format!("<saml:AttributeValue>{value}</saml:AttributeValue>"))
                .collect();
            format!(r#"<saml:Attribute Name="{name}"{friendly}>{values}</saml:Attribute>"#)
        })
        .collect();
    let xml = format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{rid}" Version="2.0" IssueInstant="{issued}" Destination="{acs}"{answers}><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{assertion_id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{subject}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{after}" Recipient="{acs}"{answers}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>"##,
        rid = uuid_like(),
        certificate = key.certificate_b64,
    );
    sign(&xml, key)
}

/// A fresh hex id for XML ids.
fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    getrandom_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn getrandom_bytes(bytes: &mut [u8]) {
    // The binding cookie generator is random enough for test ids.
    let value = roster_sso::browser::new_binding().unwrap();
    for (at, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&value[at * 2..at * 2 + 2], 16).unwrap();
    }
}

fn checks_by_name(report: &Value) -> Vec<(String, bool)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["ok"] == true))
        .collect()
}

/// A new subject reports `create`, an existing user's email `link`, and a subject a real login
/// linked `sign_in`; none of them writes a user, an identity, a membership, a directory event
/// or a login event, nor sets a session.
#[test]
fn a_test_sign_in_reports_create_link_and_sign_in_and_writes_nothing() {
    let s = setup();
    s.app
        .map(&s.connection, "engineering", "Engineering", "engineer");
    let before = s.counts();

    // A new subject: a real sign-in would create the user.
    let (test_id, binding, request_id) = s.start_test();
    assert_eq!(s.report(&test_id)["status"], "pending");
    let xml = s.response(
        Some(&request_id),
        &s.sp_entity_id(),
        "s-new",
        "new@example.test",
    );
    let (status, location, session, body) = s.post_acs(&xml, &binding);
    assert_eq!(
        (status, location.as_str(), session),
        (303, format!("/admin#test/{test_id}").as_str(), None),
        "{body}"
    );
    let view = s.report(&test_id);
    assert_eq!(view["status"], "completed");
    assert_eq!(view["connectionId"], s.connection.id.to_string());
    assert!(view["completedAt"].is_string());
    let report = &view["report"];
    assert_eq!(report["outcome"], "create", "{report}");
    assert_eq!(report["reason"], Value::Null);
    assert_eq!(report["subject"], "s-new");
    assert_eq!(report["email"], "new@example.test");
    assert_eq!(report["displayName"], "Test Person");
    assert_eq!(report["groups"], json!(["engineering", "admins"]));
    assert_eq!(report["attributes"]["mail"], json!(["new@example.test"]));
    assert_eq!(report["existingUserId"], Value::Null);
    assert!(report["message"]
        .as_str()
        .unwrap()
        .contains("new@example.test"));
    let checks = checks_by_name(report);
    assert!(checks.iter().all(|(_, ok)| *ok), "{checks:?}");
    for name in ["signature", "audience", "in_response_to", "replay", "jit"] {
        assert!(checks.iter().any(|(n, _)| n == name), "{name}: {checks:?}");
    }
    assert_eq!(s.counts(), before);

    // An existing user with the login's email: a real sign-in would link it (the connection is
    // authoritative for the verified domain).
    let store = &s.app.db.store;
    let mut ada = NewUser::minimal(
        s.app.workspace.id,
        UserName::parse("ada").unwrap(),
        Source::Invited,
    );
    ada.email = Some(Email::parse("ada@example.test").unwrap());
    let ada = store.create_user(&Actor::Cli, &ada).unwrap();
    let before = s.counts();
    let (test_id, binding, request_id) = s.start_test();
    let xml = s.response(
        Some(&request_id),
        &s.sp_entity_id(),
        "s-ada",
        "ada@example.test",
    );
    let (status, _, session, body) = s.post_acs(&xml, &binding);
    assert_eq!((status, session), (303, None), "{body}");
    let report = &s.report(&test_id)["report"];
    assert_eq!(report["outcome"], "link", "{report}");
    assert_eq!(report["existingUserId"], ada.id.to_string());
    assert_eq!(s.counts(), before);

    // A real sign-in links her (the real path is untouched by the test's)...
    let (status, location, binding) = s.open(
        &format!("{}/sso/acme/login?connection=corp", s.app.url()),
        None,
    );
    assert_eq!(status, 302, "{location}");
    let binding = binding.unwrap();
    let xml = s.response(
        Some(&s.request_of(&binding)),
        &s.sp_entity_id(),
        "s-ada",
        "ada@example.test",
    );
    let (status, location, session, body) = s.post_acs(&xml, &binding);
    assert_eq!((status, location.as_str()), (302, "/"), "{body}");
    assert!(session.is_some());
    let after_login = s.counts();
    assert_eq!(after_login[1], before[1] + 1, "one identity linked");

    // ...and then a test with her subject reports `sign_in`, again writing nothing.
    let (test_id, binding, request_id) = s.start_test();
    let xml = s.response(
        Some(&request_id),
        &s.sp_entity_id(),
        "s-ada",
        "ada@example.test",
    );
    let (status, _, session, body) = s.post_acs(&xml, &binding);
    assert_eq!((status, session), (303, None), "{body}");
    let report = &s.report(&test_id)["report"];
    assert_eq!(report["outcome"], "sign_in", "{report}");
    assert_eq!(report["existingUserId"], ada.id.to_string());
    assert_eq!(s.counts(), after_login);
}

/// A report names, for each custom attribute, its sources, the one that gave a value, what
/// arrived and the value a sign-in would store (or why it cannot: a warning, not a refusal),
/// and lists what the IdP sent that nothing maps.
#[test]
fn a_test_sign_in_reports_each_attribute_and_what_nothing_maps() {
    use roster_store::domain::attributes::{
        AttributeKind, NewAttributeDefinition, Protocol, StandardAttribute,
    };

    let s = setup();
    let store = &s.app.db.store;
    let workspace = s.app.workspace.id;
    store
        .create_attribute(
            &Actor::Cli,
            workspace,
            &NewAttributeDefinition::standard(StandardAttribute::Department),
        )
        .unwrap();
    let badge = store
        .create_attribute(
            &Actor::Cli,
            workspace,
            &NewAttributeDefinition::new("badge", None, AttributeKind::Number, false, true)
                .unwrap(),
        )
        .unwrap();
    store
        .set_attribute_mapping(
            &Actor::Cli,
            workspace,
            s.connection.id,
            badge.id,
            Protocol::Saml,
            Some(vec!["badgeNumber".to_owned()]),
        )
        .unwrap();
    let before = s.counts();

    let (test_id, binding, request_id) = s.start_test();
    let xml = signed_response(
        &s.key,
        &s.acs(),
        &s.sp_entity_id(),
        Some(&request_id),
        "s-new",
        &[
            ("mail", None, &["new@example.test"]),
            ("urn:oid:2.5.4.11", Some("department"), &["Sales"]),
            ("badgeNumber", None, &["n/a"]),
            ("employeeType", None, &["staff"]),
        ],
    );
    let (status, _, session, body) = s.post_acs(&xml, &binding);
    assert_eq!((status, session), (303, None), "{body}");
    let report = &s.report(&test_id)["report"];
    assert_eq!(report["outcome"], "create", "{report}");
    assert_eq!(
        report["mappedAttributes"],
        json!([
            {
                "name": "department",
                "sources": ["department"],
                "source": "department",
                "received": ["Sales"],
                "value": "Sales",
                "warning": null,
            },
            {
                "name": "badge",
                "sources": ["badgeNumber"],
                "source": "badgeNumber",
                "received": ["n/a"],
                "value": null,
                "warning": "must be a number, got \"n/a\"",
            },
        ])
    );
    assert_eq!(report["unmappedAttributes"], json!(["employeeType"]));
    assert_eq!(s.counts(), before);
}

/// A response with the wrong audience is a completed report (`refuse`, the check's want and
/// got), not an error page; a test completes once; its URL starts once; an unsolicited
/// response is never a test; and a JIT refusal is reported with the real login's code.
#[test]
fn a_refused_check_is_a_report_and_a_test_completes_once() {
    let s = setup();
    let before = s.counts();

    let (test_id, binding, request_id) = s.start_test();
    // The URL works once: another tab (or browser) is refused.
    let url = format!("{}/sso/acme/test/{test_id}", s.app.url());
    let (status, _, _) = s.open(&url, Some(&binding));
    assert_eq!(status, 400);
    let (status, _, _) = s.open(&url, None);
    assert_eq!(status, 400);

    // An IdP-initiated response from the same browser is not the test's: the real ACS refuses
    // it (unsolicited), and the test stays pending.
    let unsolicited = s.response(None, &s.sp_entity_id(), "s-x", "x@example.test");
    let (status, _, session, body) = s.post_acs(&unsolicited, &binding);
    assert_eq!((status, session), (400, None));
    assert!(body.contains("unknown_request"), "{body}");
    assert_eq!(s.report(&test_id)["status"], "pending");

    let wrong_audience = s.response(
        Some(&request_id),
        "https://another-sp.example.test",
        "s-x",
        "x@example.test",
    );
    let (status, location, session, body) = s.post_acs(&wrong_audience, &binding);
    assert_eq!(
        (status, location, session),
        (303, format!("/admin#test/{test_id}"), None),
        "{body}"
    );
    let view = s.report(&test_id);
    assert_eq!(view["status"], "completed");
    let report = &view["report"];
    assert_eq!(report["outcome"], "refuse", "{report}");
    assert_eq!(report["reason"], "invalid_response");
    let check = &report["checks"][0];
    assert_eq!(check["name"], "audience_mismatch", "{report}");
    assert_eq!(check["ok"], false);
    assert_eq!(check["want"], s.sp_entity_id());
    assert_eq!(check["got"], "https://another-sp.example.test (unverified)");

    // A second completion — the same response again, or a good one — is refused and changes
    // nothing.
    let (status, _, session, _) = s.post_acs(&wrong_audience, &binding);
    assert_eq!((status, session), (400, None));
    let good = s.response(
        Some(&request_id),
        &s.sp_entity_id(),
        "s-x",
        "x@example.test",
    );
    let (status, _, session, _) = s.post_acs(&good, &binding);
    assert_eq!((status, session), (400, None));
    assert_eq!(s.report(&test_id)["report"], *report);

    // Nothing but the real ACS's own refusals reached the login log (the unsolicited response
    // and the two answers to a finished test); no user, identity or event.
    let after = s.counts();
    assert_eq!(after[..4], before[..4]);
    assert_eq!(after[4], before[4] + 3);

    // A JIT refusal: an email outside the workspace's domains.
    let store = &s.app.db.store;
    let other = store
        .create_workspace(
            &Actor::Cli,
            NewWorkspace {
                slug: Slug::parse("globex").unwrap(),
                name: "globex".to_owned(),
                domains: Vec::new(),
            },
        )
        .unwrap();
    let (test_id, binding, request_id) = s.start_test();
    let mut bob = NewUser::minimal(
        s.app.workspace.id,
        UserName::parse("bob").unwrap(),
        Source::Invited,
    );
    bob.email = Some(Email::parse("bob@other.test").unwrap());
    let bob = store.create_user(&Actor::Cli, &bob).unwrap();
    let xml = s.response(
        Some(&request_id),
        &s.sp_entity_id(),
        "s-bob",
        "bob@other.test",
    );
    let (status, _, _, body) = s.post_acs(&xml, &binding);
    assert_eq!(status, 303, "{body}");
    let report = &s.report(&test_id)["report"];
    assert_eq!(report["outcome"], "refuse", "{report}");
    assert_eq!(report["reason"], "email_conflict");
    assert_eq!(report["existingUserId"], bob.id.to_string());

    // Another workspace's admin can neither read the report nor start a test here.
    let foreign = admin_key(&s.app, other.id);
    let (status, _) = s.admin(
        "GET",
        &format!("/connections/{}/test-sign-ins/{test_id}", s.connection.id),
        &foreign,
    );
    assert_eq!(status, 404);
    let (status, _) = s.admin(
        "POST",
        &format!("/connections/{}/test-sign-in", s.connection.id),
        &foreign,
    );
    assert_eq!(status, 404);
}

/// A draft that has its IdP settings is tested before it is activated: the test reports, while a
/// real login through it is still refused (`connection_draft`).
#[test]
fn a_draft_with_idp_settings_can_be_tested_before_it_takes_logins() {
    let s = setup();
    let draft = s
        .app
        .db
        .store
        .create_connection_in(
            &Actor::Cli,
            roster_store::NewConnection {
                workspace_id: s.app.workspace.id,
                name: roster_store::domain::DisplayName::parse("draft").unwrap(),
                kind: ConnectionKind::Saml,
                vendor: roster_store::domain::Vendor::Generic,
                protocol_config: json!({ "idp_metadata_xml": metadata(&s.key) }).to_string(),
                domains: Vec::new(),
                scim_enabled: false,
                profile_sync: roster_store::domain::ProfileSync::FirstLogin,
                group_sync: roster_store::domain::GroupSync::EveryLogin,
                strict_immutability: false,
            },
            roster_store::domain::ConnectionStatus::Draft,
        )
        .unwrap();
    assert_eq!(draft.status, roster_store::domain::ConnectionStatus::Draft);
    let s = Setup {
        connection: draft,
        ..s
    };
    let before = s.counts();
    let (test_id, binding, request_id) = s.start_test();
    let xml = s.response(
        Some(&request_id),
        &s.sp_entity_id(),
        "s-new",
        "new@example.test",
    );
    let (status, _, session, body) = s.post_acs(&xml, &binding);
    assert_eq!((status, session), (303, None), "{body}");
    assert_eq!(s.report(&test_id)["report"]["outcome"], "create");
    assert_eq!(s.counts(), before);

    let (status, _, _) = s.open(
        &format!("{}/sso/acme/login?connection=draft", s.app.url()),
        None,
    );
    assert_eq!(status, 400, "a real login through the draft is refused");
}

/// An OIDC test whose provider cannot be asked at the start (discovery fails) lands on its
/// report at once: `refuse`, `idp_unreachable`; the login log stays empty.
#[test]
fn an_unreachable_provider_is_a_report_at_once() {
    let app = SsoApp::new();
    let connection = app.connection("entra", ConnectionKind::Oidc, &["example.test"]);
    let connection = app.configure(
        &connection,
        json!({
            "issuer": "http://127.0.0.1:9/unreachable",
            "client_id": "roster",
            "client_secret": "secret",
        }),
    );
    let api_key = admin_key(&app, app.workspace.id);
    let s = Setup {
        app,
        connection,
        key: Key::new("/CN=unused-by-oidc"),
        api_key,
    };
    let before = s.counts();
    let (status, started) = s.admin(
        "POST",
        &format!("/connections/{}/test-sign-in", s.connection.id),
        &s.api_key,
    );
    assert_eq!(status, 201, "{started}");
    let test_id = started["id"].as_str().unwrap();
    let (status, location, _) = s.open(started["url"].as_str().unwrap(), None);
    assert_eq!((status, location), (303, format!("/admin#test/{test_id}")));
    let report = &s.report(test_id)["report"];
    assert_eq!(report["outcome"], "refuse", "{report}");
    assert_eq!(report["reason"], "idp_unreachable");
    assert_eq!(report["checks"][0]["ok"], false);
    assert_eq!(s.counts(), before);
}

/// A draft without IdP metadata cannot be tested (409); a SCIM-only connection has no sign-in
/// (400); the report of an unknown test is a 404.
#[test]
fn only_a_connection_with_idp_settings_can_be_tested() {
    let s = setup();
    let store = &s.app.db.store;
    let draft = store
        .create_connection_in(
            &Actor::Cli,
            roster_store::NewConnection {
                workspace_id: s.app.workspace.id,
                name: roster_store::domain::DisplayName::parse("draft").unwrap(),
                kind: ConnectionKind::Saml,
                vendor: roster_store::domain::Vendor::Generic,
                protocol_config: roster_sso::setup::saml_draft_config(
                    false,
                    Default::default(),
                    Default::default(),
                )
                .unwrap(),
                domains: Vec::new(),
                scim_enabled: false,
                profile_sync: roster_store::domain::ProfileSync::FirstLogin,
                group_sync: roster_store::domain::GroupSync::EveryLogin,
                strict_immutability: false,
            },
            roster_store::domain::ConnectionStatus::Draft,
        )
        .unwrap();
    let (status, body) = s.admin(
        "POST",
        &format!("/connections/{}/test-sign-in", draft.id),
        &s.api_key,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let scim = s
        .app
        .db
        .scim_connection(s.app.workspace.id, "provisioning", true, false);
    let (status, body) = s.admin(
        "POST",
        &format!("/connections/{}/test-sign-in", scim.id),
        &s.api_key,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation")),
        "{body}"
    );
    let (status, _) = s.admin(
        "GET",
        &format!(
            "/connections/{}/test-sign-ins/{}",
            s.connection.id,
            base64::engine::general_purpose::STANDARD.encode("nope")
        ),
        &s.api_key,
    );
    assert_eq!(status, 404);
}

/// Through the real IdPs (`ROSTER_E2E`): a scripted browser opens a test's URL, signs in at
/// SimpleSAMLphp or oidc-provider as alice, and lands on the console's report — no session, no
/// user. Then alice's report says `create`, with what each IdP sent.
mod through_real_idps {
    use super::*;
    use crate::idps::{browser, OidcOp, OidcOptions, SamlIdp};
    use crate::support::e2e_enabled;
    use pretty_assertions::assert_eq;

    /// Starts a test of `connection` with `api_key`, runs the browser through the IdP as alice,
    /// and returns the report, after checking the landing and that nothing was written.
    fn run(app: &SsoApp, connection: &Connection, api_key: &str) -> Value {
        let url = |path: &str| format!("{}/api/v1/admin{path}", app.url());
        let mut response = agent()
            .post(&url(&format!(
                "/connections/{}/test-sign-in",
                connection.id
            )))
            .header("Authorization", &format!("Bearer {api_key}"))
            .send_empty()
            .unwrap();
        let started: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(response.status().as_u16(), 201, "{started}");
        let before = counts(app);
        let outcome = browser(
            started["url"].as_str().unwrap(),
            Some(("alice", "alice-password")),
            Some(&format!("{}/admin", app.url())),
            &app.jar("admin"),
        );
        assert_eq!(outcome.exit_code, 0, "{}", outcome.json);
        assert_eq!(
            outcome.json["url"],
            format!(
                "{}/admin#test/{}",
                app.url(),
                started["id"].as_str().unwrap()
            )
        );
        assert_eq!(
            outcome.json["cookies"]["127.0.0.1"]["roster_session"],
            Value::Null
        );
        assert_eq!(counts(app), before);
        let mut response = agent()
            .get(&url(&format!(
                "/connections/{}/test-sign-ins/{}",
                connection.id,
                started["id"].as_str().unwrap()
            )))
            .header("Authorization", &format!("Bearer {api_key}"))
            .call()
            .unwrap();
        let view: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(view["status"], "completed", "{view}");
        view["report"].clone()
    }

    fn counts(app: &SsoApp) -> [i64; 4] {
        // See `Setup::counts`: the outbox is published first.
        app.db.store.publish_events().unwrap();
        app.db
            .read_rows(|conn| {
                Ok([
                    users::table.count().get_result(conn)?,
                    identities::table.count().get_result(conn)?,
                    events::table.count().get_result(conn)?,
                    login_events::table.count().get_result(conn)?,
                ])
            })
            .unwrap()
    }

    #[test]
    fn saml_through_simplesamlphp() {
        if !e2e_enabled() {
            return;
        }
        let app = SsoApp::new();
        let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
        let idp = SamlIdp::start(
            &format!("{}/sso/saml/{}/metadata", app.url(), connection.id),
            &format!("{}/sso/saml/{}/acs", app.url(), connection.id),
        );
        let connection = app.configure(
            &connection,
            json!({ "idp_metadata_xml": idp.metadata_xml(), "idp_metadata_url": idp.metadata_url() }),
        );
        let api_key = admin_key(&app, app.workspace.id);
        let report = run(&app, &connection, &api_key);
        assert_eq!(report["outcome"], "create", "{report}\n{}", idp.log());
        assert_eq!(report["subject"], "8f2c6b1e-alice");
        assert_eq!(report["email"], "alice@example.test");
        assert_eq!(report["groups"], json!(["engineering", "admins"]));
        // No attribute is declared: what SimpleSAMLphp sends beyond Roster's own claims is
        // what there is to map.
        assert_eq!(
            report["unmappedAttributes"],
            json!(["department", "employeeNumber", "title"])
        );
        assert!(report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|check| check["ok"] == true));
    }

    #[test]
    fn oidc_through_oidc_provider() {
        if !e2e_enabled() {
            return;
        }
        let app = SsoApp::new();
        let connection = app.connection("corp", ConnectionKind::Oidc, &["example.test"]);
        let op = OidcOp::start(OidcOptions {
            redirect_uris: vec![format!("{}/sso/oidc/{}/callback", app.url(), connection.id)],
            ..OidcOptions::default()
        });
        let connection = app.configure(
            &connection,
            json!({
                "issuer": op.issuer(),
                "client_id": op.client_id(),
                "client_secret": op.client_secret(),
            }),
        );
        let api_key = admin_key(&app, app.workspace.id);
        let report = run(&app, &connection, &api_key);
        assert_eq!(report["outcome"], "create", "{report}");
        assert_eq!(report["subject"], "8f2c6b1e-alice");
        assert_eq!(report["email"], "alice@example.test");
        assert_eq!(report["userName"], "alice");
        assert_eq!(report["attributes"]["email_verified"], json!(["true"]));
        let unmapped = report["unmappedAttributes"].as_array().unwrap();
        for claim in ["department", "employeeNumber", "title"] {
            assert!(unmapped.contains(&json!(claim)), "{claim}: {report}");
        }
        assert!(report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|check| check["name"] == "id_token" && check["ok"] == true));
    }
}
