//! Session signing key rotation: `roster keys rotate` runs while the server serves, sessions
//! signed before it keep working, new logins get the new key, the JWKS lists both until the old
//! key's retirement window ends. The end of that window (hours away) is driven through
//! `Sessions::verify_at`/`jwks_at` on the same database instead of sleeping; the emergency
//! `--revoke-previous` ends old sessions on the running server. No IdP is involved (password
//! logins), so these tests always run.

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use pretty_assertions::assert_eq;
use roster_server::settings::Settings;
use roster_sso::session::{SessionError, SessionOptions, Sessions};
use roster_store::domain::Timestamp;
use serde_json::Value;

use crate::support::{password_login, password_user, SsoApp};

/// Runs the `roster` binary on the app's database; returns its stdout (it must succeed).
fn roster(app: &SsoApp, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .env("ROSTER__DATABASE__URL", &app.db.url)
        .env("ROSTER__SECURITY__DATA_KEY", &app.db.data_key)
        .env("ROSTER__LOG__FORMAT", "json")
        .env_remove("ROSTER_CONFIG")
        .current_dir(std::env::temp_dir())
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "roster {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// The session keys in the JWKS (which also publishes the OpenID Provider's keys).
fn jwks_kids(app: &SsoApp) -> Vec<String> {
    let reply = app.get("/.well-known/jwks.json", None);
    assert_eq!(reply.status, 200);
    let jwks: Value = serde_json::from_str(&reply.body).unwrap();
    let session_kids: Vec<String> = app
        .db
        .store
        .session_keys()
        .unwrap()
        .into_iter()
        .map(|key| key.kid)
        .collect();
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .filter(|kid| session_kids.contains(kid))
        .collect();
    kids.sort();
    kids
}

fn sorted(mut kids: Vec<&str>) -> Vec<String> {
    kids.sort_unstable();
    kids.into_iter().map(str::to_owned).collect()
}

/// Polls `check` for up to ten seconds (the server's key cache is one second here).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn login(app: &SsoApp) -> String {
    let (status, token, body) = password_login(app, "ops", "pw-123456");
    assert_eq!(status, 303, "{body}");
    token.unwrap()
}

#[test]
fn rotation_keeps_old_sessions_until_the_old_key_retires() {
    let mut settings = Settings::default();
    settings.sso.key_cache_secs = 1;
    let app = SsoApp::with_settings(settings);
    password_user(&app, "ops", "pw-123456", false);
    let store = &app.db.store;
    let old = login(&app);
    let first_kid = kid_of(&old);

    // A session that outlives the retirement window (signed while the lifetime was 24 hours),
    // so the refusal after the window is the key's doing, not the token's expiry.
    let long_lived = Sessions::new(
        store.clone(),
        app.url(),
        SessionOptions {
            ttl_seconds: 24 * 3600,
            key_cache: Duration::ZERO,
        },
    )
    .unwrap();
    let user = store.user_by_user_name(app.workspace.id, "ops").unwrap();
    let (long_token, _) = long_lived
        .issue(&app.workspace, &user, vec![], "password")
        .unwrap();
    assert_eq!(kid_of(&long_token), first_kid);

    let rotated: Value = serde_json::from_str(&roster(&app, &["keys", "rotate"])).unwrap();
    assert_eq!(rotated["retired_kid"], first_kid.as_str());
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, first_kid);
    let until =
        Timestamp::parse_rfc3339(rotated["previous_keys_valid_until"].as_str().unwrap()).unwrap();
    let window = until.as_micros() - Timestamp::now().as_micros();
    assert!(
        (8 * 3600 * 1_000_000..8 * 3600 * 1_000_000 + 60_000_000).contains(&window),
        "the old key verifies for the session lifetime plus the key cache time: {rotated}"
    );

    // The server picks the rotation up while it runs: the old session still works, a new login
    // gets the new key, and the JWKS lists both.
    assert_eq!(app.me(&old).0, 200);
    let mut new = String::new();
    eventually("a login signed by the new key", || {
        new = login(&app);
        kid_of(&new) == new_kid
    });
    assert_eq!(app.me(&new).0, 200);
    assert_eq!(app.me(&old).0, 200);
    assert_eq!(jwks_kids(&app), sorted(vec![&first_kid, &new_kid]));

    // `keys list`: status of each key and never any private material.
    let listed_text = roster(&app, &["keys", "list"]);
    let listed: Value = serde_json::from_str(&listed_text).unwrap();
    let statuses: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (new_kid.as_str(), "current"),
            (first_kid.as_str(), "retiring")
        ]
    );
    for key in listed.as_array().unwrap() {
        let mut fields: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            vec![
                "algorithm",
                "created_at",
                "kid",
                "retired_at",
                "status",
                "valid_until"
            ]
        );
    }
    assert!(!listed_text.contains("PRIVATE"));
    for record in store.session_keys().unwrap() {
        for line in record
            .private_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
        {
            assert!(!listed_text.contains(line), "private key material listed");
        }
    }

    // The rotation is audited, without any key material.
    let audit = store.system_audit_events(5).unwrap();
    let event = audit
        .iter()
        .find(|e| e.action == "session_key.rotated")
        .unwrap();
    assert_eq!(
        (event.actor_kind.as_str(), event.target_id.as_str()),
        ("cli", new_kid.as_str())
    );
    let detail: Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(detail["retired_kids"], serde_json::json!([first_kid]));

    // Just before the window ends the old key still verifies; just after, it is gone from the
    // JWKS and refused, even for a token that has not expired.
    let sessions = Sessions::new(store.clone(), app.url(), SessionOptions::default()).unwrap();
    let before_end = until.plus_seconds(-1);
    let after_end = until.plus_seconds(1);
    assert!(sessions.verify_at(&long_token, before_end).is_ok());
    let published = |at: Timestamp| -> Vec<String> {
        let mut kids: Vec<String> = sessions.jwks_at(at).unwrap()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    };
    assert_eq!(published(before_end), sorted(vec![&first_kid, &new_kid]));
    assert!(matches!(
        sessions.verify_at(&long_token, after_end),
        Err(SessionError::Invalid(_))
    ));
    assert_eq!(published(after_end), vec![new_kid.clone()]);
}

