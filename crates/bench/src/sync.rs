//! Entra ID's initial provisioning cycle (issue #7: 100,000 users, 1,000 groups and 500,000
//! memberships in under 2 minutes at concurrency 16), as Entra sends it:
//!
//! 1. per user, `GET /Users?filter=userName eq "…"` (nothing found) then `POST /Users`;
//! 2. per group, `GET /Groups?excludedAttributes=members&filter=displayName eq "…"` then
//!    `POST /Groups` with no members;
//! 3. the memberships, as `PATCH /Groups/{id}` with an `Add` of `members` carrying a list of
//!    users (Entra batches several members in one PATCH; 50 here).
//!
//! Each user belongs to `memberships / users` groups (5 at the issue's sizes), spread evenly.
//! The phases run one after another, each at the bench's concurrency; their wall-clock times add
//! up to the sync's time, which is set beside the 2-minute target. Each user, group and
//! membership is one directory event; a webhook endpoint registered before the sync receives them
//! all, and the bench reports how long after the last write the last one arrived
//! (`webhooks.rs`).

use std::time::{Duration, Instant};

use super::load::{self, Operation, Outcome, Step, Until};
use super::report::Judge;
use super::scenario::{create_each, finished, Row};
use roster_devtools::http::{encode_query, Request};
use roster_devtools::say;

const USERS: &str = "/scim/v2/Users";
const GROUPS: &str = "/scim/v2/Groups";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Members per PATCH.
const MEMBERS_PER_PATCH: u64 = 50;

/// The issue's target for the whole cycle.
pub(crate) const TARGET: Duration = Duration::from_secs(120);

/// How big the directory pushed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) users: u64,
    pub(crate) groups: u64,
    pub(crate) memberships: u64,
}

impl Size {
    /// The issue's proportions (1 group per 100 users, 5 memberships per user) for `users`.
    pub(crate) fn for_users(users: u64) -> Self {
        Self {
            users,
            groups: (users / 100).max(1),
            memberships: users * 5,
        }
    }

    /// The directory events the sync writes: one per user, group and membership.
    pub(crate) fn events(self) -> u64 {
        self.users + self.groups + self.memberships
    }
}

fn user_name(index: u64) -> String {
    format!("sync.user{index}@sync.example.com")
}

fn group_name(index: u64) -> String {
    format!("Sync Group {index}")
}

fn user_body(index: u64) -> String {
    let name = user_name(index);
    format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"20000000-0000-4000-8000-{index:012x}","userName":"{name}","active":true,"displayName":"Sync User {index}","emails":[{{"primary":true,"type":"work","value":"{name}"}}],"meta":{{"resourceType":"User"}},"name":{{"formatted":"Sync User {index}","familyName":"User {index}","givenName":"Sync"}},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{{"department":"Research","employeeNumber":"{index}"}}}}"#
    )
}

fn group_body(index: u64) -> String {
    format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"30000000-0000-4000-8000-{index:012x}","displayName":"{}","members":[]}}"#,
        group_name(index)
    )
}

fn add_members(user_ids: &[&str]) -> String {
    let values: Vec<String> = user_ids
        .iter()
        .map(|id| format!(r#"{{"value":"{id}"}}"#))
        .collect();
    format!(
        r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"Add","path":"members","value":[{}]}}]}}"#,
        values.join(",")
    )
}

/// Which users PATCH number `patch` adds, and to which group: group `g` gets members
/// `g·m … g·m + m − 1` (mod users), `m = memberships / groups`, `MEMBERS_PER_PATCH` at a time.
fn patch_plan(size: Size, patch: u64) -> (u64, Vec<u64>) {
    let per_group = (size.memberships / size.groups.max(1)).max(1);
    let patches_per_group = per_group.div_ceil(MEMBERS_PER_PATCH);
    let group = patch / patches_per_group;
    let first = (patch % patches_per_group) * MEMBERS_PER_PATCH;
    let last = (first + MEMBERS_PER_PATCH).min(per_group);
    let members = (first..last)
        .map(|j| (group * per_group + j) % size.users.max(1))
        .collect();
    (group, members)
}

fn patch_count(size: Size) -> u64 {
    let per_group = (size.memberships / size.groups.max(1)).max(1);
    size.groups * per_group.div_ceil(MEMBERS_PER_PATCH)
}

