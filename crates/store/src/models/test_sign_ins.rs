//! Test sign-ins: an admin's dry run of a real SSO login through one connection (docs/sso.md
//! "Test sign-in"). The admin API creates one (`pending`, ten minutes to finish); the browser
//! that opens its URL starts it once, which also records the pending login it began
//! (`sso_requests`) and binds the test to that browser; the ACS or OIDC callback completes it
//! once with its report. A test writes nothing else: no user, identity, membership, session or
//! login event. Rows are kept a day, then swept by the next creation.

use diesel::prelude::*;
use roster_domain::{Action, Actor, ConnectionId, NewAuditEvent, Timestamp, WorkspaceId};

use super::record_audit;
use super::sign_in::OneTimeAssertion;
use super::sso_state::{consume_in, same_browser, SsoRequest};
use crate::schema::{sso_requests, test_sign_ins};
use crate::{Store, StoreError, StoreResult};

/// How long a test sign-in may take from its creation to its report.
pub const TEST_SIGN_IN_SECONDS: i64 = 10 * 60;
/// How long a test sign-in and its report are kept.
pub const TEST_SIGN_IN_KEPT_SECONDS: i64 = 24 * 60 * 60;

/// A test sign-in as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = test_sign_ins)]
pub struct TestSignIn {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    /// The pending login it started (SAML request id, or SHA-256 of the OIDC `state`).
    pub request_id: Option<String>,
    /// SHA-256 of the `roster_sso` cookie of the browser that started it.
    pub browser_hash: Option<String>,
    /// The report (JSON text), once completed.
    pub report: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
}

/// Where a test sign-in is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestSignInStatus {
    /// Created, or started and waiting for the IdP's answer.
    Pending,
    /// Its report is stored.
    Completed,
    /// Not completed in time.
    Expired,
}

impl TestSignInStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestSignInStatus::Pending => "pending",
            TestSignInStatus::Completed => "completed",
            TestSignInStatus::Expired => "expired",
        }
    }
}

impl TestSignIn {
    /// Its status at `now` (microseconds).
    pub fn status_at(&self, now: i64) -> TestSignInStatus {
        match (self.completed_at, self.expires_at < now) {
            (Some(_), _) => TestSignInStatus::Completed,
            (None, true) => TestSignInStatus::Expired,
            (None, false) => TestSignInStatus::Pending,
        }
    }

    /// Whether a browser may start it at `now`: never started, not expired.
    fn startable_at(&self, now: i64) -> bool {
        self.started_at.is_none() && self.status_at(now) == TestSignInStatus::Pending
    }
}

/// Why a test sign-in could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStartRefused {
    /// No such test in this workspace (or swept).
    Unknown,
    /// Started before (by this browser or another): a test's URL works once.
    AlreadyStarted,
    /// Completed, or not completed in time.
    Finished,
}

fn find(conn: &mut crate::DbConnection, id: &str) -> StoreResult<Option<TestSignIn>> {
    Ok(test_sign_ins::table
        .find(id)
        .select(TestSignIn::as_select())
        .get_result(conn)
        .optional()?)
}

