//! Deleting a workspace while writers are busy in it and the publisher moves events (PostgreSQL),
//! on both backends: every event of the workspace goes with it, whichever of the writer, the
//! publisher and the deletion commits first, and its `workspace.deleted` event is the only one of
//! it left. Another workspace's writers are untouched.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, Source, UserName, WorkspaceId};
use roster_store::testing::TestStore;
use roster_store::NewUser;

fn new_user(workspace_id: WorkspaceId, user_name: &str) -> NewUser {
    NewUser::minimal(
        workspace_id,
        UserName::parse(user_name).unwrap(),
        Source::Invited,
    )
}

#[test]
fn a_workspace_deleted_under_concurrent_writers_leaves_only_its_deleted_event() {
    let db = TestStore::new();
    let doomed = db.workspace("doomed").id;
    let other = db.workspace("other").id;
    let store = &db.store;
    let done = AtomicBool::new(false);
    let written_to_other: usize = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                scope.spawn(move || {
                    let mut written_to_other = 0;
                    let mut doomed_gone = false;
                    for i in 0..300 {
                        let workspace = if i % 2 == 0 && !doomed_gone {
                            doomed
                        } else {
                            other
                        };
                        let name = format!("w{writer}-{i}");
                        match store.create_user(&Actor::Cli, &new_user(workspace, &name)) {
                            Ok(_) if workspace == other => written_to_other += 1,
                            Ok(_) => {}
                            // Refused once the deletion committed: the workspace is gone.
                            Err(_) if workspace == doomed => doomed_gone = true,
                            Err(err) => panic!("{err}"),
                        }
                    }
                    written_to_other
                })
            })
            .collect();
        let done = &done;
        scope.spawn(move || {
            while !done.load(Ordering::SeqCst) {
                store.publish_events().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        std::thread::sleep(Duration::from_millis(40));
        store.delete_workspace(&Actor::Cli, doomed).unwrap();
        let written = writers.into_iter().map(|w| w.join().unwrap()).sum();
        done.store(true, Ordering::SeqCst);
        written
    });
    let events = store.deployment_events(None, 0, 100_000, &[]).unwrap();
    let of_doomed: Vec<&str> = events
        .iter()
        .filter(|e| e.workspace_id == doomed.to_string())
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(of_doomed, ["workspace.deleted"]);
    let users_of_other = events
        .iter()
        .filter(|e| e.workspace_id == other.to_string() && e.event_type == "user.created")
        .count();
    assert_eq!(
        users_of_other, written_to_other,
        "the other workspace's events all stay"
    );
}
