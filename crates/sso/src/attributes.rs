//! Custom attributes at login (issue #28): what the IdP sent at each source of an attribute.
//!
//! A connection maps every attribute of the workspace to sources for its protocol
//! ([`roster_store::AttributeMapping`]: the admin's override, else the vendor default), in order
//! of preference: the first source with a value wins ([`claimed`]). The values stay untyped
//! here; JIT types them and decides what is written (`roster_domain::jit::attributes`), so a
//! value of the wrong type never refuses a login.
//!
//! How a source reads what arrived, per protocol:
//! - SAML: an attribute name, compared with each `<Attribute>`'s `Name` and, when no `Name`
//!   matches, its `FriendlyName`, ignoring ASCII case (IdPs send `urn:oid:2.5.4.11` with the
//!   friendly name `ou`, or WS-Fed claim URIs). The values of every matching `<Attribute>` are
//!   merged; blank values are none.
//! - OIDC: `[id_token:|userinfo:]path`. Without a prefix the ID token is read first, then
//!   userinfo. A path names a top-level claim exactly first (Auth0's namespaced
//!   `https://example.com/claims/dept`), else walks objects by its dots (`address.locality`).
//!   Strings, numbers and booleans keep their JSON type; an array gives its scalar elements
//!   (one level); an object or `null` is no value.
//!
//! What the IdP sent that no source reads, and that Roster does not read itself, is listed by
//! [`Sent::unmapped`]: a test sign-in shows it, as the names an admin may want to map.

use std::collections::{BTreeMap, BTreeSet};

use roster_store::domain::attributes::RawScalar;
use roster_store::domain::ClaimedAttribute;
use roster_store::AttributeMapping;
use serde_json::{Map, Value};

/// The claims of an OIDC login: the verified ID token's payload, and userinfo's answer when it
/// was asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OidcClaims {
    pub id_token: Map<String, Value>,
    pub userinfo: Option<Map<String, Value>>,
}

/// What a verified login carried, for sources to read.
#[derive(Debug, Clone, Copy)]
pub enum Sent<'a> {
    Saml {
        /// Values by `Name` (repeated attributes merged).
        values: &'a BTreeMap<String, Vec<String>>,
        /// `FriendlyName` by `Name`, for the attributes that have one.
        friendly_names: &'a BTreeMap<String, String>,
    },
    Oidc(&'a OidcClaims),
}

/// The claims Roster reads itself (subject, email, names, groups) or that the protocol sets:
/// never listed as unmapped.
const OIDC_OWN_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "s_hash",
    "sid",
    "jti",
    "email",
    "email_verified",
    "preferred_username",
    "given_name",
    "family_name",
    "name",
    "groups",
    "_claim_names",
    "_claim_sources",
    "hasgroups",
    "xms_edov",
];

/// How deep [`Sent::unmapped`] lists the claims inside OIDC objects.
const MAX_PATH_DEPTH: usize = 4;

impl Sent<'_> {
    /// The values at `source`, blank ones left out; empty when it holds none.
    pub fn values(&self, source: &str) -> Vec<RawScalar> {
        match self {
            Sent::Saml {
                values,
                friendly_names,
            } => saml_values(values, friendly_names, source),
            Sent::Oidc(claims) => oidc_values(claims, source),
        }
    }

    /// The names the IdP sent that no mapping's source reads and Roster does not read itself,
    /// sorted: SAML attribute names, OIDC claim paths (objects by their leaves).
    pub fn unmapped(&self, mappings: &[AttributeMapping]) -> Vec<String> {
        let sources = mappings.iter().flat_map(|mapping| mapping.sources.iter());
        match self {
            Sent::Saml {
                values,
                friendly_names,
            } => {
                let sources: Vec<&String> = sources.collect();
                values
                    .keys()
                    .filter(|name| !crate::saml::is_login_claim(name))
                    .filter(|name| {
                        let friendly = friendly_names.get(*name);
                        !sources.iter().any(|source| {
                            source.eq_ignore_ascii_case(name)
                                || friendly.is_some_and(|f| source.eq_ignore_ascii_case(f))
                        })
                    })
                    .cloned()
                    .collect()
            }
            Sent::Oidc(claims) => {
                let read: BTreeSet<&str> = sources.map(|source| oidc_source(source).1).collect();
                let mut paths = BTreeSet::new();
                for map in std::iter::once(&claims.id_token).chain(claims.userinfo.as_ref()) {
                    for (name, value) in map {
                        if !OIDC_OWN_CLAIMS.contains(&name.as_str()) {
                            leaf_paths(name.clone(), value, 1, &mut paths);
                        }
                    }
                }
                paths
                    .into_iter()
                    .filter(|path| !read.contains(path.as_str()))
                    .collect()
            }
        }
    }
}