/// Looks a resource up (Entra's query before a create), then creates it; returns the outcome
/// and the ids created, in index order.
fn find_then_create(
    addr: &str,
    token: &str,
    concurrency: usize,
    count: u64,
    lookup: impl Fn(u64) -> String + Sync,
    create: impl Fn(u64) -> (&'static str, String) + Sync,
) -> (Outcome, Vec<String>) {
    let (lookup, create) = (&lookup, &create);
    create_each(addr, token, concurrency, count, || -> Operation<'_> {
        let mut creating = false;
        Box::new(move |index, answer| match answer {
            None => {
                creating = false;
                Step::Send(Request::get(lookup(index)))
            }
            Some(found) if !creating && found.status == 200 => {
                creating = true;
                let (path, body) = create(index);
                Step::Send(Request::scim("POST", path.to_owned(), Some(body)))
            }
            Some(answer) => Step::Done(answer),
        })
    })
}

/// Runs the cycle against the server at `addr`; returns its rows, the line with the total, and
/// when the last write was answered.
pub(crate) fn run(
    addr: &str,
    token: &str,
    concurrency: usize,
    size: Size,
    judge: Judge,
) -> Result<(Vec<Row>, String, Instant), String> {
    say(&format!(
        "  Entra-style initial sync: {} users, {} groups, {} memberships",
        size.users, size.groups, size.memberships
    ));
    let mut rows = Vec::new();
    let (outcome, user_ids) = find_then_create(
        addr,
        token,
        concurrency,
        size.users,
        |i| {
            let filter = format!("userName eq \"{}\"", user_name(i));
            format!("{USERS}?filter={}", encode_query(&filter))
        },
        |i| (USERS, user_body(i)),
    );
    rows.push(finished("sync: user (filter, POST)", outcome, None));
    let (outcome, group_ids) = find_then_create(
        addr,
        token,
        concurrency,
        size.groups,
        |i| {
            let filter = format!("displayName eq \"{}\"", group_name(i));
            format!(
                "{GROUPS}?excludedAttributes=members&filter={}",
                encode_query(&filter)
            )
        },
        |i| (GROUPS, group_body(i)),
    );
    rows.push(finished("sync: group (filter, POST)", outcome, None));
    if user_ids.len() as u64 != size.users || group_ids.len() as u64 != size.groups {
        return Err("the sync could not create every user and group".to_owned());
    }
    let (user_ids, group_ids) = (&user_ids, &group_ids);
    let patches = patch_count(size);
    let outcome = load::run(
        addr,
        token,
        concurrency,
        Until::Count(patches),
        |_| -> Operation<'_> {
            load::single(move |patch| {
                let (group, members) = patch_plan(size, patch);
                let ids: Vec<&str> = members
                    .iter()
                    .filter_map(|&m| user_ids.get(usize::try_from(m).ok()?).map(String::as_str))
                    .collect();
                let group = group_ids
                    .get(usize::try_from(group).unwrap_or(usize::MAX))
                    .map_or("", String::as_str);
                Request::scim(
                    "PATCH",
                    format!("{GROUPS}/{group}"),
                    Some(add_members(&ids)),
                )
            })
        },
    );
    let last_write = Instant::now();
    rows.push(finished("sync: PATCH add 50 members", outcome, None));
    let total: Duration = rows.iter().map(|row| row.outcome.elapsed).sum();
    let errors: u64 = rows.iter().map(|row| row.outcome.errors).sum();
    let line = format!(
        "  {:<32} {:>8.1} s  ({} users, {} groups, {} memberships, {} requests failed)  < {} s: {}",
        "Entra-style initial sync",
        total.as_secs_f64(),
        size.users,
        size.groups,
        size.memberships,
        errors,
        TARGET.as_secs(),
        judge.verdict(total < TARGET && errors == 0)
    );
    Ok((rows, line, last_write))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_covers_every_membership_once() {
        let size = Size::for_users(1_000);
        assert_eq!(
            size,
            Size {
                users: 1_000,
                groups: 10,
                memberships: 5_000
            }
        );
        let mut seen = std::collections::HashSet::new();
        for patch in 0..patch_count(size) {
            let (group, members) = patch_plan(size, patch);
            assert!(group < size.groups);
            assert!(members.len() as u64 <= MEMBERS_PER_PATCH);
            for member in members {
                assert!(member < size.users);
                assert!(seen.insert((group, member)), "({group}, {member}) twice");
            }
        }
        assert_eq!(seen.len() as u64, size.memberships);
        let issue = Size::for_users(100_000);
        assert_eq!((issue.groups, issue.memberships), (1_000, 500_000));
        assert_eq!(issue.events(), 601_000);
        assert_eq!(patch_count(issue), 10_000);
    }

    #[test]
    fn bodies_are_entra_shaped() {
        assert!(add_members(&["a", "b"]).contains(r#""value":[{"value":"a"},{"value":"b"}]"#));
        assert!(user_body(3).contains(r#""userName":"sync.user3@sync.example.com""#));
        assert!(group_body(3).contains(r#""displayName":"Sync Group 3""#));
    }
}
