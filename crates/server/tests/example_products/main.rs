//! The example products of `examples/` end to end, as a SaaS team would run them: a real
//! `roster serve` (on SQLite, or PostgreSQL with `TEST_DATABASE_URL`), a workspace whose users
//! sign in through a real upstream IdP (SimpleSAMLphp over SAML, or oidc-provider over OIDC) and
//! are provisioned over SCIM, the product registered with `roster app create`, and the product
//! itself (Node on openid-client, Python on Authlib) started as its README says.
//!
//! A scripted browser signs in at the product and follows everything — product → Roster → IdP
//! login form → Roster → product — so the product's own library exchanges the code and
//! validates the ID token. Then: the claims carry `wid`, `roles` and `groups`; userinfo answers;
//! a refresh works; forged logout tokens are refused by the product's library and end nothing;
//! and when SCIM deactivates the user, the product receives a back-channel logout within 2 s that
//! its library validates, after which its userinfo and refresh fail — and Roster refuses the
//! user's tokens too.
//!
//! Needs what `cargo xtask test` installs: the IdPs (`e2e/idps`), `npm ci` in `examples/node`,
//! and a Python with `examples/python/requirements.txt` (`ROSTER_EXAMPLES_PYTHON`, by default
//! `target/examples-python-venv/bin/python`). Skipped without `ROSTER_E2E=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/idps.rs"]
mod idps;
#[path = "../common/process.rs"]
mod process;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use pretty_assertions::assert_eq;
use roster_provider::keys::{generate_key, ProviderKeys};
use roster_provider::tokens::{SigningKey, BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_TYP};
use roster_store::domain::{
    Actor, Connection, ConnectionKind, DisplayName, Domain, GroupSync, ProfileSync, RoleName,
    Timestamp, Vendor,
};
use roster_store::testing::TestStore;
use roster_store::{NewConnection, NewMapping, SigningAlg};
use serde_json::{json, Value};

use idps::{browser, OidcOp, OidcOptions, SamlIdp};

/// The user every run signs in as (`e2e/idps/users.json`).
const USER: (&str, &str) = ("alice", "alice-password");
const USER_EMAIL: &str = "alice@example.test";
/// The IdP group alice is in, pushed over SCIM and mapped to a role and an app group.
const IDP_GROUP: &str = "engineering";
const ROLE: &str = "engineer";
const APP_GROUP: &str = "Engineering";
/// The workspace's custom extension (issue #28) and the role its department rule grants.
const HR: &str = "urn:acme:params:scim:schemas:extension:hr:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const FINANCE_ROLE: &str = "finance-viewer";
/// What alice's IdP sends as her title (`e2e/idps/users.json`), at her first login.
const USER_TITLE: &str = "Staff Engineer";
/// How soon the product must hear of a deactivation (the promise).
const LOGOUT_WITHIN: Duration = Duration::from_secs(2);
/// PKCE of the test's own grant: `BASE64URL(SHA256(VERIFIER))`, computed with Python's hashlib.
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kSn4-1K2E5wEHgA0H7J2dGkIhNo-verifier";
const CHALLENGE: &str = "bom-kBzocdot6rY4UXL5MZaXipSu9hYtMIx9o8fDd2o";

