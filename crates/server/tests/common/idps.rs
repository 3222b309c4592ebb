//! Real identity providers for SSO end-to-end tests, started per test on free loopback ports
//! from `e2e/idps` (see its README.md): SimpleSAMLphp as a SAML 2.0 IdP ([`SamlIdp`]), panva's
//! oidc-provider as an OpenID Provider ([`OidcOp`]), and the scripted browser ([`browser`]) that
//! logs in through them.
//!
//! Needs what `cargo xtask` installs (`xtask/src/idps.rs`): the `simplesamlphp`, `php-cli`,
//! `xmlsec1` and `openssl` Debian packages, Node.js with `e2e/idps/oidc/node_modules`, Python 3.
//! Each IdP gets its own temp dir (signing key, sessions, log) and is killed, with its process
//! group, when dropped. Everything binds 127.0.0.1, like the Roster under test: cookies are per
//! host, so the IdPs' cookie names (SimpleSAMLSessionID…, op_session…) differ from Roster's.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long an IdP may take to answer after it is started (a loaded 2-core CI machine running
/// tests in parallel is slow; both normally start in about a second).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `e2e/idps` in this checkout (`ROSTER_E2E_IDPS_DIR` overrides it).
pub fn idps_dir() -> PathBuf {
    let dir = std::env::var_os("ROSTER_E2E_IDPS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/idps"),
        PathBuf::from,
    );
    dir.canonicalize().unwrap_or(dir)
}

/// A free TCP port on 127.0.0.1 (the listener is dropped, so another process could take it
/// first; starting an IdP retries with a new port when that happens).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "roster-{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process in its own process group, killed (group and all) on drop.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Spawns `command` with stdout/stderr to `log`, then waits until `ready_url` answers 200.
    /// `Err` (with the log) if the process exits first, e.g. because the port was taken.
    fn start(mut command: Command, log: PathBuf, ready_url: &str) -> Result<Server, String> {
        let out = std::fs::File::create(&log).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err} (run cargo xtask idps)"));
        let mut server = Server { child, log };
        let agent = agent();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{command:?} exited ({status}):\n{}",
                    server.log_text()
                ));
            }
            if let Ok(response) = agent.get(ready_url).call() {
                if response.status() == 200 {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{ready_url} did not answer within {START_TIMEOUT:?}:\n{}",
                    server.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The whole group: start.sh execs php, but be sure nothing it spawned outlives the test.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

fn get_text(url: &str) -> String {
    let mut response = agent().get(url).call().unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.body_mut().read_to_string().unwrap()
}

/// Starts a server on a free port, trying again with another port if it loses the race for it.
fn start_on_free_port(
    name: &str,
    log: PathBuf,
    command: impl Fn(u16) -> Command,
    ready_url: impl Fn(u16) -> String,
) -> (Server, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        match Server::start(command(port), log.clone(), &ready_url(port)) {
            Ok(server) => return (server, port),
            Err(err) => last = err,
        }
    }
    panic!("cannot start the {name}: {last}");
}

/// NameID the SAML IdP sends when the AuthnRequest asks for no particular format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameIdFormat {
    /// The user's `sub` (e.g. `8f2c6b1e-alice`).
    #[default]
    Persistent,
    /// The user's email.
    Email,
    /// A random one per login.
    Transient,
}

/// How to start the SAML IdP; `SamlOptions::new(entity_id, acs)` for the defaults.
#[derive(Clone, Debug)]
pub struct SamlOptions {
    pub sp_entity_id: String,
    pub acs_url: String,
    pub nameid_format: NameIdFormat,
    /// Also trust this SP metadata XML (e.g. the one Roster serves), saved to a file.
    pub sp_metadata_xml: Option<String>,
    /// Sign the Response / the Assertion (both by default).
    pub sign_response: bool,
    pub sign_assertion: bool,
    /// Encrypt assertions to the SP's encryption certificate (an SP of `sp_metadata_xml`).
    pub encrypt_assertion: bool,
    /// Refuse unsigned AuthnRequests (from an SP of `sp_metadata_xml`).
    pub validate_authn_request: bool,
}

impl SamlOptions {
    pub fn new(sp_entity_id: &str, acs_url: &str) -> SamlOptions {
        SamlOptions {
            sp_entity_id: sp_entity_id.to_owned(),
            acs_url: acs_url.to_owned(),
            nameid_format: NameIdFormat::Persistent,
            sp_metadata_xml: None,
            sign_response: true,
            sign_assertion: true,
            encrypt_assertion: false,
            validate_authn_request: false,
        }
    }
}

