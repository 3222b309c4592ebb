//! Where a connection's IdP sends each attribute: the sources of an attribute per protocol, and
//! the defaults per IdP vendor that spare most admins any mapping.
//!
//! A source is text whose grammar belongs to its protocol: a SAML attribute name (URI, `urn:oid:`
//! or short, matched with the `Name` or the `FriendlyName`, ignoring case), an OIDC claim path
//! (`department`, `address.locality`, `userinfo:employee.number`), or a SCIM attribute path with
//! value filters (`addresses[type eq "work"].locality`). The protocol crates evaluate them; here
//! they are only bounded, so a mapping can be stored before the protocol parses it.
//!
//! An attribute with no override takes its vendor default; an override of `[]` maps nothing
//! (the admin turned a default off).

use super::StandardAttribute;
use crate::{DomainError, Vendor};

/// The protocols attributes arrive by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Saml,
    Oidc,
    Scim,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Saml, Protocol::Oidc, Protocol::Scim];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::Oidc => "oidc",
            Protocol::Scim => "scim",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|protocol| protocol.as_str() == text)
            .ok_or_else(|| DomainError::UnknownVariant {
                field: "protocol",
                value: text.to_owned(),
            })
    }
}

/// The SCIM enterprise extension's URN, where the IdPs send most standard attributes.
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The longest source.
pub const MAX_SOURCE_CHARS: usize = 512;
/// The most sources of one attribute.
pub const MAX_SOURCES: usize = 8;

/// Checks an override's sources: at most [`MAX_SOURCES`], each non-blank, at most
/// [`MAX_SOURCE_CHARS`], without control characters. Returns them trimmed.
pub fn check_sources(sources: &[String]) -> Result<Vec<String>, DomainError> {
    if sources.len() > MAX_SOURCES {
        return Err(DomainError::invalid(
            "sources",
            format!("an attribute takes at most {MAX_SOURCES} sources"),
        ));
    }
    sources
        .iter()
        .map(|source| {
            let source = source.trim();
            if source.is_empty() {
                Err(DomainError::invalid("sources", "a source is blank"))
            } else if source.chars().count() > MAX_SOURCE_CHARS {
                Err(DomainError::invalid(
                    "sources",
                    format!("a source is longer than {MAX_SOURCE_CHARS} characters"),
                ))
            } else if source.chars().any(char::is_control) {
                Err(DomainError::invalid(
                    "sources",
                    "a source holds a control character",
                ))
            } else {
                Ok(source.to_owned())
            }
        })
        .collect()
}

/// Checks the URN of a custom SCIM extension schema a workspace declares: `urn:` then at least
/// one more segment, printable, and not one of SCIM's own schemas (the core schemas, the
/// enterprise extension, the API messages). Entra requires custom extensions in the form
/// `urn:ietf:params:scim:schemas:extension:<Name>:2.0:User`, so that namespace is allowed.
pub fn check_extension_urn(urn: &str) -> Result<String, DomainError> {
    let urn = urn.trim();
    let refused = |why: &str| Err(DomainError::invalid("scimSchema", why.to_owned()));
    let lower = urn.to_ascii_lowercase();
    if !lower.starts_with("urn:") || urn.len() < 6 {
        return refused("a SCIM extension schema is a URN (urn:…)");
    }
    if urn.len() > 200
        || urn
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '[' | ']'))
    {
        return refused("a SCIM extension URN is at most 200 printable characters, no spaces");
    }
    if lower.starts_with("urn:ietf:params:scim:schemas:core:")
        || lower.starts_with("urn:ietf:params:scim:api:")
        || lower == ENTERPRISE_URN.to_ascii_lowercase()
    {
        return refused("that is one of SCIM's own schemas, not a workspace's extension");
    }
    Ok(urn.to_owned())
}