fn e2e_enabled() -> bool {
    if std::env::var_os("ROSTER_E2E").is_some() {
        return true;
    }
    eprintln!("skipped: the example products need the local IdPs, npm and pip packages; run `cargo xtask test`");
    false
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

/// (status, JSON body or `Null`) of a response.
fn read(mut response: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A process in its own process group, logging to a file, killed (group and all) on drop.
struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    fn start(mut command: Command, log: PathBuf) -> Spawned {
        let out = std::fs::File::create(&log).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        Spawned { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `url` answers 200; panics with the log if the process exits first.
    fn wait_for(&mut self, url: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{what} exited ({status}):\n{}", self.log_text());
            }
            if let Ok(response) = agent().get(url).call() {
                if response.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not answer {url}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `roster serve` whose issuer is its own loopback address (so the products can discover it),
/// delivering back-channel logouts to loopback products at once.
struct Roster {
    db: TestStore,
    url: String,
    server: Spawned,
    dir: tempfile::TempDir,
}

impl Roster {
    fn start() -> Roster {
        let db = TestStore::new();
        let dir = tempfile::tempdir().unwrap();
        let addr = process::free_loopback_addr();
        let url = format!("http://{addr}");
        let mut command = process::roster(&db);
        command
            .env("ROSTER__SERVER__BIND", &addr)
            .env("ROSTER__SERVER__PUBLIC_URL", &url)
            .env("ROSTER__SERVER__SHUTDOWN_TIMEOUT_SECS", "2")
            // The IdPs and the products listen on 127.0.0.1.
            .env("ROSTER__SECURITY__ALLOW_PRIVATE_NETWORK_URLS", "true")
            // The outbox delivery worker, polling often (a real deployment keeps the default).
            .env("ROSTER__WEBHOOKS__ENABLED", "true")
            .env("ROSTER__WEBHOOKS__POLL_INTERVAL_MS", "50")
            .env("ROSTER__WEBHOOKS__RETRY_BASE_MS", "100")
            .env("ROSTER__LOG__LEVEL", "info")
            .arg("serve");
        let mut server = Spawned::start(command, dir.path().join("roster.log"));
        server.wait_for(
            &format!("{url}/.well-known/openid-configuration"),
            "roster serve",
        );
        Roster {
            db,
            url,
            server,
            dir,
        }
    }

    fn log(&self) -> String {
        self.server.log_text()
    }

    /// A SCIM request with `token`.
    fn scim(&self, token: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}/scim/v2{path}", self.url))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/scim+json")
            .body(body.to_string())
            .unwrap();
        read(agent().run(request).unwrap())
    }

    /// `roster app create` for a product at `product_url`, as its README says.
    fn register(&self, name: &str, product_url: &str) -> Value {
        process::json_of(&process::run(
            &self.db,
            &[
                "app",
                "create",
                "--name",
                name,
                "--redirect-uri",
                &format!("{product_url}/callback"),
                "--post-logout-redirect-uri",
                &format!("{product_url}/signed-out"),
                "--backchannel-logout-uri",
                &format!("{product_url}/backchannel-logout"),
            ],
        ))
    }
}

#[derive(Clone, Copy, Debug)]
enum Upstream {
    /// SimpleSAMLphp, a SAML 2.0 IdP.
    Saml,
    /// panva's oidc-provider, an OpenID Provider.
    Oidc,
}

/// A running upstream IdP (kept alive for the test's length).
enum Idp {
    Saml(SamlIdp),
    Oidc(OidcOp),
}

impl Idp {
    fn log(&self) -> String {
        match self {
            Idp::Saml(idp) => idp.log(),
            Idp::Oidc(op) => op.log(),
        }
    }
}

/// Workspace `acme`: one SSO connection to the upstream with SCIM on (as an Entra or Okta
/// enterprise app provisions and signs in the same users), alice provisioned over SCIM and
/// member of IdP group `engineering`, mapped to role `engineer` and app group `Engineering`.
struct Workspace {
    id: String,
    scim_token: String,
    user_id: String,
    idp: Idp,
}

fn workspace(roster: &Roster, upstream: Upstream) -> Workspace {
    let store = &roster.db.store;
    let workspace = roster.db.workspace("acme");
    let connection = store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse("corp").unwrap(),
                kind: match upstream {
                    Upstream::Saml => ConnectionKind::Saml,
                    Upstream::Oidc => ConnectionKind::Oidc,
                },
                vendor: Vendor::Generic,
                protocol_config: "{}".to_owned(),
                domains: vec![Domain::parse("example.test").unwrap()],
                scim_enabled: true,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
    let (idp, config) = start_idp(roster, &connection, upstream);
    store
        .update_connection_config(
            &Actor::Cli,
            workspace.id,
            connection.id,
            &config.to_string(),
        )
        .unwrap();

    let role = store
        .create_role(
            &Actor::Cli,
            workspace.id,
            &RoleName::parse(ROLE).unwrap(),
            10,
        )
        .unwrap();
    let app_group = store
        .app_group_by_name_or_create(
            &Actor::Cli,
            workspace.id,
            &DisplayName::parse(APP_GROUP).unwrap(),
        )
        .unwrap();
    store
        .create_mapping(
            &Actor::Cli,
            &NewMapping {
                workspace_id: workspace.id,
                connection_id: connection.id,
                idp_group_key: Some(IDP_GROUP.to_owned()),
                idp_group_name: None,
                app_group_id: Some(app_group.id),
                role_id: Some(role.id),
            },
        )
        .unwrap();

    declare_attributes(roster, &workspace, &connection);

    let scim_token = roster.db.scim_token(&connection);
    // Provisioned as Entra does, with the enterprise extension and the workspace's own.
    let (status, user) = roster.scim(
        &scim_token,
        "POST",
        "/Users",
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, HR],
            "userName": USER_EMAIL,
            "externalId": "8f2c6b1e-alice",
            "active": true,
            "name": {"givenName": "Alice", "familyName": "Anderson"},
            "emails": [{"value": USER_EMAIL, "type": "work", "primary": true}],
            ENTERPRISE: {"department": "Engineering", "employeeNumber": "1001"},
            HR: {"costCenterCode": "4100"},
        }),
    );
    assert_eq!(status, 201, "{user:#}");
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (status, group) = roster.scim(
        &scim_token,
        "POST",
        "/Groups",
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": IDP_GROUP,
            "externalId": IDP_GROUP,
            "members": [{"value": user_id}],
        }),
    );
    assert_eq!(status, 201, "{group:#}");
    Workspace {
        id: workspace.id.to_string(),
        scim_token,
        user_id,
        idp,
    }
}

