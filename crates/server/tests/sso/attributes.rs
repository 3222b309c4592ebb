//! Custom attributes at SSO login (issue #28) on the wire: an admin declares attributes and maps
//! them per connection through the admin API, a signed SAML response reaches the real ACS, and
//! the JIT user's values are read back in the admin API's user shape.
//!
//! The IdP is a throw-away key the connection trusts (as in `test_sign_in`), answering
//! IdP-initiated, so these run everywhere, on SQLite and on PostgreSQL. The last tests log in
//! through SimpleSAMLphp and oidc-provider (`ROSTER_E2E`).

use pretty_assertions::assert_eq;
use roster_store::domain::attributes::AttrValue;
use roster_store::domain::{
    Actor, Connection, ConnectionKind, DisplayName, Email, GroupSync, ProfileSync, Source, UserId,
    UserName, Vendor,
};
use roster_store::{AttributeEdit, NewConnection, NewUser};
use serde_json::{json, Value};

use crate::browser::{admin_call, agent};
use crate::saml_exhaustion::{acs_form, Key};
use crate::support::SsoApp;
use crate::test_sign_in::{metadata, signed_response};

/// A Roster whose SAML connections trust `key`, and an admin API key.
struct Setup {
    app: SsoApp,
    key: Key,
    api_key: String,
}

