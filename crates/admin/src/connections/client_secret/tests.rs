//! The rule as a table: (stored settings, proposed settings, secret sent?) -> outcome.

use pretty_assertions::assert_eq;
use roster_sso::oidc::{OidcConfig, TokenAuthMethod};

use super::*;

const ISSUER: &str = "https://idp.example.test/tenant";
const CLIENT: &str = "roster-app";
const BASIC: TokenAuthMethod = TokenAuthMethod::ClientSecretBasic;
const POST: TokenAuthMethod = TokenAuthMethod::ClientSecretPost;

fn stored() -> OidcConfig {
    serde_json::from_value(serde_json::json!({
        "issuer": ISSUER,
        "client_id": CLIENT,
        "client_secret": "stored-secret",
        "token_auth_method": "client_secret_basic",
    }))
    .unwrap()
}

/// The outcome as one readable string: `kept [..]`, `replaced [..]`, `refused [..]` or
/// `refused: none stored`.
fn outcome(current: Option<&OidcConfig>, proposed: Proposed<'_>) -> String {
    match decide(current, &proposed) {
        Ok(Change { changed, secret }) => format!(
            "{} [{}]",
            match secret {
                Secret::Kept => "kept",
                Secret::Replaced => "replaced",
            },
            names(&changed).join(", ")
        ),
        Err(SecretRequired::BindingChanged(fields)) => {
            format!("refused [{}]", names(&fields).join(", "))
        }
        Err(SecretRequired::NoneStored) => "refused: none stored".to_owned(),
    }
}

fn proposed<'a>(
    issuer: &'a str,
    client_id: &'a str,
    method: TokenAuthMethod,
    secret: Option<&'a str>,
) -> Proposed<'a> {
    Proposed {
        issuer,
        client_id,
        token_auth_method: method,
        client_secret: secret,
    }
}

#[test]
fn the_secret_stays_only_while_issuer_and_client_id_are_unchanged() {
    let current = stored();
    let cases: &[(&str, Proposed<'_>, &str)] = &[
        (
            "nothing changes",
            proposed(ISSUER, CLIENT, BASIC, None),
            "kept []",
        ),
        (
            "only how the secret is sent",
            proposed(ISSUER, CLIENT, POST, None),
            "kept [tokenAuthMethod]",
        ),
        (
            "a blank secret is no secret",
            proposed(ISSUER, CLIENT, BASIC, Some("  ")),
            "kept []",
        ),
        (
            "another issuer",
            proposed("https://evil.example.test/tenant", CLIENT, BASIC, None),
            "refused [issuer]",
        ),
        (
            "a trailing slash is another issuer",
            proposed("https://idp.example.test/tenant/", CLIENT, BASIC, None),
            "refused [issuer]",
        ),
        (
            "the issuer's case is not normalised",
            proposed("https://IDP.example.test/tenant", CLIENT, BASIC, None),
            "refused [issuer]",
        ),
        (
            "nor its surrounding whitespace",
            proposed(" https://idp.example.test/tenant", CLIENT, BASIC, None),
            "refused [issuer]",
        ),
        (
            "nor a default port",
            proposed("https://idp.example.test:443/tenant", CLIENT, BASIC, None),
            "refused [issuer]",
        ),
        (
            "another client id",
            proposed(ISSUER, "other-app", BASIC, None),
            "refused [clientId]",
        ),
        (
            "the client id's case counts",
            proposed(ISSUER, "Roster-App", BASIC, None),
            "refused [clientId]",
        ),
        (
            "both, and the method",
            proposed("https://evil.example.test", "x", POST, None),
            "refused [issuer, clientId]",
        ),
        (
            "another issuer with the secret",
            proposed(
                "https://new.example.test",
                CLIENT,
                BASIC,
                Some("new-secret"),
            ),
            "replaced [issuer]",
        ),
        (
            "everything new with the secret",
            proposed(
                "https://new.example.test",
                "new-app",
                POST,
                Some("new-secret"),
            ),
            "replaced [issuer, clientId, tokenAuthMethod]",
        ),
        (
            "a rotated secret, nothing else",
            proposed(ISSUER, CLIENT, BASIC, Some("rotated")),
            "replaced []",
        ),
    ];
    for (name, request, want) in cases {
        assert_eq!(outcome(Some(&current), *request), *want, "{name}");
    }
}

#[test]
fn without_stored_settings_the_secret_is_required() {
    assert_eq!(
        outcome(None, proposed(ISSUER, CLIENT, BASIC, None)),
        "refused: none stored"
    );
    assert_eq!(
        outcome(None, proposed(ISSUER, CLIENT, BASIC, Some(""))),
        "refused: none stored"
    );
    assert_eq!(
        outcome(None, proposed(ISSUER, CLIENT, BASIC, Some("s"))),
        "replaced [issuer, clientId, tokenAuthMethod]"
    );
}

#[test]
fn the_refusal_names_the_fields_and_asks_for_the_secret() {
    let message = SecretRequired::BindingChanged(vec![Field::Issuer, Field::ClientId]).message();
    assert_eq!(
        message,
        "oidc.clientSecret is required when the issuer or the client id changes \
         (changed: issuer, clientId): send the client secret again"
    );
    assert!(SecretRequired::NoneStored
        .message()
        .contains("oidc.clientSecret"));
}

#[test]
fn the_debug_form_never_shows_the_secret() {
    let shown = format!("{:?}", proposed(ISSUER, CLIENT, BASIC, Some("hunter2")));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("client_secret_sent: true"), "{shown}");
}