/// The workspace's custom attributes (issue #28): department from its template (SCIM sends it,
/// Entra's default), title from its template but not sourced by SCIM (so the IdP's login brings
/// it), a number in the workspace's own SCIM extension, and "department = Finance gives
/// finance-viewer".
fn declare_attributes(
    roster: &Roster,
    workspace: &roster_store::domain::Workspace,
    connection: &Connection,
) {
    use roster_store::domain::attributes::{
        AttributeKind, NewAttributeDefinition, Protocol, StandardAttribute,
    };
    let store = &roster.db.store;
    for standard in [StandardAttribute::Department, StandardAttribute::Title] {
        store
            .create_attribute(
                &Actor::Cli,
                workspace.id,
                &NewAttributeDefinition::standard(standard),
            )
            .unwrap();
    }
    let code = NewAttributeDefinition::new(
        "costCenterCode",
        Some("Cost centre code"),
        AttributeKind::Number,
        false,
        true,
    )
    .unwrap()
    .in_scim_schema(HR)
    .unwrap();
    store
        .create_attribute(&Actor::Cli, workspace.id, &code)
        .unwrap();
    let title = store
        .attribute_definitions(workspace.id)
        .unwrap()
        .into_iter()
        .find(|d| d.name.as_str() == "title")
        .unwrap();
    store
        .set_attribute_mapping(
            &Actor::Cli,
            workspace.id,
            connection.id,
            title.id,
            Protocol::Scim,
            Some(Vec::new()),
        )
        .unwrap();
    let finance = RoleName::parse(FINANCE_ROLE).unwrap();
    store
        .create_role(&Actor::Cli, workspace.id, &finance, 5)
        .unwrap();
    store
        .create_attribute_role_rule(&Actor::Cli, workspace.id, "department", "Finance", &finance)
        .unwrap();
}

