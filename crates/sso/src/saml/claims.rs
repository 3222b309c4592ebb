//! From a verified assertion to [`LoginClaims`]: which attribute means what.
//!
//! IdPs name the same attribute three ways: short LDAP names (Okta, Keycloak, JumpCloud),
//! `urn:oid:` names (Shibboleth, SAML2Int) and WS-Fed claim URIs (Entra ID, ADFS). Each claim
//! takes the first non-empty value of its candidate names, compared ASCII-case-insensitively.
//!
//! - The subject is the NameID, except a transient NameID, which changes at every login and
//!   would create a new user each time (S36): then `uid` is required.
//! - The email comes from an email attribute first, then from an `emailAddress` NameID: Entra
//!   sends guests' UPN (`..#EXT#@tenant.onmicrosoft.com`) as an `emailAddress` NameID.
//! - Groups are `Unknown` when no group attribute is sent: IdPs omit the attribute for users
//!   with no groups *and* when not configured to send groups, and `Unknown` leaves memberships
//!   alone. The Entra overage marker (`groups.link`, too many groups to send) is `Unknown` too.
//! - SAML IdPs vouch for their attributes, so `email_verified` is `true`.

use roster_domain::{GroupsClaim, LoginClaims};

use super::error::SamlError;
use super::validate::VerifiedAssertion;

const TRANSIENT_NAME_ID: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const EMAIL_NAME_ID: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

const UID: &[&str] = &["uid", "urn:oid:0.9.2342.19200300.100.1.1"];
const EMAIL: &[&str] = &[
    "email",
    "mail",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
];
const GIVEN_NAME: &[&str] = &[
    "givenName",
    "urn:oid:2.5.4.42",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
];
const FAMILY_NAME: &[&str] = &[
    "surname",
    "sn",
    "urn:oid:2.5.4.4",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
];
const DISPLAY_NAME: &[&str] = &[
    "displayName",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "http://schemas.microsoft.com/identity/claims/displayname",
];
const GROUPS: &[&str] = &[
    "groups",
    "memberOf",
    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
];
const GROUPS_OVERAGE: &str = "http://schemas.microsoft.com/claims/groups.link";

/// Maps a verified assertion to login claims.
pub fn claims_from_assertion(assertion: &VerifiedAssertion) -> Result<LoginClaims, SamlError> {
    Ok(LoginClaims {
        subject: subject(assertion)?,
        email: first_value(assertion, EMAIL).or_else(|| email_name_id(assertion)),
        email_verified: true,
        user_name: first_value(assertion, UID),
        given_name: first_value(assertion, GIVEN_NAME),
        family_name: first_value(assertion, FAMILY_NAME),
        display_name: first_value(assertion, DISPLAY_NAME),
        groups: groups(assertion),
        attributes: Vec::new(),
    })
}

/// Whether Roster reads the attribute `name` itself (subject, email, names, groups): a test
/// sign-in does not offer it as one to map.
pub fn is_login_claim(name: &str) -> bool {
    [UID, EMAIL, GIVEN_NAME, FAMILY_NAME, DISPLAY_NAME, GROUPS]
        .iter()
        .flat_map(|names| names.iter())
        .chain([&GROUPS_OVERAGE])
        .any(|known| known.eq_ignore_ascii_case(name))
}

/// S36: a transient NameID is not a stable key.
fn subject(assertion: &VerifiedAssertion) -> Result<String, SamlError> {
    let subject = if assertion.name_id_format.as_deref() == Some(TRANSIENT_NAME_ID) {
        first_value(assertion, UID)
    } else {
        Some(assertion.name_id.clone()).filter(|name_id| !name_id.trim().is_empty())
    };
    subject.ok_or_else(|| SamlError::SubjectMissing {
        name_id_format: assertion.name_id_format.clone(),
    })
}

fn email_name_id(assertion: &VerifiedAssertion) -> Option<String> {
    let is_email = assertion.name_id_format.as_deref() == Some(EMAIL_NAME_ID);
    Some(assertion.name_id.trim().to_owned()).filter(|value| is_email && !value.is_empty())
}

fn groups(assertion: &VerifiedAssertion) -> GroupsClaim {
    let sent = GROUPS.iter().any(|name| has_attribute(assertion, name));
    if !sent || has_attribute(assertion, GROUPS_OVERAGE) {
        return GroupsClaim::Unknown;
    }
    let mut groups: Vec<String> = Vec::new();
    for value in values(assertion, GROUPS) {
        if !groups.contains(&value) {
            groups.push(value);
        }
    }
    GroupsClaim::Known(groups)
}

/// The first non-empty (trimmed) value among the candidate names, in candidate order.
fn first_value(assertion: &VerifiedAssertion, names: &[&str]) -> Option<String> {
    values(assertion, names).into_iter().next()
}

