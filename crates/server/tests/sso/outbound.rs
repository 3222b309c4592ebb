//! A hostile or broken OIDC provider against the whole server: the outbound policy and limits
//! fail the login cleanly (a 4xx page with the login event's id, the event's detail saying why,
//! no user, no session) and the admin's set-up says why too. No IdP needed: a small fake OP runs
//! on 127.0.0.1, which the Roster under test allows (`security.allowed_private_networks`); a
//! server on 127.0.0.2 plays a service inside the network, which stays forbidden.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pretty_assertions::assert_eq;
use roster_server::settings::Settings;
use roster_store::domain::{Actor, ConnectionKind};
use serde_json::{json, Value};

use crate::support::{agent, event_id_on_page, SsoApp};

/// A fake OP: discovery (with fields a test overrides), an empty JWKS, and a token endpoint
/// that streams a body of `token_bytes`. Records the path of every request.
struct FakeOp {
    issuer: String,
    overrides: Arc<Mutex<serde_json::Map<String, Value>>>,
    requests: Arc<Mutex<Vec<String>>>,
    token_written: Arc<AtomicUsize>,
}

impl FakeOp {
    fn start(ip: &str, token_bytes: usize) -> Self {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let issuer = format!("http://{}/op", listener.local_addr().unwrap());
        let op = Self {
            issuer: issuer.clone(),
            overrides: Arc::default(),
            requests: Arc::default(),
            token_written: Arc::default(),
        };
        let (overrides, requests, written) = (
            op.overrides.clone(),
            op.requests.clone(),
            op.token_written.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (issuer, overrides, requests, written) = (
                    issuer.clone(),
                    overrides.clone(),
                    requests.clone(),
                    written.clone(),
                );
                std::thread::spawn(move || {
                    serve(
                        stream,
                        &issuer,
                        &overrides,
                        &requests,
                        token_bytes,
                        &written,
                    );
                });
            }
        });
        op
    }

    fn override_field(&self, field: &str, value: Value) {
        self.overrides
            .lock()
            .unwrap()
            .insert(field.to_owned(), value);
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    issuer: &str,
    overrides: &Mutex<serde_json::Map<String, Value>>,
    requests: &Mutex<Vec<String>>,
    token_bytes: usize,
    written: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    requests.lock().unwrap().push(path.clone());
    let mut stream = stream;
    let json = match path.as_str() {
        "/op/.well-known/openid-configuration" => {
            let mut document = json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            });
            for (field, value) in overrides.lock().unwrap().iter() {
                document[field] = value.clone();
            }
            document
        }
        "/op/jwks" => json!({"keys": []}),
        "/op/token" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let chunk = [b' '; 64 * 1024];
            let mut sent = 0;
            while sent < token_bytes {
                let ok = stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .is_ok()
                    && stream.write_all(&chunk).is_ok()
                    && stream.write_all(b"\r\n").is_ok();
                if !ok {
                    return;
                }
                sent += chunk.len();
                written.store(sent, Ordering::SeqCst);
            }
            let _ = stream.write_all(b"0\r\n\r\n");
            return;
        }
        _ => json!({"error": "not_found"}),
    };
    let body = json.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A Roster that may reach 127.0.0.1 and no other non-public address, with an OIDC connection
/// `corp` to `op`.
fn app_with_connection_to(op: &FakeOp) -> (SsoApp, roster_store::domain::Connection) {
    let mut settings = Settings::default();
    settings.security.allowed_private_networks = vec!["127.0.0.1/32".to_owned()];
    let app = SsoApp::with_exact_settings(settings);
    let connection = app.connection("corp", ConnectionKind::Oidc, &[]);
    let connection = app.configure(
        &connection,
        json!({"issuer": op.issuer, "client_id": "roster", "client_secret": "s3cr3t-client"}),
    );
    (app, connection)
}

fn login_url() -> &'static str {
    "/sso/acme/login?connection=corp&return_to=%2F"
}

/// The one login event, checked to be a failure with this code and detail reason.
fn assert_refused_event(app: &SsoApp, event_id: &str, code: &str, reason: &str) -> Value {
    let events = app.login_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.id, event_id);
    assert_eq!(
        (event.outcome.as_str(), event.reason.as_deref()),
        ("failure", Some(code))
    );
    let detail: Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(detail["reason"], reason, "{detail:#}");
    assert!(!event.detail.contains("s3cr3t-client"));
    detail
}

