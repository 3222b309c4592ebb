//! Webhook batches against a real database (PostgreSQL too, with `TEST_DATABASE_URL`): a claim
//! takes an endpoint's next events in order, the batch's commit moves the cursor past the
//! acknowledged prefix only, a batch whose lease ran out is claimed again from the cursor (never
//! skipping an event), a late finish cannot undo a later one, an endpoint moves past the types
//! it does not take, and a commit that wrote events wakes the webhook worker.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, DisplayName, Source, Timestamp, UserName, Workspace};
use roster_store::testing::TestStore;
use roster_store::{
    DeliveryOutcome, NewUser, NewWebhook, NextBatch, WebhookBatch, WebhookEndpoint,
};

struct Fixture {
    db: TestStore,
    workspace: Workspace,
    endpoint: WebhookEndpoint,
}

impl Fixture {
    /// Workspace `acme` with one endpoint taking `types` (empty: every type).
    fn new(types: &[&str]) -> Self {
        let db = TestStore::new();
        let workspace = db.workspace("acme");
        let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
        let endpoint = db
            .store
            .create_webhook(
                &Actor::Cli,
                workspace.id,
                NewWebhook {
                    url: "https://hooks.example.com/in",
                    event_types: &types,
                    workspaces: &[],
                    secret: "whsec_c2VjcmV0",
                },
            )
            .unwrap();
        Self {
            db,
            workspace,
            endpoint,
        }
    }

    /// Creates users (one `user.created` each).
    fn users(&self, names: &[&str]) {
        for name in names {
            let new = NewUser::minimal(
                self.workspace.id,
                UserName::parse(name).unwrap(),
                Source::Invited,
            );
            self.db.store.create_user(&Actor::Cli, &new).unwrap();
        }
    }

    /// Claims at most one batch of at most `per_batch` deliveries.
    fn claim(&self, lease_secs: i64, per_batch: usize) -> Option<WebhookBatch> {
        let mut batches = self
            .db
            .store
            .claim_webhook_batches(lease_secs, 1, per_batch)
            .unwrap();
        assert!(batches.len() <= 1);
        batches.pop()
    }

    fn endpoint(&self) -> WebhookEndpoint {
        self.db
            .store
            .webhook(self.workspace.id, &self.endpoint.id)
            .unwrap()
    }

    /// Makes the endpoint's scheduled retry due now, as time passing would.
    fn retry_due_now(&self) {
        use diesel::prelude::*;
        use roster_store::schema::webhook_endpoints;
        self.db
            .read_rows(|conn| {
                Ok(
                    diesel::update(webhook_endpoints::table.find(&self.endpoint.id))
                        .set(webhook_endpoints::next_attempt_at.eq(0))
                        .execute(conn)?,
                )
            })
            .unwrap();
    }

    /// (event id, attempt, status) of the delivery log, oldest first.
    fn log(&self) -> Vec<(String, i32, Option<i32>)> {
        let mut log = self
            .db
            .store
            .webhook_deliveries(self.workspace.id, &self.endpoint.id, 1000)
            .unwrap();
        log.sort_by(|a, b| a.id.cmp(&b.id));
        log.into_iter()
            .map(|d| (d.event_id, d.attempt, d.status_code))
            .collect()
    }
}

/// The user names a batch delivers, in order.
fn names(batch: &WebhookBatch) -> Vec<String> {
    batch
        .deliveries
        .iter()
        .map(|d| {
            let resource: serde_json::Value = serde_json::from_str(&d.event.resource).unwrap();
            resource["userName"].as_str().unwrap_or("-").to_owned()
        })
        .collect()
}

fn ids(batch: &WebhookBatch) -> Vec<String> {
    batch
        .deliveries
        .iter()
        .map(|d| d.event.id.clone())
        .collect()
}

fn ok() -> DeliveryOutcome {
    DeliveryOutcome {
        status_code: Some(200),
        duration_ms: 1,
        error: None,
        retry_at: None,
        give_up: false,
    }
}

/// A failed attempt, retried at `retry_at`.
fn failed(retry_at: Timestamp) -> DeliveryOutcome {
    DeliveryOutcome {
        status_code: Some(503),
        duration_ms: 1,
        error: Some("the endpoint answered HTTP 503".to_owned()),
        retry_at: Some(retry_at),
        give_up: false,
    }
}