impl Store {
    /// Creates a pending test sign-in of `connection_id` (sweeping those older than a day) and
    /// audits it as `connection.test_sign_in_started`.
    pub fn create_test_sign_in(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        connection_id: ConnectionId,
    ) -> StoreResult<TestSignIn> {
        self.write(|conn| {
            let now = Timestamp::now();
            let horizon = now.as_micros() - TEST_SIGN_IN_KEPT_SECONDS * 1_000_000;
            diesel::delete(test_sign_ins::table.filter(test_sign_ins::created_at.lt(horizon)))
                .execute(conn)?;
            let row = TestSignIn {
                id: uuid::Uuid::new_v4().hyphenated().to_string(),
                workspace_id: workspace_id.to_string(),
                connection_id: connection_id.to_string(),
                request_id: None,
                browser_hash: None,
                report: None,
                created_at: now.as_micros(),
                expires_at: now.plus_seconds(TEST_SIGN_IN_SECONDS).as_micros(),
                started_at: None,
                completed_at: None,
            };
            diesel::insert_into(test_sign_ins::table)
                .values((
                    test_sign_ins::id.eq(&row.id),
                    test_sign_ins::workspace_id.eq(&row.workspace_id),
                    test_sign_ins::connection_id.eq(&row.connection_id),
                    test_sign_ins::created_at.eq(row.created_at),
                    test_sign_ins::expires_at.eq(row.expires_at),
                ))
                .execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("connection.test_sign_in_started"),
                    target_kind: "connection",
                    target_id: connection_id.to_string(),
                    detail: serde_json::json!({ "testSignIn": row.id }).to_string(),
                },
            )?;
            Ok(row)
        })
    }

    /// The test sign-in `id` of `connection_id` in `workspace_id` (another workspace's or
    /// connection's is `NotFound`, as is one swept after a day).
    pub fn test_sign_in(
        &self,
        workspace_id: WorkspaceId,
        connection_id: ConnectionId,
        id: &str,
    ) -> StoreResult<TestSignIn> {
        self.read(|conn| {
            let horizon = Timestamp::now().as_micros() - TEST_SIGN_IN_KEPT_SECONDS * 1_000_000;
            find(conn, id)?
                .filter(|test| {
                    test.workspace_id == workspace_id.to_string()
                        && test.connection_id == connection_id.to_string()
                        && test.created_at >= horizon
                })
                .ok_or(StoreError::NotFound {
                    what: "test sign-in",
                })
        })
    }

    /// The test sign-in `id` of `workspace_id` as a browser about to start it sees it.
    pub fn startable_test_sign_in(
        &self,
        workspace_id: WorkspaceId,
        id: &str,
    ) -> StoreResult<Result<TestSignIn, TestStartRefused>> {
        self.read(|conn| Ok(startable(find(conn, id)?, workspace_id)))
    }

    /// Starts the test sign-in `id` once: binds the test to `request` (the pending login its
    /// browser began, whose `return_to` leads back to the console) and records that request, in
    /// one transaction. A second start — another tab, another browser, or one racing this one —
    /// is refused and records nothing.
    pub fn start_test_sign_in(
        &self,
        workspace_id: WorkspaceId,
        id: &str,
        request: &SsoRequest,
    ) -> StoreResult<Result<(), TestStartRefused>> {
        self.write(|conn| {
            let now = Timestamp::now().as_micros();
            // The claim first: of two starts racing, the second finds the row taken (PostgreSQL
            // re-reads it once the first commits; SQLite runs them one after the other).
            let claimed = diesel::update(
                test_sign_ins::table
                    .find(id)
                    .filter(test_sign_ins::workspace_id.eq(workspace_id.to_string()))
                    .filter(test_sign_ins::started_at.is_null())
                    .filter(test_sign_ins::completed_at.is_null())
                    .filter(test_sign_ins::expires_at.ge(now)),
            )
            .set((
                test_sign_ins::request_id.eq(&request.id),
                test_sign_ins::browser_hash.eq(&request.browser_hash),
                test_sign_ins::started_at.eq(now),
            ))
            .execute(conn)?;
            if claimed == 0 {
                let refused = startable(find(conn, id)?, workspace_id)
                    .err()
                    .unwrap_or(TestStartRefused::AlreadyStarted);
                return Ok(Err(refused));
            }
            let test = find(conn, id)?.ok_or(StoreError::NotFound {
                what: "test sign-in",
            })?;
            diesel::delete(sso_requests::table.filter(sso_requests::expires_at.lt(now)))
                .execute(conn)?;
            // The pending login lives no longer than its test, so that no answer to it is
            // taken for a real login's once the test is over.
            let request = SsoRequest {
                expires_at: request.expires_at.min(test.expires_at),
                ..request.clone()
            };
            diesel::insert_into(sso_requests::table)
                .values(&request)
                .execute(conn)?;
            Ok(Ok(()))
        })
    }

    /// The started, unfinished test sign-ins of `connection_id` this browser began: what a
    /// response to one of their requests completes.
    pub fn pending_test_sign_ins(
        &self,
        connection_id: ConnectionId,
        browser_hash: &str,
    ) -> StoreResult<Vec<TestSignIn>> {
        let now = Timestamp::now().as_micros();
        self.read(|conn| {
            let started: Vec<TestSignIn> = test_sign_ins::table
                .filter(test_sign_ins::connection_id.eq(connection_id.to_string()))
                .filter(test_sign_ins::request_id.is_not_null())
                .filter(test_sign_ins::completed_at.is_null())
                .filter(test_sign_ins::expires_at.ge(now))
                .select(TestSignIn::as_select())
                .load(conn)?;
            Ok(started
                .into_iter()
                .filter(|test| {
                    test.browser_hash
                        .as_deref()
                        .is_some_and(|stored| same_browser(stored, browser_hash))
                })
                .collect())
        })
    }

    /// Completes the test sign-in `id` once with `report` (JSON text), consuming `assertion`
    /// and deleting the test's pending login in the same transaction, so that neither a tested
    /// SAML assertion nor the test's request can be used again anywhere. `false` when it was
    /// completed before or has expired (nothing is written then).
    pub fn complete_test_sign_in(
        &self,
        id: &str,
        report: &str,
        assertion: Option<OneTimeAssertion<'_>>,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let now = Timestamp::now().as_micros();
            let completed = diesel::update(
                test_sign_ins::table
                    .find(id)
                    .filter(test_sign_ins::completed_at.is_null())
                    .filter(test_sign_ins::expires_at.ge(now)),
            )
            .set((
                test_sign_ins::report.eq(Some(report)),
                test_sign_ins::completed_at.eq(Some(now)),
            ))
            .execute(conn)?;
            if completed == 0 {
                return Ok(false);
            }
            let test = find(conn, id)?.ok_or(StoreError::NotFound {
                what: "test sign-in",
            })?;
            let connection_id: ConnectionId = test
                .connection_id
                .parse()
                .map_err(|_| StoreError::Corrupt("test_sign_ins: connection id".to_owned()))?;
            if let Some(assertion) = assertion {
                consume_in(
                    conn,
                    connection_id,
                    assertion.assertion_id,
                    assertion.valid_until,
                )?;
            }
            // Its pending login goes with it (a refused check leaves it unconsumed): an answer to
            // a finished test's request is never a real login's.
            if let Some(request_id) = &test.request_id {
                diesel::delete(
                    sso_requests::table
                        .filter(sso_requests::id.eq(request_id))
                        .filter(sso_requests::connection_id.eq(&test.connection_id)),
                )
                .execute(conn)?;
            }
            Ok(true)
        })
    }
}

