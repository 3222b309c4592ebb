//! The OIDC attack catalog (notes §4.2) against `OidcRp::start` / `finish`, with a mock OP.
//!
//! Real OPs only produce valid tokens, so the test runs its own OP on 127.0.0.1 (a few lines of
//! HTTP/1.1 over std `TcpListener`, one thread per connection, `Connection: close`). It serves
//! discovery, a JWKS that a test can swap at runtime, a token endpoint that returns whatever ID
//! token the test scripted (and checks PKCE like a real OP), and a scripted userinfo. Every
//! request is recorded, so tests can count JWKS fetches and prove a URL was never requested.
//!
//! The relying party's outbound client allows exactly 127.0.0.1 (where the OP runs); the rest
//! of loopback stays forbidden, so a server on 127.0.0.2 plays a service inside the network that
//! a hostile discovery document points at (O20).
//!
//! RSA keys come from the `openssl` CLI; tokens are signed with `jsonwebtoken::crypto::sign`
//! over a hand-built header, so a test can put anything in the header (`alg: none`, `jku`,
//! `jwk`, bogus `kid`). Each test names its catalog id. Cases that need the browser, state or
//! store (O10, O12–O14, O17) live with the handlers. The end of the file reads custom
//! attributes from the same OP (issue #28): mapped claims from the ID token, and from userinfo
//! when the ID token lacks them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use pretty_assertions::assert_eq;
use roster_domain::attributes::{AttributeKind, MappingOrigin, RawScalar};
use roster_domain::{ConnectionId, GroupsClaim, LoginClaims, LoginFailure};
use roster_outbound::{Client, NetworkPolicy, Timeouts};
use roster_sso::oidc::{
    AuthorizationStart, CodeExchange, OidcConfig, OidcError, OidcLogin, OidcRp, TokenAuthMethod,
};
use roster_sso::saml::ForceAuthn;
use roster_store::AttributeMapping;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "roster-client";
const CLIENT_SECRET: &str = "client-secret-0123456789abcdef";
const REDIRECT_URI: &str = "https://roster.example.com/sso/oidc/c1/callback";
const ACCESS_TOKEN: &str = "access-token-for-ada";
const SUBJECT: &str = "user-ada-123";
const CODE: &str = "authorization-code-1";
const SKEW: i64 = 120;

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// An RSA signing key with its JWK.
struct RsaKey {
    kid: &'static str,
    private_pem: Vec<u8>,
    public_pem: Vec<u8>,
    /// The modulus, big-endian.
    modulus: Vec<u8>,
}

impl RsaKey {
    fn jwk(&self) -> Value {
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.modulus), "e": "AQAB",
        })
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("openssl CLI");
    assert!(output.status.success(), "openssl {args:?}");
    output.stdout
}

fn make_key(kid: &'static str) -> RsaKey {
    let dir = std::env::temp_dir().join(format!(
        "roster-oidc-test-{}-{kid}-{}",
        std::process::id(),
        random_hex()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key.pem",
        ],
    );
    let public_pem = openssl(&dir, &["pkey", "-in", "key.pem", "-pubout"]);
    let modulus = String::from_utf8(openssl(
        &dir,
        &["rsa", "-in", "key.pem", "-noout", "-modulus"],
    ))
    .unwrap();
    let modulus = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
    let key = RsaKey {
        kid,
        private_pem: std::fs::read(dir.join("key.pem")).unwrap(),
        public_pem,
        modulus,
    };
    std::fs::remove_dir_all(&dir).unwrap();
    key
}

fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    hex::encode(bytes)
}

/// The OP's signing key.
fn op_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| make_key("k1"))
}

/// The OP's next key (O04 rotation).
fn rotated_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| make_key("k2"))
}

fn attacker_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| make_key("evil"))
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// `header.payload.signature`, signed with `key` under `alg` whatever the header says.
fn sign(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

fn rs256_with(key: &RsaKey, header: &Value, claims: &Value) -> String {
    let encoding = EncodingKey::from_rsa_pem(&key.private_pem).unwrap();
    sign(header, claims, Algorithm::RS256, &encoding)
}

/// A correctly signed RS256 token with the key's `kid`.
fn rs256(key: &RsaKey, claims: &Value) -> String {
    rs256_with(
        key,
        &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid}),
        claims,
    )
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    sign(
        &json!({"alg": "HS256", "typ": "JWT"}),
        claims,
        Algorithm::HS256,
        &EncodingKey::from_secret(secret),
    )
}

/// The `at_hash` of an access token for RS256: left half of SHA-256, base64url.
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Valid ID-token claims for `nonce` from the mock OP `issuer`.
fn claims(issuer: &str, nonce: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "sub": SUBJECT,
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": nonce,
        "at_hash": at_hash(ACCESS_TOKEN),
        "email": "ada@victim.example.com",
        "email_verified": true,
        "preferred_username": "ada",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "name": "Ada Lovelace",
        "groups": ["admins", "eng"],
    })
}

fn remove(mut value: Value, keys: &[&str]) -> Value {
    let object = value.as_object_mut().unwrap();
    for key in keys {
        object.remove(*key);
    }
    value
}

fn with(mut value: Value, key: &str, new: Value) -> Value {
    value[key] = new;
    value
}

// ---------------------------------------------------------------------------------------------
// Mock OP
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

struct OpState {
    /// The issuer the discovery document claims (the real one unless a test changes it).
    discovery_issuer: String,
    /// Answer discovery with a 302 to this URL instead.
    discovery_redirect: Option<String>,
    /// Fields of the discovery document replaced by a test (e.g. `token_endpoint`).
    discovery_overrides: serde_json::Map<String, Value>,
    /// Answer the token endpoint with a chunked body of this many bytes instead.
    token_stream: Option<usize>,
    /// Bytes of that body the OP managed to write before the client hung up.
    token_streamed: Arc<std::sync::atomic::AtomicUsize>,
    jwks: Value,
    /// Status and JSON body of the token endpoint.
    token: (u16, Value),
    /// The PKCE challenge the code was issued for: the token endpoint refuses other verifiers.
    code_challenge: Option<String>,
    userinfo: Value,
    requests: Vec<Request>,
}

