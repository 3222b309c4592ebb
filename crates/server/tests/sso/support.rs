//! A Roster with one workspace (`acme`, domain `example.test`), a role and a mapping helper,
//! and readers for what a login left behind.

use std::path::PathBuf;

use roster_server::http::BackgroundServer;
use roster_server::settings::Settings;
use roster_store::domain::{
    Actor, Connection, ConnectionKind, DisplayName, Domain, GroupSync, ProfileSync, RoleName,
    Vendor, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::{LoginEvent, NewConnection, NewMapping};
use serde_json::Value;

pub use crate::browser::{agent, session_set_by};

/// Whether the IdPs are installed (set by `cargo xtask test`).
pub fn e2e_enabled() -> bool {
    if std::env::var_os("ROSTER_E2E").is_some() {
        return true;
    }
    eprintln!("skipped: SSO end-to-end tests need the local IdPs; run `cargo xtask test`");
    false
}

pub struct SsoApp {
    pub server: BackgroundServer,
    pub db: TestStore,
    pub workspace: Workspace,
    agent: ureq::Agent,
    jars: tempfile::TempDir,
}

pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl SsoApp {
    pub fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    /// A Roster with these settings (private-network URLs always allowed).
    pub fn with_settings(mut settings: Settings) -> Self {
        settings.security.allow_private_network_urls = true;
        Self::with_exact_settings(settings)
    }

    /// A Roster with exactly these settings (outbound policy included).
    pub fn with_exact_settings(settings: Settings) -> Self {
        let db = TestStore::new();
        let workspace = db.workspace("acme");
        let server = BackgroundServer::start(&settings, db.store.clone()).unwrap();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Self {
            server,
            db,
            workspace,
            agent,
            jars: tempfile::tempdir().unwrap(),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A fresh cookie jar for `browser.py` (one per simulated browser).
    pub fn jar(&self, name: &str) -> PathBuf {
        self.jars.path().join(format!("{name}.json"))
    }

    /// A login connection with a placeholder config (its id is needed to start the IdP).
    pub fn connection(&self, name: &str, kind: ConnectionKind, domains: &[&str]) -> Connection {
        self.connection_with(name, kind, domains, ProfileSync::FirstLogin)
    }

    pub fn connection_with(
        &self,
        name: &str,
        kind: ConnectionKind,
        domains: &[&str],
        profile_sync: ProfileSync,
    ) -> Connection {
        // The workspace proved it owns the connection's domains (the DNS side: tests/domains),
        // so the connection is authoritative for them.
        for domain in domains {
            self.prove_domain(domain);
        }
        self.db
            .store
            .create_connection(
                &Actor::Cli,
                NewConnection {
                    workspace_id: self.workspace.id,
                    name: DisplayName::parse(name).unwrap(),
                    kind,
                    vendor: Vendor::Generic,
                    protocol_config: "{}".to_owned(),
                    domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
                    scim_enabled: false,
                    profile_sync,
                    group_sync: GroupSync::EveryLogin,
                    strict_immutability: false,
                },
            )
            .unwrap()
    }

    /// Records `domain` as verified by the workspace, as a check that found its TXT record
    /// would (a domain it already holds is left as it is).
    pub fn prove_domain(&self, domain: &str) {
        let store = &self.db.store;
        let domain = Domain::parse(domain).unwrap();
        let record = match store.workspace_domain(self.workspace.id, &domain) {
            Ok(record) => record,
            Err(_) => store
                .add_domain(&Actor::Cli, self.workspace.id, &domain)
                .unwrap(),
        };
        store
            .record_domain_check(
                &Actor::Cli,
                self.workspace.id,
                &domain,
                &record.challenge,
                roster_store::domain::domain_proof::Check::Found,
                roster_store::domain::domain_proof::Trigger::Request,
            )
            .unwrap();
    }

    pub fn configure(&self, connection: &Connection, config: Value) -> Connection {
        self.db
            .store
            .update_connection_config(
                &Actor::Cli,
                self.workspace.id,
                connection.id,
                &config.to_string(),
            )
            .unwrap()
    }

    /// Maps IdP group `claim` at `connection` to app group `group` and role `role` (rank 10).
    pub fn map(&self, connection: &Connection, claim: &str, group: &str, role: &str) {
        let store = &self.db.store;
        let role = match store.role_by_name(self.workspace.id, role) {
            Ok(existing) => existing,
            Err(_) => store
                .create_role(
                    &Actor::Cli,
                    self.workspace.id,
                    &RoleName::parse(role).unwrap(),
                    10,
                )
                .unwrap(),
        };
        let group = store
            .app_group_by_name_or_create(
                &Actor::Cli,
                self.workspace.id,
                &DisplayName::parse(group).unwrap(),
            )
            .unwrap();
        store
            .create_mapping(
                &Actor::Cli,
                &NewMapping {
                    workspace_id: self.workspace.id,
                    connection_id: connection.id,
                    idp_group_key: Some(claim.to_owned()),
                    idp_group_name: None,
                    app_group_id: Some(group.id),
                    role_id: Some(role.id),
                },
            )
            .unwrap();
    }

    pub fn get(&self, path: &str, session: Option<&str>) -> Reply {
        let mut request = self.agent.get(&format!("{}{path}", self.url()));
        if let Some(token) = session {
            request = request.header("Cookie", &format!("roster_session={token}"));
        }
        let mut response = request.call().unwrap();
        Reply {
            status: response.status().as_u16(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub fn post_form(&self, path: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let mut request = self.agent.post(&format!("{}{path}", self.url()));
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        let mut response = request.send_form(fields.iter().copied()).unwrap();
        Reply {
            status: response.status().as_u16(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// A POST with any content type and body (a client that does not send a form).
    pub fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Reply {
        let mut response = self
            .agent
            .post(&format!("{}{path}", self.url()))
            .header("Content-Type", content_type)
            .send(body)
            .unwrap();
        Reply {
            status: response.status().as_u16(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// `/api/v1/me` with a session token.
    pub fn me(&self, token: &str) -> (u16, Value) {
        let reply = self.get("/api/v1/me", Some(token));
        (
            reply.status,
            serde_json::from_str(&reply.body).unwrap_or(Value::Null),
        )
    }

    /// `GET /api/v1/admin{path}` with a fresh admin API key.
    pub fn admin_get(&self, path: &str) -> (u16, Value) {
        let (_, key) = self
            .db
            .store
            .create_api_key(&Actor::Cli, self.workspace.id, "test")
            .unwrap();
        let mut response = self
            .agent
            .get(&format!("{}/api/v1/admin{path}", self.url()))
            .header("Authorization", &format!("Bearer {}", key.expose()))
            .call()
            .unwrap();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub fn login_events(&self) -> Vec<LoginEvent> {
        self.db
            .store
            .login_events(self.workspace.id, None, 100)
            .unwrap()
    }

    pub fn user_count(&self) -> i64 {
        self.db.store.count_users(self.workspace.id).unwrap()
    }
}

/// The session token a browser run ended with, if any.
pub fn session_of(outcome: &crate::idps::BrowserOutcome) -> Option<String> {
    outcome.json["cookies"]["127.0.0.1"]["roster_session"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The login-event id shown on a refusal page.
pub fn event_id_on_page(body: &str) -> Option<String> {
    let start = body.find("administrator: <code>")? + "administrator: <code>".len();
    let end = body[start..].find("</code>")? + start;
    Some(body[start..end].to_owned())
}

/// An HTTP client that shows every status and follows no redirect (a test looks at each hop).
/// `POST /login/password` for workspace `acme`: (status, session token, body).
pub fn password_login(app: &SsoApp, user: &str, password: &str) -> (u16, Option<String>, String) {
    password_login_in(app, "acme", user, password)
}

/// `POST /login/password` for the workspace `slug`: (status, session token, body).
pub fn password_login_in(
    app: &SsoApp,
    slug: &str,
    user: &str,
    password: &str,
) -> (u16, Option<String>, String) {
    let mut response = agent()
        .post(&format!("{}/login/password", app.url()))
        .send_form([
            ("workspace", slug),
            ("user_name", user),
            ("password", password),
            ("return_to", "/"),
        ])
        .unwrap();
    let token = session_set_by(&response);
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), token, body)
}

/// An invited user with a local password, made an admin when `admin`.
pub fn password_user(app: &SsoApp, name: &str, password: &str, admin: bool) {
    password_user_in(app, app.workspace.id, name, password, admin);
}

/// [`password_user`] in the workspace `workspace_id`.
pub fn password_user_in(
    app: &SsoApp,
    workspace_id: roster_store::domain::WorkspaceId,
    name: &str,
    password: &str,
    admin: bool,
) {
    let store = &app.db.store;
    let user = store
        .create_user(
            &Actor::Cli,
            &roster_store::NewUser::minimal(
                workspace_id,
                roster_store::domain::UserName::parse(name).unwrap(),
                roster_store::domain::Source::Invited,
            ),
        )
        .unwrap();
    let hash = roster_store::domain::password::hash_password(password).unwrap();
    store
        .set_password_hash(&Actor::Cli, workspace_id, user.id, &hash)
        .unwrap();
    if admin {
        store
            .assign_role(&Actor::Cli, workspace_id, user.id, "admin")
            .unwrap();
    }
}