/// For each mapped attribute, the first of its sources that holds a value, with the values.
/// Attributes with none are left out.
pub fn claimed(mappings: &[AttributeMapping], sent: &Sent<'_>) -> Vec<ClaimedAttribute> {
    mappings
        .iter()
        .filter_map(|mapping| {
            mapping.sources.iter().find_map(|source| {
                let values = sent.values(source);
                (!values.is_empty()).then(|| ClaimedAttribute {
                    definition: mapping.definition.clone(),
                    source: source.clone(),
                    values,
                })
            })
        })
        .collect()
}

/// Whether an OIDC login must ask userinfo for the mapped attributes: one of them has no value
/// in the ID token, and a source of it may be read at userinfo (no prefix, or `userinfo:`).
pub fn userinfo_needed(mappings: &[AttributeMapping], id_token: &Map<String, Value>) -> bool {
    let id_token_only = OidcClaims {
        id_token: id_token.clone(),
        userinfo: None,
    };
    let sent = Sent::Oidc(&id_token_only);
    mappings.iter().any(|mapping| {
        let at_userinfo = mapping
            .sources
            .iter()
            .any(|source| oidc_source(source).0 != Where::IdToken);
        at_userinfo
            && mapping
                .sources
                .iter()
                .all(|source| sent.values(source).is_empty())
    })
}

fn saml_values(
    values: &BTreeMap<String, Vec<String>>,
    friendly_names: &BTreeMap<String, String>,
    source: &str,
) -> Vec<RawScalar> {
    let by_name: Vec<&Vec<String>> = values
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(source))
        .map(|(_, values)| values)
        .collect();
    let matched = if by_name.is_empty() {
        values
            .iter()
            .filter(|(name, _)| {
                friendly_names
                    .get(*name)
                    .is_some_and(|friendly| friendly.eq_ignore_ascii_case(source))
            })
            .map(|(_, values)| values)
            .collect()
    } else {
        by_name
    };
    matched
        .into_iter()
        .flatten()
        .filter(|value| !value.trim().is_empty())
        .map(|value| RawScalar::Text(value.clone()))
        .collect()
}

/// Where an OIDC source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// The ID token, then userinfo.
    Either,
    IdToken,
    Userinfo,
}

/// An OIDC source's place and path.
fn oidc_source(source: &str) -> (Where, &str) {
    if let Some(path) = source.strip_prefix("id_token:") {
        (Where::IdToken, path)
    } else if let Some(path) = source.strip_prefix("userinfo:") {
        (Where::Userinfo, path)
    } else {
        (Where::Either, source)
    }
}

fn oidc_values(claims: &OidcClaims, source: &str) -> Vec<RawScalar> {
    let (place, path) = oidc_source(source);
    let at = |map: Option<&Map<String, Value>>| {
        map.and_then(|map| lookup(map, path))
            .map(scalars)
            .unwrap_or_default()
    };
    match place {
        Where::IdToken => at(Some(&claims.id_token)),
        Where::Userinfo => at(claims.userinfo.as_ref()),
        Where::Either => {
            let in_token = at(Some(&claims.id_token));
            if in_token.is_empty() {
                at(claims.userinfo.as_ref())
            } else {
                in_token
            }
        }
    }
}

