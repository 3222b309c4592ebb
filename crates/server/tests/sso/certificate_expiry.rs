//! IdP signing certificates that expire: a SAML connection whose IdP certificate expires in two
//! days gets one `connection.certificate_expiring` warning (7 days: the nearest threshold it has
//! passed), not a second on the next pass, and the "expired" one once the day comes; the expiry
//! is the `roster_saml_certificate_expiry_timestamp_seconds` gauge. The certificates are real
//! (the `openssl` CLI makes them), so the expiry read is X.509's notAfter.

use pretty_assertions::assert_eq;
use roster_store::domain::Timestamp;

use crate::saml_exhaustion::{saml_connection, Key};
use crate::support::SsoApp;

#[test]
fn an_expiring_idp_certificate_is_warned_about_once_per_threshold_and_measured() {
    let app = SsoApp::new();
    let store = &app.db.store;
    let idp = Key::new("/CN=expiring-idp");
    let connection = saml_connection(&app.db, &app.workspace, &idp);
    let warnings = || {
        store
            .events(
                app.workspace.id,
                0,
                1000,
                &["connection.certificate_expiring".to_owned()],
            )
            .unwrap()
    };

    let now = Timestamp::now();
    assert_eq!(
        roster_server::certificate_checks::warn_due(store, now).unwrap(),
        1
    );
    let given = warnings();
    assert_eq!(given.len(), 1);
    let resource: serde_json::Value = serde_json::from_str(&given[0].resource).unwrap();
    assert_eq!(resource["id"], connection.id.to_string());
    assert_eq!(resource["certificate"]["use"], "signing");
    assert_eq!(resource["certificate"]["daysLeft"], 7);
    // The next pass (another replica, a restart) gives nothing again.
    assert_eq!(
        roster_server::certificate_checks::warn_due(store, now).unwrap(),
        0
    );
    assert_eq!(warnings().len(), 1);
    // Two days on, a day left and then expired: one warning each.
    let tomorrow = now.plus_seconds(86_400 + 3_600);
    assert_eq!(
        roster_server::certificate_checks::warn_due(store, tomorrow).unwrap(),
        1
    );
    let later = now.plus_seconds(3 * 86_400);
    assert_eq!(
        roster_server::certificate_checks::warn_due(store, later).unwrap(),
        1
    );
    let days: Vec<i64> = warnings()
        .iter()
        .map(|event| {
            let resource: serde_json::Value = serde_json::from_str(&event.resource).unwrap();
            resource["certificate"]["daysLeft"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(days, [7, 1, 0]);

    // The gauge: about two days from now, in Unix seconds.
    let metrics = app.get("/metrics", None);
    let line = metrics
        .body
        .lines()
        .find(|line| {
            line.starts_with("roster_saml_certificate_expiry_timestamp_seconds{")
                && line.contains(&connection.id.to_string())
        })
        .unwrap_or_else(|| panic!("no expiry gauge for the connection:\n{}", metrics.body));
    assert!(line.contains("use=\"signing\""), "{line}");
    let value: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let expected = now.as_micros() / 1_000_000 + 2 * 86_400;
    assert!(
        (value - expected).abs() < 600,
        "{line}: want about {expected}"
    );
}

/// The connection's own keys are watched too: an operator's encryption certificate that
/// expires in five days (imported with `roster connection keys rotate --key-file`, the
/// generated one retired) is warned about as `sp_encryption`, and both SP keys are gauges.
#[test]
fn an_expiring_sp_key_is_warned_about_and_measured() {
    use crate::process::{json_of, run};
    let app = SsoApp::new();
    let store = &app.db.store;
    let idp = Key::new("/CN=long-lived-idp");
    let connection = saml_connection(&app.db, &app.workspace, &idp);
    let dir = tempfile::tempdir().unwrap();
    let (key_file, cert_file) =
        crate::saml_encryption::own_key_files(dir.path(), "operator-sp-key", 5);
    let arg = |path: &std::path::Path| path.to_str().unwrap().to_owned();
    let rotated = json_of(&run(
        &app.db,
        &[
            "connection",
            "keys",
            "rotate",
            "--workspace",
            "acme",
            connection.name.as_ref(),
            "--use",
            "encryption",
            "--key-file",
            &arg(&key_file),
            "--cert-file",
            &arg(&cert_file),
        ],
    ));
    let keys = rotated["keys"].as_array().unwrap();
    let generated = keys
        .iter()
        .find(|key| key["use"] == "encryption" && key["id"] != rotated["added"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::saml_encryption::retire_key(&app.db, connection.name.as_ref(), &generated);

    let now = Timestamp::now();
    roster_server::certificate_checks::warn_due(store, now).unwrap();
    let warnings = store
        .events(
            app.workspace.id,
            0,
            1000,
            &["connection.certificate_expiring".to_owned()],
        )
        .unwrap();
    let uses: Vec<(String, i64)> = warnings
        .iter()
        .map(|event| {
            let resource: serde_json::Value = serde_json::from_str(&event.resource).unwrap();
            (
                resource["certificate"]["use"].as_str().unwrap().to_owned(),
                resource["certificate"]["daysLeft"].as_i64().unwrap(),
            )
        })
        .collect();
    // (The throw-away IdP certificate expires in two days: its own warning, tested above.)
    let sp_uses: Vec<_> = uses.iter().filter(|(u, _)| u != "signing").collect();
    assert_eq!(sp_uses, [&("sp_encryption".to_owned(), 7)]);

    let metrics = app.get("/metrics", None).body;
    let gauge = |certificate_use: &str| -> i64 {
        metrics
            .lines()
            .find(|line| {
                line.starts_with("roster_saml_certificate_expiry_timestamp_seconds{")
                    && line.contains(&connection.id.to_string())
                    && line.contains(&format!("use=\"{certificate_use}\""))
            })
            .unwrap_or_else(|| panic!("no {certificate_use} gauge:\n{metrics}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let from_now = |value: i64| value - now.as_micros() / 1_000_000;
    let five_days = from_now(gauge("sp_encryption")) - 5 * 86_400;
    assert!(
        five_days.abs() <= 60,
        "openssl's five days: {five_days} s off"
    );
    assert!(
        from_now(gauge("sp_signing")) > 4 * 365 * 86_400,
        "the generated signing key: five years"
    );
}
