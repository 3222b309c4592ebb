//! The OpenID Provider rows (issue #23): what a product's sign-ins cost Roster once its users
//! have a Roster session — code exchanges at the token endpoint with an ES256 and with an
//! RS256-2048 ID token, and userinfo — beside the issue's targets.
//!
//! Everything presented is real, obtained the way a product obtains it:
//!
//! - **Sessions.** A workspace of its own (`bench-op`, so its users and connection do not touch
//!   the SCIM and ACS rows' workspace) with a SAML connection trusting a stand-in IdP
//!   (`acs::signed_logins`); one signed Response per user is posted to the ACS, and Roster's
//!   answer sets the `roster_session` cookie.
//! - **Codes.** `GET /oauth2/authorize` (`response_type=code`, the app's registered redirect URI,
//!   `state`, `nonce`, `workspace=bench-op`) with a user's session cookie: a live session for the
//!   workspace signs in without an IdP round trip, so Roster answers at once with a redirect to
//!   the redirect URI carrying `code`, `state` and `iss`.
//! - **Exchanges.** `POST /oauth2/token` (`grant_type=authorization_code`, `client_secret_basic`)
//!   for two confidential apps, one per ID token algorithm.
//! - **Userinfo.** `GET /oauth2/userinfo` with the access tokens those exchanges issued.
//!
//! What is timed: codes live 60 s, more than a phase's worth cannot be minted ahead, and minting
//! is itself a database write. So codes are minted in batches, each exchanged right after it is
//! minted, and the two are separate load phases: an exchange row's rate is its exchanges over
//! the added wall-clock time of its exchange phases only (the token endpoint alone), and the
//! minting is a row of its own (`authorize`). A batch is sized, from the previous batch's rates,
//! to be minted and exchanged within [`BATCH_SECONDS`], well inside a code's life.

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use super::acs::{self, Server, StandIn};
use super::backchannel;
use super::load::{self, Operation, Outcome, Rng, Step, Until};
use super::scenario::{self, Load, Row};
use roster_devtools::http::{encode_query, Request, Response};
use roster_devtools::{json_field, say};

/// The workspace whose users sign in to the apps.
pub(crate) const WORKSPACE: &str = "bench-op";
/// The apps' registered redirect URI. Nothing listens there: the bench reads the code from the
/// redirect and never follows it.
const REDIRECT_URI: &str = "http://127.0.0.1/bench/callback";
/// What a product asks for: the claims of the issue's end-to-end test (`roles`, `groups`).
/// No `offline_access`, so an exchange issues no refresh token.
const SCOPE: &str = "openid profile email roles groups";
/// Users with a Roster session; codes are minted for them in turn.
const USERS: u64 = 100;

/// The issue's targets (#23).
pub(crate) const ES256_EXCHANGE_TARGET: f64 = 1_500.0;
pub(crate) const RS256_EXCHANGE_TARGET: f64 = 800.0;
pub(crate) const USERINFO_TARGET: f64 = 15_000.0;

/// Exchanges per app at the least (a short run still measures more than a moment).
const MIN_EXCHANGES: u64 = 2_000;
/// The first batch of codes, before any rate is known.
const FIRST_BATCH: u64 = 1_000;
/// Bounds of a batch.
const BATCH_RANGE: (u64, u64) = (100, 10_000);
/// How long minting and exchanging one batch should take at the last batch's rates: the oldest
/// code of a batch is about this old when exchanged, and codes live 60 s.
const BATCH_SECONDS: f64 = 20.0;

/// One registered app (a product), by ID token algorithm.
struct App {
    alg: &'static str,
    client_id: String,
    /// The `Authorization` header of `client_secret_basic`.
    basic: String,
}

impl App {
    /// Registers an app signing its ID tokens with `alg` (`roster app create`).
    fn create(server: &Server<'_>, alg: &'static str) -> Result<Self, String> {
        let name = format!("bench {alg}");
        let created = server.cli(&[
            "app",
            "create",
            "--name",
            &name,
            "--redirect-uri",
            REDIRECT_URI,
            "--id-token-alg",
            alg,
        ])?;
        let read =
            |key: &str| json_field(&created, key).ok_or_else(|| format!("no {key} in {created}"));
        let (client_id, secret) = (read("client_id")?, read("client_secret")?);
        if read("id_token_alg")? != alg {
            return Err(format!("the app was not registered with {alg}: {created}"));
        }
        Ok(Self {
            alg,
            basic: basic_authorization(&client_id, &secret),
            client_id,
        })
    }