#[test]
fn a_batch_holds_the_next_events_in_order_and_its_commit_moves_the_cursor() {
    let hooks = Fixture::new(&[]);
    hooks.users(&["a", "b", "c", "d", "e"]);
    let first = hooks.claim(60, 3).expect("due");
    assert_eq!(names(&first), ["a", "b", "c"]);
    assert_eq!(first.caught_up_to, None, "more is due after it");
    assert!(
        hooks.claim(60, 3).is_none(),
        "the endpoint is leased: one batch out at a time"
    );
    hooks
        .db
        .store
        .finish_webhook_batch(&first, &[ok(), ok(), ok()])
        .unwrap();
    assert_eq!(hooks.endpoint().cursor_seq, first.deliveries[2].event.seq);

    let second = hooks.claim(60, 3).expect("the rest");
    assert_eq!(names(&second), ["d", "e"]);
    let head = second.deliveries[1].event.seq;
    assert_eq!(second.caught_up_to, Some(head));
    hooks
        .db
        .store
        .finish_webhook_batch(&second, &[ok(), ok()])
        .unwrap();
    assert_eq!(hooks.endpoint().cursor_seq, head);
    assert!(hooks.claim(60, 3).is_none(), "nothing left");
    let log = hooks.log();
    let delivered: Vec<String> = log.iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(delivered, [ids(&first), ids(&second)].concat());
    assert!(log
        .iter()
        .all(|(_, attempt, status)| *attempt == 1 && *status == Some(200)));
}

#[test]
fn a_failure_mid_batch_records_the_delivered_prefix_and_retries_the_rest_in_order() {
    let hooks = Fixture::new(&[]);
    hooks.users(&["a", "b", "c", "d"]);
    let batch = hooks.claim(60, 10).expect("due");
    assert_eq!(names(&batch), ["a", "b", "c", "d"]);
    let later = Timestamp::now().plus_seconds(3600);
    hooks
        .db
        .store
        .finish_webhook_batch(&batch, &[ok(), ok(), failed(later)])
        .unwrap();
    let endpoint = hooks.endpoint();
    assert_eq!(
        endpoint.cursor_seq, batch.deliveries[1].event.seq,
        "past the acknowledged prefix only"
    );
    assert_eq!((endpoint.attempts, endpoint.consecutive_failures), (1, 1));
    assert_eq!(endpoint.next_attempt_at, later.as_micros());
    let log = hooks.log();
    assert_eq!(
        log.iter().map(|(_, a, s)| (*a, *s)).collect::<Vec<_>>(),
        [(1, Some(200)), (1, Some(200)), (1, Some(503))]
    );
    assert!(hooks.claim(60, 10).is_none(), "not before the retry is due");

    // Time passes: the retry starts with the failed event, and fails again.
    hooks.retry_due_now();
    let retry = hooks.claim(60, 1).expect("due again");
    assert_eq!(names(&retry), ["c"]);
    hooks
        .db
        .store
        .finish_webhook_batch(&retry, &[failed(later)])
        .unwrap();
    let endpoint = hooks.endpoint();
    assert_eq!(
        (endpoint.attempts, endpoint.consecutive_failures),
        (2, 2),
        "a second failure of the same event"
    );
    hooks.retry_due_now();
    let retry = hooks.claim(60, 10).expect("the retry");
    assert_eq!(
        names(&retry),
        ["c", "d"],
        "the failed event first, then the rest, in order"
    );
    assert_eq!(retry.attempt_counts(0), (3, 3));
    assert_eq!(retry.attempt_counts(1), (1, 1));
    hooks
        .db
        .store
        .finish_webhook_batch(&retry, &[ok(), ok()])
        .unwrap();
    let endpoint = hooks.endpoint();
    assert_eq!(endpoint.cursor_seq, retry.deliveries[1].event.seq);
    assert_eq!((endpoint.attempts, endpoint.consecutive_failures), (0, 0));
    let attempts: Vec<i32> = hooks.log().iter().map(|(_, a, _)| *a).collect();
    assert_eq!(attempts, [1, 1, 1, 2, 3, 1]);
}

