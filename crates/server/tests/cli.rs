//! The operator CLI and the server process, driven as scripts and operators drive them: the real
//! `roster` binary on a real database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use pretty_assertions::assert_eq;
use roster_store::testing::TestStore;
use serde_json::Value;

#[path = "common/process.rs"]
mod process;
#[path = "common/receiver.rs"]
mod receiver;

use process::{cli, fails_with, json_of, roster, run, Server};

#[test]
fn operator_commands_print_their_contract() {
    let db = TestStore::new();
    let workspace = json_of(&cli(&db, "workspace create acme --domain acme.test"));
    assert_eq!(workspace["slug"], "acme");
    assert!(workspace["id"].as_str().unwrap().len() == 36);

    let connection = json_of(&cli(
        &db,
        "connection create --workspace acme --name entra --kind scim",
    ));
    assert_eq!(connection["kind"], "scim");
    assert_eq!(connection["name"], "entra");
    assert_eq!(
        connection["scim_base_url"],
        "https://roster.example.test/scim/v2"
    );

    let token = cli(&db, "token create --workspace acme --connection entra");
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap();
    assert!(token.starts_with("rsct_") && token.ends_with('\n') && token.lines().count() == 1);
    let principal = db.store.authenticate_scim_token(token.trim()).unwrap();
    let entra = db
        .store
        .list_connections(principal.connection.workspace_id)
        .unwrap()
        .into_iter()
        .find(|connection| connection.name.as_str() == "entra")
        .unwrap();
    assert_eq!(principal.connection.id, entra.id);

    let role = json_of(&cli(&db, "role create --workspace acme owner --rank 200"));
    assert_eq!(
        (role["name"].as_str(), role["rank"].as_i64()),
        (Some("owner"), Some(200))
    );

    let admin = json_of(&cli(
        &db,
        "admin create --workspace acme --email Root@Acme.test",
    ));
    assert_eq!(admin["email"], "Root@Acme.test");
    assert_eq!(admin["login_url"], "https://roster.example.test/admin");
    assert_eq!(admin["password"].as_str().unwrap().len(), 24);

    let user = json_of(&cli(
        &db,
        "user show --workspace acme --user-name root@acme.test",
    ));
    assert_eq!(user["id"], admin["id"]);
    assert_eq!(user["userName"], "Root@Acme.test");
    assert_eq!(user["roles"], serde_json::json!(["admin"]));
    assert_eq!(user["primaryRole"], "admin");
    assert_eq!(user["groups"], serde_json::json!([]));
    assert_eq!(
        (user["active"].as_bool(), user["source"].as_str()),
        (Some(true), Some("invited"))
    );
    assert_eq!(user["workspace"], "acme");
    let by_id = json_of(&run(
        &db,
        &[
            "user",
            "show",
            "--workspace",
            "acme",
            "--id",
            admin["id"].as_str().unwrap(),
        ],
    ));
    assert_eq!(by_id, user);

    // Running it again resets the password without a second user.
    let again = json_of(&cli(
        &db,
        "admin create --workspace acme --email root@acme.test",
    ));
    assert_eq!(again["id"], admin["id"]);
    assert_ne!(again["password"], admin["password"]);

    let listed = json_of(&cli(&db, "workspace list"));
    assert_eq!(listed[0]["domains"], serde_json::json!(["acme.test"]));
}

#[test]
fn operator_mistakes_exit_1_with_a_clear_message_and_change_nothing() {
    let db = TestStore::new();
    json_of(&cli(&db, "workspace create acme"));
    fails_with(&cli(&db, "workspace create acme"), "already exists");
    fails_with(
        &run(&db, &["workspace", "create", "Not A Slug"]),
        "invalid slug",
    );
    fails_with(
        &cli(&db, "token create --workspace ghost --connection x"),
        "no workspace with slug \"ghost\"",
    );
    fails_with(
        &cli(&db, "token create --workspace acme --connection missing"),
        "no connection named \"missing\"",
    );
    fails_with(
        &cli(&db, "user show --workspace acme --user-name nobody"),
        "no such user",
    );
    fails_with(
        &cli(&db, "admin create --workspace acme --email not-an-email"),
        "invalid email",
    );
    // A public mail domain is no domain a workspace can own, on a workspace or a connection.
    fails_with(
        &cli(&db, "workspace create webmail --domain gmail.com"),
        "public mail domain",
    );
    fails_with(
        &cli(&db, "connection create --workspace acme --name corp --kind oidc --issuer https://idp.example --client-id x --domain gmail.com"),
        "public mail domain",
    );
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    assert_eq!(db.store.count_users(workspace.id).unwrap(), 0);
    assert!(db.store.list_connections(workspace.id).unwrap().is_empty());
    assert!(db.store.list_domains(workspace.id).unwrap().is_empty());
    assert!(db.store.workspace_by_slug("webmail").is_err());
}

/// The operator's `--domain`s count as proven: `workspace create --domain` and a connection's
/// `--domain` are recorded as verified domains of the workspace, noted in the audit log.
#[test]
fn operator_declared_domains_are_verified() {
    let db = TestStore::new();
    json_of(&cli(&db, "workspace create acme --domain acme.test"));
    json_of(&cli(
        &db,
        "connection create --workspace acme --name corp --kind scim",
    ));
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    let domains: Vec<(String, &str)> = db
        .store
        .list_domains(workspace.id)
        .unwrap()
        .iter()
        .map(|d| (d.domain.to_string(), d.state.as_str()))
        .collect();
    assert_eq!(domains, vec![("acme.test".to_owned(), "verified")]);
    let declared = db
        .store
        .audit_events(workspace.id, None, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "domain.declared")
        .count();
    assert_eq!(declared, 1);
}

