//! `roster app ...`: registering products with Roster's OpenID Provider, driven as scripts drive
//! it — the real `roster` binary on a real database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`).

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use pretty_assertions::assert_eq;
use roster_store::domain::{SecretToken, Timestamp};
use roster_store::schema::{audit_events, oauth_apps};
use roster_store::testing::TestStore;
use roster_store::{DatabaseUrl, DbConnection};
use serde_json::{json, Value};

#[path = "common/process.rs"]
mod process;

use process::{cli, fails_with, json_of, run};

fn keys_of(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn app_list(db: &TestStore) -> Vec<Value> {
    json_of(&cli(db, "app list")).as_array().unwrap().clone()
}

/// An app row's secret columns: hash, hint, previous hash.
type StoredSecrets = (Option<String>, Option<String>, Option<String>);

/// Proves no secret was stored: every app row and audit entry read back through the database
/// (both backends) holds none of `secrets` and the current one only as its SHA-256; on SQLite,
/// no byte of the database files (WAL included) holds any of them either.
fn assert_never_stored(db: &TestStore, secrets: &[&str], current: &str) {
    let target = DatabaseUrl::parse(&db.url).unwrap().target;
    let mut conn = DbConnection::establish(&target).unwrap();
    let rows: Vec<StoredSecrets> = oauth_apps::table
        .select((
            oauth_apps::secret_hash,
            oauth_apps::secret_hint,
            oauth_apps::previous_secret_hash,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        rows[0].0.as_deref(),
        Some(SecretToken::from_presented(current).hash().0.as_str())
    );
    let details: Vec<String> = audit_events::table
        .select(audit_events::detail)
        .load(&mut conn)
        .unwrap();
    let stored = format!("{rows:?} {details:?}");
    for secret in secrets {
        assert!(!stored.contains(secret), "a secret is stored in plaintext");
    }
    if target.ends_with(".db") {
        let dir = std::path::Path::new(&target).parent().unwrap();
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            for secret in secrets {
                assert!(
                    !bytes
                        .windows(secret.len())
                        .any(|window| window == secret.as_bytes()),
                    "a secret is in the database files"
                );
            }
        }
    }
}

#[test]
fn app_commands_print_their_contract_and_never_show_a_secret_twice() {
    let db = TestStore::new();
    let created = json_of(&run(
        &db,
        &[
            "app",
            "create",
            "--name",
            "Data Catalog",
            "--redirect-uri",
            "https://catalog.example/oidc/callback",
            "--redirect-uri",
            "http://127.0.0.1:3000/callback",
            "--post-logout-redirect-uri",
            "https://catalog.example/signed-out",
            "--backchannel-logout-uri",
            "https://catalog.example/oidc/backchannel",
        ],
    ));
    assert_eq!(
        keys_of(&created),
        [
            "backchannel_logout_uri",
            "client_id",
            "client_secret",
            "id_token_alg",
            "name",
            "post_logout_redirect_uris",
            "redirect_uris",
            "token_endpoint_auth_method",
        ]
    );
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let first_secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(first_secret.starts_with("rscs_") && first_secret.len() == 48);
    assert_eq!(created["name"], "Data Catalog");
    assert_eq!(
        created["redirect_uris"],
        json!([
            "https://catalog.example/oidc/callback",
            "http://127.0.0.1:3000/callback"
        ])
    );
    assert_eq!(
        created["post_logout_redirect_uris"],
        json!(["https://catalog.example/signed-out"])
    );
    assert_eq!(
        created["backchannel_logout_uri"],
        "https://catalog.example/oidc/backchannel"
    );
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created["id_token_alg"], "RS256", "RS256 unless asked");
    // The secret works.
    db.store
        .authenticate_oauth_client(&client_id, &first_secret, Timestamp::now())
        .unwrap();

    // show and list: the same registration, a hint of the secret, never the secret.
    let show_output = run(&db, &["app", "show", &client_id]);
    let shown = json_of(&show_output);
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("client_secret");
    for key in keys_of(&expected) {
        assert_eq!(shown[key], expected[key], "{key}");
    }
    assert_eq!(
        shown["client_secret_hint"].as_str(),
        Some(&*format!("{}…", &first_secret[..9]))
    );
    assert_eq!(shown["previous_secret_valid_until"], Value::Null);
    assert!(shown["created_at"].as_str().is_some());
    let listed = app_list(&db);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], shown);
    let list_output = cli(&db, "app list");
    for output in [&show_output, &list_output] {
        assert!(!String::from_utf8_lossy(&output.stdout).contains(&first_secret));
    }

    // rotate-secret: a new secret once; the previous one works for 24 hours.
    let before = Timestamp::now();
    let rotated = json_of(&run(&db, &["app", "rotate-secret", &client_id]));
    assert_eq!(
        keys_of(&rotated),
        ["client_id", "client_secret", "previous_secret_valid_until"]
    );
    let second_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(second_secret, first_secret);
    let until =
        Timestamp::parse_rfc3339(rotated["previous_secret_valid_until"].as_str().unwrap()).unwrap();
    let grace = (until.as_micros() - before.as_micros()) / 1_000_000;
    assert!((86_390..=86_410).contains(&grace), "grace of {grace} s");
    // The printed time has millisecond precision; the grace ends at the stored instant.
    let until = db
        .store
        .oauth_app(&client_id)
        .unwrap()
        .previous_secret_until
        .unwrap();
    for (secret, at, accepted) in [
        (&first_secret, before, true),
        (&first_secret, until.plus_seconds(-1), true),
        (&first_secret, until, false),
        (&second_secret, until, true),
    ] {
        assert_eq!(
            db.store
                .authenticate_oauth_client(&client_id, secret, at)
                .is_ok(),
            accepted,
            "{secret:.9} at {at:?}"
        );
    }
    let shown = json_of(&run(&db, &["app", "show", &client_id]));
    assert_eq!(
        shown["previous_secret_valid_until"],
        rotated["previous_secret_valid_until"]
    );
    let after_rotation = [run(&db, &["app", "show", &client_id]), cli(&db, "app list")];
    for output in &after_rotation {
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(!text.contains(&first_secret) && !text.contains(&second_secret));
    }

    // After a leak: the previous secret ends at once.
    let revoked = json_of(&run(
        &db,
        &["app", "rotate-secret", &client_id, "--revoke-previous"],
    ));
    let third_secret = revoked["client_secret"].as_str().unwrap().to_owned();
    let now = Timestamp::now();
    assert!(db
        .store
        .authenticate_oauth_client(&client_id, &second_secret, now)
        .is_err());
    assert!(db
        .store
        .authenticate_oauth_client(&client_id, &third_secret, now)
        .is_ok());
    assert_never_stored(
        &db,
        &[&first_secret, &second_secret, &third_secret],
        &third_secret,
    );

    // delete: gone at once, with a record of what went.
    let deleted = json_of(&run(&db, &["app", "delete", &client_id]));
    assert_eq!(
        deleted,
        json!({ "deleted": client_id, "name": "Data Catalog", "live_grants_ended": 0 })
    );
    assert!(app_list(&db).is_empty());
    fails_with(
        &run(&db, &["app", "show", &client_id]),
        &format!("no app with client_id \"{client_id}\""),
    );
    fails_with(
        &run(&db, &["app", "delete", &client_id]),
        "no app with client_id",
    );
    fails_with(
        &run(&db, &["app", "rotate-secret", &client_id]),
        "no app with client_id",
    );
    let actions: Vec<String> = db
        .store
        .system_audit_events(100)
        .unwrap()
        .into_iter()
        .rev()
        .map(|event| event.action)
        .collect();
    assert_eq!(
        actions,
        [
            "oauth_app.created",
            "oauth_app.secret_rotated",
            "oauth_app.secret_rotated",
            "oauth_app.deleted"
        ]
    );
}