/// The sources a `vendor`'s IdP uses for a standard attribute, in order of preference.
pub fn default_sources(
    vendor: Vendor,
    protocol: Protocol,
    standard: StandardAttribute,
) -> &'static [&'static str] {
    use StandardAttribute as S;
    match protocol {
        // Entra, Okta and OneLogin provision these through the enterprise extension and the
        // core multi-valued attributes (Entra's documented attribute mappings).
        Protocol::Scim => match standard {
            S::Department => {
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]
            }
            S::EmployeeNumber => {
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]
            }
            S::CostCenter => {
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"]
            }
            S::Division => &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division"],
            S::Organization => {
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization"]
            }
            S::Manager => {
                &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"]
            }
            S::Title => &["title"],
            S::Location => &["addresses[type eq \"work\"].locality"],
            S::Phone => &["phoneNumbers[type eq \"work\"].value"],
        },
        Protocol::Saml => saml_defaults(vendor, standard),
        Protocol::Oidc => oidc_defaults(vendor, standard),
    }
}

/// SAML attribute names. Short names work for every vendor (Okta, OneLogin and Google name
/// their attribute statements as the admin types them; matching ignores case); Entra adds its
/// claim namespace to the names an admin adds.
fn saml_defaults(vendor: Vendor, standard: StandardAttribute) -> &'static [&'static str] {
    use StandardAttribute as S;
    match (vendor, standard) {
        (Vendor::Entra, S::Department) => &[
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/department",
            "department",
        ],
        (Vendor::Entra, S::Title) => &[
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/jobtitle",
            "jobtitle",
            "title",
        ],
        (Vendor::Entra, S::EmployeeNumber) => &[
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/employeeid",
            "employeeid",
            "employeeNumber",
        ],
        (Vendor::Google, S::Title) => &["title", "Job title", "jobtitle"],
        (Vendor::Google, S::EmployeeNumber) => &["employeeNumber", "Employee ID", "employeeid"],
        (Vendor::Google, S::CostCenter) => &["costCenter", "Cost center"],
        (_, S::Department) => &["department"],
        (_, S::Title) => &["title", "jobtitle"],
        (_, S::EmployeeNumber) => &["employeeNumber", "employeeid"],
        (_, S::CostCenter) => &["costCenter"],
        (_, S::Division) => &["division"],
        (_, S::Organization) => &["organization"],
        (_, S::Manager) => &["manager"],
        (_, S::Location) => &["location", "city"],
        (_, S::Phone) => &["phone", "telephoneNumber", "mobilePhone"],
    }
}

/// OIDC claims: OpenID's standard claims where one fits (`address.locality`, `phone_number`),
/// else the profile names Okta's custom claims and most IdPs use.
fn oidc_defaults(_vendor: Vendor, standard: StandardAttribute) -> &'static [&'static str] {
    use StandardAttribute as S;
    match standard {
        S::Department => &["department"],
        S::Title => &["title", "jobTitle"],
        S::EmployeeNumber => &["employeeNumber", "employee_number", "employeeId"],
        S::CostCenter => &["costCenter"],
        S::Division => &["division"],
        S::Organization => &["organization"],
        S::Manager => &["managerId", "manager"],
        S::Location => &["address.locality", "location"],
        S::Phone => &["phone_number"],
    }
}

/// Where a mapping came from, for the admin view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingOrigin {
    /// The admin set it.
    Custom,
    /// The vendor default of a standard attribute.
    Default,
    /// A declared SCIM extension attribute: its own path.
    Extension,
    /// Nothing maps it.
    None,
}

impl MappingOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingOrigin::Custom => "custom",
            MappingOrigin::Default => "default",
            MappingOrigin::Extension => "extension",
            MappingOrigin::None => "none",
        }
    }
}

