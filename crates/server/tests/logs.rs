//! Secrets never reach the logs: a real `roster serve` at debug level sees SCIM tokens (right and
//! wrong), admin API keys, passwords and session cookies go by, and none of them appears in what
//! it wrote on stdout or stderr.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use roster_store::testing::TestStore;
use serde_json::{json, Value};

#[path = "common/process.rs"]
mod process;

use process::{free_loopback_addr, wait_until_listening};

fn roster(db: &TestStore) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .env("ROSTER__DATABASE__URL", &db.url)
        .env("ROSTER__SECURITY__DATA_KEY", &db.data_key)
        .env("ROSTER__LOG__FORMAT", "pretty")
        .env_remove("ROSTER_CONFIG")
        .env_remove("RUST_LOG")
        .current_dir(std::env::temp_dir());
    command
}

/// Runs a CLI command; returns its stdout, trimmed.
fn run(db: &TestStore, args: &[&str]) -> String {
    let output = roster(db).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "roster {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// (status, Set-Cookie headers) of a request.
fn call(
    request: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> (u16, Vec<String>, String) {
    let mut response = request.unwrap();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .into_iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), cookies, body)
}

#[test]
fn tokens_keys_passwords_and_session_cookies_never_reach_the_logs() {
    let db = TestStore::new();
    run(&db, &["workspace", "create", "acme"]);
    run(
        &db,
        &[
            "connection",
            "create",
            "--workspace",
            "acme",
            "--name",
            "idp",
            "--kind",
            "scim",
        ],
    );
    let token = run(
        &db,
        &[
            "token",
            "create",
            "--workspace",
            "acme",
            "--connection",
            "idp",
        ],
    );
    let api_key = run(&db, &["api-key", "create", "--workspace", "acme"]);
    let operator_key = run(&db, &["operator-key", "create", "--name", "backend"]);
    let admin: Value = serde_json::from_str(&run(
        &db,
        &[
            "admin",
            "create",
            "--workspace",
            "acme",
            "--email",
            "root@acme.test",
        ],
    ))
    .unwrap();
    let password = admin["password"].as_str().unwrap().to_owned();
    let wrong_token = format!("{}x", &token[..token.len() - 1]);
    let wrong_key = format!("{}x", &api_key[..api_key.len() - 1]);
    let wrong_password = "Wrong-Password-7f3a9c";

    let logs = tempfile::tempdir().unwrap();
    let addr = free_loopback_addr();
    let mut child = roster(&db)
        .env("RUST_LOG", "debug")
        .env("ROSTER__SERVER__BIND", &addr)
        .env("ROSTER__SERVER__SHUTDOWN_TIMEOUT_SECS", "2")
        .arg("serve")
        .stdout(std::fs::File::create(logs.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(logs.path().join("stderr")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_listening(&addr);
    let base = format!("http://{addr}");
    let http = agent();

    // SCIM with the right token, then a wrong one.
    let (status, _, body) = call(
        http.post(&format!("{base}/scim/v2/Users"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/scim+json")
            .send(&json!({"userName": "alice@acme.test"}).to_string()),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = call(
        http.get(&format!(
            "{base}/scim/v2/Users?filter=userName%20eq%20%22alice%40acme.test%22"
        ))
        .header("Authorization", &format!("Bearer {token}"))
        .call(),
    );
    assert_eq!(status, 200);
    let (status, _, _) = call(
        http.get(&format!("{base}/scim/v2/Users"))
            .header("Authorization", &format!("Bearer {wrong_token}"))
            .call(),
    );
    assert_eq!(status, 401);

    // The admin API with the right key, then a wrong one.
    let (status, _, body) = call(
        http.get(&format!("{base}/api/v1/admin/scim"))
            .header("Authorization", &format!("Bearer {api_key}"))
            .call(),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = call(
        http.get(&format!("{base}/api/v1/admin/scim"))
            .header("Authorization", &format!("Bearer {wrong_key}"))
            .call(),
    );
    assert_eq!(status, 401);

    // One-time links carry their secret in the URL: a setup link and an admin invitation,
    // opened and used.
    let mut link_secrets = Vec::new();
    for (path, body) in [
        ("setup-links", json!({"intent": "domain"})),
        ("admins/invitations", json!({"email": "it@acme.test"})),
    ] {
        let (status, _, body) = call(
            http.post(&format!("{base}/api/v1/operator/workspaces/acme/{path}"))
                .header("Authorization", &format!("Bearer {operator_key}"))
                .header("Content-Type", "application/json")
                .send(&body.to_string()),
        );
        assert_eq!(status, 201, "{body}");
        let url: Value = serde_json::from_str(&body).unwrap();
        let url = url["url"].as_str().unwrap().to_owned();
        let path = &url[url
            .find("/setup/")
            .or_else(|| url.find("/invitations/"))
            .unwrap()..];
        let (status, _, _) = call(http.get(&format!("{base}{path}")).call());
        assert_eq!(status, 200);
        link_secrets.push(path.rsplit('/').next().unwrap().to_owned());
    }
    let (status, cookies, _) = call(
        http.post(&format!("{base}/setup/{}", link_secrets[0]))
            .send_empty(),
    );
    assert_eq!(status, 303);
    let setup_session = cookies
        .iter()
        .find_map(|c| c.strip_prefix("roster_setup="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let (status, _, _) = call(
        http.get(&format!("{base}/api/v1/admin/domains"))
            .header("Cookie", &format!("roster_setup={setup_session}"))
            .call(),
    );
    assert_eq!(status, 200);

    // A failed then a successful password login, and the session it opens.
    let login = |password: &str| {
        call(http.post(&format!("{base}/login/password")).send_form([
            ("workspace", "acme"),
            ("user_name", "root@acme.test"),
            ("password", password),
        ]))
    };
    assert_eq!(login(wrong_password).0, 401);
    let (status, cookies, body) = login(&password);
    assert_eq!(status, 303, "{body}");
    let session = cookies
        .iter()
        .find_map(|c| c.strip_prefix("roster_session="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let (status, _, _) = call(
        http.get(&format!("{base}/api/v1/me"))
            .header("Cookie", &format!("roster_session={session}"))
            .call(),
    );
    assert_eq!(status, 200);
    let (status, _, _) = call(
        http.get(&format!("{base}/api/v1/admin/scim"))
            .header("Authorization", &format!("Bearer {session}"))
            .call(),
    );
    assert!(status < 500);
    let (status, _, _) = call(
        http.post(&format!("{base}/logout"))
            .header("Cookie", &format!("roster_session={session}"))
            .send_empty(),
    );
    assert_eq!(status, 303);

    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    child.wait().unwrap();
    let mut output = std::fs::read_to_string(logs.path().join("stdout")).unwrap();
    output.push_str(&std::fs::read_to_string(logs.path().join("stderr")).unwrap());
    assert!(
        output.contains("DEBUG"),
        "the server logged at debug level: {output}"
    );
    assert!(output.contains("/login/password"), "requests were logged");
    assert!(
        output.contains("/setup/<redacted>"),
        "the link's page was logged, redacted"
    );
    let session_signature = session.rsplit('.').next().unwrap();
    for (what, secret) in [
        ("SCIM token", token.as_str()),
        ("wrong SCIM token", wrong_token.as_str()),
        ("admin API key", api_key.as_str()),
        ("operator key", operator_key.as_str()),
        ("setup link", link_secrets[0].as_str()),
        ("admin invitation", link_secrets[1].as_str()),
        ("setup session", setup_session.as_str()),
        ("wrong admin API key", wrong_key.as_str()),
        ("password", password.as_str()),
        ("wrong password", wrong_password),
        ("session cookie", session.as_str()),
        ("session signature", session_signature),
    ] {
        assert!(!output.contains(secret), "the {what} is in the server log");
    }
}