#[test]
fn a_batch_whose_lease_ran_out_is_claimed_again_from_the_cursor_and_a_late_finish_undoes_nothing() {
    let hooks = Fixture::new(&[]);
    hooks.users(&["a", "b", "c"]);
    // A worker claims and is killed mid-batch: a lease of 0 runs out at once.
    let lost = hooks.claim(0, 10).expect("due");
    assert_eq!(names(&lost), ["a", "b", "c"]);
    std::thread::sleep(Duration::from_millis(2));
    let again = hooks.claim(60, 10).expect("claimed again");
    assert_eq!(ids(&again), ids(&lost), "the same events, none skipped");
    hooks
        .db
        .store
        .finish_webhook_batch(&again, &[ok(), ok(), ok()])
        .unwrap();
    let head = again.deliveries[2].event.seq;
    assert_eq!(hooks.endpoint().cursor_seq, head);

    // The first worker was only slow: its outcomes arrive after the second one's.
    hooks
        .db
        .store
        .finish_webhook_batch(&lost, &[ok(), failed(Timestamp::now().plus_seconds(3600))])
        .unwrap();
    let endpoint = hooks.endpoint();
    assert_eq!(endpoint.cursor_seq, head, "the cursor never moves back");
    assert_eq!(
        (
            endpoint.attempts,
            endpoint.consecutive_failures,
            endpoint.enabled
        ),
        (0, 0, true),
        "and the stale failure schedules no retry"
    );
    assert_eq!(hooks.log().len(), 5, "both workers' attempts are logged");
    hooks.users(&["d"]);
    let next = hooks.claim(60, 10).expect("the next event is due at once");
    assert_eq!(names(&next), ["d"]);
}

const NEXT: Option<NextBatch> = Some(NextBatch {
    lease_secs: 60,
    per_batch: 2,
});

#[test]
fn a_delivered_batch_claims_the_endpoints_next_one_in_the_same_transaction() {
    let hooks = Fixture::new(&[]);
    hooks.users(&["a", "b", "c", "d", "e"]);
    let first = hooks.claim(60, 2).expect("due");
    assert_eq!(names(&first), ["a", "b"]);
    let store = &hooks.db.store;
    let second = store
        .finish_webhook_batch_and_claim_next(&first, &[ok(), ok()], NEXT)
        .unwrap()
        .expect("more is due");
    assert_eq!(names(&second), ["c", "d"], "the next events, in order");
    assert_eq!(hooks.endpoint().cursor_seq, first.deliveries[1].event.seq);
    assert!(
        hooks.claim(60, 10).is_none(),
        "the follow-on holds the endpoint's lease"
    );
    let third = store
        .finish_webhook_batch_and_claim_next(&second, &[ok(), ok()], NEXT)
        .unwrap()
        .expect("one left");
    assert_eq!(names(&third), ["e"]);
    let none = store
        .finish_webhook_batch_and_claim_next(&third, &[ok()], NEXT)
        .unwrap();
    assert!(none.is_none(), "nothing more is due");
    assert_eq!(hooks.endpoint().cursor_seq, third.deliveries[0].event.seq);
    let delivered: Vec<String> = hooks.log().into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(delivered, [ids(&first), ids(&second), ids(&third)].concat());
    hooks.users(&["f"]);
    let next = hooks.claim(60, 10).expect("released: a claim takes it");
    assert_eq!(names(&next), ["f"]);
}

#[test]
fn no_follow_on_after_a_failure_a_lost_lease_or_a_deleted_endpoint() {
    let hooks = Fixture::new(&[]);
    hooks.users(&["a", "b", "c", "d"]);
    let store = &hooks.db.store;
    let later = Timestamp::now().plus_seconds(3600);
    let batch = hooks.claim(60, 2).expect("due");
    let next = store
        .finish_webhook_batch_and_claim_next(&batch, &[ok(), failed(later)], NEXT)
        .unwrap();
    assert!(next.is_none(), "a failure waits for its retry");
    let endpoint = hooks.endpoint();
    assert_eq!(endpoint.cursor_seq, batch.deliveries[0].event.seq);
    assert_eq!(endpoint.next_attempt_at, later.as_micros());

    // A batch whose lease passed to another worker claims nothing after it.
    hooks.retry_due_now();
    let lost = hooks.claim(0, 2).expect("due again");
    std::thread::sleep(Duration::from_millis(2));
    let again = hooks.claim(60, 2).expect("taken over");
    let next = store
        .finish_webhook_batch_and_claim_next(&lost, &[ok(), ok()], NEXT)
        .unwrap();
    assert!(next.is_none(), "the endpoint is the other worker's");
    assert!(hooks.claim(60, 2).is_none(), "and still leased by it");

    // The endpoint is deleted while its batch is out.
    store
        .delete_webhook(&Actor::Cli, hooks.workspace.id, &hooks.endpoint.id)
        .unwrap();
    let next = store
        .finish_webhook_batch_and_claim_next(&again, &[ok(), ok()], NEXT)
        .unwrap();
    assert!(next.is_none(), "nothing to claim for a deleted endpoint");
}