#[test]
fn revoke_previous_ends_old_sessions_on_the_running_server_and_logout_is_never_cached() {
    let mut settings = Settings::default();
    settings.sso.key_cache_secs = 1;
    let app = SsoApp::with_settings(settings);
    password_user(&app, "ops", "pw-123456", false);
    let old = login(&app);
    let old_kid = kid_of(&old);

    let rotated: Value =
        serde_json::from_str(&roster(&app, &["keys", "rotate", "--revoke-previous"])).unwrap();
    assert_eq!(rotated["retired_kid"], old_kid.as_str());
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    eventually("the old session to be refused", || app.me(&old).0 == 401);
    assert_eq!(jwks_kids(&app), vec![new_kid.clone()]);
    let listed: Value = serde_json::from_str(&roster(&app, &["keys", "list"])).unwrap();
    assert_eq!(listed[1]["status"], "expired");
    // The private half of an expired key is erased.
    let expired = app
        .db
        .store
        .session_keys()
        .unwrap()
        .into_iter()
        .find(|k| k.kid == old_kid)
        .unwrap();
    assert!(expired.private_pem.is_empty());

    // A logout ends its session at once: revocations are never cached.
    let session = login(&app);
    assert_eq!(kid_of(&session), new_kid);
    assert_eq!(app.me(&session).0, 200);
    let reply = app.post_form("/logout", &[], Some(&format!("roster_session={session}")));
    assert_eq!(reply.status, 303);
    assert_eq!(app.me(&session).0, 401);
}

#[test]
fn keys_come_from_the_cache_an_unknown_kid_reloads_them_and_revocations_are_live() {
    let app = SsoApp::new();
    password_user(&app, "ops", "pw-123456", false);
    let store = &app.db.store;
    let user = store.user_by_user_name(app.workspace.id, "ops").unwrap();
    let options = |key_cache| SessionOptions {
        ttl_seconds: 3600,
        key_cache,
    };
    let cached =
        Sessions::new(store.clone(), app.url(), options(Duration::from_secs(3600))).unwrap();
    let (token, _) = cached
        .issue(&app.workspace, &user, vec![], "password")
        .unwrap();
    assert!(cached.verify(&token).is_ok());

    // The key ends in the database; this replica verifies from its parsed copy until the cache
    // expires (no key query per verification), a replica without a copy refuses at once.
    roster_sso::session::rotate_keys(
        store,
        &roster_store::domain::Actor::Cli,
        &SessionOptions::default(),
        Timestamp::now(),
        true,
    )
    .unwrap();
    assert!(cached.verify(&token).is_ok(), "served from the key cache");
    let uncached = Sessions::new(store.clone(), app.url(), options(Duration::ZERO)).unwrap();
    assert!(matches!(
        uncached.verify(&token),
        Err(SessionError::Invalid(_))
    ));

    // A token signed by a key the cache does not know yet reloads the keys at once.
    let (newer, claims) = uncached
        .issue(&app.workspace, &user, vec![], "password")
        .unwrap();
    assert!(
        cached.verify(&newer).is_ok(),
        "an unknown kid reloads the keys"
    );
    assert!(
        cached.verify(&token).is_err(),
        "the reload saw the old key end"
    );

    // Revocations are read on every verification.
    cached.revoke(&claims).unwrap();
    assert!(matches!(cached.verify(&newer), Err(SessionError::Ended)));
}
