//! TEMPORARY, until `/oauth2/authorize` and back-channel delivery are merged: the login stops
//! at Roster's authorize URL, a code bound to what the product sent is issued through the store,
//! and the browser goes on at the product's callback; a deactivation's logout token is minted
//! by the test and posted as Roster will.

use std::path::Path;
use std::time::Duration;

use roster_provider::keys::ProviderKeys;
use roster_provider::tokens::{mint_logout_token, LogoutTokenInput};
use roster_store::domain::{Actor, Timestamp};
use roster_store::{CodeBinding, NewOAuthGrant, SigningAlg};
use serde_json::Value;

use crate::idps::browser;
use crate::{Product, Roster, Workspace};

pub fn authorize_live(roster: &Roster) -> bool {
    crate::agent()
        .get(&format!("{}/oauth2/authorize", roster.url))
        .call()
        .unwrap()
        .status()
        != 404
}

fn code_for(roster: &Roster, workspace: &Workspace, client_id: &str, params: &Value) -> String {
    let scope = params["scope"].as_str().unwrap();
    let (_, code) = roster
        .db
        .store
        .issue_authorization_code(
            &Actor::System,
            &NewOAuthGrant {
                client_id: client_id.to_owned(),
                workspace_id: workspace.id.parse().unwrap(),
                user_id: workspace.user_id.parse().unwrap(),
                connection_id: Some(workspace.connection_id.clone()),
                session_id: Some("interim-session".to_owned()),
                sid: "interim-sid".to_owned(),
                scope: scope.to_owned(),
                offline: scope.split(' ').any(|s| s == "offline_access"),
                auth_time: Timestamp::now(),
                amr: vec!["pwd".to_owned()],
            },
            &CodeBinding {
                redirect_uri: params["redirect_uri"].as_str().unwrap().to_owned(),
                code_challenge: params["code_challenge"].as_str().map(str::to_owned),
                nonce: params["nonce"].as_str().map(str::to_owned),
            },
            Timestamp::now(),
        )
        .unwrap();
    code.expose().to_owned()
}

/// The browser run that ends at the product's callback with a store-issued code.
pub fn sign_in(
    roster: &Roster,
    workspace: &Workspace,
    start: &str,
    jar: &Path,
) -> crate::idps::BrowserOutcome {
    let stopped = browser(
        start,
        None,
        Some(&format!("{}/oauth2/authorize", roster.url)),
        jar,
    );
    assert_eq!(stopped.exit_code, 0, "{:#}", stopped.json);
    let params = &stopped.json["params"];
    let code = code_for(
        roster,
        workspace,
        params["client_id"].as_str().unwrap(),
        params,
    );
    let callback = format!(
        "{}?code={code}&state={}&iss={}",
        params["redirect_uri"].as_str().unwrap(),
        crate::urlencode(params["state"].as_str().unwrap()),
        crate::urlencode(&roster.url),
    );
    browser(&callback, None, None, jar)
}

/// A code for the test's own grant.
pub fn own_code(roster: &Roster, workspace: &Workspace, product: &Product) -> String {
    let params = serde_json::json!({
        "scope": "openid offline_access",
        "redirect_uri": format!("{}/callback", product.url),
        "code_challenge": crate::CHALLENGE,
    });
    code_for(roster, workspace, &product.client_id, &params)
}

/// What Roster's delivery will post after the deactivation.
pub fn deliver_logout(roster: &Roster, workspace: &Workspace, product: &Product) {
    let key = ProviderKeys::new(roster.db.store.clone(), Duration::ZERO)
        .signing_key(SigningAlg::Rs256, Timestamp::now())
        .unwrap();
    let (token, _) = mint_logout_token(
        &LogoutTokenInput {
            issuer: &roster.url,
            client_id: &product.client_id,
            sub: &workspace.user_id,
            sid: Some("interim-sid"),
        },
        &key,
        Timestamp::now(),
    )
    .unwrap();
    let (status, body) = product.backchannel_logout(&token);
    assert_eq!(status, 200, "{body:#}");
}