fn startable(
    found: Option<TestSignIn>,
    workspace_id: WorkspaceId,
) -> Result<TestSignIn, TestStartRefused> {
    let now = Timestamp::now().as_micros();
    match found {
        Some(test) if test.workspace_id == workspace_id.to_string() => {
            if test.startable_at(now) {
                Ok(test)
            } else if test.started_at.is_some() && test.status_at(now) == TestSignInStatus::Pending
            {
                Err(TestStartRefused::AlreadyStarted)
            } else {
                Err(TestStartRefused::Finished)
            }
        }
        Some(_) | None => Err(TestStartRefused::Unknown),
    }
}

#[cfg(test)]
mod tests {
    //! A test sign-in's life on both backends: started once, completed once, its pending login
    //! bounded by it and gone with it.

    use pretty_assertions::assert_eq;
    use roster_domain::{Actor, Timestamp};

    use super::{TestSignInStatus, TestStartRefused};
    use crate::testing::TestStore;
    use crate::{OneTimeAssertion, SsoRequest};

    fn request(id: &str, connection: &str, workspace: &str, browser: &str) -> SsoRequest {
        let now = Timestamp::now();
        SsoRequest {
            id: id.to_owned(),
            workspace_id: workspace.to_owned(),
            connection_id: connection.to_owned(),
            browser_hash: browser.to_owned(),
            nonce: None,
            pkce_verifier: None,
            return_to: "/admin#test/x".to_owned(),
            created_at: now.as_micros(),
            // Longer than the test: the store shortens it.
            expires_at: now.plus_seconds(3600).as_micros(),
        }
    }

