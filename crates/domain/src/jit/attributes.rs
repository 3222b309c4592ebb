//! What a login does to a user's custom attributes (issue #28), decided like its profile is
//! (`super::profile_update`), from the values the login carried ([`ClaimedAttribute`]):
//!
//! - a user the login creates takes every value it carried;
//! - a user a new subject is linked to gets the values of the attributes it has none for;
//! - a known subject's user is overwritten only when the connection syncs at every login
//!   (`every_login`); with `first_login` its values are Roster's after the first login;
//! - an attribute the login did not carry keeps its value: a login never clears one;
//! - the attributes a SCIM-managed user's managing connection sources through SCIM are SCIM's:
//!   no login writes them, whatever the policy (what SCIM does not source, a login may);
//! - a value that does not fit its attribute's type is a warning for the login log, never a
//!   refusal: the person still signs in and the attribute keeps its value.
//!
//! The store supplies what needs a read (the attributes the user holds, those SCIM sources)
//! and resolves `user_ref` values, which only the database can.

use crate::attributes::{coerce, AttrValue, AttributeDefinition};
use crate::{ClaimedAttribute, ProfileSync};

use super::JitDecision;

/// Where a login meets its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStage {
    /// The login creates the user.
    Create,
    /// A new subject is linked to an existing user.
    Link,
    /// A known subject signs its user in.
    Login,
}

impl LoginStage {
    /// The stage of a decision; `None` for a refusal (nothing is written).
    pub fn of(decision: &JitDecision<'_>) -> Option<Self> {
        match decision {
            JitDecision::Create(_) => Some(LoginStage::Create),
            JitDecision::Link { .. } => Some(LoginStage::Link),
            JitDecision::Login { .. } => Some(LoginStage::Login),
            JitDecision::Refuse(_) => None,
        }
    }
}

/// What [`login_attributes`] decides from.
#[derive(Debug, Clone, Copy)]
pub struct AttributeInput<'a> {
    pub stage: LoginStage,
    pub profile_sync: ProfileSync,
    pub claimed: &'a [ClaimedAttribute],
    /// The names of the attributes the user has a value for (none for a user being created).
    pub held: &'a [String],
    /// The names of the attributes the user's managing connection sources through SCIM (none
    /// for a user no connection manages).
    pub scim_owned: &'a [String],
}

/// A value a login writes.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginValue {
    pub definition: AttributeDefinition,
    /// Typed; a `user_ref` holds the text the IdP sent until the store resolves it.
    pub value: AttrValue,
    /// The source that gave it.
    pub source: String,
}

/// A value a login carried and did not write, for the login log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeWarning {
    pub attribute: String,
    pub source: String,
    /// Why, as a sentence fragment ("must be a number, got \"n/a\"").
    pub reason: String,
}

/// What a login writes to the user's attributes, and what it could not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributePlan {
    pub values: Vec<LoginValue>,
    pub warnings: Vec<AttributeWarning>,
}

