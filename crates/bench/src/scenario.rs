//! The operations measured, in order, with the request bodies Microsoft Entra ID sends: create
//! users, read them by id, find them with `userName eq`, deactivate and reactivate them with
//! PATCH, page through them, then create groups and add and remove members with PATCH.
//!
//! Creates run a fixed number of times (the user and group counts); the rest run for a fixed
//! time against the users created, picked at random (reads) or in turn (writes).
//!
//! The user operations take the SCIM base path as an argument, so `cargo xtask bench --peers`
//! sends the very same requests to other SCIM servers (`bench/peers.rs`); those have no cursors,
//! so the list walk can also page with `startIndex`, which every server has.

use std::cell::RefCell;
use std::time::Duration;

use super::load::{self, Operation, Outcome, Rng, Step, Until};
use roster_devtools::http::{encode_query, Request};
use roster_devtools::say;

/// Roster's SCIM base path.
pub(crate) const BASE: &str = "/scim/v2";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The issue's throughput targets (#7), in requests per second.
pub(crate) const GET_TARGET: f64 = 20_000.0;
pub(crate) const FILTER_TARGET: f64 = 15_000.0;

/// How hard and how long to push.
#[derive(Clone, Copy)]
pub(crate) struct Load {
    pub(crate) users: u64,
    pub(crate) concurrency: usize,
    pub(crate) seconds: u64,
}

/// How the list walk pages through the users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paging {
    /// RFC 9865 cursors (`cursor`, `nextCursor`), Roster's way: the same cost at any depth.
    Cursor,
    /// `startIndex` and `count` (RFC 7644 §3.4.2.4), which every SCIM server has.
    StartIndex,
}

impl Paging {
    /// The row's name in the tables.
    pub(crate) const fn row_name(self) -> &'static str {
        match self {
            Paging::Cursor => "list users (count=100, cursor)",
            Paging::StartIndex => "list users (count=100, startIndex)",
        }
    }
}

impl Load {
    /// How long each timed operation runs.
    fn timed(self) -> Until {
        Until::Elapsed(Duration::from_secs(self.seconds))
    }
}

/// One measured operation.
pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) outcome: Outcome,
    /// The issue's req/s target for this operation, if it has one.
    pub(crate) target: Option<f64>,
}

fn user_name(index: u64) -> String {
    format!("bench.user{index}@bench.example.com")
}

/// An Entra-like create body (Entra sends the enterprise extension, a work email, name parts).
fn user_body(index: u64) -> String {
    let name = user_name(index);
    format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"00000000-0000-4000-8000-{index:012x}","userName":"{name}","active":true,"displayName":"Bench User {index}","emails":[{{"primary":true,"type":"work","value":"{name}"}}],"meta":{{"resourceType":"User"}},"name":{{"formatted":"Bench User {index}","familyName":"User {index}","givenName":"Bench"}},"title":"Engineer","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{{"department":"Research","employeeNumber":"{index}"}}}}"#
    )
}

fn group_body(index: u64) -> String {
    format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"10000000-0000-4000-8000-{index:012x}","displayName":"Bench Group {index}","members":[]}}"#
    )
}

/// Entra's deactivate/reactivate: `Replace` (capitalised) on `active` with a boolean.
fn active_patch(active: bool) -> String {
    format!(
        r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"Replace","path":"active","value":{active}}}]}}"#
    )
}

/// Entra's membership change: `Add` or `Remove` on `members` with a value list of one.
fn member_patch(op: &str, user_id: &str) -> String {
    format!(
        r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"{op}","path":"members","value":[{{"value":"{user_id}"}}]}}]}}"#
    )
}

/// Runs a fixed number of creates and returns the ids created, by index.
fn create_all(
    addr: &str,
    token: &str,
    concurrency: usize,
    count: u64,
    path: &str,
    body: fn(u64) -> String,
) -> (Outcome, Vec<String>) {
    create_each(addr, token, concurrency, count, || {
        load::single(move |index| Request::scim("POST", path.to_owned(), Some(body(index))))
    })
}

