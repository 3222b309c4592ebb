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