    /// The authorization request for the code of operation `index`, without its session.
    fn authorize_path(&self, index: u64) -> String {
        format!(
            "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}\
             &state=s{index}&nonce=n{index}&workspace={WORKSPACE}",
            encode_query(&self.client_id),
            encode_query(REDIRECT_URI),
            encode_query(SCOPE),
        )
    }
}

/// RFC 6749 §2.3.1: the client id and secret, each form-urlencoded, as HTTP Basic credentials.
fn basic_authorization(client_id: &str, secret: &str) -> String {
    let credentials = format!("{}:{}", encode_query(client_id), encode_query(secret));
    format!("Basic {}", base64(credentials.as_bytes()))
}

/// Registers the apps, signs the users in, and measures authorize, the exchanges of both apps
/// and userinfo on the server `server` (a stand-in IdP from `signer`). Failed requests are
/// counted in the rows; only a setup that cannot go on (the CLI, the stand-in, no session) is an
/// error.
pub(crate) fn run(server: &Server<'_>, signer: &Path, load: Load) -> Result<Vec<Row>, String> {
    say(&format!(
        "  OpenID Provider: workspace `{WORKSPACE}`, {USERS} users signed in over SAML, two apps"
    ));
    server.cli(&["workspace", "create", WORKSPACE])?;
    let sessions = sessions(server, signer, load.concurrency)?;
    let mut minted = Vec::new();
    let mut access_tokens = Vec::new();
    let mut rows = Vec::new();
    for (alg, name, target) in [
        (
            "ES256",
            "code exchange (ES256 ID token)",
            ES256_EXCHANGE_TARGET,
        ),
        (
            "RS256",
            "code exchange (RS256 ID token)",
            RS256_EXCHANGE_TARGET,
        ),
    ] {
        let app = App::create(server, alg)?;
        let count = ((load.seconds as f64 * target) as u64).max(MIN_EXCHANGES);
        let exchanged = exchanges(
            server.addr,
            load.concurrency,
            &app,
            &sessions,
            count,
            &mut minted,
            &mut access_tokens,
        )?;
        rows.push(scenario::finished(name, exchanged, Some(target)));
    }
    let authorize = scenario::finished("OIDC authorize (live session)", combined(minted), None);
    rows.insert(0, authorize);
    rows.push(userinfo(server.addr, load, &access_tokens));
    Ok(rows)
}

/// Signs `USERS` users of the workspace in through the ACS and returns their session cookies
/// (`roster_session=…`).
fn sessions(server: &Server<'_>, signer: &Path, concurrency: usize) -> Result<Vec<String>, String> {
    let logins = acs::signed_logins(
        server,
        signer,
        &StandIn {
            workspace: WORKSPACE,
            connection: "op-idp",
            idp: &server.dir.join("bench-op-idp"),
        },
        USERS,
        USERS,
    )?;
    let cookies = RefCell::new(vec![None::<String>; logins.forms.len()]);
    let outcome = load::run(
        server.addr,
        "",
        concurrency,
        Until::Count(logins.forms.len() as u64),
        |_| -> Operation<'_> {
            let (logins, cookies) = (&logins, &cookies);
            Box::new(move |index, answer| match answer {
                None => {
                    let form = logins.forms.get(index as usize).cloned();
                    Step::Send(Request::form(logins.path.clone(), form.unwrap_or_default()))
                }
                Some(mut response) => {
                    let cookie = response
                        .set_cookies
                        .iter()
                        .find(|cookie| cookie.starts_with("roster_session="))
                        .cloned();
                    // A login succeeds with a redirect that sets the session cookie.
                    if let (true, Some(cookie)) = (matches!(response.status, 302 | 303), cookie) {
                        response.status = 200;
                        if let Some(slot) = cookies.borrow_mut().get_mut(index as usize) {
                            *slot = Some(cookie);
                        }
                    }
                    Step::Done(response)
                }
            })
        },
    );
    let cookies: Vec<String> = cookies.into_inner().into_iter().flatten().collect();
    if outcome.errors > 0 || cookies.is_empty() {
        return Err(format!(
            "signing the OpenID Provider's users in failed ({} of {} logins): {}",
            outcome.errors,
            logins.forms.len(),
            outcome.first_error.unwrap_or_default()
        ));
    }
    Ok(cookies)
}