#[test]
fn an_endpoint_moves_past_events_of_types_it_does_not_take() {
    let hooks = Fixture::new(&["user.created"]);
    for name in ["Eng", "Ops", "Sales"] {
        hooks
            .db
            .store
            .app_group_by_name_or_create(
                &Actor::Cli,
                hooks.workspace.id,
                &DisplayName::parse(name).unwrap(),
            )
            .unwrap();
    }
    let head = hooks
        .db
        .store
        .events(hooks.workspace.id, 0, 100, &[])
        .unwrap()
        .last()
        .unwrap()
        .seq;
    assert!(hooks.claim(60, 10).is_none(), "nothing of its type");
    assert_eq!(
        hooks.endpoint().cursor_seq,
        head,
        "the cursor passed the groups' events"
    );
    assert!(hooks.log().is_empty());
    hooks.users(&["a"]);
    let batch = hooks.claim(60, 10).expect("a user.created");
    assert_eq!(names(&batch), ["a"]);
    assert_eq!(batch.caught_up_to, Some(batch.deliveries[0].event.seq));
}

#[test]
fn resends_go_first_and_leave_the_cursor_where_it_is() {
    let hooks = Fixture::new(&[]);
    hooks.users(&["a", "b"]);
    let batch = hooks.claim(60, 10).expect("due");
    hooks
        .db
        .store
        .finish_webhook_batch(&batch, &[ok(), ok()])
        .unwrap();
    let cursor = hooks.endpoint().cursor_seq;
    let first = &batch.deliveries[0].event;
    hooks
        .db
        .store
        .resend_webhook_event(hooks.workspace.id, &hooks.endpoint.id, &first.id)
        .unwrap();
    hooks.users(&["c"]);
    let batch = hooks.claim(60, 10).expect("the resend, then c");
    assert_eq!(names(&batch), ["a", "c"]);
    assert_eq!(
        batch
            .deliveries
            .iter()
            .map(|d| d.resend_id.is_some())
            .collect::<Vec<_>>(),
        [true, false]
    );
    // The resend fails: c waits behind it, and the cursor stays.
    hooks
        .db
        .store
        .finish_webhook_batch(&batch, &[failed(Timestamp::now())])
        .unwrap();
    assert_eq!(hooks.endpoint().cursor_seq, cursor);
    let batch = hooks.claim(60, 10).expect("retried");
    assert_eq!(names(&batch), ["a", "c"]);
    hooks
        .db
        .store
        .finish_webhook_batch(&batch, &[ok(), ok()])
        .unwrap();
    assert!(hooks.claim(60, 10).is_none(), "the resend is done");
    assert_eq!(hooks.endpoint().cursor_seq, batch.deliveries[1].event.seq);
}

#[test]
fn a_commit_that_wrote_events_wakes_the_webhook_worker_only() {
    let hooks = Fixture::new(&[]);
    let store = &hooks.db.store;
    let (mut events_seen, mut logouts_seen) = (0, 0);
    // Take what the set-up rang.
    store
        .events_wake()
        .wait(&mut events_seen, Duration::from_millis(1));
    store
        .outbox_wake()
        .wait(&mut logouts_seen, Duration::from_millis(1));
    hooks.users(&["a"]);
    assert!(store
        .events_wake()
        .wait(&mut events_seen, Duration::from_millis(1)));
    assert!(
        !store
            .outbox_wake()
            .wait(&mut logouts_seen, Duration::from_millis(1)),
        "the back-channel logout worker has nothing to do with events"
    );
    assert!(hooks.claim(60, 10).is_some());
    assert!(
        !store
            .events_wake()
            .wait(&mut events_seen, Duration::from_millis(1)),
        "a claim writes no event"
    );
}
