//! What a setup session reaches. A setup link lets someone with no account — the customer's IT
//! admin — into the console for one job, so its session must reach that job's part of the admin
//! API and nothing else: not the users' profiles, not the audit trail, not the webhooks, not
//! another workspace. Every admin route names its [`Area`] next to its handler (the admin
//! crate's route table); [`reaches`] says which intents open which areas. A setup session that
//! asks for anything else is refused (`setup_scope`) before its handler runs.
//!
//! Inside its areas a setup session acts as an admin of its workspace (the admin policy still
//! applies: SCIM-managed users stay the IdP's), audited as its link. docs/policy.md holds the
//! table, and a test checks it against [`reaches`].

use roster_domain::setup_link::SetupIntent;

/// A part of the admin API, as setup sessions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// Everything no setup needs (users' profiles, groups, mappings, roles, webhooks, the audit
    /// trail, API keys, SSO enforcement, setup links themselves): workspace admins only.
    AdminOnly,
    /// Who is signed in, and the CSRF token.
    Session,
    /// The workspace's connections and their values for the IdP, read.
    ReadConnections,
    /// `POST /connections`, whose body decides its area: a SCIM-only connection is
    /// [`Area::ConfigureScim`], a SAML or OIDC one [`Area::ConfigureSso`]; the handler asks
    /// again once it has read the body.
    CreateConnection,
    /// Create, change, test and test-sign-in a SAML or OIDC connection.
    ConfigureSso,
    /// Create a SCIM-only connection, turn SCIM on, create and list SCIM tokens.
    ConfigureScim,
    /// The provisioning log, the SCIM status and the users list: watching the first users arrive.
    WatchProvisioning,
    /// List, add, show and check the workspace's domains.
    Domains,
    /// End the setup session ("Done").
    FinishSetup,
}

/// Whether a setup session of `intent` reaches `area`.
pub fn reaches(intent: SetupIntent, area: Area) -> bool {
    use SetupIntent::{All, Domain, Scim, Sso};
    match area {
        Area::AdminOnly => false,
        Area::Session | Area::FinishSetup => true,
        Area::ReadConnections | Area::CreateConnection => matches!(intent, Sso | Scim | All),
        Area::ConfigureSso => matches!(intent, Sso | All),
        Area::ConfigureScim | Area::WatchProvisioning => matches!(intent, Scim | All),
        Area::Domains => matches!(intent, Domain | All),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = include_str!("../../../docs/policy.md");

    fn area(text: &str) -> Area {
        match text {
            "admin only" => Area::AdminOnly,
            "session" => Area::Session,
            "read connections" => Area::ReadConnections,
            "create connection" => Area::CreateConnection,
            "configure SSO" => Area::ConfigureSso,
            "configure SCIM" => Area::ConfigureScim,
            "watch provisioning" => Area::WatchProvisioning,
            "domains" => Area::Domains,
            "finish setup" => Area::FinishSetup,
            other => panic!("unknown area {other:?} in docs/policy.md"),
        }
    }

    /// The rows of the "What a setup session reaches" table: (area, [sso, scim, domain, all]).
    fn rows() -> Vec<(Area, [bool; 4])> {
        let section = POLICY
            .split("## What a setup session reaches")
            .nth(1)
            .expect("docs/policy.md has the setup section");
        section
            .lines()
            .skip_while(|line| !line.starts_with("| area"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let yes = |cell: &str| match cell {
                    "yes" => true,
                    "—" => false,
                    other => panic!("{other:?} is neither yes nor — in {line}"),
                };
                (
                    area(cells[1]),
                    [yes(cells[3]), yes(cells[4]), yes(cells[5]), yes(cells[6])],
                )
            })
            .collect()
    }

    #[test]
    fn the_documented_table_is_the_rule() {
        let rows = rows();
        assert_eq!(rows.len(), 9, "one row per area");
        let intents = [
            SetupIntent::Sso,
            SetupIntent::Scim,
            SetupIntent::Domain,
            SetupIntent::All,
        ];
        for (area, cells) in rows {
            for (intent, documented) in intents.into_iter().zip(cells) {
                assert_eq!(
                    reaches(intent, area),
                    documented,
                    "{intent:?} on {area:?} disagrees with docs/policy.md"
                );
            }
        }
    }

    #[test]
    fn all_reaches_exactly_what_some_intent_reaches() {
        let areas = [
            Area::AdminOnly,
            Area::Session,
            Area::ReadConnections,
            Area::CreateConnection,
            Area::ConfigureSso,
            Area::ConfigureScim,
            Area::WatchProvisioning,
            Area::Domains,
            Area::FinishSetup,
        ];
        for area in areas {
            let some = [SetupIntent::Sso, SetupIntent::Scim, SetupIntent::Domain]
                .into_iter()
                .any(|intent| reaches(intent, area));
            assert_eq!(reaches(SetupIntent::All, area), some, "{area:?}");
        }
    }
}
