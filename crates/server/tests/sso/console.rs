//! The admin console in a real browser (Debian's headless Chromium, driven by
//! `e2e/console/drive.mjs` with playwright-core): an admin signs in with a password, creates a
//! SAML connection from SimpleSAMLphp's metadata URL, tests it, turns SCIM on, generates a token,
//! provisions a user through SCIM with it, sees the user and the sync status, adds a mapping and
//! revokes the token. The script fails on any page error or CSP violation; this test then checks
//! the database agrees with what the page showed. Screenshots of every main page are left in
//! `<target>/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use pretty_assertions::assert_eq;
use roster_store::domain::{ConnectionKind, Source, UserName};
use serde_json::Value;

use crate::idps::SamlIdp;
use crate::support::{e2e_enabled, password_user, SsoApp};

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/console")
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("console-screenshots")
}

#[test]
fn an_admin_sets_up_sso_and_scim_in_the_console() {
    if !e2e_enabled() {
        return;
    }
    let app = SsoApp::new();
    password_user(&app, "root-admin", "console-pw-123", true);
    // The IdP only has to serve its metadata here; no login goes through it.
    let idp = SamlIdp::start("urn:roster:console-test", "http://127.0.0.1:1/acs");
    let shots = screenshots_dir();
    let _ = std::fs::remove_dir_all(&shots);

    let output = Command::new("node")
        .arg(console_dir().join("drive.mjs"))
        .current_dir(console_dir())
        .env("BASE_URL", app.url())
        .env("WORKSPACE", "acme")
        .env("ADMIN_USER", "root-admin")
        .env("ADMIN_PASSWORD", "console-pw-123")
        .env("SAML_METADATA_URL", idp.metadata_url())
        .env("SCREENSHOTS", &shots)
        .output()
        .expect("node runs e2e/console/drive.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let seen: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no result from the driver\n{stdout}\n{stderr}"));
    assert!(
        output.status.success(),
        "the console run failed: {:#}\n{stderr}",
        seen["problems"]
    );

    // What the page showed…
    assert_eq!(
        seen["signedIn"].as_str().unwrap(),
        "Signed in with a password · Sign out"
    );
    assert_eq!(seen["testSummary"], "All checks passed.");
    assert_eq!(seen["provisionStatus"], 201);
    assert_eq!(seen["provisionedUsers"], "1");
    assert_ne!(seen["lastSync"], "never");
    assert_eq!(seen["afterRevokeStatus"], 401);
    assert_eq!(seen["scimBaseUrl"], format!("{}/scim/v2", app.url()));

    // …is what the database holds.
    let store = &app.db.store;
    let connections = store.list_connections(app.workspace.id).unwrap();
    assert_eq!(connections.len(), 1);
    let connection = &connections[0];
    assert_eq!(connection.kind, ConnectionKind::Saml);
    assert!(connection.scim_enabled);
    assert_eq!(
        seen["acsUrl"],
        format!("{}/sso/saml/{}/acs", app.url(), connection.id)
    );
    assert!(connection.protocol_config.contains(&idp.metadata_url()));
    assert!(store
        .list_scim_tokens(app.workspace.id, connection.id)
        .unwrap()
        .is_empty());
    let user = store
        .user_by_user_name(app.workspace.id, "grace@example.test")
        .unwrap();
    assert_eq!(user.id.to_string(), seen["userId"].as_str().unwrap());
    assert_eq!(user.source, Source::Scim);
    assert_eq!(
        user.user_name,
        UserName::parse("grace@example.test").unwrap()
    );
    let mappings = store.list_mappings(app.workspace.id).unwrap();
    assert_eq!(mappings.len(), 1);
    assert_eq!(mappings[0].idp_group_name.as_deref(), Some("Engineering"));
    assert_eq!(mappings[0].connection_id, connection.id);

    for page in [
        "01-sign-in",
        "02-overview",
        "03-connection-created",
        "05-scim-token",
        "06-users",
        "07-sync-status",
        "08-mappings",
        "09-token-revoked",
        "10-migration-planner",
    ] {
        let png = std::fs::read(shots.join(format!("{page}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{page} is a PNG screenshot");
    }
}