    #[test]
    fn a_test_starts_once_completes_once_and_takes_its_request_with_it() {
        let db = TestStore::new();
        let store = &db.store;
        let workspace = db.workspace("acme");
        let other = db.workspace("globex");
        let connection = db.scim_connection(workspace.id, "idp", false, false);
        let test = store
            .create_test_sign_in(&Actor::Cli, workspace.id, connection.id)
            .unwrap();
        let now = Timestamp::now().as_micros();
        assert_eq!(test.status_at(now), TestSignInStatus::Pending);
        assert_eq!(
            test.status_at(test.expires_at + 1),
            TestSignInStatus::Expired
        );
        let (ws, cid) = (workspace.id.to_string(), connection.id.to_string());

        // Another workspace cannot start it; its browser starts it once.
        let first = request("r1", &cid, &ws, "b1");
        assert_eq!(
            store
                .start_test_sign_in(other.id, &test.id, &first)
                .unwrap(),
            Err(TestStartRefused::Unknown)
        );
        assert_eq!(
            store
                .start_test_sign_in(workspace.id, &test.id, &first)
                .unwrap(),
            Ok(())
        );
        let second = request("r2", &cid, &ws, "b2");
        assert_eq!(
            store
                .start_test_sign_in(workspace.id, &test.id, &second)
                .unwrap(),
            Err(TestStartRefused::AlreadyStarted)
        );
        assert_eq!(
            store.pending_sso_requests(connection.id, "b2").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            store.pending_sso_requests(connection.id, "b1").unwrap(),
            vec!["r1".to_owned()]
        );
        // Only the browser that started it has it pending.
        let pending = store.pending_test_sign_ins(connection.id, "b1").unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].request_id.as_deref(), Some("r1"));
        assert!(store
            .pending_test_sign_ins(connection.id, "b2")
            .unwrap()
            .is_empty());

        // Completed once: the assertion is consumed and the request is gone.
        let assertion = OneTimeAssertion {
            assertion_id: "_a1",
            valid_until: Timestamp::now().plus_seconds(300),
        };
        assert!(store
            .complete_test_sign_in(&test.id, r#"{"outcome":"create"}"#, Some(assertion))
            .unwrap());
        assert!(!store
            .complete_test_sign_in(&test.id, r#"{"outcome":"refuse"}"#, None)
            .unwrap());
        assert!(store.assertion_consumed(connection.id, "_a1").unwrap());
        assert!(store
            .pending_sso_requests(connection.id, "b1")
            .unwrap()
            .is_empty());
        let stored = store
            .test_sign_in(workspace.id, connection.id, &test.id)
            .unwrap();
        assert_eq!(stored.report.as_deref(), Some(r#"{"outcome":"create"}"#));
        assert_eq!(
            stored.status_at(Timestamp::now().as_micros()),
            TestSignInStatus::Completed
        );
        assert_eq!(
            store
                .start_test_sign_in(workspace.id, &test.id, &second)
                .unwrap(),
            Err(TestStartRefused::Finished)
        );
        assert!(store
            .test_sign_in(other.id, connection.id, &test.id)
            .is_err());
    }

    #[test]
    fn a_test_s_request_expires_with_the_test() {
        let db = TestStore::new();
        let store = &db.store;
        let workspace = db.workspace("acme");
        let connection = db.scim_connection(workspace.id, "idp", false, false);
        let test = store
            .create_test_sign_in(&Actor::Cli, workspace.id, connection.id)
            .unwrap();
        let (ws, cid) = (workspace.id.to_string(), connection.id.to_string());
        store
            .start_test_sign_in(workspace.id, &test.id, &request("r1", &cid, &ws, "b1"))
            .unwrap()
            .unwrap();
        let taken = store
            .take_sso_request(connection.id, "r1", "b1")
            .unwrap()
            .unwrap();
        assert_eq!(taken.expires_at, test.expires_at);
    }
}