/// Runs the operations `0..count` (each once, shared among the connections) and returns the
/// ids of the resources their `201 Created` answers name, in index order.
pub(crate) fn create_each<'a>(
    addr: &str,
    token: &str,
    concurrency: usize,
    count: u64,
    operation: impl Fn() -> Operation<'a>,
) -> (Outcome, Vec<String>) {
    let ids = RefCell::new(vec![None::<String>; usize::try_from(count).unwrap_or(0)]);
    let outcome = load::run(
        addr,
        token,
        concurrency,
        Until::Count(count),
        |_| -> Operation<'_> {
            let ids = &ids;
            let mut operation = operation();
            Box::new(move |index, answer| {
                let step = operation(index, answer);
                if let Step::Done(response) = &step {
                    if response.status == 201 {
                        let mut ids = ids.borrow_mut();
                        let slot = usize::try_from(index).ok().and_then(|i| ids.get_mut(i));
                        if let (Some(slot), Some(id)) = (slot, response.resource_id()) {
                            *slot = Some(id);
                        }
                    }
                }
                step
            })
        },
    );
    let ids = ids.into_inner().into_iter().flatten().collect();
    (outcome, ids)
}

pub(crate) fn finished(name: &'static str, outcome: Outcome, target: Option<f64>) -> Row {
    say(&format!(
        "  {name}: {} requests, {} errors, {:.0} req/s{}",
        outcome.requests(),
        outcome.errors,
        outcome.per_second(),
        outcome
            .first_error
            .as_deref()
            .map(|error| format!(" (first error: {error})"))
            .unwrap_or_default()
    ));
    Row {
        name,
        outcome,
        target,
    }
}

/// The user operations against the SCIM server at `addr` whose base path is `base` (`/scim/v2`
/// for Roster): create `load.users` users, GET them by id, find them with `userName eq`, PATCH
/// `active`, and walk the list once per `paging`. Returns the rows and the ids created.
pub(crate) fn users(
    addr: &str,
    token: &str,
    base: &str,
    load: Load,
    paging: &[Paging],
) -> Result<(Vec<Row>, Vec<String>), String> {
    let Load {
        users, concurrency, ..
    } = load;
    let timed = load.timed();
    let mut rows = Vec::new();
    let users_path = format!("{base}/Users");
    let users_path = users_path.as_str();

    say(&format!("  creating {users} users"));
    let (outcome, user_ids) = create_all(addr, token, concurrency, users, users_path, user_body);
    rows.push(finished("create user (POST)", outcome, None));
    if user_ids.is_empty() {
        return Err("no user was created; nothing to measure".to_owned());
    }
    let user_ids_ref = &user_ids;
    let count = user_ids.len();

    let outcome = load::run(addr, token, concurrency, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 1);
        load::single(move |_| {
            let id = &user_ids_ref[rng.below(count)];
            Request::get(format!("{users_path}/{id}"))
        })
    });
    rows.push(finished("GET user by id", outcome, Some(GET_TARGET)));

    let outcome = load::run(addr, token, concurrency, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 101);
        load::single(move |_| {
            let filter = format!("userName eq \"{}\"", user_name(rng.below(count) as u64));
            Request::get(format!("{users_path}?filter={}", encode_query(&filter)))
        })
    });
    rows.push(finished("filter userName eq", outcome, Some(FILTER_TARGET)));

    // Worker w takes users w, w+C, w+2C, ...: false on the first pass, true on the next.
    let outcome = load::run(addr, token, concurrency, timed, |worker| -> Operation<'_> {
        load::single(move |iteration| {
            let position = worker + iteration as usize * concurrency;
            let id = &user_ids_ref[position % count];
            let active = (position / count) % 2 == 1;
            Request::scim(
                "PATCH",
                format!("{users_path}/{id}"),
                Some(active_patch(active)),
            )
        })
    });
    rows.push(finished("PATCH user active", outcome, None));

    for &paging in paging {
        // Each worker walks the whole list, then starts again.
        let outcome = load::run(addr, token, concurrency, timed, |_| -> Operation<'_> {
            let (mut cursor, mut start) = (String::new(), 1);
            Box::new(move |_, answer| match answer {
                None => Step::Send(Request::get(match paging {
                    Paging::Cursor => {
                        format!("{users_path}?count=100&cursor={}", encode_query(&cursor))
                    }
                    Paging::StartIndex => format!("{users_path}?startIndex={start}&count=100"),
                })),
                Some(response) => {
                    match paging {
                        Paging::Cursor => {
                            cursor = response.json_string("nextCursor").unwrap_or_default();
                        }
                        Paging::StartIndex => start = next_start(start, count),
                    }
                    Step::Done(response)
                }
            })
        });
        rows.push(finished(paging.row_name(), outcome, None));
    }
    Ok((rows, user_ids))
}