#[test]
fn a_discovery_document_pointing_inside_the_network_refuses_the_login() {
    let internal = FakeOp::start("127.0.0.2", 0);
    for field in ["token_endpoint", "userinfo_endpoint", "jwks_uri"] {
        let op = FakeOp::start("127.0.0.1", 0);
        op.override_field(field, json!(format!("{}/{field}", internal.issuer)));
        let (app, _) = app_with_connection_to(&op);
        let refused = app.get(login_url(), None);
        assert_eq!(refused.status, 400, "{field}: {}", refused.body);
        let event_id = event_id_on_page(&refused.body).expect("the page shows the event id");
        let detail = assert_refused_event(
            &app,
            &event_id,
            "connection_misconfigured",
            "address_forbidden",
        );
        assert!(
            detail["message"].as_str().unwrap().contains("127.0.0.2"),
            "{detail:#}"
        );
        assert!(!op.requests().iter().any(|p| p.ends_with("/token")));
        assert_eq!(app.user_count(), 0);
    }
    assert_eq!(
        internal.requests(),
        Vec::<String>::new(),
        "nothing reached 127.0.0.2"
    );
}

#[test]
fn an_oversized_token_response_fails_the_login_cleanly() {
    let op = FakeOp::start("127.0.0.1", 300 * 1024 * 1024);
    let (app, connection) = app_with_connection_to(&op);
    let started = agent()
        .get(&format!("{}{}", app.url(), login_url()))
        .call()
        .unwrap();
    assert_eq!(started.status(), 302);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let state = url_query(&location, "state");
    let binding =
        crate::browser::cookie_set_by(&started, "roster_sso").expect("the browser binding cookie");

    let mut callback = agent()
        .get(&format!(
            "{}/sso/oidc/{}/callback?code=c0de&state={state}",
            app.url(),
            connection.id
        ))
        .header("Cookie", &format!("roster_sso={binding}"))
        .call()
        .unwrap();
    let body = callback.body_mut().read_to_string().unwrap();
    assert_eq!(callback.status(), 400, "{body}");
    assert!(crate::support::session_set_by(&callback).is_none());
    let event_id = event_id_on_page(&body).expect("the page shows the event id");
    let detail = assert_refused_event(&app, &event_id, "invalid_response", "response_too_large");
    assert!(
        detail["message"]
            .as_str()
            .unwrap()
            .contains("token endpoint"),
        "{detail:#}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let written = op.token_written.load(Ordering::SeqCst);
    assert!(
        written < 32 * 1024 * 1024,
        "the OP wrote {written} bytes: Roster kept reading past the cap"
    );
    assert_eq!(app.user_count(), 0);
}

#[test]
fn the_admin_sees_why_a_connection_to_a_hostile_op_is_refused() {
    let internal = FakeOp::start("127.0.0.2", 0);
    let op = FakeOp::start("127.0.0.1", 0);
    op.override_field(
        "token_endpoint",
        json!(format!("{}/token", internal.issuer)),
    );
    let mut settings = Settings::default();
    settings.security.allowed_private_networks = vec!["127.0.0.1/32".to_owned()];
    let app = SsoApp::with_exact_settings(settings);
    let (_, key) = app
        .db
        .store
        .create_api_key(&Actor::Cli, app.workspace.id, "test")
        .unwrap();
    let post = |issuer: &str| {
        let mut response = agent()
            .post(&format!("{}/api/v1/admin/connections", app.url()))
            .header("Authorization", &format!("Bearer {}", key.expose()))
            .header("Content-Type", "application/json")
            .send(
                json!({
                    "name": "corp", "kind": "oidc",
                    "oidc": {"issuer": issuer, "clientId": "roster", "clientSecret": "s3cr3t-client"},
                })
                .to_string(),
            )
            .unwrap();
        let status = response.status().as_u16();
        let body: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        (status, body)
    };
    let (status, body) = post(&op.issuer);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation")),
        "{body:#}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("token_endpoint") && message.contains("127.0.0.2"),
        "{message}"
    );
    // An issuer inside the network is refused before anything is asked.
    let (status, body) = post(&internal.issuer);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation")),
        "{body:#}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("127.0.0.2"),
        "{body:#}"
    );
    assert_eq!(internal.requests(), Vec::<String>::new());
    assert_eq!(
        app.db
            .store
            .list_connections(app.workspace.id)
            .unwrap()
            .len(),
        0,
        "nothing written"
    );
}

fn url_query(url: &str, name: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}