/// Mints and exchanges `count` codes of `app` in batches and returns the exchange phases'
/// combined outcome; the minting phases' outcomes go to `minted`, the access tokens issued to
/// `access_tokens`.
fn exchanges(
    addr: &str,
    concurrency: usize,
    app: &App,
    sessions: &[String],
    count: u64,
    minted: &mut Vec<Outcome>,
    access_tokens: &mut Vec<String>,
) -> Result<Outcome, String> {
    say(&format!(
        "  minting and exchanging {count} codes of the {} app, in batches",
        app.alg
    ));
    let mut exchanged = Vec::new();
    let mut first_id_token = None;
    let (mut done, mut batch) = (0, FIRST_BATCH);
    while done < count {
        let size = batch.min(count - done);
        let (mint, codes) = mint(addr, concurrency, app, sessions, done, size);
        let mint_elapsed = mint.elapsed;
        minted.push(mint);
        if codes.is_empty() {
            break; // the authorize row says why; nothing to exchange
        }
        let (exchange, issued) = exchange(addr, concurrency, app, &codes);
        let per_code = (mint_elapsed + exchange.elapsed).as_secs_f64() / size as f64;
        exchanged.push(exchange);
        first_id_token = first_id_token.or(issued.id_token);
        access_tokens.extend(issued.access_tokens);
        done += size;
        batch = next_batch(per_code);
    }
    if let Some(id_token) = first_id_token {
        let header = jwt_header(&id_token).unwrap_or_default();
        if !header.contains(&format!("\"alg\":\"{}\"", app.alg)) {
            return Err(format!(
                "the {} app's ID token is signed otherwise: header {header}",
                app.alg
            ));
        }
    }
    Ok(combined(exchanged))
}

/// The next batch's size when a code took `per_code` seconds to mint and exchange.
fn next_batch(per_code: f64) -> u64 {
    let (least, most) = BATCH_RANGE;
    if per_code > 0.0 {
        ((BATCH_SECONDS / per_code) as u64).clamp(least, most)
    } else {
        most
    }
}

/// Runs `/oauth2/authorize` for the operations `first..first + count` (each user's session in
/// turn) and returns the phase and the codes of the successful ones.
fn mint(
    addr: &str,
    concurrency: usize,
    app: &App,
    sessions: &[String],
    first: u64,
    count: u64,
) -> (Outcome, Vec<String>) {
    let codes = RefCell::new(vec![None::<String>; usize::try_from(count).unwrap_or(0)]);
    let outcome = load::run(
        addr,
        "",
        concurrency,
        Until::Count(count),
        |_| -> Operation<'_> {
            let codes = &codes;
            Box::new(move |index, answer| {
                let operation = first + index;
                match answer {
                    None => {
                        let session = sessions
                            .get(operation as usize % sessions.len().max(1))
                            .cloned()
                            .unwrap_or_default();
                        let request = Request::get(app.authorize_path(operation));
                        Step::Send(request.with_cookie(session))
                    }
                    Some(mut response) => {
                        match code_of(&response, operation) {
                            Ok(code) => {
                                response.status = 200;
                                let mut codes = codes.borrow_mut();
                                if let Some(slot) = codes.get_mut(index as usize) {
                                    *slot = Some(code);
                                }
                            }
                            Err(wrong) => {
                                // Counted as an error (its status is not 2xx), saying why.
                                if (200..300).contains(&response.status) {
                                    response.status = 500;
                                }
                                response.body = wrong.into_bytes();
                            }
                        }
                        Step::Done(response)
                    }
                }
            })
        },
    );
    let codes = codes.into_inner().into_iter().flatten().collect();
    (outcome, codes)
}

