//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource kept in its JSON wire shape.
//!
//! Why this module exists: PATCH is where SCIM servers break against real identity providers
//! (shared notes "scim-interop" §4). Entra ID's default job sends `"op":"Replace"`,
//! `"active":"False"`, path-less values with dotted and URN-qualified keys, a bare-string
//! `manager`, `emails[type eq "work"].value` for an email that does not exist yet, and removes
//! group members with `{"op":"Remove","path":"members","value":[...]}`, which an RFC-literal server
//! turns into "remove everyone". The rules for all of that live here, pure and unit-tested:
//! [`parse_patch_request`] reads the body, [`apply_user_patch`] edits a resource all-or-nothing
//! and idempotently, and [`split_group_patch`] turns member operations into set operations so the
//! store never loads a group's member list.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::filter::{parse_path, AttrPath, CompValue, CompareOp, Filter};

type Object = Map<String, Value>;

const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The user's core schema: a path-less value may hold the user's attributes under it.
const USER_CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_SCHEMAS: &str =
    "urn:ietf:params:scim:schemas:core:2.0:User urn:ietf:params:scim:schemas:core:2.0:Group";
/// The attributes this engine knows (new keys are spelled by `crate::names::canonical`).
const KNOWN_ATTRIBUTES: &str =
    "userName name givenName familyName middleName formatted honorificPrefix
    honorificSuffix displayName nickName profileUrl title userType preferredLanguage locale
    timezone active emails phoneNumbers addresses photos ims entitlements roles x509Certificates
    externalId groups employeeNumber costCenter organization division department manager value
    type primary display $ref streetAddress locality region postalCode country members";
const MULTI_VALUED: &str =
    "emails phoneNumbers addresses photos ims entitlements roles x509Certificates groups members";
/// Attributes (and sub-attributes) whose values must be JSON strings.
const STRINGS: &str = "userName givenName familyName middleName formatted honorificPrefix
    honorificSuffix displayName nickName profileUrl title userType preferredLanguage locale
    timezone externalId employeeNumber costCenter organization division department value type
    display";
/// Enterprise-extension attributes an unqualified user path may name (old Entra sends `manager`).
pub(crate) const ENTERPRISE_ONLY: &str =
    "employeeNumber costCenter organization division department manager";
const READ_ONLY: &str = "id meta schemas";
/// Bound for walks over caller-built filters (parsed ones are far shallower).
const MAX_FILTER_DEPTH: usize = 256;

/// The kind of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

/// One entry of `Operations`, its `path` parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<AttrPath>,
    pub value: Option<Value>,
}

/// Why a PATCH was refused; each variant is one SCIM `scimType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// Malformed request: scimType invalidSyntax.
    #[error("{0}")]
    InvalidSyntax(String),
    /// Bad path: scimType invalidPath.
    #[error("{0}")]
    InvalidPath(String),
    /// A value filter matched nothing and cannot describe a new element: scimType noTarget.
    #[error("{0}")]
    NoTarget(String),
    /// Value of the wrong type/shape: scimType invalidValue.
    #[error("{0}")]
    InvalidValue(String),
    /// Attempt to modify a read-only attribute (id, meta, schemas): scimType mutability.
    #[error("{0}")]
    Mutability(String),
}

/// A change to a group's member set, by member id; never needs the current member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

use PatchError::{InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget};
use PatchOpKind::{Add, Remove, Replace};

/// `fail!(Kind, "format", args)` returns `Err(PatchError::Kind(message))`.
macro_rules! fail {
    ($kind:ident, $($message:tt)+) => {
        return Err($kind(format!($($message)+)))
    };
}

mod apply;
mod group;
mod keys;

use apply::*;
pub use group::split_group_patch;
use keys::*;

/// Parses a PatchOp request body: `schemas`, when present, must contain
/// "urn:ietf:params:scim:api:messages:2.0:PatchOp"; `Operations` must be an array of at most
/// `max_operations` entries (empty is a valid no-op); `op` is case-insensitive; each `path` is
/// parsed with [`parse_path`]. Error messages name the offending entry (`Operations[2]: ...`).
pub fn parse_patch_request(
    body: &Value,
    max_operations: usize,
) -> Result<Vec<PatchOperation>, PatchError> {
    let Value::Object(body) = body else {
        fail!(InvalidSyntax, "a PATCH body must be a JSON object");
    };
    let declared = match get_ci(body, "schemas") {
        None => true,
        Some(Value::Array(list)) => list.iter().any(|s| eq_str(s, PATCH_OP_SCHEMA)),
        Some(other) => eq_str(other, PATCH_OP_SCHEMA),
    };
    if !declared {
        fail!(
            InvalidSyntax,
            "`schemas` must contain \"{PATCH_OP_SCHEMA}\""
        );
    }
    let Some(Value::Array(list)) = get_ci(body, "Operations") else {
        fail!(InvalidSyntax, "a PATCH body needs an `Operations` array");
    };
    if list.len() > max_operations {
        fail!(
            InvalidSyntax,
            "{} operations, at most {max_operations} allowed",
            list.len()
        );
    }
    let parsed = list.iter().enumerate();
    parsed
        .map(|(i, entry)| parse_operation(entry).map_err(|e| at(i, e)))
        .collect()
}

fn parse_operation(entry: &Value) -> Result<PatchOperation, PatchError> {
    let Value::Object(entry) = entry else {
        fail!(InvalidSyntax, "an operation must be a JSON object");
    };
    let op = get_ci(entry, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let op = match op.as_deref() {
        Some("add") => Add,
        Some("remove") => Remove,
        Some("replace") => Replace,
        _ => fail!(
            InvalidSyntax,
            "missing or unknown `op` (add, remove or replace)"
        ),
    };
    let path = match get_ci(entry, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_path(s).map_err(|e| InvalidPath(e.to_string()))?),
        Some(_) => fail!(InvalidPath, "`path` must be a string"),
    };
    let operation = PatchOperation {
        op,
        path,
        value: get_ci(entry, "value").cloned(),
    };
    check_shape(&operation)?;
    Ok(operation)
}

/// add/replace carry a value; remove names a path.
fn check_shape(op: &PatchOperation) -> Result<(), PatchError> {
    match (op.op, &op.path, &op.value) {
        (Remove, None, _) => fail!(InvalidPath, "remove requires a path"),
        (Add, _, None) => fail!(InvalidSyntax, "add requires a value"),
        (Replace, _, None) => fail!(InvalidSyntax, "replace requires a value"),
        _ => Ok(()),
    }
}

/// Prefixes an error with the index of the operation that caused it.
fn at(index: usize, e: PatchError) -> PatchError {
    let prefix = |m: String| format!("Operations[{index}]: {m}");
    match e {
        InvalidSyntax(m) => InvalidSyntax(prefix(m)),
        InvalidPath(m) => InvalidPath(prefix(m)),
        NoTarget(m) => NoTarget(prefix(m)),
        InvalidValue(m) => InvalidValue(prefix(m)),
        Mutability(m) => Mutability(prefix(m)),
    }
}

/// Applies operations in order to `resource` (a JSON object). All-or-nothing: on error,
/// `resource` is unchanged. Returns whether anything changed.
///
/// `resource` should carry its `id`: an `id` equal to it (Okta sends one in path-less replaces)
/// is ignored, any other is a mutability error.
pub fn apply_user_patch(resource: &mut Value, ops: &[PatchOperation]) -> Result<bool, PatchError> {
    apply_all(resource, ops.iter().enumerate(), true)
}

#[cfg(test)]
mod tests;