/// The sources an attribute takes at a connection: the admin's override, else (for SCIM) the
/// declared extension's own path, else the vendor default of a standard attribute, else none.
pub fn effective_sources(
    vendor: Vendor,
    protocol: Protocol,
    standard: Option<StandardAttribute>,
    extension: Option<&str>,
    name: &str,
    custom: Option<&[String]>,
) -> (Vec<String>, MappingOrigin) {
    if let Some(custom) = custom {
        return (custom.to_vec(), MappingOrigin::Custom);
    }
    if let (Protocol::Scim, Some(urn)) = (protocol, extension) {
        return (vec![format!("{urn}:{name}")], MappingOrigin::Extension);
    }
    match standard {
        Some(standard) => (
            default_sources(vendor, protocol, standard)
                .iter()
                .map(|source| (*source).to_owned())
                .collect(),
            MappingOrigin::Default,
        ),
        None => (Vec::new(), MappingOrigin::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_standard_attribute_has_a_scim_default_for_every_vendor() {
        for vendor in Vendor::ALL {
            for standard in StandardAttribute::ALL {
                for protocol in Protocol::ALL {
                    let sources = default_sources(*vendor, protocol, standard);
                    assert!(!sources.is_empty(), "{vendor:?} {protocol:?} {standard:?}");
                    let owned: Vec<String> = sources.iter().map(|s| (*s).to_owned()).collect();
                    assert_eq!(check_sources(&owned), Ok(owned.clone()));
                }
            }
        }
    }

    /// (protocol, standard, extension URN, override) -> (sources, origin).
    type SourcesCase<'a> = (
        Protocol,
        Option<StandardAttribute>,
        Option<&'a str>,
        Option<&'a [String]>,
        &'a [&'a str],
        MappingOrigin,
    );

    #[test]
    fn which_sources_an_attribute_takes() {
        let custom = vec!["dept".to_owned()];
        // A table's row type, spelled once where it is read.
        #[allow(clippy::type_complexity)]
        #[rustfmt::skip]
        let cases: &[SourcesCase<'_>] = &[
            // The admin's override wins, even an empty one.
            (Protocol::Saml, Some(StandardAttribute::Department), None, Some(&custom), &["dept"], MappingOrigin::Custom),
            (Protocol::Scim, Some(StandardAttribute::Department), None, Some(&[]), &[], MappingOrigin::Custom),
            // A declared extension attribute is read where it is declared, by SCIM only.
            (Protocol::Scim, None, Some("urn:acme:2.0:User"), None, &["urn:acme:2.0:User:badge"], MappingOrigin::Extension),
            (Protocol::Saml, None, Some("urn:acme:2.0:User"), None, &[], MappingOrigin::None),
            // A standard attribute takes the vendor default.
            (Protocol::Scim, Some(StandardAttribute::Department), None, None, &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"], MappingOrigin::Default),
            (Protocol::Saml, Some(StandardAttribute::Title), None, None, &["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/jobtitle", "jobtitle", "title"], MappingOrigin::Default),
            // A custom attribute without a mapping gets nothing.
            (Protocol::Oidc, None, None, None, &[], MappingOrigin::None),
        ];
        for (protocol, standard, extension, custom, want, origin) in cases {
            let got = effective_sources(
                Vendor::Entra,
                *protocol,
                *standard,
                *extension,
                "badge",
                *custom,
            );
            let want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(
                got,
                (want, *origin),
                "{protocol:?} {standard:?} {extension:?}"
            );
        }
    }

    #[test]
    fn which_extension_urns_a_workspace_may_declare() {
        for (urn, ok) in [
            (
                "urn:acme:params:scim:schemas:extension:custom:2.0:User",
                true,
            ),
            ("urn:example:hr", true),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                false,
            ),
            ("urn:ietf:params:scim:schemas:core:2.0:User", false),
            ("https://acme.example/scim", false),
            ("urn:", false),
            ("urn:acme: hr", false),
        ] {
            assert_eq!(check_extension_urn(urn).is_ok(), ok, "{urn}");
        }
    }

    #[test]
    fn overrides_are_bounded() {
        let many: Vec<String> = (0..=MAX_SOURCES).map(|i| format!("s{i}")).collect();
        assert!(check_sources(&many).is_err());
        assert!(check_sources(&[" ".to_owned()]).is_err());
        assert!(check_sources(&["a\u{7}".to_owned()]).is_err());
        assert_eq!(
            check_sources(&[" dept ".to_owned()]),
            Ok(vec!["dept".to_owned()])
        );
    }
}