/// SimpleSAMLphp 1.19 as a SAML 2.0 IdP on `http://127.0.0.1:<free port>/`, trusting one SP.
/// Users: `e2e/idps/users.json` (login `alice` / `alice-password`, …).
pub struct SamlIdp {
    server: Server,
    port: u16,
    dir: TempDir,
}

impl SamlIdp {
    /// Starts an IdP that trusts the SP `sp_entity_id` and posts its Responses to `acs_url`.
    pub fn start(sp_entity_id: &str, acs_url: &str) -> SamlIdp {
        SamlIdp::start_with(SamlOptions::new(sp_entity_id, acs_url))
    }

    pub fn start_with(options: SamlOptions) -> SamlIdp {
        let dir = TempDir::new("saml-idp");
        let metadata_file = options.sp_metadata_xml.as_ref().map(|xml| {
            let file = dir.0.join("sp-metadata.xml");
            std::fs::write(&file, xml).unwrap();
            file
        });
        let script = idps_dir().join("saml/start.sh");
        let (server, port) = start_on_free_port(
            "SAML IdP (SimpleSAMLphp)",
            dir.0.join("idp.log"),
            |port| {
                let mut command = Command::new(&script);
                command
                    .env("SAML_IDP_HOST", "127.0.0.1")
                    .env("SAML_IDP_PORT", port.to_string())
                    .env("SAML_IDP_DATA_DIR", dir.0.join("data"))
                    .env("SAML_IDP_KEY_DIR", dir.0.join("keys"))
                    .env("SAML_SP_ENTITY_ID", &options.sp_entity_id)
                    .env("SAML_SP_ACS_URL", &options.acs_url)
                    .env(
                        "SAML_NAMEID_FORMAT",
                        match options.nameid_format {
                            NameIdFormat::Persistent => "persistent",
                            NameIdFormat::Email => "email",
                            NameIdFormat::Transient => "transient",
                        },
                    )
                    .env(
                        "SAML_SIGN_RESPONSE",
                        if options.sign_response { "1" } else { "0" },
                    )
                    .env(
                        "SAML_SIGN_ASSERTION",
                        if options.sign_assertion { "1" } else { "0" },
                    )
                    .env(
                        "SAML_ENCRYPT_ASSERTION",
                        if options.encrypt_assertion { "1" } else { "0" },
                    )
                    .env(
                        "SAML_VALIDATE_AUTHNREQUEST",
                        if options.validate_authn_request {
                            "1"
                        } else {
                            "0"
                        },
                    )
                    .env_remove("SAML_IDP_ENTITY_ID")
                    .env_remove("SAML_SP_METADATA_FILE");
                if let Some(file) = &metadata_file {
                    command.env("SAML_SP_METADATA_FILE", file);
                }
                command
            },
            |port| format!("http://127.0.0.1:{port}/saml2/idp/metadata.php"),
        );
        SamlIdp { server, port, dir }
    }

    /// The SP metadata file the IdP trusts besides `SAML_SP_ENTITY_ID` (when started with
    /// `sp_metadata_xml`). SimpleSAMLphp reads it on every request, so writing another SP's
    /// metadata there (one created while the IdP runs) makes the IdP trust that SP from then on.
    pub fn sp_metadata_file(&self) -> PathBuf {
        self.dir.0.join("sp-metadata.xml")
    }

    /// `http://127.0.0.1:<port>/`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Where the IdP metadata XML is served; also the IdP's entity ID.
    pub fn metadata_url(&self) -> String {
        format!("{}saml2/idp/metadata.php", self.base_url())
    }

    pub fn entity_id(&self) -> String {
        self.metadata_url()
    }

    /// The SSO endpoint (HTTP-Redirect and HTTP-POST bindings).
    pub fn sso_url(&self) -> String {
        format!("{}saml2/idp/SSOService.php", self.base_url())
    }

    /// The IdP metadata XML (entity ID, signing certificate, SSO/SLO endpoints, NameID formats).
    pub fn metadata_xml(&self) -> String {
        get_text(&self.metadata_url())
    }

    /// The IdP's signing certificate (PEM), as in its metadata.
    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("keys/idp.crt")).unwrap()
    }

    /// What the IdP printed so far (useful in assertion messages).
    pub fn log(&self) -> String {
        self.server.log_text()
    }
}

/// How the OpenID Provider's client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

impl TokenAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenAuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

/// How to start the OpenID Provider.
#[derive(Clone, Debug)]
pub struct OidcOptions {
    /// Exact-match redirect URIs of the one client.
    pub redirect_uris: Vec<String>,
    /// Put email, names and groups in the ID token too (by default only at userinfo).
    pub claims_in_id_token: bool,
    pub token_auth_method: TokenAuthMethod,
    /// PKCE (S256) required (the default); `false` makes it optional.
    pub pkce_required: bool,
}