/// An admin disabled by mistake (or the workspace's only one) is let back in from the CLI:
/// `admin create` re-enables the account as it resets the password, and `user enable` /
/// `user disable` change any user's lifecycle. A user its IdP deprovisioned cannot be brought
/// back this way: exit 1, nothing written.
#[test]
fn a_disabled_admin_is_let_back_in_from_the_cli() {
    let db = TestStore::new();
    json_of(&cli(&db, "workspace create acme"));
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    let admin_create = || {
        json_of(&cli(
            &db,
            "admin create --workspace acme --email root@acme.test",
        ))
    };
    let admin = admin_create();
    assert_eq!(admin["reactivated"], false);
    let id = admin["id"].as_str().unwrap().to_owned();

    let disabled = json_of(&cli(
        &db,
        "user disable --workspace acme --user-name root@acme.test",
    ));
    assert_eq!(
        (disabled["id"].as_str(), disabled["active"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    let user = db.store.user(workspace.id, id.parse().unwrap()).unwrap();
    assert_eq!(user.lifecycle, roster_store::domain::Lifecycle::Deactivated);
    assert_eq!(user.session_epoch, 1, "disabling ended the sessions");

    // `admin create` again: the same account, enabled, with a new password that works.
    let again = admin_create();
    assert_eq!(again["id"], admin["id"]);
    assert_eq!(again["reactivated"], true);
    let user = db.store.user(workspace.id, id.parse().unwrap()).unwrap();
    assert_eq!(user.lifecycle, roster_store::domain::Lifecycle::Active);
    let hash = db
        .store
        .password_hash(workspace.id, user.id)
        .unwrap()
        .unwrap();
    assert!(roster_store::domain::password::verify_password(
        again["password"].as_str().unwrap(),
        &hash
    ));
    assert!(!roster_store::domain::password::verify_password(
        admin["password"].as_str().unwrap(),
        &hash
    ));

    // `user disable` / `user enable` by id, and each prints the user as `user show` does.
    json_of(&run(
        &db,
        &["user", "disable", "--workspace", "acme", "--id", &id],
    ));
    let enabled = json_of(&run(
        &db,
        &["user", "enable", "--workspace", "acme", "--id", &id],
    ));
    let shown = json_of(&run(
        &db,
        &["user", "show", "--workspace", "acme", "--id", &id],
    ));
    assert_eq!(enabled, shown);
    assert_eq!(enabled["active"], true);
    assert_eq!(enabled["roles"], serde_json::json!(["admin"]));

    // Mistakes: exit 1, the reason, nothing written.
    fails_with(
        &cli(&db, "user enable --workspace acme --user-name nobody"),
        "no such user",
    );
    let gone = db
        .store
        .create_user(
            &roster_store::domain::Actor::Cli,
            &roster_store::NewUser::minimal(
                workspace.id,
                roster_store::domain::UserName::parse("gone@acme.test").unwrap(),
                roster_store::domain::Source::Scim,
            ),
        )
        .unwrap();
    let gone = db
        .store
        .change_lifecycle(
            &roster_store::domain::Actor::Cli,
            workspace.id,
            gone.id,
            roster_store::domain::LifecycleEvent::Deprovision,
        )
        .unwrap();
    let audit = db
        .store
        .audit_events(workspace.id, None, 10_000)
        .unwrap()
        .len();
    fails_with(
        &cli(
            &db,
            "user enable --workspace acme --user-name gone@acme.test",
        ),
        "deprovisioned",
    );
    fails_with(
        &cli(&db, "admin create --workspace acme --email gone@acme.test"),
        "deprovisioned",
    );
    assert_eq!(db.store.user(workspace.id, gone.id).unwrap(), gone);
    assert!(db
        .store
        .password_hash(workspace.id, gone.id)
        .unwrap()
        .is_none());
    assert_eq!(
        db.store
            .audit_events(workspace.id, None, 10_000)
            .unwrap()
            .len(),
        audit,
        "nothing written"
    );
}

#[test]
fn invalid_configuration_is_refused_at_start_naming_the_key() {
    let db = TestStore::new();
    let cases = [
        ("ROSTER__SERVER__BIND", "localhost", "server.bind"),
        ("ROSTER__SERVER__PUBLIC_URL", "ftp://x", "server.public_url"),
        ("ROSTER__DATABASE__URL", "mysql://x", "database.url"),
        ("ROSTER__LOG__FORMAT", "xml", "log.format"),
        ("ROSTER__SERVER__BINDD", "x", "unknown field `bindd`"),
    ];
    for (key, value, message) in cases {
        let output = roster(&db).env(key, value).arg("migrate").output().unwrap();
        fails_with(&output, message);
    }
    // A configuration mistake is not reported as an unavailable database.
    let no_path = roster(&db)
        .env("ROSTER__DATABASE__URL", "sqlite://")
        .arg("migrate")
        .output()
        .unwrap();
    fails_with(&no_path, "error: database.url sqlite:// needs a file path");
    assert!(!String::from_utf8_lossy(&no_path.stderr).contains("unavailable"));
    // An unreachable database: one error line naming the key (libpq's message spans two).
    let unreachable = roster(&db)
        .env(
            "ROSTER__DATABASE__URL",
            "postgres://roster:hunter2@127.0.0.1:1/roster",
        )
        .env("ROSTER__DATABASE__CONNECT_TIMEOUT_SECS", "1")
        .args(["workspace", "list"])
        .output()
        .unwrap();
    fails_with(
        &unreachable,
        "error: opening the database of database.url postgres://roster:***@127.0.0.1:1/roster: ",
    );
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    let error_lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with('{'))
        .collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(error_lines[0].contains("Is the server running"), "{stderr}");
    assert!(!stderr.contains("hunter2"));
    let missing = roster(&db)
        .args(["--config", "/nonexistent/roster.toml", "migrate"])
        .output()
        .unwrap();
    fails_with(&missing, "does not exist");
}

#[test]
fn configuration_file_is_read_and_environment_overrides_it() {
    let db = TestStore::new();
    let dir = std::env::temp_dir().join(format!("roster-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("roster.toml");
    std::fs::write(
        &file,
        "[server]\npublic_url = \"https://from-file.test/\"\n",
    )
    .unwrap();
    json_of(&cli(&db, "workspace create acme"));
    let from_file = roster(&db)
        .env_remove("ROSTER__SERVER__PUBLIC_URL")
        .args(["--config", file.to_str().unwrap()])
        .args([
            "connection",
            "create",
            "--workspace",
            "acme",
            "--name",
            "a",
            "--kind",
            "scim",
        ])
        .output()
        .unwrap();
    assert_eq!(
        json_of(&from_file)["scim_base_url"],
        "https://from-file.test/scim/v2"
    );
    let overridden = roster(&db)
        .env("ROSTER__SERVER__PUBLIC_URL", "https://from-env.test")
        .args(["--config", file.to_str().unwrap()])
        .args([
            "connection",
            "create",
            "--workspace",
            "acme",
            "--name",
            "b",
            "--kind",
            "scim",
        ])
        .output()
        .unwrap();
    assert_eq!(
        json_of(&overridden)["scim_base_url"],
        "https://from-env.test/scim/v2"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn server_answers_health_readiness_and_unknown_routes_then_shuts_down_gracefully() {
    let db = TestStore::new();
    let mut server = Server::start(&db);

    let (status, _, body) = server.get("/healthz", "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let (status, headers, body) = server.get("/readyz", "X-Request-Id: trace-42\r\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["database"],
        "ok"
    );
    assert!(headers.contains("x-request-id: trace-42"), "{headers}");

    let (status, headers, body) = server.get("/no/such/route", "X-Request-Id: bad id\r\n");
    assert_eq!(status, 404);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], "not_found");
    assert!(
        !headers.contains("x-request-id: bad id"),
        "an unsafe caller id is replaced"
    );
    assert!(headers.contains("x-request-id: "), "{headers}");

    // SIGTERM: graceful shutdown, exit 0, and a request log line with the caller's request id.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let readyz_line = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["span"]["path"] == "/readyz" && line["message"] == "request")
        .unwrap_or_else(|| panic!("no request log for /readyz in {logs}"));
    assert_eq!(readyz_line["span"]["request_id"], "trace-42");
    assert_eq!(readyz_line["status"], 200);
}

/// A minimal HTTP/1.1 GET to `addr`: (status, body).
fn get_at(addr: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body.to_owned(),
    )
}

#[test]
fn metrics_can_be_served_on_their_own_address_with_process_and_build_metrics() {
    let db = TestStore::new();
    // Without the option, /metrics is on the main address, with the process's own metrics.
    let server = Server::start(&db);
    let (status, _, body) = server.get("/metrics", "");
    assert_eq!(status, 200);
    assert!(body.contains("process_resident_memory_bytes "), "{body}");
    drop(server);

    let metrics_addr = process::free_loopback_addr();
    let server = Server::start_with(&db, &[("ROSTER__SERVER__METRICS_BIND", &metrics_addr)]);
    process::wait_until_listening(&metrics_addr);
    let (status, body) = get_at(&metrics_addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!(
            "roster_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "roster_db_pool_connections",
    ] {
        assert!(body.contains(&format!("\n{name}")), "{name} in {body}");
    }
    // The main address no longer serves it; the metrics address serves nothing else.
    let (status, _, _) = server.get("/metrics", "");
    assert_eq!(status, 404);
    let (status, _, _) = server.get("/healthz", "");
    assert_eq!(status, 200);
    assert_eq!(get_at(&metrics_addr, "/healthz").0, 404);
    drop(server);

    // The same address twice, or no address at all, is refused at start naming the key.
    let bind = process::free_loopback_addr();
    for (value, message) in [
        (
            bind.as_str(),
            "server.metrics_bind must differ from server.bind",
        ),
        ("nine-thousand", "server.metrics_bind must be an address"),
    ] {
        let refused = process::roster(&db)
            .env("ROSTER__SERVER__BIND", &bind)
            .env("ROSTER__SERVER__METRICS_BIND", value)
            .arg("serve")
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn mapping_commands() {
    let db = TestStore::new();
    json_of(&cli(&db, "workspace create acme"));
    json_of(&cli(
        &db,
        "connection create --workspace acme --name entra --kind scim",
    ));
    json_of(&cli(&db, "role create --workspace acme editor --rank 10"));
    let args = [
        "mapping",
        "create",
        "--workspace",
        "acme",
        "--connection",
        "entra",
        "--idp-group",
        "aad-eng",
    ];
    fails_with(
        &run(&db, &[&args[..], &["--role", "ghost"]].concat()),
        "no role named \"ghost\"",
    );
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    assert!(
        db.store.list_mappings(workspace.id).unwrap().is_empty(),
        "nothing written"
    );
    fails_with(&run(&db, &args), "give --group, --role, or both");
    let created = json_of(&run(
        &db,
        &[&args[..], &["--group", "Engineering", "--role", "editor"]].concat(),
    ));
    assert_eq!(created["idp_group"], "aad-eng");
    assert!(created["group_id"].is_string() && created["role_id"].is_string());
    let listed = json_of(&cli(&db, "mapping list --workspace acme"));
    assert_eq!(listed[0]["id"], created["id"]);
    fails_with(
        &run(
            &db,
            &[&args[..], &["--group", "Engineering", "--role", "editor"]].concat(),
        ),
        "exists already",
    );
    let id = created["id"].as_str().unwrap();
    json_of(&run(&db, &["mapping", "delete", "--workspace", "acme", id]));
    fails_with(
        &run(&db, &["mapping", "delete", "--workspace", "acme", id]),
        "no mapping",
    );
    assert!(db.store.list_mappings(workspace.id).unwrap().is_empty());
}

/// Workspace `acme` with a SCIM connection `idp`; returns its token (with the trailing newline).
fn acme_with_scim(db: &TestStore) -> String {
    json_of(&cli(db, "workspace create acme"));
    json_of(&cli(
        db,
        "connection create --workspace acme --name idp --kind scim",
    ));
    String::from_utf8(cli(db, "token create --workspace acme --connection idp").stdout).unwrap()
}

fn post_json(url: &str, bearer: &str, body: &Value) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent
        .post(url)
        .header("authorization", &format!("Bearer {bearer}"))
        .header("content-type", "application/json")
        .send(&body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn webhook_deliveries_survive_kill_9() {
    let db = TestStore::new();
    let token = acme_with_scim(&db);
    let key = String::from_utf8(cli(&db, "api-key create --workspace acme").stdout).unwrap();
    let receiver = receiver::Receiver::start();
    // Slow answers make it likely that the kill lands mid-delivery.
    receiver
        .delay_ms
        .store(150, std::sync::atomic::Ordering::SeqCst);
    let env = [
        ("ROSTER__SECURITY__ALLOW_PRIVATE_NETWORK_URLS", "true"),
        ("ROSTER__WEBHOOKS__POLL_INTERVAL_MS", "20"),
        // A timeout below the lease: a batch sends several events, and the kill cuts one.
        ("ROSTER__WEBHOOKS__LEASE_SECS", "2"),
        ("ROSTER__WEBHOOKS__TIMEOUT_SECS", "1"),
        ("ROSTER__WEBHOOKS__RETRY_BASE_MS", "50"),
    ];
    let mut server = Server::start_with(&db, &env);
    let base = format!("http://{}", server.addr);
    let (status, _) = post_json(
        &format!("{base}/api/v1/admin/webhooks"),
        key.trim(),
        &serde_json::json!({"url": receiver.url, "eventTypes": ["user.created"]}),
    );
    assert_eq!(status, 201);
    for i in 0..10 {
        let (status, body) = post_json(
            &format!("{base}/scim/v2/Users"),
            token.trim(),
            &serde_json::json!({"userName": format!("user{i}")}),
        );
        assert_eq!(status, 201, "{body}");
    }
    receiver.wait_for("the first deliveries", |r| r.len() >= 2);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = Server::start_with(&db, &env);
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    let in_order: Vec<String> = db
        .store
        .events(workspace.id, 0, 1000, &["user.created".to_owned()])
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let want: std::collections::BTreeSet<String> = in_order.iter().cloned().collect();
    assert_eq!(want.len(), 10);
    let got = receiver.wait_for("every event after the restart", |r| {
        let ids: std::collections::BTreeSet<String> = r
            .iter()
            .map(|x| x.header("webhook-id").to_owned())
            .collect();
        want.is_subset(&ids)
    });
    // Duplicates are allowed (a batch cut by the kill is sent again), but the first arrival
    // of each event is in the feed's order: nothing was skipped and sent later.
    let mut first_arrivals: Vec<String> = Vec::new();
    for received in &got {
        let id = received.header("webhook-id").to_owned();
        if !first_arrivals.contains(&id) {
            first_arrivals.push(id);
        }
    }
    assert_eq!(first_arrivals, in_order);
    // Each duplicate carries the same id and body.
    for a in &got {
        for b in got
            .iter()
            .filter(|b| b.header("webhook-id") == a.header("webhook-id"))
        {
            assert_eq!(a.json()["resource"], b.json()["resource"]);
        }
    }
    drop(server);
}

#[test]
fn config_check_reports_the_effective_configuration_without_secrets() {
    let db = TestStore::new();
    let ok = json_of(&cli(&db, "config check"));
    assert_eq!(ok["status"], "ok");
    assert_eq!(
        ok["server"]["scim_base_url"],
        "https://roster.example.test/scim/v2"
    );
    assert_eq!(ok["sso"]["session_ttl_secs"], 8 * 3600);
    let config_check_with = |key: &str, value: &str| {
        roster(&db)
            .env(key, value)
            .args(["config", "check"])
            .output()
            .unwrap()
    };
    let overridden = json_of(&config_check_with("ROSTER__SSO__SESSION_TTL_SECS", "3600"));
    assert_eq!(overridden["sso"]["session_ttl_secs"], 3600);
    assert_eq!(ok["scim"]["token_cache_secs"], 1);
    let no_cache = json_of(&config_check_with("ROSTER__SCIM__TOKEN_CACHE_SECS", "0"));
    assert_eq!(no_cache["scim"]["token_cache_secs"], 0);
    fails_with(
        &config_check_with("ROSTER__SCIM__TOKEN_CACHE_SECS", "61"),
        "scim.token_cache_secs must be at most 60",
    );
    assert_eq!(
        ok["security"]["allowed_private_networks"],
        serde_json::json!([])
    );
    let networks = json_of(&config_check_with(
        "ROSTER__SECURITY__ALLOWED_PRIVATE_NETWORKS",
        "10.1.2.0/24,192.168.7.10",
    ));
    assert_eq!(
        networks["security"]["allowed_private_networks"],
        serde_json::json!(["10.1.2.0/24", "192.168.7.10"])
    );
    fails_with(
        &config_check_with("ROSTER__SECURITY__ALLOWED_PRIVATE_NETWORKS", "10.1.2.0/33"),
        "security.allowed_private_networks",
    );
    let unreachable = roster(&db)
        .env(
            "ROSTER__DATABASE__URL",
            "postgres://roster:hunter2@127.0.0.1:1/roster",
        )
        .env("ROSTER__DATABASE__CONNECT_TIMEOUT_SECS", "1")
        .args(["config", "check"])
        .output()
        .unwrap();
    fails_with(&unreachable, "postgres://roster:***@127.0.0.1:1/roster");
    assert!(
        !String::from_utf8_lossy(&unreachable.stderr).contains("hunter2"),
        "no password in the message"
    );
}

#[test]
fn export_then_import_round_trips_a_workspace() {
    let source = TestStore::new();
    json_of(&cli(&source, "workspace create acme --domain acme.test"));
    json_of(&cli(
        &source,
        "connection create --workspace acme --name entra --kind scim",
    ));
    let token =
        String::from_utf8(cli(&source, "token create --workspace acme --connection entra").stdout)
            .unwrap();
    json_of(&cli(
        &source,
        "role create --workspace acme editor --rank 10",
    ));
    json_of(&cli(
        &source,
        "admin create --workspace acme --email root@acme.test",
    ));
    // SCIM data through the real server: a user in a mapped group.
    let server = Server::start(&source);
    let base = format!("http://{}/scim/v2", server.addr);
    let (status, user) = post_json(
        &format!("{base}/Users"),
        token.trim(),
        &serde_json::json!({"userName": "ann@acme.test", "externalId": "e-ann"}),
    );
    assert_eq!(status, 201);
    let (status, group) = post_json(
        &format!("{base}/Groups"),
        token.trim(),
        &serde_json::json!({"displayName": "Eng", "members": [{"value": user["id"]}]}),
    );
    assert_eq!(status, 201);
    drop(server);
    json_of(&run(
        &source,
        &[
            "mapping",
            "create",
            "--workspace",
            "acme",
            "--connection",
            "entra",
            "--idp-group",
            group["id"].as_str().unwrap(),
            "--group",
            "Engineering",
            "--role",
            "editor",
        ],
    ));
    let exported = cli(&source, "export --workspace acme");
    let document = json_of(&exported);
    assert!(
        !String::from_utf8_lossy(&exported.stdout).contains(token.trim()),
        "no plaintext token in the export"
    );
    assert_eq!(document["users"].as_array().unwrap().len(), 2);

    let target = TestStore::new();
    let mut import = roster(&target)
        .arg("import")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(&exported.stdout)
        .unwrap();
    let imported = import.wait_with_output().unwrap();
    assert_eq!(json_of(&imported)["status"], "imported");
    let again = json_of(&cli(&target, "export --workspace acme"));
    assert_eq!(
        again, document,
        "export -> import -> export is the identity"
    );
    // The imported workspace works: the same token authenticates, roles are live.
    assert!(target.store.authenticate_scim_token(token.trim()).is_ok());
    let ann = json_of(&cli(
        &target,
        "user show --workspace acme --user-name ann@acme.test",
    ));
    assert_eq!(
        (ann["id"].clone(), ann["roles"].clone()),
        (user["id"].clone(), serde_json::json!(["editor"]))
    );
    assert_eq!(ann["groups"], serde_json::json!(["Engineering"]));

    // A second import refuses to overwrite, and writes nothing.
    let mut again_import = roster(&target)
        .arg("import")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    again_import
        .stdin
        .take()
        .unwrap()
        .write_all(&exported.stdout)
        .unwrap();
    fails_with(&again_import.wait_with_output().unwrap(), "not empty");
    let workspace = target.store.workspace_by_slug("acme").unwrap();
    assert_eq!(target.store.count_users(workspace.id).unwrap(), 2);
}

#[test]
fn acknowledged_writes_survive_kill_9_and_nothing_is_half_applied() {
    let db = TestStore::new();
    let token = acme_with_scim(&db);
    let token = token.trim().to_owned();
    let mut server = Server::start_with(&db, &[("ROSTER__WEBHOOKS__ENABLED", "false")]);
    let base = format!("http://{}/scim/v2", server.addr);
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let (base, token, acknowledged, stop) = (&base, &token, &acknowledged, &stop);
            scope.spawn(move || {
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(std::time::Duration::from_secs(5)))
                    .build()
                    .new_agent();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let name = format!("w{writer}-{i}");
                    i += 1;
                    let body = serde_json::json!({
                        "userName": name, "externalId": format!("x-{name}"),
                        "emails": [{"value": format!("{name}@acme.test"), "primary": true}],
                        "name": {"givenName": "G", "familyName": "F"},
                    });
                    let sent = agent
                        .post(&format!("{base}/Users"))
                        .header("authorization", &format!("Bearer {token}"))
                        .header("content-type", "application/scim+json")
                        .send(&body.to_string());
                    match sent {
                        Ok(response) if response.status().as_u16() == 201 => {
                            acknowledged.lock().unwrap().push(name)
                        }
                        Ok(_) | Err(_) => {}
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(1500));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        acknowledged.len() > 10,
        "the load ran: {}",
        acknowledged.len()
    );
    // A restart (migrations, recovery) and every acknowledged user is there, whole.
    let server = Server::start_with(&db, &[("ROSTER__WEBHOOKS__ENABLED", "false")]);
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    for name in &acknowledged {
        let user = db
            .store
            .user_by_user_name(workspace.id, name)
            .unwrap_or_else(|err| panic!("acknowledged {name} lost: {err}"));
        assert_eq!(
            user.external_id.as_deref(),
            Some(format!("x-{name}").as_str())
        );
    }
    // Whatever else committed (requests cut before their answer) is whole too.
    let stored = db.store.count_users(workspace.id).unwrap();
    assert!(stored >= acknowledged.len() as i64);
    let events = db
        .store
        .events(workspace.id, 0, 100_000, &["user.created".to_owned()])
        .unwrap();
    assert_eq!(
        events.len() as i64,
        stored,
        "every stored user has its event, no event without a user"
    );
    for event in events {
        let resource: serde_json::Value = serde_json::from_str(&event.resource).unwrap();
        let name = resource["userName"].as_str().unwrap();
        let user = db.store.user_by_user_name(workspace.id, name).unwrap();
        assert_eq!(
            user.email.map(|e| e.to_string()),
            Some(format!("{name}@acme.test"))
        );
        assert_eq!(user.given_name.as_deref(), Some("G"));
    }
    drop(server);
}

#[test]
fn login_connections_print_what_the_idp_needs_and_refuse_unsafe_settings() {
    let db = TestStore::new();
    json_of(&cli(&db, "workspace create acme"));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sso/tests/fixtures/ssoready");
    let good = fixtures.join("assertions/okta/metadata.xml");
    let metadata = std::fs::read_to_string(&good).unwrap();
    let (head, rest) = metadata.split_once("<md:KeyDescriptor").unwrap();
    let (_, tail) = rest.split_once("</md:KeyDescriptor>").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let no_cert = scratch.path().join("no-cert.xml");
    std::fs::write(&no_cert, format!("{head}{tail}")).unwrap();

    let saml = json_of(&run(
        &db,
        &[
            "connection",
            "create",
            "--workspace",
            "acme",
            "--name",
            "okta",
            "--kind",
            "saml",
            "--idp-metadata-file",
            good.to_str().unwrap(),
            "--domain",
            "acme.test",
        ],
    ));
    let id = saml["id"].as_str().unwrap();
    assert_eq!(saml["kind"], "saml");
    let base = "https://roster.example.test";
    assert_eq!(
        saml["sp_entity_id"],
        format!("{base}/sso/saml/{id}/metadata")
    );
    assert_eq!(
        saml["metadata_url"],
        format!("{base}/sso/saml/{id}/metadata")
    );
    assert_eq!(saml["acs_url"], format!("{base}/sso/saml/{id}/acs"));
    assert_eq!(saml["slo_url"], format!("{base}/sso/saml/{id}/slo"));
    assert_eq!(
        saml["login_url"],
        format!("{base}/sso/acme/login?connection=okta")
    );
    assert!(saml.get("redirect_uri").is_none());
    assert!(saml.get("scim_base_url").is_none());

    // A SAML connection whose metadata has no signing certificate would accept unsigned
    // assertions: refused, and nothing written.
    fails_with(
        &run(
            &db,
            &[
                "connection",
                "create",
                "--workspace",
                "acme",
                "--name",
                "nocert",
                "--kind",
                "saml",
                "--idp-metadata-file",
                no_cert.to_str().unwrap(),
            ],
        ),
        "signing certificate",
    );
    // Without metadata: a draft that prints its SP values (Okta and Entra ask for them first),
    // refuses metadata without a signing certificate as a creation does, and becomes active
    // with good metadata.
    let created = cli(
        &db,
        "connection create --workspace acme --name later --kind saml --domain later.test",
    );
    let draft = json_of(&created);
    let hint = String::from_utf8_lossy(&created.stderr);
    assert!(
        hint.contains("draft") && hint.contains("roster connection set-metadata"),
        "{hint}"
    );
    let draft_id = draft["id"].as_str().unwrap();
    assert_eq!(draft["status"], "draft");
    assert_eq!(
        draft["sp_entity_id"],
        format!("{base}/sso/saml/{draft_id}/metadata")
    );
    assert_eq!(draft["acs_url"], format!("{base}/sso/saml/{draft_id}/acs"));
    assert_eq!(
        draft["metadata_url"],
        format!("{base}/sso/saml/{draft_id}/metadata")
    );
    let status_of = |name: &str| {
        let listed = json_of(&cli(&db, "connection list --workspace acme"));
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of("later").as_deref(), Some("draft"));
    let set_metadata = |name: &str, flags: &[&str]| {
        let mut args = vec!["connection", "set-metadata", "--workspace", "acme", name];
        args.extend_from_slice(flags);
        run(&db, &args)
    };
    fails_with(
        &set_metadata("later", &["--idp-metadata-file", no_cert.to_str().unwrap()]),
        "signing certificate",
    );
    fails_with(
        &set_metadata("later", &[]),
        "--idp-metadata-url or --idp-metadata-file",
    );
    assert_eq!(status_of("later").as_deref(), Some("draft"));
    let completed = json_of(&set_metadata(
        "later",
        &["--idp-metadata-file", good.to_str().unwrap()],
    ));
    assert_eq!(completed["id"], draft_id);
    assert_eq!(completed["status"], "active");
    assert_eq!(status_of("later").as_deref(), Some("active"));
    fails_with(
        &set_metadata("nobody", &["--idp-metadata-file", good.to_str().unwrap()]),
        "no connection",
    );
    // An OIDC connection needs its issuer at creation: no draft.
    fails_with(
        &cli(
            &db,
            "connection create --workspace acme --name x --kind oidc",
        ),
        "--issuer",
    );
    // OIDC: the secret never as an argument; an unreachable issuer is refused at creation.
    fails_with(
        &cli(&db, "connection create --workspace acme --name entra --kind oidc --issuer https://login.example.test --client-id c"),
        "ROSTER_CLIENT_SECRET",
    );
    let refused = roster(&db)
        .env("ROSTER_CLIENT_SECRET", "s3cr3t-never-printed")
        .args([
            "connection",
            "create",
            "--workspace",
            "acme",
            "--name",
            "entra",
            "--kind",
            "oidc",
            "--issuer",
            "http://127.0.0.1:9/",
            "--client-id",
            "c",
        ])
        .output()
        .unwrap();
    fails_with(&refused, "private");
    assert!(!String::from_utf8_lossy(&refused.stderr).contains("s3cr3t-never-printed"));
    let listed: Vec<_> = db
        .store
        .list_connections(db.store.workspace_by_slug("acme").unwrap().id)
        .unwrap()
        .into_iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(listed, vec!["later".to_owned(), "okta".to_owned()]);
}

/// `roster healthcheck` with the test's configuration, probing `bind`.
fn healthcheck(db: &TestStore, bind: &str, extra: &[&str]) -> std::process::Output {
    roster(db)
        .env("ROSTER__SERVER__BIND", bind)
        .arg("healthcheck")
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn healthcheck_exits_0_while_serve_is_ready_and_1_with_the_reason_once_it_stopped() {
    let db = TestStore::new();
    let mut server = Server::start(&db);
    let port = server.addr.rsplit(':').next().unwrap().to_owned();

    for bind in [server.addr.clone(), format!("0.0.0.0:{port}")] {
        let up = healthcheck(&db, &bind, &[]);
        assert_eq!(
            up.status.code(),
            Some(0),
            "{bind}: {}",
            String::from_utf8_lossy(&up.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&up.stdout),
            format!("ready: http://127.0.0.1:{port}/readyz answered 200\n"),
            "an unspecified bind address is probed on loopback"
        );
    }

    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(server.child.wait().unwrap().success());
    let down = healthcheck(&db, &server.addr, &[]);
    assert_eq!(down.status.code(), Some(1));
    assert!(down.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: not ready: cannot connect to {}: ",
            server.addr
        )),
        "{stderr}"
    );
}

#[test]
fn healthcheck_names_a_503_reason_gives_up_on_silence_and_opens_no_database() {
    let db = TestStore::new();
    // A server whose database is down answers /readyz like this (crates/server/src/http.rs).
    let unready = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unready_addr = unready.local_addr().unwrap().to_string();
    unready.set_nonblocking(true).unwrap();
    let answering = std::thread::spawn(move || {
        // Gives up after 20 s, so a binary that never asks fails the test instead of hanging it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut stream = loop {
            match unready.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(err) => return format!("no request: {err}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        let body = r#"{"status":"unavailable","database":"connection refused"}"#;
        write!(
            stream,
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8(request).unwrap()
    });
    // The database the command would open if it opened one: it must not appear.
    let dir = tempfile::tempdir().unwrap();
    let untouched = dir.path().join("never-opened.db");
    let output = roster(&db)
        .env(
            "ROSTER__DATABASE__URL",
            format!("sqlite://{}", untouched.display()),
        )
        .env("ROSTER__SERVER__BIND", &unready_addr)
        .arg("healthcheck")
        .output()
        .unwrap();
    let request = answering.join().unwrap();
    assert!(request.starts_with("GET /readyz HTTP/1.1\r\n"), "{request}");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: not ready: {unready_addr} answered /readyz with 503: database: connection refused\n"
        )
    );
    assert!(
        !untouched.exists(),
        "healthcheck opened (and created) the database"
    );

    // Accepted by the kernel but never answered: the timeout decides, and says so.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let output = healthcheck(&db, &silent_addr, &["--timeout-secs", "1"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("error: not ready: {silent_addr} did not answer /readyz within 1 s\n")
    );
    drop(silent);
}

/// An admin API request with a bearer key: (status, JSON body or null).
fn admin_request(method: &str, url: &str, bearer: &str) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let authorization = format!("Bearer {bearer}");
    let mut response = match method {
        "GET" => agent
            .get(url)
            .header("authorization", &authorization)
            .call()
            .unwrap(),
        "DELETE" => agent
            .delete(url)
            .header("authorization", &authorization)
            .call()
            .unwrap(),
        other => panic!("no {other} here"),
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The names of a JSON object's fields.
fn field_names(object: &Value) -> std::collections::BTreeSet<String> {
    object.as_object().unwrap().keys().cloned().collect()
}

/// The stdout of a successful command, as text.
fn stdout_of(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A leaked API key is found by its hint in `api-key list` and revoked, from the CLI or the
/// admin API; either way the next request with it is refused. Listings never print a secret.
#[test]
fn api_keys_are_listed_without_secrets_and_a_revoked_key_is_refused_at_once() {
    let db = TestStore::new();
    json_of(&cli(&db, "workspace create acme"));
    let create = |name: &str| {
        stdout_of(&run(
            &db,
            &["api-key", "create", "--workspace", "acme", "--name", name],
        ))
        .trim()
        .to_owned()
    };
    let ci = create("ci");
    let leaked = create("leaked");
    let listed = cli(&db, "api-key list --workspace acme");
    let text = stdout_of(&listed);
    assert!(
        !text.contains(&ci) && !text.contains(&leaked),
        "no key in the listing"
    );
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(
        field_names(&listed[1]),
        field_names(&serde_json::json!({
            "created_at": 0, "hint": 0, "id": 0, "last_used_at": 0, "name": 0
        }))
    );
    assert_eq!(listed[1]["name"], "leaked");
    let hint = listed[1]["hint"].as_str().unwrap();
    assert!(leaked.starts_with(hint.trim_end_matches('…')), "{hint}");
    assert_eq!(listed[1]["last_used_at"], Value::Null);
    let leaked_id = listed[1]["id"].as_str().unwrap().to_owned();
    let ci_id = listed[0]["id"].as_str().unwrap().to_owned();

    let server = Server::start(&db);
    let base = format!("http://{}/api/v1/admin", server.addr);
    let (status, body) = admin_request("GET", &format!("{base}/api-keys"), &leaked);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["apiKeys"].as_array().unwrap().len(), 2);
    assert!(!body.to_string().contains(&ci), "no key in the API listing");
    let used = body["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["id"] == leaked_id.as_str())
        .unwrap();
    assert!(used["lastUsedAt"].is_string(), "the request was its use");

    // Revoked through the admin API (by another key): refused at the next request.
    let (status, _) = admin_request("DELETE", &format!("{base}/api-keys/{leaked_id}"), &ci);
    assert_eq!(status, 204);
    let (status, body) = admin_request("GET", &format!("{base}/api-keys"), &leaked);
    assert_eq!(
        (status, &body["code"]),
        (401, &serde_json::json!("unauthorized"))
    );
    let (status, body) = admin_request("DELETE", &format!("{base}/api-keys/{leaked_id}"), &ci);
    assert_eq!(
        (status, &body["code"]),
        (404, &serde_json::json!("not_found"))
    );
    let (status, _) = admin_request("DELETE", &format!("{base}/api-keys/not-an-id"), &ci);
    assert_eq!(status, 404);

    // Revoked from the CLI: the same.
    let revoked = json_of(&run(
        &db,
        &["api-key", "revoke", "--workspace", "acme", &ci_id],
    ));
    assert_eq!(revoked, serde_json::json!({"revoked": ci_id, "name": "ci"}));
    let (status, _) = admin_request("GET", &format!("{base}/api-keys"), &ci);
    assert_eq!(status, 401);
    drop(server);

    assert_eq!(
        json_of(&cli(&db, "api-key list --workspace acme")),
        serde_json::json!([])
    );
    fails_with(
        &run(&db, &["api-key", "revoke", "--workspace", "acme", &ci_id]),
        &format!("no API key {ci_id} in workspace acme"),
    );
    fails_with(
        &cli(&db, "api-key revoke --workspace acme nope"),
        "\"nope\" is not an API key id",
    );
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    let revocations: Vec<_> = db
        .store
        .audit_events(workspace.id, None, 1000)
        .unwrap()
        .into_iter()
        .filter(|event| event.action == "api_key.revoked")
        .map(|event| (event.actor_kind, event.target_id))
        .collect();
    assert_eq!(
        revocations,
        [
            ("admin".to_owned(), leaked_id.clone()),
            ("cli".to_owned(), ci_id.clone())
        ]
    );
}

/// `token list|revoke`, `connection list|revoke` and `role list`: what exists, without secrets,
/// and taking it back.
#[test]
fn tokens_connections_and_roles_are_listed_and_revoked_from_the_cli() {
    let db = TestStore::new();
    let token = acme_with_scim(&db);
    json_of(&cli(
        &db,
        "connection create --workspace acme --name other --kind scim",
    ));
    let other_token = stdout_of(&cli(
        &db,
        "token create --workspace acme --connection other --name thirty --expires-in-days 30",
    ));
    let listed = cli(&db, "token list --workspace acme");
    let text = stdout_of(&listed);
    assert!(!text.contains(token.trim()) && !text.contains(other_token.trim()));
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(
        field_names(&listed[0]),
        field_names(&serde_json::json!({
            "connection": 0, "connection_id": 0, "created_at": 0, "expired": 0,
            "expires_at": 0, "hint": 0, "id": 0, "last_used_at": 0, "name": 0
        }))
    );
    assert_eq!(
        (&listed[0]["connection"], &listed[0]["expires_at"]),
        (&serde_json::json!("idp"), &Value::Null)
    );
    assert_eq!(
        (&listed[1]["name"], &listed[1]["expired"]),
        (&serde_json::json!("thirty"), &serde_json::json!(false))
    );
    assert!(listed[1]["expires_at"].is_string());
    let only_other = json_of(&cli(&db, "token list --workspace acme --connection other"));
    assert_eq!(only_other, serde_json::json!([listed[1].clone()]));
    fails_with(
        &cli(&db, "token list --workspace acme --connection x"),
        "no connection named \"x\" in workspace acme",
    );

    // Revoking a token: the SCIM endpoint refuses it from now on.
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(
        json_of(&run(&db, &["token", "revoke", "--workspace", "acme", id])),
        serde_json::json!({ "revoked": id })
    );
    assert!(matches!(
        db.store.authenticate_scim_token(token.trim()),
        Err(roster_store::StoreError::Unauthorized)
    ));
    fails_with(
        &run(&db, &["token", "revoke", "--workspace", "acme", id]),
        "no SCIM token",
    );
    fails_with(
        &cli(&db, "token revoke --workspace acme x"),
        "\"x\" is not a SCIM token id",
    );

    // Connections: listed with their status; a revoked one takes its tokens with it.
    let connections = json_of(&cli(&db, "connection list --workspace acme"));
    assert_eq!(
        connections
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [("idp", "active"), ("other", "active")]
    );
    assert_eq!(connections[0]["scim_enabled"], true);
    assert!(!connections.to_string().contains("protocol_config"));
    let revoked = json_of(&cli(&db, "connection revoke --workspace acme other"));
    assert_eq!(
        (&revoked["status"], &revoked["tokens_revoked"]),
        (&serde_json::json!("revoked"), &serde_json::json!(1))
    );
    assert!(db
        .store
        .authenticate_scim_token(other_token.trim())
        .is_err());
    let connections = json_of(&cli(&db, "connection list --workspace acme"));
    assert_eq!(connections[1]["status"], "revoked");
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    let audit = db
        .store
        .audit_events(workspace.id, None, 10_000)
        .unwrap()
        .len();
    fails_with(
        &cli(&db, "connection revoke --workspace acme other"),
        "already revoked",
    );
    fails_with(
        &cli(&db, "token create --workspace acme --connection other"),
        "SCIM provisioning is off for connection \"other\" (revoked)",
    );
    fails_with(
        &cli(&db, "connection revoke --workspace acme ghost"),
        "no connection named \"ghost\"",
    );
    assert_eq!(
        db.store
            .audit_events(workspace.id, None, 10_000)
            .unwrap()
            .len(),
        audit,
        "nothing written"
    );

    // Roles, highest rank first.
    json_of(&cli(&db, "role create --workspace acme editor --rank 10"));
    let roles = json_of(&cli(&db, "role list --workspace acme"));
    assert_eq!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap(), r["rank"].as_i64().unwrap()))
            .collect::<Vec<_>>(),
        [("admin", 100), ("editor", 10), ("member", 0)]
    );
    assert!(roles[0]["id"].is_string());
    fails_with(
        &cli(&db, "role list --workspace ghost"),
        "no workspace with slug \"ghost\"",
    );
}

/// `workspace delete` takes everything of the workspace, and only with the slug repeated.
#[test]
fn workspace_delete_needs_the_slug_repeated_and_removes_everything() {
    let db = TestStore::new();
    let token = acme_with_scim(&db);
    json_of(&cli(&db, "workspace create globex"));
    json_of(&cli(
        &db,
        "admin create --workspace acme --email root@acme.test",
    ));
    let key = stdout_of(&cli(&db, "api-key create --workspace acme"));
    let acme = db.store.workspace_by_slug("acme").unwrap();

    for confirm in [
        &[][..],
        &["--confirm", "globex"][..],
        &["--confirm", "ACME"][..],
    ] {
        fails_with(
            &run(
                &db,
                &[&["workspace", "delete", "acme"][..], confirm].concat(),
            ),
            "repeat its slug with --confirm acme",
        );
    }
    // (Checked without authenticating here: this process would cache the accepted token.)
    assert_eq!(
        json_of(&cli(&db, "token list --workspace acme"))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(db.store.count_users(acme.id).unwrap(), 1, "nothing deleted");

    let deleted = json_of(&cli(&db, "workspace delete acme --confirm acme"));
    assert_eq!(
        deleted,
        serde_json::json!({
            "deleted": "acme", "id": acme.id.to_string(), "users": 1, "connections": 1
        })
    );
    let listed = json_of(&cli(&db, "workspace list"));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["slug"], "globex");
    assert!(db.store.authenticate_scim_token(token.trim()).is_err());
    assert!(db.store.authenticate_api_key(key.trim()).is_err());
    assert_eq!(db.store.count_users(acme.id).unwrap(), 0);
    assert!(db.store.list_connections(acme.id).unwrap().is_empty());
    fails_with(
        &cli(&db, "workspace delete acme --confirm acme"),
        "no workspace with slug \"acme\"",
    );
    // The slug is free again.
    json_of(&cli(&db, "workspace create acme"));
    // Of the deleted workspace's events, only its `workspace.deleted` is left, by the CLI.
    let events = db.store.deployment_events(None, 0, 1000, &[]).unwrap();
    let old: Vec<_> = events
        .iter()
        .filter(|e| e.workspace_id == acme.id.to_string())
        .map(|e| e.message())
        .collect();
    assert_eq!(old.len(), 1, "{old:?}");
    assert_eq!(old[0].r#type, "workspace.deleted");
    assert_eq!(old[0].workspace_slug.as_deref(), Some("acme"));
    assert_eq!(old[0].actor["kind"], "cli");
}

/// Flags and values that cannot do what they say are refused with the reason, and nothing is
/// written: a token for a connection that would refuse it, a token expired at birth, a flag of
/// another kind of connection.
#[test]
fn what_cannot_apply_is_refused_with_the_reason() {
    let db = TestStore::new();
    json_of(&cli(&db, "workspace create acme"));
    let metadata = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sso/tests/fixtures/ssoready/assertions/okta/metadata.xml");
    let metadata = metadata.to_str().unwrap();
    json_of(&run(
        &db,
        &[
            "connection",
            "create",
            "--workspace",
            "acme",
            "--name",
            "okta",
            "--kind",
            "saml",
            "--idp-metadata-file",
            metadata,
        ],
    ));
    let token_create = |connection: &str, extra: &[&str]| {
        run(
            &db,
            &[
                &[
                    "token",
                    "create",
                    "--workspace",
                    "acme",
                    "--connection",
                    connection,
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    fails_with(
        &token_create("okta", &[]),
        "SCIM provisioning is off for connection \"okta\": a token would be refused",
    );
    json_of(&cli(
        &db,
        "connection create --workspace acme --name entra --kind scim",
    ));
    for days in ["0", "3651"] {
        fails_with(
            &token_create("entra", &["--expires-in-days", days]),
            "--expires-in-days: invalid token lifetime",
        );
    }
    let refusals = [
        (
            vec!["--kind", "scim", "--idp-metadata-file", metadata],
            "--idp-metadata-file does not apply to a scim connection, only to saml",
        ),
        (
            vec!["--kind", "scim", "--idp-metadata-url", "https://idp.test/m"],
            "--idp-metadata-url does not apply to a scim connection",
        ),
        (
            vec!["--kind", "scim", "--domain", "acme.test"],
            "--domain does not apply to a scim connection, only to saml and oidc",
        ),
        (
            vec!["--kind", "scim", "--profile-sync", "every_login"],
            "--profile-sync does not apply to a scim connection",
        ),
        (
            vec![
                "--kind",
                "saml",
                "--idp-metadata-file",
                metadata,
                "--issuer",
                "https://idp.test",
            ],
            "--issuer does not apply to a saml connection, only to oidc",
        ),
        (
            vec![
                "--kind",
                "oidc",
                "--issuer",
                "https://idp.test",
                "--client-id",
                "x",
                "--allow-idp-initiated",
            ],
            "--allow-idp-initiated does not apply to a oidc connection, only to saml",
        ),
        (
            vec!["--kind", "scim", "--sign-authn-requests"],
            "--sign-authn-requests does not apply to a scim connection, only to saml",
        ),
        (
            vec!["--kind", "scim", "--assertion-encryption", "required"],
            "--assertion-encryption does not apply to a scim connection, only to saml",
        ),
        (
            vec!["--kind", "scim", "--force-authn"],
            "--force-authn does not apply to a scim connection, only to saml",
        ),
        (
            vec!["--kind", "saml", "--requested-authn-context", "mfa"],
            "requestedAuthnContext[0]",
        ),
    ];
    for (flags, message) in refusals {
        let args = [
            &[
                "connection",
                "create",
                "--workspace",
                "acme",
                "--name",
                "refused",
            ][..],
            &flags[..],
        ]
        .concat();
        fails_with(&run(&db, &args), message);
    }
    let workspace = db.store.workspace_by_slug("acme").unwrap();
    let connections = db.store.list_connections(workspace.id).unwrap();
    assert_eq!(connections.len(), 2, "nothing written");
    for connection in &connections {
        assert!(db
            .store
            .list_scim_tokens(workspace.id, connection.id)
            .unwrap()
            .is_empty());
    }

    // The SAML flags of issue #27 are stored as the admin API stores them.
    const MFA: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
    let created = json_of(&run(
        &db,
        &[
            "connection",
            "create",
            "--workspace",
            "acme",
            "--name",
            "strict",
            "--kind",
            "saml",
            "--force-authn",
            "--requested-authn-context",
            MFA,
            "--assertion-encryption",
            "required",
            "--sign-authn-requests",
        ],
    ));
    assert_eq!(created["status"], "draft");
    let strict = db.store.connection_by_name(workspace.id, "strict").unwrap();
    let config: serde_json::Value = serde_json::from_str(&strict.protocol_config).unwrap();
    assert_eq!(config["force_authn"], true);
    assert_eq!(config["requested_authn_context"], serde_json::json!([MFA]));
    assert_eq!(config["assertion_encryption"], "required");
    assert_eq!(config["sign_authn_requests"], true);
}

/// A log level that is no filter stops `config check` and `serve` with the key's name, instead
/// of a server that logs nothing.
#[test]
fn an_invalid_log_filter_is_refused_naming_the_key() {
    let db = TestStore::new();
    for command in [&["config", "check"][..], &["serve"][..], &["migrate"][..]] {
        let output = roster(&db)
            .env("ROSTER__LOG__LEVEL", "loud")
            .env("ROSTER__SERVER__BIND", process::free_loopback_addr())
            .args(command)
            .output()
            .unwrap();
        fails_with(&output, "log.level: \"loud\" in \"loud\" is not a level");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let output = roster(&db)
        .env("RUST_LOG", "info,loud")
        .args(["config", "check"])
        .output()
        .unwrap();
    fails_with(&output, "RUST_LOG: \"loud\"");
    let fine = json_of(
        &roster(&db)
            .env("ROSTER__LOG__LEVEL", "warn,roster_scim=debug")
            .args(["config", "check"])
            .output()
            .unwrap(),
    );
    assert_eq!(fine["log"]["level"], "warn,roster_scim=debug");
}

/// `config check` prints every key, with its value and the layer it came from.
#[test]
fn config_check_prints_every_key_with_its_source() {
    let db = TestStore::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster.toml");
    std::fs::write(
        &file,
        "[sso]\nsession_ttl_secs = 3600\n[server]\nbind = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let checked = json_of(
        &roster(&db)
            .env("ROSTER__SERVER__BIND", "127.0.0.1:7777")
            .env_remove("RUST_LOG")
            .args(["--config", file.to_str().unwrap(), "config", "check"])
            .output()
            .unwrap(),
    );
    assert_eq!(checked["config_file"], file.to_str().unwrap());
    let keys = checked["keys"].as_object().unwrap();
    let entry = |key: &str| keys.get(key).unwrap_or_else(|| panic!("no {key}")).clone();
    assert_eq!(
        entry("sso.session_ttl_secs"),
        serde_json::json!({"value": 3600, "source": "file"})
    );
    assert_eq!(
        entry("server.bind"),
        serde_json::json!({
            "value": "127.0.0.1:7777", "source": "environment", "variable": "ROSTER__SERVER__BIND"
        })
    );
    assert_eq!(
        entry("webhooks.enabled"),
        serde_json::json!({"value": true, "source": "default"})
    );
    assert_eq!(entry("server.workers")["value"], Value::Null);
    assert_eq!(entry("database.url")["source"], "environment");
    // Every key docs/configuration.md documents, and nothing else.
    let documented: std::collections::BTreeSet<String> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
    )
    .unwrap()
    .lines()
    .filter_map(|line| line.strip_prefix("| `"))
    .filter_map(|line| line.split_once('`').map(|(key, _)| key.to_owned()))
    .filter(|key| {
        key.contains('.')
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
    })
    .collect();
    let printed: std::collections::BTreeSet<String> = keys.keys().cloned().collect();
    assert_eq!(printed, documented);
}

/// A mistyped SQLite path is an error for every command but `migrate` and `serve`, which create
/// the database and say where.
#[test]
fn only_migrate_and_serve_create_a_sqlite_database() {
    let db = TestStore::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let url = format!("sqlite://{}", path.display());
    let with_url = |args: &[&str]| {
        roster(&db)
            .env("ROSTER__DATABASE__URL", &url)
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["workspace", "list"][..],
        &["config", "check"][..],
        &["export", "--workspace", "acme"][..],
        &["keys", "list"][..],
    ] {
        fails_with(
            &with_url(args),
            &format!("there is no SQLite database at {}", path.display()),
        );
        assert!(!path.exists(), "{args:?} created the database");
    }
    let migrated = with_url(&["migrate"]);
    json_of(&migrated);
    let log = String::from_utf8_lossy(&migrated.stderr);
    let line = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "creating a new SQLite database")
        .unwrap_or_else(|| panic!("no creation log line in {log}"));
    assert_eq!(line["path"], path.display().to_string());
    assert!(path.exists());
    assert_eq!(
        json_of(&with_url(&["workspace", "list"])),
        serde_json::json!([])
    );
    let again = with_url(&["migrate"]);
    json_of(&again);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("creating a new SQLite database"));
}

/// The webhook secret as the database holds it.
fn stored_webhook_secret(db: &TestStore) -> String {
    use diesel::prelude::*;
    use roster_store::schema::webhook_endpoints;
    db.read_rows(|conn| {
        Ok(webhook_endpoints::table
            .select(webhook_endpoints::secret)
            .first(conn)?)
    })
    .unwrap()
}

/// Stores the webhook secret in the clear, as a release before sealing did.
fn store_webhook_secret_unsealed(db: &TestStore, secret: &str) {
    use diesel::prelude::*;
    use roster_store::schema::webhook_endpoints;
    db.read_rows(|conn| {
        Ok(diesel::update(webhook_endpoints::table)
            .set(webhook_endpoints::secret.eq(secret))
            .execute(conn)?)
    })
    .unwrap();
}

#[test]
fn the_data_key_is_made_by_the_cli_masked_by_config_check_and_required_by_serve() {
    let db = TestStore::new();
    // `data-key generate` needs no database: base64 of 32 fresh bytes each time.
    let generate = || {
        let output = roster(&db)
            .env("ROSTER__DATABASE__URL", "sqlite:///nonexistent/roster.db")
            .args(["data-key", "generate"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let (first, second) = (generate(), generate());
    assert_ne!(first, second);
    assert!(roster_store::DataKey::parse(&first).is_ok(), "{first}");

    // `config check` says which key seals, never the key.
    let checked = roster(&db)
        .env("ROSTER__SECURITY__PREVIOUS_DATA_KEYS", &first)
        .args(["config", "check"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&checked.stdout).into_owned();
    let config = json_of(&checked);
    let key_id = roster_store::DataKey::parse(&db.data_key).unwrap();
    assert_eq!(config["security"]["data_key_id"], key_id.id());
    assert_eq!(config["keys"]["security.data_key"]["value"], "***");
    assert_eq!(config["warnings"], serde_json::json!([]));
    let keyless = json_of(
        &roster(&db)
            .env_remove("ROSTER__SECURITY__DATA_KEY")
            .args(["config", "check"])
            .output()
            .unwrap(),
    );
    assert_eq!(keyless["security"]["data_key_id"], Value::Null);
    assert!(
        keyless["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("security.data_key is not set: `roster serve` refuses to start"),
        "{keyless:#}"
    );
    assert_eq!(
        config["keys"]["security.previous_data_keys"]["value"],
        serde_json::json!(["***"])
    );
    assert!(!printed.contains(&db.data_key) && !printed.contains(&first));

    // A key that is no key stops every command, naming the setting and not echoing the value.
    let bad = roster(&db)
        .env("ROSTER__SECURITY__DATA_KEY", "hunter2-not-a-key")
        .args(["workspace", "list"])
        .output()
        .unwrap();
    fails_with(&bad, "security.data_key is not base64");
    assert!(!String::from_utf8_lossy(&bad.stderr).contains("hunter2"));

    // `serve` without a key refuses to start, and says how to make one.
    let keyless = roster(&db)
        .env_remove("ROSTER__SECURITY__DATA_KEY")
        .env("ROSTER__SERVER__BIND", process::free_loopback_addr())
        .arg("serve")
        .output()
        .unwrap();
    fails_with(&keyless, "security.data_key is not set");
    fails_with(&keyless, "roster data-key generate");

    // A secret stored in the clear (by a release before sealing) is sealed by `migrate` and by
    // `serve` at start, and still works.
    let workspace = db.workspace("acme");
    db.store
        .create_webhook(
            &roster_store::domain::Actor::Cli,
            workspace.id,
            roster_store::NewWebhook {
                url: "https://hooks.example.com/in",
                event_types: &[],
                workspaces: &[],
                secret: "whsec_plain",
            },
        )
        .unwrap();
    assert!(stored_webhook_secret(&db).starts_with("sealed:v1:"));
    store_webhook_secret_unsealed(&db, "whsec_plain");
    json_of(&cli(&db, "migrate"));
    let sealed = stored_webhook_secret(&db);
    assert!(
        sealed.starts_with(&format!("sealed:v1:{}:", key_id.id())),
        "{sealed}"
    );
    store_webhook_secret_unsealed(&db, "whsec_plain");
    let server = Server::start(&db);
    assert!(stored_webhook_secret(&db).starts_with("sealed:v1:"));
    drop(server);
    // With another key, what the first one sealed (the session key `serve` made) does not
    // open, and the error says what to configure; with the right key it does.
    let other_key = roster(&db)
        .env("ROSTER__SECURITY__DATA_KEY", &first)
        .args(["keys", "list"])
        .output()
        .unwrap();
    fails_with(&other_key, "security.previous_data_keys");
    json_of(&cli(&db, "keys list"));
}