/// The OP: `issuer` is `http://127.0.0.1:port/op`.
struct MockOp {
    base: String,
    issuer: String,
    state: Arc<Mutex<OpState>>,
}

impl MockOp {
    fn start() -> Self {
        Self::start_on("127.0.0.1")
    }

    /// An OP listening on another loopback address (127.0.0.2 plays an internal service).
    fn start_on(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}/op");
        let state = Arc::new(Mutex::new(OpState {
            discovery_issuer: issuer.clone(),
            discovery_redirect: None,
            discovery_overrides: serde_json::Map::new(),
            token_stream: None,
            token_streamed: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            jwks: json!({"keys": [op_key().jwk()]}),
            token: (500, json!({"error": "server_error"})),
            code_challenge: None,
            userinfo: json!({"sub": SUBJECT}),
            requests: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let issuer_for_thread = issuer.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                let issuer = issuer_for_thread.clone();
                std::thread::spawn(move || serve(stream, &state, &issuer));
            }
        });
        Self {
            base,
            issuer,
            state,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, OpState> {
        self.state.lock().unwrap()
    }

    fn set_keys(&self, keys: &[&RsaKey]) {
        self.state().jwks = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }

    fn set_id_token(&self, id_token: &str) {
        self.state().token = (
            200,
            json!({
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }),
        );
    }

    fn set_userinfo(&self, userinfo: Value) {
        self.state().userinfo = userinfo;
    }

    fn requests(&self, path: &str) -> Vec<Request> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn hits(&self, path: &str) -> usize {
        self.requests(path).len()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?;
    let path = target.split('?').next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn respond(stream: &mut TcpStream, status: u16, extra_headers: &str, body: &Value) {
    let body = serde_json::to_vec(body).unwrap();
    let reason = match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n{extra_headers}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

fn serve(mut stream: TcpStream, state: &Mutex<OpState>, issuer: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let mut state = state.lock().unwrap();
    state.requests.push(request.clone());
    let path = request.path.as_str();
    let (status, headers, body) = match path.strip_prefix("/op") {
        Some("/.well-known/openid-configuration") => match &state.discovery_redirect {
            Some(location) => (302, format!("Location: {location}\r\n"), json!({})),
            None => {
                let mut document = discovery(&state.discovery_issuer, issuer);
                for (field, value) in &state.discovery_overrides {
                    document[field] = value.clone();
                }
                (200, String::new(), document)
            }
        },
        Some("/token") if request.method == "POST" && state.token_stream.is_some() => {
            let (total, streamed) = (
                state.token_stream.unwrap_or(0),
                state.token_streamed.clone(),
            );
            drop(state);
            stream_token(&mut stream, total, &streamed);
            return;
        }
        Some("/jwks") => (200, String::new(), state.jwks.clone()),
        Some("/token") if request.method == "POST" => {
            let form = request.form();
            let pkce_ok = state.code_challenge.as_ref().is_none_or(|challenge| {
                form.get("code_verifier")
                    .is_some_and(|verifier| pkce_challenge(verifier) == *challenge)
            });
            if pkce_ok {
                (state.token.0, String::new(), state.token.1.clone())
            } else {
                (
                    400,
                    String::new(),
                    json!({"error": "invalid_grant", "error_description": "PKCE verification failed"}),
                )
            }
        }
        Some("/userinfo") => (200, String::new(), state.userinfo.clone()),
        // Anything else (the redirect target, an attacker's `jku`) is only recorded.
        _ => (404, String::new(), json!({"error": "not_found"})),
    };
    drop(state);
    respond(&mut stream, status, &headers, &body);
}

/// A token response of `total` bytes, chunked (no length to refuse up front), counting what was
/// written until the client hangs up.
fn stream_token(stream: &mut TcpStream, total: usize, streamed: &std::sync::atomic::AtomicUsize) {
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = [b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let ok = stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_ok()
            && stream.write_all(&chunk).is_ok()
            && stream.write_all(b"\r\n").is_ok();
        if !ok {
            return;
        }
        sent += chunk.len();
        streamed.store(sent, std::sync::atomic::Ordering::SeqCst);
    }
    let _ = stream.write_all(b"0\r\n\r\n");
}

/// The discovery document: endpoints under `base_issuer`, claiming to be `claimed_issuer`.
fn discovery(claimed_issuer: &str, base_issuer: &str) -> Value {
    json!({
        "issuer": claimed_issuer,
        "authorization_endpoint": format!("{base_issuer}/authorize"),
        "token_endpoint": format!("{base_issuer}/token"),
        "userinfo_endpoint": format!("{base_issuer}/userinfo"),
        "jwks_uri": format!("{base_issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        // HS256 is advertised so that our allowlist, not the OP, decides (O02/O03).
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
    })
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Relying party fixture
// ---------------------------------------------------------------------------------------------

fn run<F: Future>(future: F) -> F::Output {
    actix_web::rt::System::new().block_on(future)
}

struct Fixture {
    op: MockOp,
    rp: OidcRp,
    config: OidcConfig,
    connection: ConnectionId,
}

impl Fixture {
    fn new() -> Self {
        let op = MockOp::start();
        let config: OidcConfig = serde_json::from_value(json!({
            "issuer": op.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "clock_skew_seconds": SKEW,
        }))
        .unwrap();
        Self {
            op,
            rp: OidcRp::new(outbound_for_127_0_0_1()),
            config,
            connection: ConnectionId::new(),
        }
    }

    fn issuer(&self) -> &str {
        &self.op.issuer
    }

    fn start(&self) -> AuthorizationStart {
        self.start_with(ForceAuthn::default())
    }

    fn start_with(&self, force: ForceAuthn) -> AuthorizationStart {
        run(self
            .rp
            .start(self.connection, &self.config, REDIRECT_URI, force))
        .unwrap()
    }

    /// Binds the next code to this login's PKCE challenge, like the OP's authorize endpoint.
    fn authorize(&self, start: &AuthorizationStart) {
        self.op.state().code_challenge = Some(query(&start.url)["code_challenge"].clone());
    }

    fn finish(&self, start: &AuthorizationStart) -> Result<LoginClaims, OidcError> {
        run(self.rp.finish(
            self.connection,
            &self.config,
            REDIRECT_URI,
            CODE,
            &start.nonce,
            &start.pkce_verifier,
        ))
    }

    /// A callback with a code for a login whose start this test did not see (made-up nonce and
    /// PKCE verifier): what a login started before the OP's document changed sends.
    fn finish_unstarted(&self) -> Result<LoginClaims, OidcError> {
        run(self.rp.finish(
            self.connection,
            &self.config,
            REDIRECT_URI,
            CODE,
            "nonce",
            "verifier",
        ))
    }

    /// A whole login: start, the OP issues `make_token(nonce)`, finish.
    fn login(&self, make_token: impl FnOnce(&str) -> String) -> Result<LoginClaims, OidcError> {
        let start = self.start();
        self.authorize(&start);
        self.op.set_id_token(&make_token(&start.nonce));
        self.finish(&start)
    }

    /// A login with a correctly signed token carrying `edit(valid claims)`.
    fn login_with_claims(
        &self,
        edit: impl FnOnce(Value) -> Value,
    ) -> Result<LoginClaims, OidcError> {
        let issuer = self.issuer().to_owned();
        self.login(|nonce| rs256(op_key(), &edit(claims(&issuer, nonce))))
    }
}

/// The outbound client of the RP under test: 127.0.0.1 (the OP) allowed, the rest of the
/// non-public ranges (127.0.0.2 included) forbidden.
fn outbound_for_127_0_0_1() -> Client {
    Client::new(
        NetworkPolicy::new(false, vec!["127.0.0.1/32".parse().unwrap()]),
        Timeouts::default(),
    )
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[track_caller]
fn assert_refused(result: Result<LoginClaims, OidcError>, reason: &str) -> OidcError {
    match result {
        Ok(claims) => panic!("accepted, expected {reason}: {claims:?}"),
        Err(err) => {
            assert_eq!(err.reason, reason, "{err}");
            err
        }
    }
}

fn expected_claims() -> LoginClaims {
    LoginClaims {
        subject: SUBJECT.to_owned(),
        email: Some("ada@victim.example.com".to_owned()),
        email_verified: true,
        user_name: Some("ada".to_owned()),
        given_name: Some("Ada".to_owned()),
        family_name: Some("Lovelace".to_owned()),
        display_name: Some("Ada Lovelace".to_owned()),
        groups: GroupsClaim::Known(vec!["admins".to_owned(), "eng".to_owned()]),
        attributes: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// start
// ---------------------------------------------------------------------------------------------

#[test]
fn start_uses_pkce_s256_and_fresh_state_and_nonce() {
    let fx = Fixture::new();
    let first = fx.start();
    let second = fx.start();
    for start in [&first, &second] {
        assert!(start
            .url
            .starts_with(&format!("{}/authorize?", fx.issuer())));
        let params = query(&start.url);
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["client_id"], CLIENT_ID);
        assert_eq!(params["redirect_uri"], REDIRECT_URI);
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(
            params["code_challenge"],
            pkce_challenge(&start.pkce_verifier)
        );
        assert_eq!(params["state"], start.state);
        assert_eq!(params["nonce"], start.nonce);
        let scopes: Vec<&str> = params["scope"].split(' ').collect();
        for scope in ["openid", "email", "profile", "groups"] {
            assert!(scopes.contains(&scope), "{scopes:?}");
        }
        assert!(start.state.len() >= 16 && start.nonce.len() >= 16);
        assert!(start.pkce_verifier.len() >= 43);
    }
    assert_ne!(first.state, second.state);
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.pkce_verifier, second.pkce_verifier);
    // Discovery (and its JWKS) is cached per connection.
    assert_eq!(fx.op.hits("/op/.well-known/openid-configuration"), 1);
    assert_eq!(fx.op.hits("/op/jwks"), 1);
    assert!(
        !query(&first.url).contains_key("prompt"),
        "no prompt unless asked"
    );
}

#[test]
fn a_forced_start_asks_the_op_to_authenticate_again() {
    let fx = Fixture::new();
    let forced = fx.start_with(ForceAuthn(true));
    assert_eq!(query(&forced.url)["prompt"], "login");
}

// ---------------------------------------------------------------------------------------------
// Happy paths
// ---------------------------------------------------------------------------------------------

/// Issue #27: the upstream ID token's `acr` and `amr` come out of the verified token as the
/// session's authentication context (`fed` first); a token without them says only `fed`.
#[test]
fn the_upstream_acr_and_amr_are_the_logins_authentication_context() {
    let fx = Fixture::new();
    let start = fx.start();
    fx.authorize(&start);
    let mut with_context = claims(fx.issuer(), &start.nonce);
    with_context["acr"] = json!("urn:example:loa:mfa");
    with_context["amr"] = json!(["pwd", "otp"]);
    fx.op.set_id_token(&rs256(op_key(), &with_context));
    let (login, authn) = run(fx.rp.finish_with_authn(
        fx.connection,
        &fx.config,
        REDIRECT_URI,
        CODE,
        &start.nonce,
        &start.pkce_verifier,
    ))
    .unwrap();
    assert_eq!(login, expected_claims());
    assert_eq!(authn.acr.as_deref(), Some("urn:example:loa:mfa"));
    assert_eq!(authn.amr, ["fed", "pwd", "otp"]);

    let fx = Fixture::new();
    let start = fx.start();
    fx.authorize(&start);
    fx.op
        .set_id_token(&rs256(op_key(), &claims(fx.issuer(), &start.nonce)));
    let (_, authn) = run(fx.rp.finish_with_authn(
        fx.connection,
        &fx.config,
        REDIRECT_URI,
        CODE,
        &start.nonce,
        &start.pkce_verifier,
    ))
    .unwrap();
    assert_eq!(authn.acr, None);
    assert_eq!(authn.amr, ["fed"]);
}

#[test]
fn happy_path_rs256_with_groups_in_the_id_token() {
    let fx = Fixture::new();
    let start = fx.start();
    fx.authorize(&start);
    fx.op
        .set_id_token(&rs256(op_key(), &claims(fx.issuer(), &start.nonce)));
    assert_eq!(fx.finish(&start).unwrap(), expected_claims());

    let token_requests = fx.op.requests("/op/token");
    assert_eq!(token_requests.len(), 1);
    let form = token_requests[0].form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], CODE);
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert_eq!(form["code_verifier"], start.pkce_verifier);
    assert!(!form.contains_key("client_secret"));
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    assert_eq!(token_requests[0].headers["authorization"], basic);
    // Email and groups were in the ID token: no userinfo call.
    assert_eq!(fx.op.hits("/op/userinfo"), 0);
}

#[test]
fn happy_path_client_secret_post() {
    let mut fx = Fixture::new();
    fx.config.token_auth_method = TokenAuthMethod::ClientSecretPost;
    assert_eq!(fx.login_with_claims(|c| c).unwrap(), expected_claims());
    let request = &fx.op.requests("/op/token")[0];
    assert_eq!(request.form()["client_secret"], CLIENT_SECRET);
    assert!(!request.headers.contains_key("authorization"));
}

#[test]
fn happy_path_userinfo_fills_in_what_the_id_token_lacks() {
    let fx = Fixture::new();
    fx.op.set_userinfo(json!({
        "sub": SUBJECT,
        "email": "ada@userinfo.example.com",
        "email_verified": true,
        "name": "Ada from userinfo",
        "preferred_username": "not-used",
        "groups": ["not-used"],
    }));
    let claims = fx
        .login_with_claims(|c| remove(c, &["email", "email_verified", "name"]))
        .unwrap();
    assert_eq!(
        claims,
        LoginClaims {
            email: Some("ada@userinfo.example.com".to_owned()),
            display_name: Some("Ada from userinfo".to_owned()),
            ..expected_claims()
        }
    );
    let userinfo = fx.op.requests("/op/userinfo");
    assert_eq!(userinfo.len(), 1);
    assert_eq!(
        userinfo[0].headers["authorization"],
        format!("Bearer {ACCESS_TOKEN}")
    );
}

#[test]
fn happy_path_without_at_hash_or_kid() {
    // at_hash is optional in the code flow; a single-key JWKS needs no kid.
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    let result = fx.login(|nonce| {
        rs256_with(
            op_key(),
            &json!({"alg": "RS256"}),
            &remove(claims(&issuer, nonce), &["at_hash"]),
        )
    });
    assert_eq!(result.unwrap(), expected_claims());
}

// ---------------------------------------------------------------------------------------------
// Signatures and keys
// ---------------------------------------------------------------------------------------------

#[test]
fn o01_alg_none_is_refused() {
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    let err = assert_refused(
        fx.login(|nonce| {
            format!(
                "{}.{}.",
                b64_json(&json!({"alg": "none", "typ": "JWT"})),
                b64_json(&claims(&issuer, nonce))
            )
        }),
        "unsigned",
    );
    assert_eq!(err.failure, LoginFailure::InvalidResponse);

    // `none` with a real signature left on is still unsigned.
    assert_refused(
        fx.login(|nonce| {
            rs256_with(
                op_key(),
                &json!({"alg": "none", "kid": "k1"}),
                &claims(&issuer, nonce),
            )
        }),
        "unsigned",
    );

    // A case variant is not an algorithm at all: the token response does not parse.
    assert_refused(
        fx.login(|nonce| {
            format!(
                "{}.{}.",
                b64_json(&json!({"alg": "nOnE"})),
                b64_json(&claims(&issuer, nonce))
            )
        }),
        "code_exchange_failed",
    );
}

#[test]
fn o02_hs256_keyed_with_the_rsa_public_key_is_refused() {
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    assert_refused(
        fx.login(|nonce| hs256(&op_key().public_pem, &claims(&issuer, nonce))),
        "algorithm_forbidden",
    );
    assert_refused(
        fx.login(|nonce| hs256(&op_key().modulus, &claims(&issuer, nonce))),
        "algorithm_forbidden",
    );
}

#[test]
fn o03_hs256_with_the_real_client_secret_is_refused() {
    // The library would verify HS256 with the client secret; the allowlist is asymmetric only.
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    assert_refused(
        fx.login(|nonce| hs256(CLIENT_SECRET.as_bytes(), &claims(&issuer, nonce))),
        "algorithm_forbidden",
    );
}

#[test]
fn rs256_with_a_tampered_payload_is_refused() {
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    let result = fx.login(|nonce| {
        let token = rs256(op_key(), &claims(&issuer, nonce));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = b64_json(&with(claims(&issuer, nonce), "sub", json!("admin")));
        parts.join(".")
    });
    assert_refused(result, "signature_invalid");
    // Signed by a key the OP does not have, under the OP's kid.
    assert_refused(
        fx.login(|nonce| {
            rs256_with(
                attacker_key(),
                &json!({"alg": "RS256", "kid": op_key().kid}),
                &claims(&issuer, nonce),
            )
        }),
        "signature_invalid",
    );
}

#[test]
fn o04_rotated_key_is_fetched_once() {
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    assert_eq!(fx.login_with_claims(|c| c).unwrap(), expected_claims());
    assert_eq!(fx.op.hits("/op/jwks"), 1);

    fx.op.set_keys(&[rotated_key()]);
    let result = fx.login(|nonce| rs256(rotated_key(), &claims(&issuer, nonce)));
    assert_eq!(result.unwrap(), expected_claims());
    assert_eq!(fx.op.hits("/op/jwks"), 2, "one refetch for the new kid");

    // The new key is cached: no further fetch.
    let result = fx.login(|nonce| rs256(rotated_key(), &claims(&issuer, nonce)));
    assert_eq!(result.unwrap(), expected_claims());
    // The retired key is gone, and a bogus kid right after the refetch fetches nothing.
    assert_refused(
        fx.login(|nonce| rs256(op_key(), &claims(&issuer, nonce))),
        "unknown_key",
    );
    assert_refused(
        fx.login(|nonce| {
            rs256_with(
                rotated_key(),
                &json!({"alg": "RS256", "kid": "bogus"}),
                &claims(&issuer, nonce),
            )
        }),
        "unknown_key",
    );
    assert_eq!(fx.op.hits("/op/jwks"), 2);
    assert_eq!(fx.op.hits("/op/.well-known/openid-configuration"), 1);
}

#[test]
fn o04_bogus_kids_do_not_cause_a_refetch_storm() {
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    let bogus = |kid: &'static str| {
        let issuer = issuer.clone();
        move |nonce: &str| {
            rs256_with(
                op_key(),
                &json!({"alg": "RS256", "kid": kid}),
                &claims(&issuer, nonce),
            )
        }
    };
    assert_refused(fx.login(bogus("bogus-1")), "unknown_key");
    assert_eq!(fx.op.hits("/op/jwks"), 2, "discovery + one refetch");
    assert_refused(fx.login(bogus("bogus-2")), "unknown_key");
    assert_refused(fx.login(bogus("bogus-3")), "unknown_key");
    assert_eq!(
        fx.op.hits("/op/jwks"),
        2,
        "no second refetch within the minute"
    );
    // The real key still works.
    assert_eq!(fx.login_with_claims(|c| c).unwrap(), expected_claims());
}

#[test]
fn o05_jku_x5u_and_embedded_jwk_headers_are_ignored() {
    let fx = Fixture::new();
    let issuer = fx.issuer().to_owned();
    let attacker_jwks = format!("{}/attacker/jwks", fx.op.base);
    // The attacker's key under the OP's kid, with headers pointing at the attacker's key.
    let header = json!({
        "alg": "RS256",
        "kid": op_key().kid,
        "jku": attacker_jwks,
        "x5u": format!("{}/attacker/cert.pem", fx.op.base),
        "jwk": attacker_key().jwk(),
    });
    assert_refused(
        fx.login(|nonce| rs256_with(attacker_key(), &header, &claims(&issuer, nonce))),
        "signature_invalid",
    );
    // Under the attacker's own kid: only the OP's JWKS is refetched.
    let header = with(header, "kid", json!(attacker_key().kid));
    assert_refused(
        fx.login(|nonce| rs256_with(attacker_key(), &header, &claims(&issuer, nonce))),
        "unknown_key",
    );
    assert_eq!(fx.op.hits("/attacker/jwks"), 0);
    assert_eq!(fx.op.hits("/attacker/cert.pem"), 0);
    assert_eq!(fx.op.hits("/op/jwks"), 2);
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

#[test]
fn o06_nonce_missing_wrong_or_from_another_flow_is_refused() {
    let fx = Fixture::new();
    assert_refused(
        fx.login_with_claims(|c| remove(c, &["nonce"])),
        "nonce_mismatch",
    );
    assert_refused(
        fx.login_with_claims(|c| with(c, "nonce", json!("attacker-nonce"))),
        "nonce_mismatch",
    );
    // The token of an old flow, replayed into a new one.
    let old = fx.start();
    let new = fx.start();
    fx.authorize(&new);
    fx.op
        .set_id_token(&rs256(op_key(), &claims(fx.issuer(), &old.nonce)));
    assert_refused(fx.finish(&new), "nonce_mismatch");
}

#[test]
fn o07_issuer_of_another_op_or_with_a_trailing_slash_is_refused() {
    let fx = Fixture::new();
    let other = format!("{}/other-tenant", fx.op.base);
    let slash = format!("{}/", fx.issuer());
    assert_refused(
        fx.login_with_claims(|c| with(c, "iss", json!(other))),
        "issuer_mismatch",
    );
    assert_refused(
        fx.login_with_claims(|c| with(c, "iss", json!(slash))),
        "issuer_mismatch",
    );
    // Without `iss` the ID token does not even parse (the token response is refused).
    assert_refused(
        fx.login_with_claims(|c| remove(c, &["iss"])),
        "code_exchange_failed",
    );
}

#[test]
fn o08_wrong_or_extra_audience_and_foreign_azp_are_refused() {
    let fx = Fixture::new();
    assert_refused(
        fx.login_with_claims(|c| with(c, "aud", json!("another-client"))),
        "audience_mismatch",
    );
    assert_refused(
        fx.login_with_claims(|c| with(c, "aud", json!([CLIENT_ID, "untrusted-api"]))),
        "audience_mismatch",
    );
    assert_refused(
        fx.login_with_claims(|c| {
            let c = with(c, "aud", json!([CLIENT_ID, "untrusted-api"]));
            with(c, "azp", json!(CLIENT_ID))
        }),
        "audience_mismatch",
    );
    assert_refused(
        fx.login_with_claims(|c| with(c, "azp", json!("another-client"))),
        "azp_mismatch",
    );
    // azp equal to our client id and aud as a one-element array are fine.
    let result = fx.login_with_claims(|c| {
        let c = with(c, "aud", json!([CLIENT_ID]));
        with(c, "azp", json!(CLIENT_ID))
    });
    assert_eq!(result.unwrap(), expected_claims());
}

#[test]
fn o09_expired_or_future_tokens_are_refused_within_skew_accepted() {
    let fx = Fixture::new();
    let now = now();
    assert_refused(
        fx.login_with_claims(|c| with(c, "exp", json!(now - 3600))),
        "expired",
    );
    assert_refused(
        fx.login_with_claims(|c| with(c, "exp", json!(now - SKEW - 30))),
        "expired",
    );
    // iat an hour ahead (openidconnect reports the hook's refusal as `Expired`; `classify`
    // tells it apart by our message).
    let err = assert_refused(
        fx.login_with_claims(|c| with(c, "iat", json!(now + 3600))),
        "issued_in_future",
    );
    assert!(err.message.contains("issued in the future"), "{err}");
    // Within the skew: accepted.
    let result = fx.login_with_claims(|c| with(c, "exp", json!(now - 30)));
    assert_eq!(result.unwrap(), expected_claims());
    let result = fx.login_with_claims(|c| with(c, "iat", json!(now + 60)));
    assert_eq!(result.unwrap(), expected_claims());
}

#[test]
fn o11_token_endpoint_errors_are_refused_cleanly() {
    let fx = Fixture::new();
    let start = fx.start();
    fx.op.state().token = (
        400,
        json!({"error": "invalid_grant", "error_description": "code expired"}),
    );
    let err = assert_refused(fx.finish(&start), "code_exchange_failed");
    assert_eq!(err.failure, LoginFailure::InvalidResponse);
    assert!(err.message.contains("invalid_grant"), "{err}");

    // Code injection: the attacker's code (bound to the attacker's PKCE challenge) replayed
    // into the victim's flow fails at the OP, because the victim's verifier does not match.
    let attacker = fx.start();
    let victim = fx.start();
    fx.authorize(&attacker);
    fx.op
        .set_id_token(&rs256(op_key(), &claims(fx.issuer(), &victim.nonce)));
    let err = assert_refused(fx.finish(&victim), "code_exchange_failed");
    assert!(err.message.contains("invalid_grant"), "{err}");
    assert_eq!(
        fx.op.requests("/op/token").last().unwrap().form()["code_verifier"],
        victim.pkce_verifier
    );
}

#[test]
fn token_response_without_id_token_is_refused() {
    let fx = Fixture::new();
    let start = fx.start();
    fx.op.state().token = (
        200,
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer"}),
    );
    assert_refused(fx.finish(&start), "id_token_missing");
}

#[test]
fn o15_at_hash_mismatch_is_refused() {
    let fx = Fixture::new();
    assert_refused(
        fx.login_with_claims(|c| with(c, "at_hash", json!(at_hash("someone-elses-token")))),
        "at_hash_mismatch",
    );
}

#[test]
fn o16_userinfo_for_another_subject_is_refused() {
    let fx = Fixture::new();
    fx.op.set_userinfo(json!({
        "sub": "user-mallory-666",
        "email": "mallory@attacker.example.com",
        "email_verified": true,
    }));
    assert_refused(
        fx.login_with_claims(|c| remove(c, &["email", "email_verified"])),
        "userinfo_subject_mismatch",
    );
    assert_eq!(fx.op.hits("/op/userinfo"), 1);
}

#[test]
fn o18_groups_overage_means_unknown() {
    let fx = Fixture::new();
    let unknown = LoginClaims {
        groups: GroupsClaim::Unknown,
        ..expected_claims()
    };
    // Entra: `_claim_names.groups` pointing at a Graph source, no groups.
    let result = fx.login_with_claims(|c| {
        let c = remove(c, &["groups"]);
        let c = with(c, "_claim_names", json!({"groups": "src1"}));
        with(
            c,
            "_claim_sources",
            json!({"src1": {"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}}),
        )
    });
    assert_eq!(result.unwrap(), unknown);
    // Entra implicit-style marker, even next to a (partial) groups claim.
    let result = fx.login_with_claims(|c| with(c, "hasgroups", json!(true)));
    assert_eq!(result.unwrap(), unknown);
    // No groups claim at all.
    let result = fx.login_with_claims(|c| remove(c, &["groups"]));
    assert_eq!(result.unwrap(), unknown);
    // Each unknown case asked userinfo (which has no groups either).
    assert_eq!(fx.op.hits("/op/userinfo"), 3);
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

#[test]
fn o19_discovery_with_another_issuer_is_refused() {
    for claimed in ["other-tenant", "op/"] {
        let fx = Fixture::new();
        fx.op.state().discovery_issuer = format!("{}/{claimed}", fx.op.base);
        let err = run(fx.rp.discover(&fx.config)).unwrap_err();
        assert_eq!(err.reason, "discovery_failed", "{err}");
        assert!(err.message.contains("unexpected issuer"), "{err}");
        let err = run(fx.rp.start(
            fx.connection,
            &fx.config,
            REDIRECT_URI,
            ForceAuthn::default(),
        ))
        .unwrap_err();
        assert_eq!(err.reason, "discovery_failed", "{err}");
        // Nothing was cached: finish refuses too, before any token request.
        let err = fx.finish_unstarted().unwrap_err();
        assert_eq!(err.reason, "discovery_failed", "{err}");
        assert_eq!(fx.op.hits("/op/token"), 0);
    }
}

#[test]
fn o19_discovery_redirects_are_not_followed() {
    let fx = Fixture::new();
    let target = format!("{}/elsewhere/.well-known/openid-configuration", fx.op.base);
    fx.op.state().discovery_redirect = Some(target);
    let err = run(fx.rp.discover(&fx.config)).unwrap_err();
    assert_eq!(err.reason, "redirect_refused", "{err}");
    assert!(err.message.contains("302"), "{err}");
    let err = run(fx.rp.start(
        fx.connection,
        &fx.config,
        REDIRECT_URI,
        ForceAuthn::default(),
    ))
    .unwrap_err();
    assert_eq!(err.reason, "redirect_refused", "{err}");
    assert_eq!(fx.op.hits("/op/.well-known/openid-configuration"), 2);
    assert_eq!(fx.op.hits("/elsewhere/.well-known/openid-configuration"), 0);
}

#[test]
fn o19_repointed_connection_does_not_keep_trusting_the_old_op() {
    // The admin moves the connection from OP A to OP B: the cached metadata of A (keys,
    // endpoints, issuer) must not be used for B's config, or A's tokens stay valid for an hour.
    let mut fx = Fixture::new();
    assert_eq!(fx.login_with_claims(|c| c).unwrap(), expected_claims());
    let old_issuer = fx.issuer().to_owned();
    let new_op = MockOp::start();
    new_op.set_keys(&[rotated_key()]);
    fx.config.issuer = new_op.issuer.clone();

    let start = fx.start();
    assert!(
        start
            .url
            .starts_with(&format!("{}/authorize?", new_op.issuer)),
        "{}",
        start.url
    );
    // OP A (old issuer, old key) answers where B should: its token is refused.
    fx.op
        .set_id_token(&rs256(op_key(), &claims(&old_issuer, &start.nonce)));
    new_op.set_id_token(&rs256(op_key(), &claims(&old_issuer, &start.nonce)));
    assert!(fx.finish(&start).is_err());
    assert_eq!(fx.op.hits("/op/token"), 1, "only the first login reached A");
    // B's own token verifies.
    new_op.set_id_token(&rs256(rotated_key(), &claims(&new_op.issuer, &start.nonce)));
    assert_eq!(fx.finish(&start).unwrap(), expected_claims());
}

// ---------------------------------------------------------------------------------------------
// Outbound requests (O20, O21)
// ---------------------------------------------------------------------------------------------

#[test]
fn o20_discovery_endpoints_inside_the_network_are_refused_and_never_called() {
    for field in ["jwks_uri", "token_endpoint", "userinfo_endpoint"] {
        let fx = Fixture::new();
        let internal = MockOp::start_on("127.0.0.2");
        let target = format!("{}/op/{}", internal.base, field);
        fx.op
            .state()
            .discovery_overrides
            .insert(field.to_owned(), json!(target));

        let err = run(fx.rp.start(
            fx.connection,
            &fx.config,
            REDIRECT_URI,
            ForceAuthn::default(),
        ))
        .unwrap_err();
        assert_eq!(
            (err.failure, err.reason),
            (LoginFailure::ConnectionMisconfigured, "address_forbidden"),
            "{field}: {err}"
        );
        assert!(err.message.contains("127.0.0.2"), "{field}: {err}");
        // The callback of a login started before the document changed refuses too, before any
        // code (or the client secret) is sent anywhere.
        let err = fx.finish_unstarted().unwrap_err();
        assert_eq!(err.reason, "address_forbidden", "{field}: {err}");
        assert_eq!(
            internal.state().requests.len(),
            0,
            "{field}: the internal service was reached"
        );
        assert_eq!(fx.op.hits("/op/token"), 0, "{field}");
    }
}

#[test]
fn o20_the_client_secret_never_leaves_for_a_forbidden_token_endpoint() {
    // The document turns hostile after a first good login (the OP is compromised or its
    // discovery answer is spoofed): the next discovery refuses it, and nothing reaches the
    // internal address, with or without the secret.
    let fx = Fixture::new();
    assert_eq!(fx.login_with_claims(|c| c).unwrap(), expected_claims());
    let internal = MockOp::start_on("127.0.0.2");
    fx.op.state().discovery_overrides.insert(
        "token_endpoint".to_owned(),
        json!(format!("{}/op/token", internal.base)),
    );
    let other_connection = ConnectionId::new();
    let err = run(fx.rp.start(
        other_connection,
        &fx.config,
        REDIRECT_URI,
        ForceAuthn::default(),
    ))
    .unwrap_err();
    assert_eq!(err.reason, "address_forbidden", "{err}");
    assert!(err.message.contains("token_endpoint"), "{err}");
    assert!(internal.state().requests.is_empty());
    let secret_sent = fx
        .op
        .requests("/op/token")
        .iter()
        .chain(internal.state().requests.iter())
        .filter(|r| {
            r.headers
                .get("authorization")
                .is_some_and(|v| v.starts_with("Basic "))
        })
        .count();
    assert_eq!(
        secret_sent, 1,
        "only the first, legitimate exchange carried it"
    );
}

#[test]
fn o21_an_oversized_token_response_fails_cleanly_without_being_read() {
    let fx = Fixture::new();
    let start = fx.start();
    fx.authorize(&start);
    let huge = 300 * 1024 * 1024;
    let streamed = {
        let mut state = fx.op.state();
        state.token_stream = Some(huge);
        state.token_streamed.clone()
    };
    let err = assert_refused(fx.finish(&start), "response_too_large");
    assert_eq!(err.failure, LoginFailure::InvalidResponse);
    assert!(err.message.contains("token endpoint"), "{err}");
    assert!(err.message.contains("1048576"), "{err}");
    std::thread::sleep(Duration::from_millis(200));
    let written = streamed.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        written < 32 * 1024 * 1024,
        "the OP wrote {written} bytes: the RP kept reading past the cap"
    );
}

#[test]
fn o21_an_oversized_discovery_document_is_refused() {
    let fx = Fixture::new();
    fx.op.state().discovery_overrides.insert(
        "service_documentation".to_owned(),
        json!("x".repeat(2 * 1024 * 1024)),
    );
    let err = run(fx.rp.discover(&fx.config)).unwrap_err();
    assert_eq!(err.reason, "response_too_large", "{err}");
    assert!(err.message.starts_with("discovery"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Custom attributes (#28)
// ---------------------------------------------------------------------------------------------

fn mapping(name: &str, kind: AttributeKind, sources: &[&str]) -> AttributeMapping {
    roster_store::testing::attribute_mapping(name, kind, sources, MappingOrigin::Custom)
}

impl Fixture {
    /// A login with a token carrying `edit(valid claims)`, reading `mappings`.
    fn login_mapped(
        &self,
        edit: impl FnOnce(Value) -> Value,
        mappings: &[AttributeMapping],
    ) -> Result<OidcLogin, OidcError> {
        let start = self.start();
        self.authorize(&start);
        self.op
            .set_id_token(&rs256(op_key(), &edit(claims(self.issuer(), &start.nonce))));
        let exchange = CodeExchange {
            code: CODE,
            nonce: &start.nonce,
            pkce_verifier: &start.pkce_verifier,
        };
        run(self.rp.finish_login(
            self.connection,
            &self.config,
            REDIRECT_URI,
            exchange,
            mappings,
        ))
    }
}

/// (attribute, source, values) of a login's claimed attributes.
fn claimed(login: &OidcLogin) -> Vec<(String, String, Vec<RawScalar>)> {
    login
        .claims
        .attributes
        .iter()
        .map(|claimed| {
            (
                claimed.definition.name.to_string(),
                claimed.source.clone(),
                claimed.values.clone(),
            )
        })
        .collect()
}

#[test]
fn mapped_claims_are_read_from_the_id_token_typed_without_asking_userinfo() {
    let fx = Fixture::new();
    let mappings = [
        mapping("department", AttributeKind::String, &["department"]),
        mapping(
            "costCenter",
            AttributeKind::Number,
            &["https://acme.example/claims/cost"],
        ),
        mapping(
            "location",
            AttributeKind::String,
            &["address.locality", "location"],
        ),
        mapping("skills", AttributeKind::StringList, &["skills"]),
    ];
    let login = fx
        .login_mapped(
            |c| {
                let c = with(c, "department", json!("Sales"));
                let c = with(c, "https://acme.example/claims/cost", json!(42));
                let c = with(c, "address", json!({"locality": "Paris"}));
                with(c, "skills", json!(["rust", "sql"]))
            },
            &mappings,
        )
        .unwrap();
    assert_eq!(
        claimed(&login),
        [
            (
                "department".to_owned(),
                "department".to_owned(),
                vec![RawScalar::Text("Sales".to_owned())]
            ),
            (
                "costCenter".to_owned(),
                "https://acme.example/claims/cost".to_owned(),
                vec![RawScalar::Number(42.0)]
            ),
            (
                "location".to_owned(),
                "address.locality".to_owned(),
                vec![RawScalar::Text("Paris".to_owned())]
            ),
            (
                "skills".to_owned(),
                "skills".to_owned(),
                vec![
                    RawScalar::Text("rust".to_owned()),
                    RawScalar::Text("sql".to_owned())
                ]
            ),
        ]
    );
    assert_eq!(login.sent.id_token["department"], "Sales");
    assert_eq!(login.sent.userinfo, None);
    assert_eq!(fx.op.hits("/op/userinfo"), 0);
}

#[test]
fn a_mapped_claim_the_id_token_lacks_is_asked_of_userinfo() {
    let fx = Fixture::new();
    fx.op.set_userinfo(json!({
        "sub": SUBJECT,
        "title": "Engineer",
        "employee": {"number": "E-7"},
        "department": "From userinfo",
    }));
    let mappings = [
        mapping("title", AttributeKind::String, &["title"]),
        mapping(
            "employeeNumber",
            AttributeKind::String,
            &["userinfo:employee.number"],
        ),
        // Only the ID token's department counts here: it has none.
        mapping(
            "department",
            AttributeKind::String,
            &["id_token:department"],
        ),
    ];
    let login = fx.login_mapped(|c| c, &mappings).unwrap();
    assert_eq!(fx.op.hits("/op/userinfo"), 1);
    assert_eq!(
        claimed(&login),
        [
            (
                "title".to_owned(),
                "title".to_owned(),
                vec![RawScalar::Text("Engineer".to_owned())]
            ),
            (
                "employeeNumber".to_owned(),
                "userinfo:employee.number".to_owned(),
                vec![RawScalar::Text("E-7".to_owned())]
            ),
        ]
    );
    let userinfo = login.sent.userinfo.unwrap();
    assert_eq!(userinfo["employee"], json!({"number": "E-7"}));
    // The standard claims Roster read are as before.
    assert_eq!(login.claims.email, expected_claims().email);

    // A connection that maps nothing asks userinfo only for what the login itself needs.
    let fx = Fixture::new();
    let login = fx.login_mapped(|c| c, &[]).unwrap();
    assert!(login.claims.attributes.is_empty());
    assert_eq!(fx.op.hits("/op/userinfo"), 0);
}