impl Default for OidcOptions {
    fn default() -> OidcOptions {
        OidcOptions {
            redirect_uris: Vec::new(),
            claims_in_id_token: false,
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
            pkce_required: true,
        }
    }
}

/// panva's oidc-provider on `http://127.0.0.1:<free port>` (the issuer), with one confidential
/// client. Scopes `openid email profile groups`; users: `e2e/idps/users.json`.
pub struct OidcOp {
    server: Server,
    port: u16,
    client_secret: String,
    dir: TempDir,
}

impl OidcOp {
    pub fn start(options: OidcOptions) -> OidcOp {
        assert!(
            !options.redirect_uris.is_empty(),
            "OidcOptions::redirect_uris is empty"
        );
        let dir = TempDir::new("oidc-op");
        let script = idps_dir().join("oidc/op.mjs");
        let client_secret = format!("roster-e2e-secret-{}", std::process::id());
        let (server, port) = start_on_free_port(
            "OpenID Provider (oidc-provider)",
            dir.0.join("op.log"),
            |port| {
                let mut command = Command::new("node");
                command
                    .arg(&script)
                    .env("OP_HOST", "127.0.0.1")
                    .env("OP_PORT", port.to_string())
                    .env("OP_ISSUER", format!("http://127.0.0.1:{port}"))
                    .env("OP_CLIENT_ID", "roster-e2e")
                    .env("OP_CLIENT_SECRET", &client_secret)
                    .env("OP_REDIRECT_URIS", options.redirect_uris.join(","))
                    .env("OP_TOKEN_AUTH_METHOD", options.token_auth_method.as_str())
                    .env(
                        "OP_PKCE_REQUIRED",
                        if options.pkce_required { "1" } else { "0" },
                    )
                    .env(
                        "OP_CLAIMS_IN_ID_TOKEN",
                        if options.claims_in_id_token { "1" } else { "0" },
                    )
                    .env("OP_DATA_DIR", dir.0.join("data"))
                    .env_remove("IDP_USERS_FILE");
                command
            },
            |port| format!("http://127.0.0.1:{port}/.well-known/openid-configuration"),
        );
        OidcOp {
            server,
            port,
            client_secret,
            dir,
        }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash); discovery is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn client_id(&self) -> &str {
        "roster-e2e"
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The discovery document.
    pub fn discovery(&self) -> Value {
        serde_json::from_str(&get_text(&format!(
            "{}/.well-known/openid-configuration",
            self.issuer()
        )))
        .unwrap()
    }

    /// What the OP printed so far (useful in assertion messages).
    pub fn log(&self) -> String {
        self.server.log_text()
    }
}

/// What `browser.py` did: its exit code (0 ok, 1 HTTP error status, 2 a page it cannot handle,
/// 3 login rejected) and its JSON: with `stop_at`, `{"method", "url", "params"}` of the request
/// it did not send; otherwise the last response `{"status", "url", "headers", "body"}`. Both
/// have `"cookies": {host: {name: value}}`.
#[derive(Debug)]
pub struct BrowserOutcome {
    pub exit_code: i32,
    pub json: Value,
    pub stderr: String,
}

/// Runs the scripted browser from `url`: follows redirects, keeps cookies per host in the JSON
/// file `cookies` (reuse it across calls for single sign-on, a fresh path for a fresh browser),
/// logs in with `user` = (name, password) when a login form shows up, auto-submits SAML POST
/// forms, and stops before requesting a URL starting with `stop_at`.
pub fn browser(
    url: &str,
    user: Option<(&str, &str)>,
    stop_at: Option<&str>,
    cookies: &Path,
) -> BrowserOutcome {
    browser_with(url, user, stop_at, cookies, &[])
}

/// [`browser`] with `--form-field name=value` for each of `form_fields`.
pub fn browser_with(
    url: &str,
    user: Option<(&str, &str)>,
    stop_at: Option<&str>,
    cookies: &Path,
    form_fields: &[(&str, &str)],
) -> BrowserOutcome {
    let mut command = Command::new("python3");
    command
        .arg(idps_dir().join("browser.py"))
        .arg(url)
        .arg("--cookies")
        .arg(cookies);
    if let Some((name, password)) = user {
        command.args(["--user", name, "--password", password]);
    }
    if let Some(prefix) = stop_at {
        command.args(["--stop-at", prefix]);
    }
    for (name, value) in form_fields {
        command.arg("--form-field").arg(format!("{name}={value}"));
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!("browser.py printed no JSON ({err}):\n{stdout}\nstderr:\n{stderr}")
    });
    BrowserOutcome {
        exit_code: output.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}