/// The `startIndex` of the page after the one at `start` (100 a page) in `total` users: 1 again
/// after the last page.
fn next_start(start: usize, total: usize) -> usize {
    if start + 100 > total {
        1
    } else {
        start + 100
    }
}

/// Runs every operation against Roster at `addr` and returns the rows in order; the list walk
/// runs once per `paging`.
pub(crate) fn run(
    addr: &str,
    token: &str,
    load: Load,
    paging: &[Paging],
) -> Result<Vec<Row>, String> {
    let (mut rows, user_ids) = users(addr, token, BASE, load, paging)?;
    let (concurrency, timed) = (load.concurrency, load.timed());
    let (user_ids, count) = (&user_ids, user_ids.len());

    let groups = (load.users / 100).max(concurrency as u64);
    say(&format!("  creating {groups} groups"));
    let groups_path = format!("{BASE}/Groups");
    let groups_path = groups_path.as_str();
    let (outcome, group_ids) =
        create_all(addr, token, concurrency, groups, groups_path, group_body);
    rows.push(finished("create group (POST)", outcome, None));
    if group_ids.is_empty() {
        return Err("no group was created; nothing more to measure".to_owned());
    }
    let group_ids = &group_ids;

    // Even iterations add a random user to the worker's next group, odd ones remove it again.
    let outcome = load::run(addr, token, concurrency, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 1001);
        let mut member = String::new();
        load::single(move |iteration| {
            let group =
                &group_ids[(worker + (iteration / 2) as usize * concurrency) % group_ids.len()];
            let op = if iteration % 2 == 0 {
                member.clone_from(&user_ids[rng.below(count)]);
                "Add"
            } else {
                "Remove"
            };
            Request::scim(
                "PATCH",
                format!("{groups_path}/{group}"),
                Some(member_patch(op, &member)),
            )
        })
    });
    rows.push(finished("PATCH group add/remove member", outcome, None));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_devtools::http::Response;

    #[test]
    fn bodies_are_json_shaped() {
        assert!(user_body(5).contains(r#""userName":"bench.user5@bench.example.com""#));
        assert!(user_body(5).contains("00000000-0000-4000-8000-000000000005"));
        assert!(active_patch(false).contains(r#""value":false"#));
        assert!(member_patch("Add", "u1").contains(r#""op":"Add","path":"members""#));
        let response = Response {
            status: 201,
            location: Some("http://x/scim/v2/Groups/g1".to_owned()),
            set_cookies: Vec::new(),
            body: Vec::new(),
        };
        assert_eq!(response.resource_id().as_deref(), Some("g1"));
    }

    #[test]
    fn start_index_walks_and_wraps() {
        assert_eq!(next_start(1, 250), 101);
        assert_eq!(next_start(201, 250), 1);
        assert_eq!(next_start(101, 200), 1);
        assert_eq!(next_start(1, 5), 1);
    }
}