/// An attribute of a response: (Name, FriendlyName, values).
type Sent<'a> = (&'a str, Option<&'a str>, &'a [&'a str]);

impl Setup {
    fn new() -> Self {
        let app = SsoApp::new();
        let (_, api_key) = app
            .db
            .store
            .create_api_key(&Actor::Cli, app.workspace.id, "admin")
            .unwrap();
        Setup {
            app,
            key: Key::new("/CN=attributes-idp"),
            api_key: api_key.expose().to_owned(),
        }
    }

    /// A SAML connection trusting the key, answering IdP-initiated logins.
    fn saml(&self, name: &str, profile_sync: ProfileSync, scim_enabled: bool) -> Connection {
        self.app
            .db
            .store
            .create_connection(
                &Actor::Cli,
                NewConnection {
                    workspace_id: self.app.workspace.id,
                    name: DisplayName::parse(name).unwrap(),
                    kind: ConnectionKind::Saml,
                    vendor: Vendor::Generic,
                    protocol_config: json!({
                        "idp_metadata_xml": metadata(&self.key),
                        "allow_idp_initiated": true,
                    })
                    .to_string(),
                    domains: Vec::new(),
                    scim_enabled,
                    profile_sync,
                    group_sync: GroupSync::EveryLogin,
                    strict_immutability: false,
                },
            )
            .unwrap()
    }

    /// An admin API call: (status, JSON body).
    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        admin_call(&self.app.url(), &self.api_key, method, path, body.as_ref())
    }

    /// Declares an attribute (`{"template": …}` or `{"name", "type"}`); returns its id.
    fn declare(&self, body: Value) -> String {
        let (status, declared) = self.admin("POST", "/attributes", Some(body));
        assert_eq!(status, 201, "{declared}");
        declared["id"].as_str().unwrap().to_owned()
    }

    /// Sets an attribute's SAML sources at a connection.
    fn map(&self, connection: &Connection, attribute: &str, sources: &[&str]) {
        let (status, mapping) = self.admin(
            "PUT",
            &format!(
                "/connections/{}/attribute-mappings/{attribute}",
                connection.id
            ),
            Some(json!({"protocol": "saml", "sources": sources})),
        );
        assert_eq!(status, 200, "{mapping}");
        assert_eq!(mapping["origin"], "custom", "{mapping}");
    }

    /// An IdP-initiated login of `subject` (email `<subject>@example.test`) at `connection`
    /// carrying `attributes`: it must succeed. Returns the user it signed in.
    fn login(&self, connection: &Connection, subject: &str, attributes: &[Sent<'_>]) -> String {
        let base = format!("{}/sso/saml/{}", self.app.url(), connection.id);
        let email = format!("{subject}@example.test");
        let mail: Sent<'_> = ("mail", None, &[email.as_str()]);
        let attributes: Vec<Sent<'_>> = std::iter::once(mail)
            .chain(attributes.iter().copied())
            .collect();
        let xml = signed_response(
            &self.key,
            &format!("{base}/acs"),
            &format!("{base}/metadata"),
            None,
            subject,
            &attributes,
        );
        let mut response = agent()
            .post(&format!("{base}/acs"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(acs_form(&xml))
            .unwrap();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(response.status().as_u16(), 302, "{body}");
        let event = &self.app.login_events()[0];
        assert_eq!(event.outcome, "success", "{event:?}");
        event.user_id.clone().unwrap()
    }

    /// The user's custom attributes in the admin API's user shape.
    fn attributes(&self, user_id: &str) -> Value {
        let (status, user) = self.admin("GET", &format!("/users/{user_id}"), None);
        assert_eq!(status, 200, "{user}");
        user["attributes"].clone()
    }

    fn version(&self, user_id: &str) -> i64 {
        let id: UserId = user_id.parse().unwrap();
        self.app
            .db
            .store
            .user(self.app.workspace.id, id)
            .unwrap()
            .version
    }

    /// The `changed` lists of the `user.updated` events of `user_id`, oldest first.
    fn updates(&self, user_id: &str) -> Vec<Value> {
        let (status, feed) = self.admin("GET", "/events?type=user.updated&limit=1000", None);
        assert_eq!(status, 200, "{feed}");
        feed["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["resource"]["id"] == user_id)
            .map(|event| event["changed"].clone())
            .collect()
    }
}

/// Vendor defaults at a `first_login` connection (`department`; `title` by `jobtitle`), then an
/// `every_login` connection whose admin mapped `department` to its OID name (the default name
/// no longer counts) and `badge` to `badgeNumber`: a FriendlyName matches too, a badge that is
/// no number is a warning in the login log and the login succeeds, and an attribute-only change
/// is one `user.updated` naming `attributes.department`.
#[test]
fn a_saml_login_sets_attributes_by_vendor_default_and_by_override() {
    let s = Setup::new();
    let first = s.saml("first", ProfileSync::FirstLogin, false);
    let every = s.saml("every", ProfileSync::EveryLogin, false);
    let department = s.declare(json!({"template": "department"}));
    s.declare(json!({"template": "title"}));
    let badge = s.declare(json!({"name": "badge", "type": "number"}));
    s.map(&every, &department, &["urn:oid:2.5.4.11"]);
    s.map(&every, &badge, &["badgeNumber"]);

    // first_login: created with the values; a later login changes nothing.
    let ada = s.login(
        &first,
        "ada",
        &[
            ("department", None, &["Sales"]),
            ("jobtitle", None, &["Engineer"]),
            ("badgeNumber", None, &["7"]),
        ],
    );
    assert_eq!(
        s.attributes(&ada),
        json!({"department": "Sales", "title": "Engineer"})
    );
    let version = s.version(&ada);
    s.login(&first, "ada", &[("department", None, &["Support"])]);
    assert_eq!(
        s.attributes(&ada),
        json!({"department": "Sales", "title": "Engineer"})
    );
    assert_eq!(s.version(&ada), version);

    // every_login with the admin's mapping.
    let bob = s.login(
        &every,
        "bob",
        &[
            ("department", None, &["Not the mapped one"]),
            ("urn:oid:2.5.4.11", Some("ou"), &["Sales"]),
            ("urn:oid:2.5.4.12", Some("title"), &["Engineer"]),
            ("badgeNumber", None, &["n/a"]),
        ],
    );
    assert_eq!(
        s.attributes(&bob),
        json!({"department": "Sales", "title": "Engineer"})
    );
    let detail: Value = serde_json::from_str(&s.app.login_events()[0].detail).unwrap();
    assert_eq!(
        detail["attribute_warnings"],
        json!([{
            "attribute": "badge",
            "source": "badgeNumber",
            "reason": "must be a number, got \"n/a\"",
        }])
    );
    assert_eq!(detail["created"], true);

    let version = s.version(&bob);
    let updates = s.updates(&bob).len();
    s.login(
        &every,
        "bob",
        &[
            ("urn:oid:2.5.4.11", Some("ou"), &["Legal"]),
            ("urn:oid:2.5.4.12", Some("title"), &["Engineer"]),
        ],
    );
    assert_eq!(
        s.attributes(&bob),
        json!({"department": "Legal", "title": "Engineer"})
    );
    assert_eq!(s.version(&bob), version + 1);
    assert_eq!(
        s.updates(&bob)[updates..],
        [json!(["attributes.department"])]
    );
    let detail: Value = serde_json::from_str(&s.app.login_events()[0].detail).unwrap();
    assert_eq!(detail.get("attribute_warnings"), None);

    // A login without the attribute clears nothing; a number that is one is stored as one.
    s.login(&every, "bob", &[("badgeNumber", None, &["12"])]);
    assert_eq!(
        s.attributes(&bob),
        json!({"department": "Legal", "title": "Engineer", "badge": 12})
    );
}

/// A user the connection provisions through SCIM, with the department SCIM gave it: a login
/// (linking, then again with `every_login`) never overwrites what the connection sources
/// through SCIM (`department`, by the vendor default), and sets what it does not (a custom
/// attribute mapped for SAML only).
#[test]
fn a_login_never_overwrites_what_scim_sources() {
    let s = Setup::new();
    let corp = s.saml("corp", ProfileSync::EveryLogin, true);
    s.declare(json!({"template": "department"}));
    let badge = s.declare(json!({"name": "badge", "type": "string"}));
    // A custom attribute has no vendor default: the admin maps it for SAML.
    s.map(&corp, &badge, &["badge"]);
    let store = &s.app.db.store;
    let definitions = store.attribute_definitions(s.app.workspace.id).unwrap();
    let mut ada = NewUser::minimal(
        s.app.workspace.id,
        UserName::parse("ada").unwrap(),
        Source::Scim,
    );
    ada.email = Some(Email::parse("ada@example.test").unwrap());
    ada.managing_connection_id = Some(corp.id);
    ada.external_id = Some("e-ada".to_owned());
    ada.attributes = vec![AttributeEdit {
        definition: definitions[0].clone(),
        value: Some(AttrValue::Text("Research".to_owned())),
    }];
    let ada = store.create_user(&Actor::Cli, &ada).unwrap().id.to_string();

    let linked = s.login(
        &corp,
        "ada",
        &[("department", None, &["Sales"]), ("badge", None, &["B-1"])],
    );
    assert_eq!(linked, ada);
    assert_eq!(
        s.attributes(&ada),
        json!({"department": "Research", "badge": "B-1"})
    );
    s.login(
        &corp,
        "ada",
        &[("department", None, &["Sales"]), ("badge", None, &["B-2"])],
    );
    assert_eq!(
        s.attributes(&ada),
        json!({"department": "Research", "badge": "B-2"})
    );
    assert_eq!(s.updates(&ada).last(), Some(&json!(["attributes.badge"])));
}

/// Through the real IdPs (`ROSTER_E2E`): with `department` and `title` declared, alice's first
/// login creates her with the values her IdP sends, in the admin API's user shape.
mod through_real_idps {
    use super::*;
    use crate::idps::{browser, OidcOptions, SamlIdp};
    use crate::support::{e2e_enabled, session_of};
    use pretty_assertions::assert_eq;

    fn declare_and_read(s: &Setup, login: impl FnOnce() -> String) -> Value {
        s.declare(json!({"template": "department"}));
        s.declare(json!({"template": "title"}));
        let token = login();
        let (status, me) = s.app.me(&token);
        assert_eq!(status, 200, "{me}");
        let user_id = s.app.login_events()[0].user_id.clone().unwrap();
        assert_eq!(me["attributes"], s.attributes(&user_id));
        s.attributes(&user_id)
    }

    #[test]
    fn simplesamlphp_sends_department_and_title() {
        if !e2e_enabled() {
            return;
        }
        let app = SsoApp::new();
        let connection = app.connection("corp", ConnectionKind::Saml, &["example.test"]);
        let idp = SamlIdp::start(
            &format!("{}/sso/saml/{}/metadata", app.url(), connection.id),
            &format!("{}/sso/saml/{}/acs", app.url(), connection.id),
        );
        app.configure(
            &connection,
            json!({ "idp_metadata_xml": idp.metadata_xml() }),
        );
        let (_, api_key) = app
            .db
            .store
            .create_api_key(&Actor::Cli, app.workspace.id, "admin")
            .unwrap();
        let s = Setup {
            api_key: api_key.expose().to_owned(),
            key: Key::new("/CN=unused-by-simplesamlphp"),
            app,
        };
        let attributes = declare_and_read(&s, || {
            let outcome = browser(
                &format!(
                    "{}/sso/acme/login?connection=corp&return_to=%2F",
                    s.app.url()
                ),
                Some(("alice", "alice-password")),
                None,
                &s.app.jar("alice"),
            );
            assert_eq!(outcome.exit_code, 0, "{}\n{}", outcome.json, idp.log());
            session_of(&outcome).expect("session cookie")
        });
        assert_eq!(
            attributes,
            json!({"department": "Engineering", "title": "Staff Engineer"})
        );
    }

    #[test]
    fn oidc_provider_sends_department_and_title_at_userinfo() {
        if !e2e_enabled() {
            return;
        }
        let (app, _connection, op) =
            crate::oidc::oidc_app(OidcOptions::default(), &["example.test"]);
        let (_, api_key) = app
            .db
            .store
            .create_api_key(&Actor::Cli, app.workspace.id, "admin")
            .unwrap();
        let s = Setup {
            api_key: api_key.expose().to_owned(),
            key: Key::new("/CN=unused-by-oidc"),
            app,
        };
        let attributes = declare_and_read(&s, || {
            let outcome = browser(
                &format!(
                    "{}/sso/acme/login?connection=corp&return_to=%2F",
                    s.app.url()
                ),
                Some(("alice", "alice-password")),
                None,
                &s.app.jar("alice"),
            );
            assert_eq!(outcome.exit_code, 0, "{}", outcome.json);
            session_of(&outcome).expect("session cookie")
        });
        assert_eq!(
            attributes,
            json!({"department": "Engineering", "title": "Staff Engineer"})
        );
        drop(op);
    }
}