/// Decides which of the claimed values a login writes (see the module docs for the rules).
/// Only the values it would write are typed, so a value it leaves alone warns nobody.
pub fn login_attributes(input: &AttributeInput<'_>) -> AttributePlan {
    let mut plan = AttributePlan::default();
    for claimed in input.claimed {
        let name = claimed.definition.name.as_str();
        let owned_by_scim = input.scim_owned.iter().any(|owned| owned == name);
        let held = input.held.iter().any(|held| held == name);
        let writes = !owned_by_scim
            && match input.stage {
                LoginStage::Create => true,
                LoginStage::Link => !held,
                LoginStage::Login => input.profile_sync == ProfileSync::EveryLogin,
            };
        if !writes {
            continue;
        }
        match coerce(claimed.definition.kind, &claimed.values) {
            Ok(Some(value)) => plan.values.push(LoginValue {
                definition: claimed.definition.clone(),
                value,
                source: claimed.source.clone(),
            }),
            Ok(None) => {}
            Err(err) => plan.warnings.push(AttributeWarning {
                attribute: name.to_owned(),
                source: claimed.source.clone(),
                reason: err.to_string(),
            }),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::{AttributeKind, RawScalar};

    use pretty_assertions::assert_eq;
    use LoginStage::*;
    use ProfileSync::*;

    fn definition(name: &str, kind: AttributeKind) -> AttributeDefinition {
        crate::testing::attribute(name, kind)
    }

    /// The login of every row: `department` and `title` as text, `badge` a number that is not.
    fn claimed() -> Vec<ClaimedAttribute> {
        let text = |name: &str, value: &str| ClaimedAttribute {
            definition: definition(name, AttributeKind::String),
            source: format!("src-{name}"),
            values: vec![RawScalar::Text(value.to_owned())],
        };
        vec![
            text("department", "Sales"),
            text("title", "Engineer"),
            ClaimedAttribute {
                definition: definition("badge", AttributeKind::Number),
                source: "src-badge".to_owned(),
                values: vec![RawScalar::Text("n/a".to_owned())],
            },
        ]
    }

    /// (stage, sync, held, owned by SCIM) -> (the names written, the names warned about).
    type Row = (
        LoginStage,
        ProfileSync,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    );

    #[test]
    fn which_values_a_login_writes() {
        #[rustfmt::skip]
        let table: &[Row] = &[
            // A created user takes everything that fits.
            (Create, FirstLogin, &[], &[], &["department", "title"], &["badge"]),
            (Create, EveryLogin, &[], &[], &["department", "title"], &["badge"]),
            // A linked user fills only what it lacks.
            (Link, FirstLogin, &["department"], &[], &["title"], &["badge"]),
            (Link, EveryLogin, &["department", "title", "badge"], &[], &[], &[]),
            // A known subject overwrites with every_login only.
            (Login, FirstLogin, &[], &[], &[], &[]),
            (Login, FirstLogin, &["department"], &[], &[], &[]),
            (Login, EveryLogin, &["department", "title"], &[], &["department", "title"], &["badge"]),
            // What SCIM sources is never a login's, at any stage.
            (Login, EveryLogin, &["department"], &["department", "badge"], &["title"], &[]),
            (Link, FirstLogin, &[], &["department"], &["title"], &["badge"]),
        ];
        let claimed = claimed();
        for (stage, sync, held, owned, want_written, want_warned) in table {
            let held: Vec<String> = held.iter().map(|s| (*s).to_owned()).collect();
            let owned: Vec<String> = owned.iter().map(|s| (*s).to_owned()).collect();
            let plan = login_attributes(&AttributeInput {
                stage: *stage,
                profile_sync: *sync,
                claimed: &claimed,
                held: &held,
                scim_owned: &owned,
            });
            let written: Vec<&str> = plan
                .values
                .iter()
                .map(|value| value.definition.name.as_str())
                .collect();
            let warned: Vec<&str> = plan
                .warnings
                .iter()
                .map(|warning| warning.attribute.as_str())
                .collect();
            assert_eq!(
                (written.as_slice(), warned.as_slice()),
                (*want_written, *want_warned),
                "{stage:?} {sync:?} held {held:?} owned {owned:?}"
            );
        }
    }

    #[test]
    fn values_are_typed_and_keep_their_source() {
        let plan = login_attributes(&AttributeInput {
            stage: Create,
            profile_sync: FirstLogin,
            claimed: &claimed(),
            held: &[],
            scim_owned: &[],
        });
        assert_eq!(
            plan.values[0],
            LoginValue {
                definition: plan.values[0].definition.clone(),
                value: AttrValue::Text("Sales".to_owned()),
                source: "src-department".to_owned(),
            }
        );
        assert_eq!(
            plan.warnings,
            [AttributeWarning {
                attribute: "badge".to_owned(),
                source: "src-badge".to_owned(),
                reason: "must be a number, got \"n/a\"".to_owned(),
            }]
        );
    }
}
