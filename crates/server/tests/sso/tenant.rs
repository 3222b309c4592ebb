//! Session tokens of every workspace share one issuer, one audience and one key set, so a product
//! that checks only the signature, `iss` and `aud` accepts a session from *any* workspace —
//! including one an attacker made for themselves. docs/sso.md tells products to check `wid`
//! against their own tenant; this test shows why that check is the one that matters and keeps the
//! doc saying so. No IdP is involved, so it always runs.

use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::{password_login_in, password_user_in, SsoApp};

/// What a product does with the documented recipe, minus the tenant check: verify the signature
/// with the JWKS key the token names, the issuer and the audience. Returns the claims.
fn verify_like_a_product(jwks: &Value, issuer: &str, token: &str) -> Value {
    let kid = decode_header(token).unwrap().kid.unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["kid"] == kid.as_str())
            .cloned()
            .unwrap(),
    )
    .unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&["roster-session"]);
    decode::<Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[test]
fn only_the_wid_check_tells_a_product_s_tenant_from_an_attacker_s_workspace() {
    let app = SsoApp::new();
    let attacker_workspace = app.db.workspace("attacker");
    password_user_in(&app, app.workspace.id, "alice", "alice's password", false);
    password_user_in(
        &app,
        attacker_workspace.id,
        "mallory",
        "mallory's own",
        true,
    );

    let (status, ours, _) = password_login_in(&app, "acme", "alice", "alice's password");
    assert_eq!(status, 303);
    let (status, theirs, _) = password_login_in(&app, "attacker", "mallory", "mallory's own");
    assert_eq!(status, 303);

    let jwks: Value = serde_json::from_str(&app.get("/.well-known/jwks.json", None).body).unwrap();
    let issuer = app.url();
    let ours = verify_like_a_product(&jwks, &issuer, &ours.unwrap());
    let theirs = verify_like_a_product(&jwks, &issuer, &theirs.unwrap());

    // Signature, issuer and audience pass for both: they cannot keep tenants apart.
    assert_eq!(ours["iss"], theirs["iss"]);
    assert_eq!(ours["aud"], theirs["aud"]);
    // `wid` (and the slug in `workspace`) is what does.
    let product_tenant = app.workspace.id.to_string();
    assert_eq!(ours["wid"], product_tenant.as_str());
    assert_eq!(ours["workspace"], "acme");
    assert_eq!(theirs["wid"], attacker_workspace.id.to_string().as_str());
    assert_ne!(theirs["wid"], product_tenant.as_str());

    // And the doc a product developer reads says so, in the verification recipe and in the
    // security page.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sso = std::fs::read_to_string(root.join("docs/sso.md")).unwrap();
    assert!(
        sso.contains("must check `wid`"),
        "docs/sso.md must tell products to check `wid` against their own tenant"
    );
    let security = std::fs::read_to_string(root.join("docs/security.md")).unwrap();
    assert!(
        security
            .contains("only_the_wid_check_tells_a_product_s_tenant_from_an_attacker_s_workspace"),
        "docs/security.md's threat map must name this test"
    );
}
