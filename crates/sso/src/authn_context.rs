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

/// What an OIDC login asserted. The upstream ID token's `acr` and `amr` are not read yet:
/// `amr` is `fed`.
pub fn from_oidc() -> SessionAuthn {
    from_saml(None)
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