/// Starts the upstream IdP trusting `connection`, and the connection's config for it.
fn start_idp(roster: &Roster, connection: &Connection, upstream: Upstream) -> (Idp, Value) {
    match upstream {
        Upstream::Saml => {
            let idp = SamlIdp::start(
                &format!("{}/sso/saml/{}/metadata", roster.url, connection.id),
                &format!("{}/sso/saml/{}/acs", roster.url, connection.id),
            );
            let config = json!({
                "idp_metadata_xml": idp.metadata_xml(),
                "idp_metadata_url": idp.metadata_url(),
            });
            (Idp::Saml(idp), config)
        }
        Upstream::Oidc => {
            let op = OidcOp::start(OidcOptions {
                redirect_uris: vec![format!(
                    "{}/sso/oidc/{}/callback",
                    roster.url, connection.id
                )],
                ..OidcOptions::default()
            });
            let config = json!({
                "issuer": op.issuer(),
                "client_id": op.client_id(),
                "client_secret": op.client_secret(),
                "token_auth_method": "client_secret_basic",
            });
            (Idp::Oidc(op), config)
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Language {
    Node,
    Python,
}

impl Language {
    fn name(self) -> &'static str {
        match self {
            Language::Node => "Node example",
            Language::Python => "Python example",
        }
    }

    fn cookie(self) -> &'static str {
        match self {
            Language::Node => "node_product_session",
            Language::Python => "python_product_session",
        }
    }

    /// The command that runs the product, as its README says.
    fn command(self) -> Command {
        let examples = repo_root().join("examples");
        match self {
            Language::Node => {
                let dir = examples.join("node");
                assert!(
                    dir.join("node_modules/openid-client").exists(),
                    "examples/node has no node_modules: run `cargo xtask test` (npm ci)"
                );
                let mut command = Command::new("node");
                command.arg(dir.join("app.mjs")).current_dir(dir);
                command
            }
            Language::Python => {
                let python = std::env::var_os("ROSTER_EXAMPLES_PYTHON").map_or_else(
                    || repo_root().join("target/examples-python-venv/bin/python"),
                    PathBuf::from,
                );
                assert!(
                    python.exists(),
                    "{} does not exist: run `cargo xtask test` (pip install -r examples/python/requirements.txt)",
                    python.display()
                );
                let dir = examples.join("python");
                let mut command = Command::new(python);
                command
                    .arg(dir.join("app.py"))
                    .current_dir(dir)
                    .env("PYTHONDONTWRITEBYTECODE", "1")
                    .env("PYTHONUNBUFFERED", "1");
                command
            }
        }
    }
}

/// A running example product on its own loopback port.
struct Product {
    language: Language,
    url: String,
    client_id: String,
    client_secret: String,
    process: Spawned,
}

impl Product {
    /// Registers the product with `roster app create` and starts it with what that printed.
    fn start(roster: &Roster, language: Language) -> Product {
        let addr = process::free_loopback_addr();
        let url = format!("http://{addr}");
        let port = addr.rsplit(':').next().unwrap().to_owned();
        let app = roster.register(language.name(), &url);
        assert_eq!(app["token_endpoint_auth_method"], "client_secret_basic");
        let client_id = app["client_id"].as_str().unwrap().to_owned();
        let client_secret = app["client_secret"].as_str().unwrap().to_owned();
        let mut command = language.command();
        command
            .env("ROSTER_ISSUER", &roster.url)
            .env("CLIENT_ID", &client_id)
            .env("CLIENT_SECRET", &client_secret)
            .env("PORT", &port)
            .env("REDIRECT_URI", format!("{url}/callback"));
        let mut process = Spawned::start(
            command,
            roster.dir.path().join(format!("{}.log", language.cookie())),
        );
        process.wait_for(&format!("{url}/status"), language.name());
        Product {
            language,
            url,
            client_id,
            client_secret,
            process,
        }
    }

    fn get(&self, path: &str, session: &str) -> (u16, Value) {
        read(
            agent()
                .get(&format!("{}{path}", self.url))
                .header("Cookie", &format!("{}={session}", self.language.cookie()))
                .call()
                .unwrap(),
        )
    }

    fn post(&self, path: &str, session: &str) -> (u16, Value) {
        read(
            agent()
                .post(&format!("{}{path}", self.url))
                .header("Cookie", &format!("{}={session}", self.language.cookie()))
                .send_empty()
                .unwrap(),
        )
    }

    /// POSTs a logout token as Roster does (form-encoded `logout_token`).
    fn backchannel_logout(&self, logout_token: &str) -> (u16, Value) {
        read(
            agent()
                .post(&format!("{}/backchannel-logout", self.url))
                .send_form([("logout_token", logout_token)])
                .unwrap(),
        )
    }

    fn status(&self) -> Value {
        let (status, body) = read(agent().get(&format!("{}/status", self.url)).call().unwrap());
        assert_eq!(status, 200);
        body
    }

    /// The app's client authentication at Roster's token endpoint.
    fn basic_auth(&self) -> String {
        let credentials = format!("{}:{}", self.client_id, self.client_secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    fn log(&self) -> String {
        self.process.log_text()
    }
}

/// Everything that ran, for assertion messages.
fn logs(roster: &Roster, workspace: &Workspace, product: &Product) -> String {
    format!(
        "--- roster:\n{}\n--- idp:\n{}\n--- product:\n{}",
        roster.log(),
        workspace.idp.log(),
        product.log()
    )
}

/// Signs in at the product through Roster and the IdP; the product's session cookie.
fn sign_in(roster: &Roster, workspace: &Workspace, product: &Product, jar: &Path) -> String {
    let start = format!("{}/login?workspace=acme", product.url);
    let outcome = browser(&start, Some(USER), None, jar);
    let context = || format!("{:#}\n{}", outcome.json, logs(roster, workspace, product));
    assert_eq!(outcome.exit_code, 0, "{}", context());
    assert_eq!(
        outcome.json["url"],
        format!("{}/", product.url),
        "{}",
        context()
    );
    assert!(
        outcome.json["body"]
            .as_str()
            .unwrap()
            .contains("Signed in as <strong>alice@example.test</strong>"),
        "{}",
        context()
    );
    outcome.json["cookies"]["127.0.0.1"][product.language.cookie()]
        .as_str()
        .expect("the product's session cookie")
        .to_owned()
}

/// The product's app signs alice in again, this time for the test itself: its own PKCE, its own
/// code exchange (the browser still has Roster's session). Returns (access, refresh) token.
fn own_grant(roster: &Roster, product: &Product, jar: &Path) -> (String, String) {
    let callback = format!("{}/callback", product.url);
    let authorize = format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}\
         &state=own-state&nonce=own-nonce&code_challenge={CHALLENGE}&code_challenge_method=S256\
         &workspace=acme",
        roster.url,
        product.client_id,
        urlencode(&callback),
        urlencode("openid offline_access"),
    );
    let stopped = browser(&authorize, Some(USER), Some(&callback), jar);
    assert_eq!(stopped.exit_code, 0, "{:#}", stopped.json);
    let params = &stopped.json["params"];
    assert_eq!(params["state"], "own-state");
    assert_eq!(params["iss"], roster.url.as_str());
    let (status, tokens) = read(
        agent()
            .post(&format!("{}/oauth2/token", roster.url))
            .header("Authorization", &product.basic_auth())
            .send_form([
                ("grant_type", "authorization_code"),
                ("code", params["code"].as_str().unwrap()),
                ("redirect_uri", &callback),
                ("code_verifier", VERIFIER),
            ])
            .unwrap(),
    );
    assert_eq!(status, 200, "{tokens:#}");
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Roster's userinfo and refresh for the test's own grant: (userinfo status, token body).
fn roster_answers(roster: &Roster, product: &Product, access: &str, refresh: &str) -> (u16, Value) {
    let (userinfo, _) = read(
        agent()
            .get(&format!("{}/oauth2/userinfo", roster.url))
            .header("Authorization", &format!("Bearer {access}"))
            .call()
            .unwrap(),
    );
    let (_, refreshed) = read(
        agent()
            .post(&format!("{}/oauth2/token", roster.url))
            .header("Authorization", &product.basic_auth())
            .send_form([("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .unwrap(),
    );
    (userinfo, refreshed)
}

/// A logout token a product must refuse: what is wrong with it, a word the library's reason names
/// (so it was refused for that, not for another reason), and the token.
struct Forged {
    what: &'static str,
    reason: &'static str,
    token: String,
}

/// A genuine logout token (signed with Roster's key) for another session of the user, and logout
/// tokens each breaking one rule of Back-Channel Logout 1.0 §2.6, all but the foreign-key one
/// signed with Roster's key; the last is the genuine one again (a replay).
fn logout_tokens(
    roster: &Roster,
    product: &Product,
    sub: &str,
    sid: &str,
) -> (String, Vec<Forged>) {
    let now = Timestamp::now();
    let key = ProviderKeys::new(roster.db.store.clone(), Duration::ZERO)
        .signing_key(SigningAlg::Rs256, now)
        .unwrap();
    let foreign = SigningKey::from_record(&generate_key(SigningAlg::Rs256, now).unwrap()).unwrap();
    let iat = now.as_micros() / 1_000_000;
    let valid = json!({
        "iss": roster.url,
        "aud": product.client_id,
        "iat": iat,
        "exp": iat + 120,
        "jti": "forged-jti",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        "sub": sub,
        "sid": sid,
    });
    let with = |changes: Value| {
        let mut claims = valid.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        key.sign(LOGOUT_TOKEN_TYP, &claims).unwrap()
    };
    let b64 =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let genuine = key.sign(LOGOUT_TOKEN_TYP, &valid).unwrap();
    let mut parts = genuine.split('.');
    let (header, _, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut other_user = valid.clone();
    other_user["sub"] = json!("someone-else");
    let mut other_session = valid.clone();
    other_session["sid"] = json!("another-session");
    other_session["jti"] = json!("another-session-jti");
    let another_session = key.sign(LOGOUT_TOKEN_TYP, &other_session).unwrap();
    let forged = |what, reason, token| Forged {
        what,
        reason,
        token,
    };
    let forged = vec![
        forged("not a JWT", "invalid", "not-a-jwt".to_owned()),
        forged(
            "alg none",
            "alg",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": LOGOUT_TOKEN_TYP})),
                b64(&valid)
            ),
        ),
        forged(
            "claims changed after signing",
            "signature",
            format!("{header}.{}.{signature}", b64(&other_user)),
        ),
        forged(
            "a key Roster never published",
            "key",
            foreign.sign(LOGOUT_TOKEN_TYP, &valid).unwrap(),
        ),
        forged(
            "another app's audience",
            "aud",
            with(json!({"aud": "another-client"})),
        ),
        forged(
            "another issuer",
            "iss",
            with(json!({"iss": "http://127.0.0.1:1"})),
        ),
        forged(
            "an expired exp",
            "exp",
            with(json!({"iat": iat - 600, "exp": iat - 480})),
        ),
        forged("a nonce", "nonce", with(json!({"nonce": "n-0S6_WzA2Mj"}))),
        forged("no events", "events", with(json!({"events": null}))),
        forged(
            "another event",
            "event",
            with(json!({"events": {"http://schemas.openid.net/event/other": {}}})),
        ),
        forged(
            "neither sub nor sid",
            "sub",
            with(json!({"sub": null, "sid": null})),
        ),
        forged("no jti", "jti", with(json!({"jti": null}))),
        forged("an ID token's typ", "typ", key.sign("JWT", &valid).unwrap()),
        forged(
            "a jti already used",
            "already used",
            another_session.clone(),
        ),
    ];
    (another_session, forged)
}

/// The whole story for one product and one upstream IdP.
fn product_signs_in_and_hears_of_the_deactivation(language: Language, upstream: Upstream) {
    if !e2e_enabled() {
        return;
    }
    let roster = Roster::start();
    let workspace = workspace(&roster, upstream);
    let product = Product::start(&roster, language);
    let jars = tempfile::tempdir().unwrap();
    let jar = jars.path().join("browser.json");
    let session = sign_in(&roster, &workspace, &product, &jar);
    let context = || logs(&roster, &workspace, &product);

    // The library validated the ID token; its claims say who, where, with which roles.
    let (status, me) = product.get("/me", &session);
    assert_eq!(status, 200, "{me:#}\n{}", context());
    let claims = &me["claims"];
    assert_eq!(claims["iss"], roster.url.as_str());
    assert_eq!(claims["aud"], product.client_id.as_str());
    assert_eq!(claims["sub"], workspace.user_id.as_str());
    assert_eq!(claims["wid"], workspace.id.as_str());
    assert_eq!(claims["workspace"], "acme");
    assert_eq!(claims["email"], USER_EMAIL);
    assert_eq!(claims["roles"], json!([ROLE]));
    assert_eq!(claims["groups"], json!([APP_GROUP]));
    let sid = claims["sid"].as_str().expect("sid").to_owned();

    // Userinfo answers for the access token; a refresh rotates the refresh token.
    let (status, userinfo) = product.get("/userinfo", &session);
    assert_eq!(status, 200, "{userinfo:#}\n{}", context());
    assert_eq!(userinfo["sub"], workspace.user_id.as_str());
    assert_eq!(userinfo["roles"], json!([ROLE]));
    let (status, refreshed) = product.post("/refresh", &session);
    assert_eq!(status, 200, "{refreshed:#}\n{}", context());
    assert_eq!(refreshed["refresh_token_rotated"], true);
    assert_eq!(refreshed["claims"]["sub"], workspace.user_id.as_str());
    assert_eq!(refreshed["claims"]["sid"], sid.as_str());

    attributes_reach_the_product(&roster, &workspace, &product, &session, &sid, &context);

    // A genuine logout of another of alice's sessions ends nothing here; forged logout tokens are
    // each refused by the product's library, for the reason planted, and end nothing either.
    let (another_session, forged) = logout_tokens(&roster, &product, &workspace.user_id, &sid);
    let (status, body) = product.backchannel_logout(&another_session);
    assert_eq!(status, 200, "{body:#}");
    for token in &forged {
        let (status, body) = product.backchannel_logout(&token.token);
        assert_eq!(status, 400, "a logout token with {}: {body:#}", token.what);
    }
    let status = product.status();
    let logouts = status["logouts"].as_array().unwrap();
    assert_eq!(logouts.len(), 1, "{status:#}");
    assert_eq!(logouts[0]["sid"], "another-session");
    assert_eq!(logouts[0]["sessions_ended"], 0);
    let refused = status["refused_logouts"].as_array().unwrap();
    assert_eq!(refused.len(), forged.len(), "{status:#}");
    for (token, refusal) in forged.iter().zip(refused) {
        let reason = refusal["reason"].as_str().unwrap().to_lowercase();
        assert!(
            reason.contains(token.reason),
            "a logout token with {} was refused for another reason: {reason}",
            token.what
        );
    }
    assert_eq!(product.get("/me", &session).0, 200, "the session survived");

    // The test's own grant, to see Roster itself refuse the user's tokens at the end.
    let (access, refresh) = own_grant(&roster, &product, &jar);
    let (userinfo, refreshed) = roster_answers(&roster, &product, &access, &refresh);
    assert_eq!(userinfo, 200);
    let refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();

    // The IdP deactivates alice over SCIM: the product hears it within 2 s, from Roster.
    let (status, body) = roster.scim(
        &workspace.scim_token,
        "PATCH",
        &format!("/Users/{}", workspace.user_id),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}],
        }),
    );
    assert_eq!(status, 200, "{body:#}");
    let logout = wait_for_logout(&product, &sid, Instant::now(), &context);
    assert_eq!(logout["iss"], roster.url.as_str());
    assert_eq!(logout["sub"], workspace.user_id.as_str());
    assert_eq!(logout["sessions_ended"], 1, "{logout:#}");
    assert!(
        logout["validated_by"]
            .as_str()
            .is_some_and(|by| by.starts_with("jose ") || by.starts_with("joserfc ")),
        "{logout:#}"
    );
    // Every delivery was one the library accepted, and the session is over.
    let status = product.status();
    assert_eq!(
        status["refused_logouts"].as_array().unwrap().len(),
        forged.len(),
        "{status:#}"
    );
    assert_eq!(status["sessions"], 0, "{status:#}");

    // The product's session is over: its userinfo and refresh fail.
    assert_eq!(product.get("/me", &session).0, 401);
    assert_eq!(product.get("/userinfo", &session).0, 401);
    assert_eq!(product.post("/refresh", &session).0, 401);
    // And Roster refuses the user's tokens itself.
    let (userinfo, refreshed) = roster_answers(&roster, &product, &access, &refresh);
    assert_eq!(userinfo, 401);
    assert_eq!(refreshed["error"], "invalid_grant", "{refreshed:#}");
}

/// Issue #28 end to end: what SCIM provisioned (Entra's enterprise department, the workspace's
/// own extension) and what the IdP's login brought (the title) are in the admin API's user shape,
/// the directory events and the product's ID token; a department moved over SCIM moves the
/// attribute-based role at once — its event, and the roles and attributes of the next token.
fn attributes_reach_the_product(
    roster: &Roster,
    workspace: &Workspace,
    product: &Product,
    session: &str,
    sid: &str,
    context: &dyn Fn() -> String,
) {
    let store = &roster.db.store;
    let workspace_id: roster_store::domain::WorkspaceId = workspace.id.parse().unwrap();
    let user_id: roster_store::domain::UserId = workspace.user_id.parse().unwrap();
    let provisioned = json!({
        "department": "Engineering",
        "title": USER_TITLE,
        "costCenterCode": 4100,
    });

    // The admin API's user shape (the one `roster_store::UserResource`), and the ID token.
    let user = roster_store::UserResource::from(&store.user(workspace_id, user_id).unwrap());
    assert_eq!(
        serde_json::to_value(&user).unwrap()["attributes"],
        provisioned,
        "{}",
        context()
    );
    let (status, me) = product.get("/me", session);
    assert_eq!(status, 200, "{me:#}\n{}", context());
    assert_eq!(me["claims"]["attributes"], provisioned, "{me:#}");

    // The events: SCIM's create carried the provisioned values, the login's link the title.
    let events = store.events(workspace_id, 0, 10_000, &[]).unwrap();
    let of_alice: Vec<&roster_store::Event> = events
        .iter()
        .filter(|e| e.resource_id == workspace.user_id)
        .collect();
    let created: Value = serde_json::from_str(&of_alice[0].resource).unwrap();
    assert_eq!(of_alice[0].event_type, "user.created");
    assert_eq!(created["attributes"]["department"], "Engineering");
    assert_eq!(created["attributes"]["costCenterCode"], 4100);
    assert!(
        of_alice.iter().any(|e| e.event_type == "user.updated"
            && e.changed
                .as_deref()
                .unwrap_or("")
                .contains("attributes.title")),
        "no user.updated naming attributes.title: {of_alice:#?}"
    );

    // Entra moves alice to Finance: the rule's role follows in the same request...
    let seen = events.last().map_or(0, |e| e.seq);
    let (status, body) = roster.scim(
        &workspace.scim_token,
        "PATCH",
        &format!("/Users/{}", workspace.user_id),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Replace",
                "path": format!("{ENTERPRISE}:department"),
                "value": "Finance",
            }],
        }),
    );
    assert_eq!(status, 200, "{body:#}");
    let after: Vec<(String, Option<String>)> = store
        .events(workspace_id, seen, 100, &[])
        .unwrap()
        .into_iter()
        .filter(|e| e.resource_id == workspace.user_id)
        .map(|e| (e.event_type, e.changed))
        .collect();
    assert_eq!(after.len(), 2, "{after:#?}");
    assert_eq!(after[0].0, "user.updated");
    assert!(after[0]
        .1
        .as_deref()
        .unwrap_or("")
        .contains("attributes.department"));
    assert_eq!(after[1].0, "user.roles_changed");

    // ...and the product's next token says so.
    let (status, refreshed) = product.post("/refresh", session);
    assert_eq!(status, 200, "{refreshed:#}\n{}", context());
    let claims = &refreshed["claims"];
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["attributes"]["department"], "Finance", "{claims:#}");
    assert_eq!(claims["roles"], json!([ROLE, FINANCE_ROLE]), "{claims:#}");
}