/// Every non-empty (trimmed) value of the candidate names, in candidate order.
fn values(assertion: &VerifiedAssertion, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .flat_map(|name| {
            assertion
                .attributes
                .iter()
                .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
                .flat_map(|(_, values)| values.iter())
        })
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

fn has_attribute(assertion: &VerifiedAssertion, name: &str) -> bool {
    assertion
        .attributes
        .keys()
        .any(|key| key.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::collections::BTreeMap;

    const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

    fn assertion(
        name_id: &str,
        format: Option<&str>,
        attributes: &[(&str, &[&str])],
    ) -> VerifiedAssertion {
        VerifiedAssertion {
            assertion_id: "_a".into(),
            issuer: "https://idp".into(),
            name_id: name_id.into(),
            name_id_format: format.map(str::to_owned),
            in_response_to: None,
            session_not_on_or_after_unix: 0,
            authn_context_class_ref: None,
            session_index: None,
            friendly_names: BTreeMap::new(),
            attributes: attributes
                .iter()
                .map(|(name, values)| {
                    (
                        name.to_string(),
                        values.iter().map(|v| v.to_string()).collect(),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn check(attributes: &[(&str, &[&str])], expected: LoginClaims) {
        let claims =
            claims_from_assertion(&assertion("p-123", Some(PERSISTENT), attributes)).unwrap();
        assert_eq!(claims, expected);
    }

    fn base() -> LoginClaims {
        LoginClaims {
            subject: "p-123".into(),
            email: None,
            email_verified: true,
            user_name: None,
            given_name: None,
            family_name: None,
            display_name: None,
            groups: GroupsClaim::Unknown,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn entra_claim_uris() {
        check(
            &[
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    &["ada@example.com"],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                    &["Ada"],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                    &["Lovelace"],
                ),
                (
                    "http://schemas.microsoft.com/identity/claims/displayname",
                    &["Ada L."],
                ),
                (
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                    &["g1", "g2", "g1"],
                ),
            ],
            LoginClaims {
                email: Some("ada@example.com".into()),
                given_name: Some("Ada".into()),
                family_name: Some("Lovelace".into()),
                display_name: Some("Ada L.".into()),
                groups: GroupsClaim::Known(vec!["g1".into(), "g2".into()]),
                ..base()
            },
        );
    }

    #[test]
    fn oid_names() {
        check(
            &[
                ("urn:oid:0.9.2342.19200300.100.1.3", &["ada@example.com"]),
                ("urn:oid:0.9.2342.19200300.100.1.1", &["ada"]),
                ("urn:oid:2.5.4.42", &["Ada"]),
                ("urn:oid:2.5.4.4", &["Lovelace"]),
                ("urn:oid:2.16.840.1.113730.3.1.241", &["Ada L."]),
                ("urn:oid:1.3.6.1.4.1.5923.1.5.1.1", &["staff"]),
            ],
            LoginClaims {
                email: Some("ada@example.com".into()),
                user_name: Some("ada".into()),
                given_name: Some("Ada".into()),
                family_name: Some("Lovelace".into()),
                display_name: Some("Ada L.".into()),
                groups: GroupsClaim::Known(vec!["staff".into()]),
                ..base()
            },
        );
    }

    #[test]
    fn short_names_are_case_insensitive_and_skip_blank_values() {
        check(
            &[
                ("Email", &["  ", "ada@example.com "]),
                ("SN", &["Lovelace"]),
                ("memberOf", &[]),
            ],
            LoginClaims {
                email: Some("ada@example.com".into()),
                family_name: Some("Lovelace".into()),
                groups: GroupsClaim::Known(vec![]),
                ..base()
            },
        );
    }

    #[test]
    fn groups_absent_or_overage_are_unknown() {
        check(
            &[("mail", &["a@example.com"])],
            LoginClaims {
                email: Some("a@example.com".into()),
                ..base()
            },
        );
        check(
            &[
                (
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                    &["g1"],
                ),
                (
                    "http://schemas.microsoft.com/claims/groups.link",
                    &["https://graph.microsoft.com/v1.0/users/x/getMemberObjects"],
                ),
            ],
            base(),
        );
    }

    #[test]
    fn email_attribute_wins_over_an_email_name_id() {
        let guest = assertion(
            "ada_example.com#EXT#@tenant.onmicrosoft.com",
            Some(EMAIL_NAME_ID),
            &[(
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                &["ada@example.com"],
            )],
        );
        assert_eq!(
            claims_from_assertion(&guest).unwrap().email.as_deref(),
            Some("ada@example.com")
        );
        let plain = assertion("ada@example.com", Some(EMAIL_NAME_ID), &[]);
        let claims = claims_from_assertion(&plain).unwrap();
        assert_eq!(
            (claims.subject.as_str(), claims.email.as_deref()),
            ("ada@example.com", Some("ada@example.com"))
        );
        let unspecified = assertion("ada@example.com", None, &[]);
        assert_eq!(claims_from_assertion(&unspecified).unwrap().email, None);
    }

    #[test]
    fn transient_name_id_needs_uid() {
        let without_uid = assertion(
            "_tr4ns13nt",
            Some(TRANSIENT_NAME_ID),
            &[("mail", &["a@example.com"])],
        );
        let error = claims_from_assertion(&without_uid).unwrap_err();
        assert_eq!(error.reason(), "subject_missing");
        assert_eq!(error.failure(), roster_domain::LoginFailure::MissingClaims);
        let with_uid = assertion(
            "_tr4ns13nt",
            Some(TRANSIENT_NAME_ID),
            &[("urn:oid:0.9.2342.19200300.100.1.1", &["ada"])],
        );
        let claims = claims_from_assertion(&with_uid).unwrap();
        assert_eq!(
            (claims.subject.as_str(), claims.user_name.as_deref()),
            ("ada", Some("ada"))
        );
    }
}