/// The code of a successful authorization answer to operation `operation`: a redirect to the
/// registered redirect URI with `code`, the request's `state` and `iss` (RFC 9207).
fn code_of(response: &Response, operation: u64) -> Result<String, String> {
    let location = response.location.as_deref().unwrap_or_default();
    let answer = || {
        format!(
            "authorize answered {} with Location {location:?}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
                .chars()
                .take(200)
                .collect::<String>()
        )
    };
    if !matches!(response.status, 302 | 303) {
        return Err(answer());
    }
    let query = location
        .strip_prefix(REDIRECT_URI)
        .and_then(|rest| rest.strip_prefix('?'))
        .ok_or_else(answer)?;
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| percent_decode(value))
    };
    match (param("code"), param("state"), param("iss")) {
        (Some(code), Some(state), Some(_)) if state == format!("s{operation}") => Ok(code),
        _ => Err(answer()),
    }
}

/// What the exchanges of one batch issued.
#[derive(Default)]
struct Issued {
    access_tokens: Vec<String>,
    /// One ID token, to check its algorithm.
    id_token: Option<String>,
}

/// Exchanges `codes` at the token endpoint (`client_secret_basic`), each once.
fn exchange(addr: &str, concurrency: usize, app: &App, codes: &[String]) -> (Outcome, Issued) {
    // The bodies are written before the phase, so it times the token endpoint.
    let bodies: Vec<String> = codes
        .iter()
        .map(|code| {
            format!(
                "grant_type=authorization_code&code={}&redirect_uri={}",
                encode_query(code),
                encode_query(REDIRECT_URI)
            )
        })
        .collect();
    let issued = RefCell::new(Issued::default());
    let outcome = load::run(
        addr,
        "",
        concurrency,
        Until::Count(bodies.len() as u64),
        |_| -> Operation<'_> {
            let (bodies, issued) = (&bodies, &issued);
            Box::new(move |index, answer| match answer {
                None => {
                    let body = bodies.get(index as usize).cloned().unwrap_or_default();
                    let request = Request::form("/oauth2/token".to_owned(), body);
                    Step::Send(request.with_authorization(app.basic.clone()))
                }
                Some(mut response) => {
                    if response.status == 200 {
                        let tokens = (
                            response.json_string("access_token"),
                            response.json_string("id_token"),
                        );
                        match tokens {
                            (Some(access_token), Some(id_token)) => {
                                let mut issued = issued.borrow_mut();
                                issued.access_tokens.push(access_token);
                                issued.id_token.get_or_insert(id_token);
                            }
                            // Counted as an error, with the body that lacks them.
                            _ => response.status = 500,
                        }
                    }
                    Step::Done(response)
                }
            })
        },
    );
    (outcome, issued.into_inner())
}

/// `GET /oauth2/userinfo` for the timed seconds, each with an access token drawn at random from
/// `access_tokens`.
fn userinfo(addr: &str, load: Load, access_tokens: &[String]) -> Row {
    let name = "OIDC userinfo";
    if access_tokens.is_empty() {
        let outcome = Outcome {
            latencies_us: Vec::new(),
            errors: 1,
            first_error: Some("no access token was issued to present".to_owned()),
            elapsed: Duration::ZERO,
            server_cpu: None,
            database_cpu: None,
        };
        return scenario::finished(name, outcome, Some(USERINFO_TARGET));
    }
    say(&format!(
        "  userinfo with {} access tokens at random",
        access_tokens.len()
    ));
    let headers: Vec<String> = access_tokens
        .iter()
        .map(|token| format!("Bearer {token}"))
        .collect();
    let headers = &headers;
    let outcome = load::run(
        addr,
        "",
        load.concurrency,
        Until::Elapsed(Duration::from_secs(load.seconds)),
        |worker| {
            let mut rng = Rng::new(worker as u64 + 23);
            load::single(move |_| {
                let header = headers.get(rng.below(headers.len())).cloned();
                Request::get("/oauth2/userinfo".to_owned())
                    .with_authorization(header.unwrap_or_default())
            })
        },
    );
    scenario::finished(name, outcome, Some(USERINFO_TARGET))
}

/// The phases as one: their requests and errors, their wall-clock times added up, and the
/// server's CPU time over them (when known for each).
fn combined(phases: Vec<Outcome>) -> Outcome {
    let mut all = Outcome {
        latencies_us: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        server_cpu: Some(Duration::ZERO),
        database_cpu: Some(Duration::ZERO),
    };
    for phase in phases {
        all.latencies_us.extend(phase.latencies_us);
        all.errors += phase.errors;
        all.first_error = all.first_error.or(phase.first_error);
        all.elapsed += phase.elapsed;
        all.server_cpu = all
            .server_cpu
            .zip(phase.server_cpu)
            .map(|(sum, cpu)| sum + cpu);
        all.database_cpu = all
            .database_cpu
            .zip(phase.database_cpu)
            .map(|(sum, cpu)| sum + cpu);
    }
    all.latencies_us.sort_unstable();
    all
}