/// The back-channel logout of `sid` the product's library validated, waited for since `since`
/// (at most [`LOGOUT_WITHIN`]).
fn wait_for_logout(
    product: &Product,
    sid: &str,
    since: Instant,
    context: &dyn Fn() -> String,
) -> Value {
    loop {
        let status = product.status();
        let heard = status["logouts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|logout| logout["sid"] == sid)
            .cloned();
        if let Some(logout) = heard {
            return logout;
        }
        assert!(
            since.elapsed() < LOGOUT_WITHIN,
            "no back-channel logout within {LOGOUT_WITHIN:?}: {status:#}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// RP-initiated logout with the product's own library: the product's sign-out sends the browser
/// to Roster's `end_session_endpoint` with its ID token as the hint; Roster ends its session,
/// sends the browser back to the registered post-logout URI, and the back-channel logout of
/// that session reaches the product. Signing in again then needs the IdP.
fn product_signs_out_through_roster(language: Language) {
    if !e2e_enabled() {
        return;
    }
    let roster = Roster::start();
    let workspace = workspace(&roster, Upstream::Saml);
    let product = Product::start(&roster, language);
    let jars = tempfile::tempdir().unwrap();
    let jar = jars.path().join("browser.json");
    let session = sign_in(&roster, &workspace, &product, &jar);
    let context = || logs(&roster, &workspace, &product);
    let (status, me) = product.get("/me", &session);
    assert_eq!(status, 200, "{me:#}\n{}", context());
    let sid = me["claims"]["sid"].as_str().expect("sid").to_owned();

    // The product's sign-out ends its session and sends the browser on to Roster.
    let response = agent()
        .post(&format!("{}/logout", product.url))
        .header("Cookie", &format!("{}={session}", language.cookie()))
        .send_empty()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303, "{}", context());
    let to_roster = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("a Location")
        .to_owned();
    assert!(
        to_roster.starts_with(&format!("{}/oauth2/logout?", roster.url)),
        "{to_roster}"
    );
    assert!(to_roster.contains("id_token_hint="), "{to_roster}");
    assert_eq!(
        product.get("/me", &session).0,
        401,
        "the product's session ended"
    );

    // In the browser (holding Roster's session): Roster signs out and sends it back.
    let started = Instant::now();
    let outcome = browser(&to_roster, None, None, &jar);
    assert_eq!(outcome.exit_code, 0, "{:#}\n{}", outcome.json, context());
    let landed = outcome.json["url"].as_str().unwrap_or_default();
    assert!(
        landed.starts_with(&format!("{}/signed-out?state=", product.url)),
        "{:#}",
        outcome.json
    );
    assert!(
        outcome.json["cookies"]["127.0.0.1"]["roster_session"].is_null(),
        "Roster's session cookie is cleared: {:#}",
        outcome.json["cookies"]
    );

    // The session's end reached the product by back-channel logout too.
    let logout = wait_for_logout(&product, &sid, started, &context);
    assert_eq!(logout["sub"], workspace.user_id.as_str());

    // Roster's session is over: a silent sign-in finds none.
    let callback = format!("{}/callback", product.url);
    let silent = format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid\
         &state=s&code_challenge={CHALLENGE}&code_challenge_method=S256&workspace=acme&prompt=none",
        roster.url,
        product.client_id,
        urlencode(&callback),
    );
    let stopped = browser(&silent, None, Some(&callback), &jar);
    assert_eq!(
        stopped.json["params"]["error"], "login_required",
        "{:#}",
        stopped.json
    );
}

#[test]
fn node_product_signs_out_through_roster() {
    product_signs_out_through_roster(Language::Node);
}

#[test]
fn python_product_signs_out_through_roster() {
    product_signs_out_through_roster(Language::Python);
}

#[test]
fn node_product_through_simplesamlphp() {
    product_signs_in_and_hears_of_the_deactivation(Language::Node, Upstream::Saml);
}

#[test]
fn node_product_through_oidc_provider() {
    product_signs_in_and_hears_of_the_deactivation(Language::Node, Upstream::Oidc);
}

#[test]
fn python_product_through_simplesamlphp() {
    product_signs_in_and_hears_of_the_deactivation(Language::Python, Upstream::Saml);
}

#[test]
fn python_product_through_oidc_provider() {
    product_signs_in_and_hears_of_the_deactivation(Language::Python, Upstream::Oidc);
}
