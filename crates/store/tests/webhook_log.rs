//! The webhook delivery log's retention against a real database (PostgreSQL too, with
//! `TEST_DATABASE_URL`): pruning deletes the attempts past retention and keeps the recent ones
//! and those at an event not yet delivered; deleting an endpoint is immediate and leaves its log
//! to the pruning, which removes it in batches whatever its age.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Source, Timestamp, UserName, Workspace};
use roster_store::schema::webhook_deliveries;
use roster_store::testing::TestStore;
use roster_store::{
    DeliveryOutcome, NewUser, NewWebhook, StoreError, WebhookEndpoint, DELIVERY_LOG_PRUNE_BATCH,
};

fn endpoint(db: &TestStore, workspace: &Workspace) -> WebhookEndpoint {
    db.store
        .create_webhook(
            &Actor::Cli,
            workspace.id,
            NewWebhook {
                url: "https://hooks.example.com/in",
                event_types: &[],
                workspaces: &[],
                secret: "whsec_c2VjcmV0",
            },
        )
        .unwrap()
}

fn user(db: &TestStore, workspace: &Workspace, name: &str) {
    let new = NewUser::minimal(
        workspace.id,
        UserName::parse(name).unwrap(),
        Source::Invited,
    );
    db.store.create_user(&Actor::Cli, &new).unwrap();
}

fn outcome(status: u16) -> DeliveryOutcome {
    let ok = (200..300).contains(&status);
    DeliveryOutcome {
        status_code: Some(status),
        duration_ms: 1,
        error: (!ok).then(|| format!("the endpoint answered HTTP {status}")),
        retry_at: (!ok).then(|| Timestamp::now().plus_seconds(3600)),
        give_up: false,
    }
}

/// Claims the endpoint's due events and records `statuses` as their attempts.
fn deliver(db: &TestStore, statuses: &[u16]) {
    let batch = db
        .store
        .claim_webhook_batches(60, 1, statuses.len())
        .unwrap()
        .pop()
        .expect("due");
    let outcomes: Vec<_> = statuses.iter().map(|status| outcome(*status)).collect();
    db.store.finish_webhook_batch(&batch, &outcomes).unwrap();
}

/// The endpoint's log rows: (event position, status), oldest position first.
fn log_rows(db: &TestStore, endpoint_id: &str) -> Vec<(i64, Option<i32>)> {
    db.read_rows(|conn| {
        Ok(webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .order((
                webhook_deliveries::event_seq.asc(),
                webhook_deliveries::id.asc(),
            ))
            .select((
                webhook_deliveries::event_seq,
                webhook_deliveries::status_code,
            ))
            .load(conn)?)
    })
    .unwrap()
}

/// Makes every log row of the endpoint `days` old.
fn age_log(db: &TestStore, endpoint_id: &str, days: i64) {
    let then = Timestamp::now().plus_seconds(-days * 86_400).as_micros();
    db.read_rows(|conn| {
        Ok(diesel::update(
            webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(endpoint_id)),
        )
        .set(webhook_deliveries::delivered_at.eq(then))
        .execute(conn)?)
    })
    .unwrap();
}

fn days_ago(days: i64) -> Timestamp {
    Timestamp::now().plus_seconds(-days * 86_400)
}

#[test]
fn pruning_deletes_delivered_attempts_past_retention_and_keeps_the_rest() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let hooks = endpoint(&db, &acme);
    user(&db, &acme, "a");
    user(&db, &acme, "b");
    // a delivered, b refused: the endpoint is stuck at b.
    deliver(&db, &[200, 503]);
    let old = log_rows(&db, &hooks.id);
    assert_eq!(old.len(), 2);
    age_log(&db, &hooks.id, 40);

    // The same, recent, at another endpoint of another workspace: inside retention.
    let other = db.workspace("other");
    let recent = endpoint(&db, &other);
    user(&db, &other, "c");
    while let Some(batch) = db.store.claim_webhook_batches(60, 4, 10).unwrap().pop() {
        let outcomes: Vec<_> = batch.deliveries.iter().map(|_| outcome(200)).collect();
        db.store.finish_webhook_batch(&batch, &outcomes).unwrap();
    }
    let kept = log_rows(&db, &recent.id);
    assert!(!kept.is_empty());

    assert_eq!(db.store.prune_webhook_deliveries(days_ago(30)).unwrap(), 1);
    assert_eq!(
        log_rows(&db, &hooks.id),
        [old[1]],
        "the delivered attempt went; the refused one, at an event not yet delivered, stays"
    );
    assert_eq!(log_rows(&db, &recent.id), kept, "inside retention");
    assert_eq!(
        db.store.prune_webhook_deliveries(days_ago(30)).unwrap(),
        0,
        "nothing more to prune"
    );
}

#[test]
fn a_deleted_endpoint_is_gone_at_once_and_its_log_is_pruned_in_batches() {
    let db = TestStore::new();
    let acme = db.workspace("acme");
    let deleted = endpoint(&db, &acme);
    let kept = endpoint(&db, &acme);
    user(&db, &acme, "a");
    // A log longer than one pruning transaction takes.
    let rows = usize::try_from(DELIVERY_LOG_PRUNE_BATCH).unwrap() * 2 + 7;
    let now = Timestamp::now().as_micros();
    db.read_rows(|conn| {
        for chunk in (0..rows).collect::<Vec<_>>().chunks(500) {
            for index in chunk {
                diesel::insert_into(webhook_deliveries::table)
                    .values((
                        webhook_deliveries::id.eq(format!("log-{index:06}")),
                        webhook_deliveries::endpoint_id.eq(&deleted.id),
                        webhook_deliveries::workspace_id.eq(None::<String>),
                        webhook_deliveries::event_id.eq("ev"),
                        webhook_deliveries::event_seq.eq(1_i64),
                        webhook_deliveries::attempt.eq(1),
                        webhook_deliveries::status_code.eq(Some(200)),
                        webhook_deliveries::duration_ms.eq(1_i64),
                        webhook_deliveries::resend.eq(false),
                        webhook_deliveries::delivered_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
    .unwrap();
    // The other endpoint delivers its events: recent rows that stay.
    while let Some(batch) = db.store.claim_webhook_batches(60, 1, 10).unwrap().pop() {
        let outcomes: Vec<_> = batch.deliveries.iter().map(|_| outcome(200)).collect();
        db.store.finish_webhook_batch(&batch, &outcomes).unwrap();
    }
    let kept_log = log_rows(&db, &kept.id);

    db.store
        .delete_webhook(&Actor::Cli, acme.id, &deleted.id)
        .unwrap();
    assert!(
        matches!(
            db.store.webhook(acme.id, &deleted.id),
            Err(StoreError::NotFound { .. })
        ),
        "the endpoint is gone at once"
    );
    assert!(matches!(
        db.store.webhook_deliveries(acme.id, &deleted.id, 10),
        Err(StoreError::NotFound { .. })
    ));
    let orphaned = log_rows(&db, &deleted.id).len();
    assert!(orphaned >= rows, "its log waits for the pruning");

    assert_eq!(
        db.store.prune_webhook_deliveries(days_ago(30)).unwrap(),
        orphaned,
        "recent or not, the log of a deleted endpoint goes"
    );
    assert!(log_rows(&db, &deleted.id).is_empty());
    assert_eq!(log_rows(&db, &kept.id), kept_log);
}