/// Decodes `%XX` escapes (and `+` as a space) of a query parameter value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                at += 3;
            }
            None => {
                out.push(if byte == b'+' { b' ' } else { byte });
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), for HTTP Basic credentials.
fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, &byte)| {
            group | u32::from(byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                let sextet = (group >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(BASE64_ALPHABET[sextet as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The decoded header of a JWT (its first part, base64url without padding), if it is text.
fn jwt_header(jwt: &str) -> Option<String> {
    String::from_utf8(backchannel::base64url_decode(jwt.split('.').next()?)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(status: u16, location: &str) -> Response {
        Response {
            status,
            location: Some(location.to_owned()),
            set_cookies: Vec::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn reads_the_code_of_a_successful_authorization_only() {
        let ok = redirect(
            302,
            "http://127.0.0.1/bench/callback?code=c%2Bd_1&state=s7&iss=http%3A%2F%2F127.0.0.1%3A9",
        );
        assert_eq!(code_of(&ok, 7), Ok("c+d_1".to_owned()));
        assert!(code_of(&ok, 8).is_err(), "another request's state");
        for refused in [
            redirect(302, "http://127.0.0.1/bench/callback?code=c&state=s7"),
            redirect(
                302,
                "http://127.0.0.1/bench/callback?error=access_denied&state=s7&iss=x",
            ),
            redirect(302, "http://127.0.0.1/elsewhere?code=c&state=s7&iss=x"),
            redirect(302, "/sso/login?return_to=%2Foauth2%2Fauthorize"),
            redirect(200, "http://127.0.0.1/bench/callback?code=c&state=s7&iss=x"),
        ] {
            assert!(code_of(&refused, 7).is_err(), "{:?}", refused.location);
        }
    }

    #[test]
    fn encodes_basic_credentials() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(
            basic_authorization("id-1", "rscs_a~b"),
            format!("Basic {}", base64(b"id-1:rscs_a~b"))
        );
    }

    #[test]
    fn reads_a_jwt_header() {
        // {"alg":"ES256","kid":"k1","typ":"JWT"}
        let jwt = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.e30.sig";
        assert_eq!(
            jwt_header(jwt).as_deref(),
            Some(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#)
        );
        assert_eq!(jwt_header("not base64!.x.y"), None);
    }

    #[test]
    fn decodes_query_values() {
        assert_eq!(percent_decode("a%20b+c%2fd%"), "a b c/d%");
    }

    #[test]
    fn batches_fit_inside_a_code_life() {
        assert_eq!(next_batch(0.001), 10_000);
        assert_eq!(next_batch(0.01), 2_000);
        assert_eq!(next_batch(1.0), 100);
        assert_eq!(next_batch(0.0), 10_000);
    }

    #[test]
    fn combines_phases() {
        let phase = |latency: u64, errors, cpu| Outcome {
            latencies_us: vec![latency; 10],
            errors,
            first_error: (errors > 0).then(|| format!("error at {latency}")),
            elapsed: Duration::from_millis(500),
            server_cpu: cpu,
            database_cpu: None,
        };
        let all = combined(vec![
            phase(3, 0, Some(Duration::from_millis(200))),
            phase(1, 2, Some(Duration::from_millis(300))),
            phase(2, 1, Some(Duration::from_millis(100))),
        ]);
        assert_eq!(all.requests(), 30);
        assert_eq!(all.errors, 3);
        assert_eq!(all.first_error.as_deref(), Some("error at 1"));
        assert_eq!(all.elapsed, Duration::from_millis(1_500));
        assert_eq!(all.per_second(), 20.0);
        assert_eq!(all.server_cpu, Some(Duration::from_millis(600)));
        assert_eq!(all.latencies_us.first(), Some(&1));
        assert_eq!(all.latencies_us.last(), Some(&3));
        let unknown = combined(vec![phase(1, 0, None), phase(1, 0, Some(Duration::ZERO))]);
        assert_eq!(unknown.server_cpu, None);
    }
}
