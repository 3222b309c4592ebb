//! How the user authenticated, as the IdP asserted it, kept on the Roster session and passed to
//! apps as the ID token's `acr` and `amr` — so that a product can require MFA.
//!
//! One rule, here, as a table: a SAML `AuthnContextClassRef` becomes the `acr` as is (the URI
//! the IdP asserted; a product compares it with the ones it accepts) and adds the RFC 8176
//! methods it implies to `amr`, after `fed` (the user signed in through a federated IdP, as
//! before). A class Roster does not know adds nothing: `amr` then says only `fed`, and `acr`
//! still carries the class. docs/sso.md ("Authentication context") lists the same table.

use serde::{Deserialize, Serialize};

/// `amr` of every login through an IdP.
pub const FEDERATED: &str = "fed";
/// `amr` of a Roster password login.
pub const PASSWORD: &str = "pwd";

/// How a session's user authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuthn {
    /// The authentication context class the IdP asserted (SAML `AuthnContextClassRef`).
    pub acr: Option<String>,
    /// RFC 8176 authentication method references.
    pub amr: Vec<String>,
}

const SAML_AC: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:";

/// The RFC 8176 methods a SAML authentication context class implies (none for unknown ones).
pub fn saml_class_methods(class: &str) -> &'static [&'static str] {
    if let Some(name) = class.strip_prefix(SAML_AC) {
        return match name {
            "Password" | "PasswordProtectedTransport" | "PreviousSession" => &["pwd"],
            "MobileTwoFactorContract" | "MobileTwoFactorUnregistered" => &["mfa"],
            "TimeSyncToken" => &["mfa", "otp"],
            "Smartcard" => &["sc"],
            "SmartcardPKI" => &["mfa", "sc", "pin"],
            "X509" | "SoftwarePKI" | "MobileOneFactorContract" => &["swk"],
            "Kerberos" => &["wia"],
            _ => &[],
        };
    }
    match class {
        // REFEDS MFA profile; ADFS and Entra's multi-factor class.
        "https://refeds.org/profile/mfa" | "http://schemas.microsoft.com/claims/multipleauthn" => {
            &["mfa"]
        }
        "urn:federation:authentication:windows" => &["wia"],
        _ => &[],
    }
}

/// What a SAML login asserted: `acr` is the class as asserted, `amr` is `fed` and the methods
/// the class implies.
pub fn from_saml(class: Option<&str>) -> SessionAuthn {
    let mut amr = vec![FEDERATED.to_owned()];
    if let Some(class) = class {
        amr.extend(
            saml_class_methods(class)
                .iter()
                .map(|method| (*method).to_owned()),
        );
    }
    SessionAuthn {
        acr: class.map(str::to_owned),
        amr,
    }
}

/// The most `amr` values kept from an upstream ID token, and the longest `acr`/`amr` value.
const MAX_METHODS: usize = 16;
const MAX_VALUE_CHARS: usize = 1024;

/// What an OIDC login asserted (its verified ID token's `acr` and `amr`): `acr` as is, `amr`
/// `fed` and then the IdP's methods in its order, each once. Blank or oversized values are
/// dropped, and at most [`MAX_METHODS`] methods are kept.
pub fn from_oidc(acr: Option<&str>, amr: &[&str]) -> SessionAuthn {
    let usable = |value: &&str| !value.trim().is_empty() && value.len() <= MAX_VALUE_CHARS;
    let mut methods = vec![FEDERATED.to_owned()];
    for method in amr.iter().copied().filter(usable) {
        if methods.len() > MAX_METHODS {
            break;
        }
        if !methods.iter().any(|kept| kept == method) {
            methods.push(method.to_owned());
        }
    }
    SessionAuthn {
        acr: acr.filter(usable).map(str::to_owned),
        amr: methods,
    }
}

/// A Roster password login: `amr` is `pwd`.
pub fn password() -> SessionAuthn {
    SessionAuthn {
        acr: None,
        amr: vec![PASSWORD.to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// The table in docs/sso.md ("Authentication context") is this rule: each of its rows
    /// (`| class | amr |`) is checked against [`from_saml`].
    #[test]
    fn docs_table_is_the_mapping() {
        let guide = include_str!("../../../docs/sso.md");
        let section = guide
            .split("\n## Authentication context")
            .nth(1)
            .expect("docs/sso.md has an Authentication context section");
        let mut rows = 0;
        for row in section
            .lines()
            .take_while(|line| !line.starts_with("## "))
            .skip_while(|line| !line.starts_with("| AuthnContextClassRef"))
            .filter(|line| line.starts_with("| `"))
        {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            // The class is the first `code` of its cell.
            let class = cells[0].split('`').nth(1).unwrap_or_default();
            let amr = cells[1];
            let expected: Vec<String> = amr
                .split(',')
                .map(|method| method.trim().trim_matches('`').to_owned())
                .collect();
            let class = class.replace("…:", SAML_AC);
            assert_eq!(from_saml(Some(&class)).amr, expected, "{row}");
            rows += 1;
        }
        assert!(rows >= 10, "{rows} rows");
    }

    #[test]
    fn an_oidc_upstreams_acr_and_amr_are_kept_after_fed() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        let many: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        for (name, acr, amr, expected_acr, expected_amr) in [
            ("nothing said", None, vec![], None, vec!["fed"]),
            (
                "acr and amr",
                Some("urn:example:loa:2"),
                vec!["pwd", "otp", "mfa"],
                Some("urn:example:loa:2"),
                vec!["fed", "pwd", "otp", "mfa"],
            ),
            (
                "repeats and fed once",
                Some("1"),
                vec!["mfa", "fed", "mfa"],
                Some("1"),
                vec!["fed", "mfa"],
            ),
            (
                "blank and oversized values dropped",
                Some(" "),
                vec!["", long.as_str(), "hwk"],
                None,
                vec!["fed", "hwk"],
            ),
            (
                "oversized acr dropped",
                Some(long.as_str()),
                vec![],
                None,
                vec!["fed"],
            ),
        ] {
            let authn = from_oidc(acr, &amr);
            assert_eq!(authn.acr.as_deref(), expected_acr, "{name}");
            assert_eq!(authn.amr, expected_amr, "{name}");
        }
        assert_eq!(from_oidc(None, &many).amr.len(), MAX_METHODS + 1);
    }

    #[test]
    fn the_class_is_the_acr_and_fed_always_comes_first() {
        for (class, acr, amr) in [
            (None, None, vec!["fed"]),
            (
                Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"),
                Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"),
                vec!["fed", "pwd"],
            ),
            (
                Some("https://refeds.org/profile/mfa"),
                Some("https://refeds.org/profile/mfa"),
                vec!["fed", "mfa"],
            ),
            (
                Some("urn:example:unknown"),
                Some("urn:example:unknown"),
                vec!["fed"],
            ),
            (
                Some("urn:oasis:names:tc:SAML:2.0:ac:classes:Unspecified"),
                Some("urn:oasis:names:tc:SAML:2.0:ac:classes:Unspecified"),
                vec!["fed"],
            ),
        ] {
            let authn = from_saml(class);
            assert_eq!(authn.acr.as_deref(), acr, "{class:?}");
            assert_eq!(authn.amr, amr, "{class:?}");
        }
    }
}