/// The claim at `path`: the top-level claim of that exact name, else a walk by dots.
fn lookup<'v>(claims: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let (head, rest) = path.split_once('.')?;
    match claims.get(head)? {
        Value::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}

/// A claim's values: a scalar, or the scalar elements of an array.
fn scalars(value: &Value) -> Vec<RawScalar> {
    match value {
        Value::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

fn scalar(value: &Value) -> Option<RawScalar> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(RawScalar::Text(text.clone())),
        Value::Number(number) => number.as_f64().map(RawScalar::Number),
        Value::Bool(value) => Some(RawScalar::Bool(*value)),
        _ => None,
    }
}

/// The paths of the values under `path` (objects by their members, to [`MAX_PATH_DEPTH`]).
fn leaf_paths(path: String, value: &Value, depth: usize, paths: &mut BTreeSet<String>) {
    match value {
        Value::Null => {}
        Value::Object(members) if depth < MAX_PATH_DEPTH => {
            for (name, member) in members {
                leaf_paths(format!("{path}.{name}"), member, depth + 1, paths);
            }
        }
        _ => {
            paths.insert(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use roster_store::domain::attributes::{AttributeKind, MappingOrigin};

    use serde_json::json;
    use RawScalar::{Bool, Number, Text};

    fn text(value: &str) -> RawScalar {
        Text(value.to_owned())
    }

    fn mapping(name: &str, sources: &[&str]) -> AttributeMapping {
        roster_store::testing::attribute_mapping(
            name,
            AttributeKind::String,
            sources,
            MappingOrigin::Custom,
        )
    }

    fn saml(attributes: &[(&str, Option<&str>, &[&str])]) -> SamlAttributesFixture {
        let mut fixture = SamlAttributesFixture::default();
        for (name, friendly, values) in attributes {
            fixture
                .values
                .entry((*name).to_owned())
                .or_default()
                .extend(values.iter().map(|v| (*v).to_owned()));
            if let Some(friendly) = friendly {
                fixture
                    .friendly_names
                    .insert((*name).to_owned(), (*friendly).to_owned());
            }
        }
        fixture
    }

    #[derive(Default)]
    struct SamlAttributesFixture {
        values: BTreeMap<String, Vec<String>>,
        friendly_names: BTreeMap<String, String>,
    }

    impl SamlAttributesFixture {
        fn sent(&self) -> Sent<'_> {
            Sent::Saml {
                values: &self.values,
                friendly_names: &self.friendly_names,
            }
        }
    }

    /// (source) -> the values a SAML source reads.
    #[test]
    fn saml_sources_match_name_then_friendly_name_ignoring_case() {
        let sent = saml(&[
            ("urn:oid:2.5.4.11", Some("ou"), &["Sales"]),
            ("department", None, &["  ", "Support"]),
            ("Department", None, &["Legal"]),
            ("ou", None, &["by-name"]),
            ("costCenter", Some("Cost centre"), &[]),
            ("skills", None, &["rust", "", "sql"]),
        ]);
        let table: &[(&str, Vec<RawScalar>)] = &[
            ("urn:oid:2.5.4.11", vec![text("Sales")]),
            ("URN:OID:2.5.4.11", vec![text("Sales")]),
            // A Name match wins over a FriendlyName match.
            ("ou", vec![text("by-name")]),
            // Repeated attributes of one name (any case) merge; blank values are none.
            ("department", vec![text("Legal"), text("Support")]),
            ("cost centre", vec![]),
            ("skills", vec![text("rust"), text("sql")]),
            ("title", vec![]),
        ];
        for (source, want) in table {
            assert_eq!(&sent.sent().values(source), want, "{source}");
        }
        let friendly_only = saml(&[("urn:oid:2.5.4.12", Some("title"), &["Engineer"])]);
        assert_eq!(friendly_only.sent().values("TITLE"), vec![text("Engineer")]);
    }

    /// (source) -> the values an OIDC source reads.
    #[test]
    fn oidc_sources_read_exact_claims_then_paths_typed() {
        let claims = OidcClaims {
            id_token: json!({
                "department": "Sales",
                "https://acme.example/claims/dept": "Namespaced",
                "address": {"locality": "Paris", "country": {"code": "FR"}},
                "employeeNumber": 42,
                "contractor": false,
                "skills": ["rust", 7, true, ["nested"], {"x": 1}, " "],
                "manager": {"id": "u-1"},
                "blank": "  ",
                "nothing": null,
                "a.b": "dotted key",
            })
            .as_object()
            .unwrap()
            .clone(),
            userinfo: Some(
                json!({"department": "From userinfo", "title": "Engineer"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        };
        let sent = Sent::Oidc(&claims);
        let table: &[(&str, Vec<RawScalar>)] = &[
            // The ID token first, then userinfo.
            ("department", vec![text("Sales")]),
            ("title", vec![text("Engineer")]),
            ("userinfo:department", vec![text("From userinfo")]),
            ("id_token:title", vec![]),
            ("https://acme.example/claims/dept", vec![text("Namespaced")]),
            ("address.locality", vec![text("Paris")]),
            ("address.country.code", vec![text("FR")]),
            ("a.b", vec![text("dotted key")]),
            ("employeeNumber", vec![Number(42.0)]),
            ("contractor", vec![Bool(false)]),
            ("skills", vec![text("rust"), Number(7.0), Bool(true)]),
            // Objects, null and blank text are no value.
            ("manager", vec![]),
            ("address", vec![]),
            ("nothing", vec![]),
            ("blank", vec![]),
            ("missing.path", vec![]),
        ];
        for (source, want) in table {
            assert_eq!(&sent.values(source), want, "{source}");
        }
    }

    #[test]
    fn the_first_source_with_a_value_wins() {
        let sent = saml(&[("jobtitle", None, &["Engineer"]), ("title", None, &[" "])]);
        let mappings = [
            mapping("title", &["title", "jobtitle"]),
            mapping("department", &["department"]),
            mapping("badge", &[]),
        ];
        let claimed = claimed(&mappings, &sent.sent());
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].definition.name.as_str(), "title");
        assert_eq!(claimed[0].source, "jobtitle");
        assert_eq!(claimed[0].values, [text("Engineer")]);
    }

    #[test]
    fn userinfo_is_needed_only_for_a_mapped_claim_the_id_token_lacks() {
        let id_token = json!({"sub": "s", "department": "Sales"})
            .as_object()
            .unwrap()
            .clone();
        let table: &[(&[&str], bool)] = &[
            (&["department"], false),
            (&["title", "department"], false),
            (&["title"], true),
            (&["userinfo:department"], true),
            (&["id_token:title"], false),
            (&[], false),
        ];
        for (sources, want) in table {
            let mappings = [mapping("x", sources)];
            assert_eq!(userinfo_needed(&mappings, &id_token), *want, "{sources:?}");
        }
    }

    #[test]
    fn unmapped_lists_what_no_source_reads() {
        let sent = saml(&[
            ("mail", None, &["a@example.test"]),
            ("groups", None, &["eng"]),
            ("urn:oid:2.5.4.11", Some("ou"), &["Sales"]),
            ("employeeType", None, &["staff"]),
            ("title", None, &["Engineer"]),
        ]);
        let mappings = [mapping("department", &["OU"]), mapping("title", &["title"])];
        assert_eq!(sent.sent().unmapped(&mappings), ["employeeType"]);

        let claims = OidcClaims {
            id_token: json!({"sub": "s", "email": "a@example.test", "department": "Sales", "nonce": "n"})
                .as_object()
                .unwrap()
                .clone(),
            userinfo: Some(
                json!({"address": {"locality": "Paris", "region": null}, "employeeNumber": 7, "zip": null})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        };
        let mappings = [mapping("location", &["address.locality"])];
        assert_eq!(
            Sent::Oidc(&claims).unmapped(&mappings),
            ["department", "employeeNumber"]
        );
    }
}