#[test]
fn a_public_app_has_no_secret_and_may_ask_for_es256() {
    let db = TestStore::new();
    let created = json_of(&cli(&db, "app create --name Desktop --redirect-uri http://[::1]/callback --public --id-token-alg ES256"));
    assert!(created.get("client_secret").is_none(), "{created:#}");
    assert_eq!(created["token_endpoint_auth_method"], "none");
    assert_eq!(created["id_token_alg"], "ES256");
    assert_eq!(created["backchannel_logout_uri"], Value::Null);
    assert_eq!(created["post_logout_redirect_uris"], json!([]));
    let client_id = created["client_id"].as_str().unwrap();
    fails_with(
        &run(&db, &["app", "rotate-secret", client_id]),
        "a public app has no client secret",
    );
    assert_eq!(app_list(&db)[0]["client_secret_hint"], Value::Null);
    assert_eq!(db.store.system_audit_events(100).unwrap().len(), 1);
}

/// OP05: what `app create` refuses, with the reason, writing nothing.
#[test]
fn dangerous_or_ambiguous_uris_are_refused_and_nothing_is_written() {
    let db = TestStore::new();
    let create = |flag: &str, uri: &str| {
        let mut args = vec!["app", "create", "--name", "Evil"];
        if flag != "--redirect-uri" {
            args.extend(["--redirect-uri", "https://app.example/cb"]);
        }
        args.extend([flag, uri]);
        run(&db, &args)
    };
    for (flag, uri, reason) in [
        (
            "--redirect-uri",
            "javascript:alert(1)",
            "javascript:, data:",
        ),
        (
            "--redirect-uri",
            "JaVaScRiPt:alert(1)",
            "javascript:, data:",
        ),
        (
            "--redirect-uri",
            "data:text/html,<script>",
            "javascript:, data:",
        ),
        ("--redirect-uri", "https://app.example/cb#top", "fragment"),
        (
            "--redirect-uri",
            "https://good@evil.example/cb",
            "user name or password",
        ),
        ("--redirect-uri", "http://app.example/cb", "must use https"),
        (
            "--redirect-uri",
            "http://localhost:3000/cb",
            "instead of localhost",
        ),
        ("--redirect-uri", "https://*.app.example/cb", "wildcards"),
        (
            "--redirect-uri",
            "https://App.example/cb",
            "canonical form: https://app.example/cb",
        ),
        (
            "--post-logout-redirect-uri",
            "DATA:text/html,x",
            "javascript:, data:",
        ),
        (
            "--post-logout-redirect-uri",
            "https://app.example/bye#x",
            "fragment",
        ),
        (
            "--backchannel-logout-uri",
            "https://u:p@app.example/bcl",
            "user name or password",
        ),
    ] {
        fails_with(&create(flag, uri), reason);
    }
    let twice = "https://app.example/cb";
    let args = [
        "app",
        "create",
        "--name",
        "Twice",
        "--redirect-uri",
        twice,
        "--redirect-uri",
        twice,
    ];
    fails_with(&run(&db, &args), "listed twice");
    let missing = run(&db, &["app", "create", "--name", "No redirect"]);
    assert_eq!(missing.status.code(), Some(2), "a usage error");
    assert!(app_list(&db).is_empty());
    assert!(db.store.system_audit_events(100).unwrap().is_empty());
}
