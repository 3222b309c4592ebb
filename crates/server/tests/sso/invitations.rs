//! Admin invitations, the SSO way, through a real OpenID Provider (panva's oidc-provider): the
//! invitee presses "Sign in with SSO", signs in at their IdP as the invited email and lands in
//! the console as an admin; the link is then used. Someone who signs in as another person gets
//! no admin role and leaves the invitation open. The invitation's token rides in a cookie scoped
//! to `/invitations`, never through the IdP. (The password way: `scim/invitations.rs`.)

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Email, UserId};

use crate::browser::{agent, cookie_set_by};
use crate::idps::{browser, OidcOptions};
use crate::oidc::oidc_app;
use crate::support::{e2e_enabled, SsoApp};

/// Presses "Sign in with SSO" on the invitation's page like a browser whose cookie jar is
/// `jar`: returns where it is sent (the SSO login), with the invitation cookie stored in the jar.
fn press_sign_in_with_sso(app: &SsoApp, token: &str, jar: &std::path::Path) -> String {
    let response = agent()
        .post(&format!("{}/invitations/{token}/sso", app.url()))
        .send_empty()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/sso/acme/login?email="), "{location}");
    assert!(
        !location.contains(token),
        "the token must not travel to the IdP"
    );
    let cookie = cookie_set_by(&response, "roster_invitation").expect("the invitation cookie");
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("roster_invitation="))
        .unwrap();
    assert!(set_cookie.contains("Path=/invitations") && set_cookie.contains("HttpOnly"));
    let host = app
        .url()
        .split("://")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(
        jar,
        serde_json::json!([{
            "name": "roster_invitation", "value": cookie, "domain": host,
            "path": "/invitations", "host_only": true, "secure": false, "expires": null
        }])
        .to_string(),
    )
    .unwrap();
    format!("{}{location}", app.url())
}

fn is_admin(app: &SsoApp, user: UserId) -> bool {
    let store = &app.db.store;
    store
        .effective_roles(&store.workspace(app.workspace.id).unwrap(), user)
        .unwrap()
        .roles
        .iter()
        .any(|r| r.as_str() == "admin")
}

#[test]
fn an_invitee_becomes_admin_by_signing_in_with_sso_as_the_invited_email() {
    if !e2e_enabled() {
        return;
    }
    let (app, _connection, _op) = oidc_app(OidcOptions::default(), &["example.test"]);
    let store = &app.db.store;
    let invite = |email: &str| {
        let (_, token) = store
            .create_admin_invitation(
                &Actor::Cli,
                app.workspace.id,
                Email::parse(email).unwrap(),
                3600,
            )
            .unwrap();
        token.expose().to_owned()
    };

    // Bob holds Alice's invitation: he signs in as himself, gets nothing, and the invitation
    // stays open.
    let for_alice = invite("alice@example.test");
    let jar = app.jar("bob");
    let start = press_sign_in_with_sso(&app, &for_alice, &jar);
    let outcome = browser(&start, Some(("bob", "bob-password")), None, &jar);
    assert_eq!(outcome.json["status"], 403, "{}", outcome.json);
    let body = outcome.json["body"].as_str().unwrap_or_default();
    assert!(body.contains("other_email"), "{body}");
    let bob = store.user_by_user_name(app.workspace.id, "bob").unwrap();
    assert!(!is_admin(&app, bob.id));
    assert!(store.admin_invitations(app.workspace.id).unwrap()[0]
        .accepted_at
        .is_none());

    // Alice signs in as herself: admin, the console opens, the invitation is used.
    let jar = app.jar("alice");
    let start = press_sign_in_with_sso(&app, &for_alice, &jar);
    let outcome = browser(&start, Some(("alice", "alice-password")), None, &jar);
    assert_eq!(outcome.exit_code, 0, "{}", outcome.json);
    let url = outcome.json["url"].as_str().unwrap_or_default();
    assert!(url.ends_with("/admin"), "{}", outcome.json);
    let alice = store.user_by_user_name(app.workspace.id, "alice").unwrap();
    assert!(is_admin(&app, alice.id));
    let invitation = &store.admin_invitations(app.workspace.id).unwrap()[0];
    assert_eq!(invitation.accepted_by, Some(format!("user:{}", alice.id)));
    // The link is spent: pressing again is refused.
    let again = agent()
        .post(&format!("{}/invitations/{for_alice}/sso", app.url()))
        .send_empty()
        .unwrap();
    assert_eq!(again.status().as_u16(), 410);
}
