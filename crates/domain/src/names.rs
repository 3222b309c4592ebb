//! Validated names: user names, emails, slugs, role names, display names, email domains.
//!
//! Each type checks its syntax once, at the boundary, and offers a `key()`: the normalised form
//! that uniqueness and lookups use (user names and emails are case-insensitive, as SCIM's
//! `userName` is per RFC 7643 §4.1.1). The database stores both the value as sent (IdPs expect
//! their spelling back) and the key (unique indexes and indexed `eq` filters).

use std::fmt;

use crate::DomainError;

/// Longest user name, email or display name accepted; longer input is refused, never truncated.
pub const MAX_NAME_LEN: usize = 256;

fn check_text(field: &'static str, value: &str, max_len: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max_len {
        return Err(DomainError::invalid(
            field,
            format!("longer than {max_len} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Case-insensitive comparison key of a name: Unicode lowercase.
fn fold(value: &str) -> String {
    value.to_lowercase()
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A user's login name, unique per workspace regardless of case. Kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserName(String);
string_newtype!(UserName);

impl UserName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        check_text("userName", value, MAX_NAME_LEN)?;
        if value.trim() != value {
            return Err(DomainError::invalid(
                "userName",
                "must not start or end with whitespace",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The uniqueness and lookup key.
    pub fn key(&self) -> String {
        fold(&self.0)
    }

    /// The key of a raw value, for lookups with input that need not be valid.
    pub fn key_of(value: &str) -> String {
        fold(value)
    }
}

/// An email address: `local@domain`, with a domain of DNS labels. Kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);
string_newtype!(Email);

impl Email {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        check_text("email", value, 254)?;
        if value.chars().any(char::is_whitespace) {
            return Err(DomainError::invalid("email", "must not contain whitespace"));
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err(DomainError::invalid("email", "must contain '@'"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(DomainError::invalid(
                "email",
                "the part before '@' must have 1 to 64 characters",
            ));
        }
        Domain::parse(domain).map_err(|_| {
            DomainError::invalid("email", "the part after '@' is not a domain name")
        })?;
        Ok(Self(value.to_owned()))
    }

    /// The lookup key: the whole address lowercased.
    pub fn key(&self) -> String {
        fold(&self.0)
    }

    /// The domain, lowercased.
    pub fn domain(&self) -> String {
        self.0
            .rsplit_once('@')
            .map(|(_, domain)| fold(domain))
            .unwrap_or_default()
    }
}

/// An email domain a workspace or connection owns, stored lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain(String);
string_newtype!(Domain);

impl Domain {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let lowered = fold(value.trim_end_matches('.'));
        if lowered.is_empty() || lowered.len() > 253 {
            return Err(DomainError::invalid(
                "domain",
                "must have 1 to 253 characters",
            ));
        }
        for label in lowered.split('.') {
            let valid_chars = label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii());
            if label.is_empty()
                || label.len() > 63
                || !valid_chars
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return Err(DomainError::invalid(
                    "domain",
                    format!("{value:?} is not a domain name"),
                ));
            }
        }
        Ok(Self(lowered))
    }
}

/// A workspace's URL-safe short name: lowercase letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);
string_newtype!(Slug);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let valid = !value.is_empty()
            && value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !value.starts_with('-')
            && !value.ends_with('-');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::invalid(
                "slug",
                "use 1 to 63 lowercase letters, digits or dashes, not starting or ending with a dash",
            ))
        }
    }
}

/// A role's name, unique per workspace regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleName(String);
string_newtype!(RoleName);

impl RoleName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        check_text("role name", value, 64)?;
        let valid = value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !valid {
            return Err(DomainError::invalid(
                "role name",
                "use letters, digits, '-', '_', '.' or ':'",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn key(&self) -> String {
        fold(&self.0)
    }
}

/// A human-readable name (group display names, connection names, people's names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);
string_newtype!(DisplayName);

impl DisplayName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        check_text("name", value, MAX_NAME_LEN)?;
        Ok(Self(value.to_owned()))
    }

    /// Case-insensitive key (group names are unique per connection regardless of case).
    pub fn key(&self) -> String {
        fold(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_name(value: &str) -> Result<String, String> {
        UserName::parse(value)
            .map(|name| name.key())
            .map_err(|err| err.to_string())
    }

    #[test]
    fn user_names() {
        assert_eq!(
            user_name("Alice@Example.COM"),
            Ok("alice@example.com".into())
        );
        assert_eq!(user_name("ÅSA"), Ok("åsa".into()));
        assert_eq!(user_name("bob"), Ok("bob".into()));
        assert!(user_name("").is_err());
        assert!(user_name("   ").is_err());
        assert!(user_name(" padded").is_err());
        assert!(user_name("tab\there").is_err());
        assert!(user_name(&"x".repeat(257)).is_err());
        assert!(user_name(&"x".repeat(256)).is_ok());
    }

    fn email(value: &str) -> bool {
        Email::parse(value).is_ok()
    }

    #[test]
    fn emails() {
        assert!(email("alice@example.com"));
        assert!(email("first.last+tag@sub.example.co.uk"));
        assert!(email("user@localhost"));
        assert!(!email("alice"));
        assert!(!email("@example.com"));
        assert!(!email("alice@"));
        assert!(!email("alice@exa mple.com"));
        assert!(!email("alice@-example.com"));
        assert!(!email("alice@example..com"));
        assert_eq!(
            Email::parse("Alice@Example.COM").unwrap().domain(),
            "example.com"
        );
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("acme").is_ok());
        assert!(Slug::parse("acme-2").is_ok());
        assert!(Slug::parse("Acme").is_err());
        assert!(Slug::parse("-acme").is_err());
        assert!(Slug::parse("ac me").is_err());
        assert!(Slug::parse("").is_err());
    }

    #[test]
    fn domains_are_lowercased() {
        assert_eq!(
            Domain::parse("Example.COM.").unwrap().as_str(),
            "example.com"
        );
        assert!(Domain::parse("exa_mple.com").is_err());
    }

    #[test]
    fn role_names() {
        assert!(RoleName::parse("data-steward").is_ok());
        assert!(RoleName::parse("admin role").is_err());
        assert_eq!(RoleName::parse("Admin").unwrap().key(), "admin");
    }
}
