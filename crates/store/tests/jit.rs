//! JIT provisioning rules (notes/sso-security.md §4.3 J01–J06, O17, O18) against a real
//! database: SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set. The protocol layers
//! are tested elsewhere; here verified claims go straight into `Store::jit_login`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pretty_assertions::assert_eq;
use roster_store::domain::domain_proof::{Check, Trigger};
use roster_store::domain::{
    Actor, Connection, ConnectionKind, DisplayName, Domain, Email, GroupSync, GroupsClaim,
    LifecycleEvent, LoginClaims, LoginFailure, ProfileSync, RoleName, Slug, Source, UserName,
    Vendor, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::{JitError, NewConnection, NewMapping, NewUser, NewWorkspace, Store};

fn connection(
    db: &TestStore,
    workspace: &Workspace,
    name: &str,
    domains: &[&str],
    profile_sync: ProfileSync,
) -> Connection {
    db.store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse(name).unwrap(),
                kind: ConnectionKind::Oidc,
                vendor: Vendor::Generic,
                protocol_config: "{}".to_owned(),
                domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
                scim_enabled: false,
                profile_sync,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap()
}

/// A workspace, `restricted`, whose only domain is `example.test`.
fn restricted_workspace(db: &TestStore) -> Workspace {
    db.store
        .create_workspace(
            &Actor::Cli,
            NewWorkspace {
                slug: Slug::parse("restricted").unwrap(),
                name: "restricted".to_owned(),
                domains: vec![Domain::parse("example.test").unwrap()],
            },
        )
        .unwrap()
}

fn claims(subject: &str, email: &str, groups: GroupsClaim) -> LoginClaims {
    LoginClaims {
        subject: subject.to_owned(),
        email: Some(email.to_owned()),
        email_verified: true,
        user_name: None,
        given_name: Some("Alice".to_owned()),
        family_name: Some("Anderson".to_owned()),
        display_name: None,
        groups,
        attributes: Vec::new(),
    }
}

fn known(values: &[&str]) -> GroupsClaim {
    GroupsClaim::Known(values.iter().map(|v| (*v).to_owned()).collect())
}

/// Maps claim `value` to app group `group` and role `role`.
fn map(store: &Store, workspace: &Workspace, connection: &Connection, value: &str, role: &str) {
    let role = store
        .create_role(
            &Actor::Cli,
            workspace.id,
            &RoleName::parse(role).unwrap(),
            10,
        )
        .unwrap();
    let group = store
        .app_group_by_name_or_create(
            &Actor::Cli,
            workspace.id,
            &DisplayName::parse(&format!("app-{value}")).unwrap(),
        )
        .unwrap();
    store
        .create_mapping(
            &Actor::Cli,
            &NewMapping {
                workspace_id: workspace.id,
                connection_id: connection.id,
                idp_group_key: Some(value.to_owned()),
                idp_group_name: None,
                app_group_id: Some(group.id),
                role_id: Some(role.id),
            },
        )
        .unwrap();
}

fn roles(store: &Store, workspace: &Workspace, login: &roster_store::JitOutcome) -> Vec<String> {
    store
        .effective_roles(workspace, login.user.id)
        .unwrap()
        .roles
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn refused(result: Result<roster_store::JitOutcome, JitError>) -> LoginFailure {
    match result {
        Err(JitError::Refused { failure, .. }) => failure,
        Err(JitError::Store(err)) => panic!("store error: {err}"),
        Ok(outcome) => panic!("accepted: {:?}", outcome.user.user_name),
    }
}

#[test]
fn j01_profile_is_copied_at_first_login_only_unless_every_login() {
    let db = TestStore::new();
    let ws = db.workspace("acme");
    let first = connection(&db, &ws, "first", &[], ProfileSync::FirstLogin);
    let every = connection(&db, &ws, "every", &[], ProfileSync::EveryLogin);

    let created = db
        .store
        .jit_login(
            &ws,
            &first,
            &claims("s1", "a@example.test", GroupsClaim::Unknown),
        )
        .unwrap();
    assert!(created.created);
    assert_eq!(created.user.source, Source::Jit);
    let mut renamed = claims("s1", "a@example.test", GroupsClaim::Unknown);
    renamed.given_name = Some("Alicia".to_owned());
    let again = db.store.jit_login(&ws, &first, &renamed).unwrap();
    assert!(!again.created);
    assert_eq!(again.user.given_name.as_deref(), Some("Alice"));

    db.store
        .jit_login(
            &ws,
            &every,
            &claims("s2", "b@example.test", GroupsClaim::Unknown),
        )
        .unwrap();
    let mut renamed = claims("s2", "b@example.test", GroupsClaim::Unknown);
    renamed.given_name = Some("Bea".to_owned());
    let synced = db.store.jit_login(&ws, &every, &renamed).unwrap();
    assert_eq!(synced.user.given_name.as_deref(), Some("Bea"));
    // J04: an absent claim keeps the stored value, even under every_login.
    renamed.family_name = None;
    let kept = db.store.jit_login(&ws, &every, &renamed).unwrap();
    assert_eq!(kept.user.family_name.as_deref(), Some("Anderson"));
}

#[test]
fn j02_j03_group_claims_follow_the_idp_and_the_mappings() {
    let db = TestStore::new();
    let ws = db.workspace("acme");
    let conn = connection(&db, &ws, "idp", &[], ProfileSync::FirstLogin);
    map(&db.store, &ws, &conn, "eng", "engineer");
    map(&db.store, &ws, &conn, "ops", "operator");

    let login = db
        .store
        .jit_login(
            &ws,
            &conn,
            &claims("s", "a@example.test", known(&["eng", "unmapped"])),
        )
        .unwrap();
    assert_eq!(roles(&db.store, &ws, &login), vec!["engineer"]);
    // Unmapped claim values create no IdP group.
    let groups: Vec<String> = db
        .store
        .groups_of_user(ws.id, login.user.id)
        .unwrap()
        .into_iter()
        .map(|g| g.display_name.to_string())
        .collect();
    assert!(!groups.contains(&"unmapped".to_owned()), "{groups:?}");
    assert!(groups.contains(&"app-eng".to_owned()));

    // J02: removed at the IdP -> removed at the next login; a manual role stays.
    let login = db
        .store
        .jit_login(&ws, &conn, &claims("s", "a@example.test", known(&["ops"])))
        .unwrap();
    assert_eq!(roles(&db.store, &ws, &login), vec!["operator"]);

    // O18 / overage: unknown groups change nothing.
    let login = db
        .store
        .jit_login(
            &ws,
            &conn,
            &claims("s", "a@example.test", GroupsClaim::Unknown),
        )
        .unwrap();
    assert_eq!(roles(&db.store, &ws, &login), vec!["operator"]);

    // An empty known set removes everything the claims brought.
    let login = db
        .store
        .jit_login(&ws, &conn, &claims("s", "a@example.test", known(&[])))
        .unwrap();
    assert_eq!(roles(&db.store, &ws, &login), vec!["member"]);

    // J03: a mapping changed from ops -> operator to ops -> admin takes effect at once.
    let login = db
        .store
        .jit_login(&ws, &conn, &claims("s", "a@example.test", known(&["ops"])))
        .unwrap();
    let mapping = db
        .store
        .list_mappings(ws.id)
        .unwrap()
        .into_iter()
        .find(|m| m.idp_group_key.as_deref() == Some("ops"))
        .unwrap();
    db.store
        .delete_mapping(&Actor::Cli, ws.id, mapping.id)
        .unwrap();
    assert_eq!(roles(&db.store, &ws, &login), vec!["member"]);
    map(&db.store, &ws, &conn, "ops", "lead");
    assert_eq!(roles(&db.store, &ws, &login), vec!["lead"]);
}

#[test]
fn j05_o17_an_existing_email_is_never_taken_over_silently() {
    let db = TestStore::new();
    let ws = db.workspace("acme");
    let mut invited = NewUser::minimal(ws.id, UserName::parse("alice").unwrap(), Source::Invited);
    invited.email = Some(Email::parse("alice@example.test").unwrap());
    let existing = db.store.create_user(&Actor::Cli, &invited).unwrap();

    // Not authoritative for the domain: refused, nothing written.
    let other = connection(&db, &ws, "other", &[], ProfileSync::FirstLogin);
    assert_eq!(
        refused(db.store.jit_login(
            &ws,
            &other,
            &claims("x", "alice@example.test", GroupsClaim::Unknown)
        )),
        LoginFailure::EmailConflict
    );
    // Authoritative, but the IdP says the email is unverified (nOAuth): refused too.
    let corp = connection(&db, &ws, "corp", &["example.test"], ProfileSync::FirstLogin);
    let mut unverified = claims("y", "ALICE@example.test", GroupsClaim::Unknown);
    unverified.email_verified = false;
    assert_eq!(
        refused(db.store.jit_login(&ws, &corp, &unverified)),
        LoginFailure::EmailConflict
    );
    assert_eq!(db.store.count_users(ws.id).unwrap(), 1);

    // Listing the domain is not enough: until the workspace verified it (a DNS record), the
    // connection is not authoritative for it and nothing is linked or written.
    assert_eq!(
        refused(db.store.jit_login(
            &ws,
            &corp,
            &claims("y", "Alice@Example.test", GroupsClaim::Unknown)
        )),
        LoginFailure::EmailConflict
    );
    assert_eq!(db.store.count_users(ws.id).unwrap(), 1);
    let domain = Domain::parse("example.test").unwrap();
    let pending = db.store.add_domain(&Actor::Cli, ws.id, &domain).unwrap();
    assert_eq!(
        refused(db.store.jit_login(
            &ws,
            &corp,
            &claims("y", "Alice@Example.test", GroupsClaim::Unknown)
        )),
        LoginFailure::EmailConflict,
        "a pending domain does not link either"
    );
    db.store
        .record_domain_check(
            &Actor::Cli,
            ws.id,
            &domain,
            &pending.challenge,
            Check::Found,
            Trigger::Request,
        )
        .unwrap();

    // Authoritative, domain verified, email verified (any case): linked to the same user.
    let linked = db
        .store
        .jit_login(
            &ws,
            &corp,
            &claims("y", "Alice@Example.test", GroupsClaim::Unknown),
        )
        .unwrap();
    assert!(linked.linked);
    assert_eq!(linked.user.id, existing.id);

    // Another workspace with the same email gets its own user: never a cross-tenant link (nor
    // can it verify the domain another workspace holds).
    let ws2 = db.workspace("globex");
    let corp2 = connection(
        &db,
        &ws2,
        "corp",
        &["example.test"],
        ProfileSync::FirstLogin,
    );
    let separate = db
        .store
        .jit_login(
            &ws2,
            &corp2,
            &claims("y", "alice@example.test", GroupsClaim::Unknown),
        )
        .unwrap();
    assert!(separate.created);
    assert_ne!(separate.user.id, existing.id);
}

#[test]
fn j06_inactive_users_and_foreign_domains_are_refused_with_nothing_changed() {
    let db = TestStore::new();
    let ws = db.workspace("acme");
    let conn = connection(&db, &ws, "idp", &[], ProfileSync::EveryLogin);
    let login = db
        .store
        .jit_login(
            &ws,
            &conn,
            &claims("s", "a@example.test", GroupsClaim::Unknown),
        )
        .unwrap();
    db.store
        .change_lifecycle(
            &Actor::Cli,
            ws.id,
            login.user.id,
            LifecycleEvent::Deprovision,
        )
        .unwrap();
    let mut renamed = claims("s", "a@example.test", GroupsClaim::Unknown);
    renamed.given_name = Some("Changed".to_owned());
    assert_eq!(
        refused(db.store.jit_login(&ws, &conn, &renamed)),
        LoginFailure::UserInactive
    );
    let user = db.store.user(ws.id, login.user.id).unwrap();
    assert_eq!(
        user.given_name.as_deref(),
        Some("Alice"),
        "a refused login writes nothing"
    );

    // A workspace with domains only admits emails in them.
    let restricted = restricted_workspace(&db);
    let conn_restricted = connection(&db, &restricted, "idp", &[], ProfileSync::FirstLogin);
    let foreign = claims("t", "eve@evil.test", GroupsClaim::Unknown);
    assert_eq!(
        refused(db.store.jit_login(&restricted, &conn_restricted, &foreign)),
        LoginFailure::EmailDomainNotAllowed
    );
    assert!(db
        .store
        .jit_login(
            &restricted,
            &conn_restricted,
            &claims("v", "ok@example.test", GroupsClaim::Unknown)
        )
        .is_ok());
    assert_eq!(db.store.count_users(restricted.id).unwrap(), 1);
    let mut nameless = claims("u", "", GroupsClaim::Unknown);
    nameless.email = None;
    let open = db.workspace("open");
    let conn_open = connection(&db, &open, "idp", &[], ProfileSync::FirstLogin);
    assert_eq!(
        refused(db.store.jit_login(&open, &conn_open, &nameless)),
        LoginFailure::MissingClaims
    );
    assert_eq!(db.store.count_users(open.id).unwrap(), 0);
}

/// A workspace's domain allowlist counts only an email the IdP vouches for: an OIDC provider that
/// lets people assert their own address (`email_verified: false`) cannot claim the domain, for a
/// new subject or a known one, and nothing is written. Without a domain list nothing changes.
#[test]
fn an_unverified_email_does_not_pass_the_workspace_domain_allowlist() {
    let db = TestStore::new();
    let restricted = restricted_workspace(&db);
    let idp = connection(&db, &restricted, "idp", &[], ProfileSync::EveryLogin);
    let audit_before = db
        .store
        .audit_events(restricted.id, None, 1000)
        .unwrap()
        .len();

    let mut typed = claims("eve", "ceo@example.test", GroupsClaim::Unknown);
    typed.email_verified = false;
    match db.store.jit_login(&restricted, &idp, &typed) {
        Err(JitError::Refused {
            failure, detail, ..
        }) => {
            assert_eq!(failure, LoginFailure::EmailUnverified);
            assert_eq!(
                detail,
                serde_json::json!({
                    "reason": "email_unverified",
                    "claim": "email_verified",
                    "want": true,
                    "got": false,
                    "email_domain": "example.test",
                })
            );
        }
        other => panic!("not refused as email_unverified: {other:?}"),
    }
    assert_eq!(db.store.count_users(restricted.id).unwrap(), 0);
    assert_eq!(
        db.store
            .audit_events(restricted.id, None, 1000)
            .unwrap()
            .len(),
        audit_before,
        "no user, no identity, no audit event"
    );

    // A known subject whose IdP stops vouching for the address is refused as well.
    let known = db
        .store
        .jit_login(
            &restricted,
            &idp,
            &claims("bob", "bob@example.test", GroupsClaim::Unknown),
        )
        .unwrap();
    let mut unvouched = claims("bob", "bob@example.test", GroupsClaim::Unknown);
    unvouched.email_verified = false;
    unvouched.given_name = Some("Changed".to_owned());
    assert_eq!(
        refused(db.store.jit_login(&restricted, &idp, &unvouched)),
        LoginFailure::EmailUnverified
    );
    let bob = db.store.user(restricted.id, known.user.id).unwrap();
    assert_eq!(bob.given_name.as_deref(), Some("Alice"), "nothing synced");
    assert_eq!(db.store.count_users(restricted.id).unwrap(), 1);

    // An unverified address in a foreign domain is refused for its domain.
    let mut foreign = claims("mallory", "m@evil.test", GroupsClaim::Unknown);
    foreign.email_verified = false;
    assert_eq!(
        refused(db.store.jit_login(&restricted, &idp, &foreign)),
        LoginFailure::EmailDomainNotAllowed
    );

    // A workspace without a domain list has no allowlist to pass: the login goes through.
    let open = db.workspace("open");
    let open_idp = connection(&db, &open, "idp", &[], ProfileSync::FirstLogin);
    assert!(
        db.store
            .jit_login(&open, &open_idp, &typed)
            .unwrap()
            .created
    );
}

/// `Store::sign_in` consumes the assertion in the login's own transaction: a second login with
/// the same assertion id — one after the other, or two racing (the ACS's read-only check up front
/// lets both through) — is refused as a replay, and leaves neither a login event nor a change.
#[test]
fn an_assertion_signs_in_once_even_when_two_logins_race() {
    use roster_store::domain::Timestamp;
    use roster_store::{NewLoginEvent, OneTimeAssertion};

    let db = TestStore::new();
    let ws = db.workspace("acme");
    let idp = connection(&db, &ws, "idp", &[], ProfileSync::FirstLogin);
    let sign_in = |subject: &str, assertion_id: &str| {
        let claims = claims(
            subject,
            &format!("{subject}@example.test"),
            GroupsClaim::Unknown,
        );
        let assertion = OneTimeAssertion {
            assertion_id,
            valid_until: Timestamp::now().plus_seconds(300),
        };
        db.store
            .sign_in(&ws, &idp, &claims, Some(assertion), |outcome| {
                NewLoginEvent {
                    workspace_id: ws.id,
                    connection_id: Some(idp.id),
                    user_id: Some(outcome.user.id),
                    protocol: "saml",
                    failure: None,
                    detail: serde_json::json!({}),
                    subject: Some(claims.subject.clone()),
                    email: claims.email.clone(),
                }
            })
            .map(|(outcome, _)| outcome)
    };
    let successes = || db.store.login_events(ws.id, None, 100).unwrap().len();

    sign_in("s1", "_assertion-1").unwrap();
    assert_eq!(refused(sign_in("s1", "_assertion-1")), LoginFailure::Replay);
    // The same assertion id carrying another subject must not create that user either.
    assert_eq!(refused(sign_in("s2", "_assertion-1")), LoginFailure::Replay);
    assert_eq!(db.store.count_users(ws.id).unwrap(), 1);
    assert_eq!(successes(), 1);

    let barrier = std::sync::Barrier::new(2);
    let raced: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = ["s3", "s4"]
            .map(|subject| {
                let (barrier, sign_in) = (&barrier, &sign_in);
                scope.spawn(move || {
                    barrier.wait();
                    sign_in(subject, "_assertion-2")
                })
            })
            .into_iter()
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let won = raced.iter().filter(|result| result.is_ok()).count();
    assert_eq!(won, 1, "exactly one of the racing logins signs in");
    for result in raced {
        if result.is_err() {
            assert_eq!(refused(result), LoginFailure::Replay);
        }
    }
    assert_eq!(db.store.count_users(ws.id).unwrap(), 2);
    assert_eq!(successes(), 2);
}

/// What a test sign-in shows: `jit_preview` decides what `jit_login` then does, situation by
/// situation, and writes nothing (users, audit, directory events).
#[test]
fn a_preview_decides_what_the_login_then_does_and_writes_nothing() {
    use roster_store::JitPreview;

    let db = TestStore::new();
    let store = &db.store;
    let ws = db.workspace("acme");
    let corp = connection(&db, &ws, "corp", &["example.test"], ProfileSync::FirstLogin);
    let domain = Domain::parse("example.test").unwrap();
    let pending = store.add_domain(&Actor::Cli, ws.id, &domain).unwrap();
    store
        .record_domain_check(
            &Actor::Cli,
            ws.id,
            &domain,
            &pending.challenge,
            Check::Found,
            Trigger::Request,
        )
        .unwrap();
    for (name, email) in [("ada", "ada@example.test"), ("gus", "gus@other.test")] {
        let mut invited = NewUser::minimal(ws.id, UserName::parse(name).unwrap(), Source::Invited);
        invited.email = Some(Email::parse(email).unwrap());
        store.create_user(&Actor::Cli, &invited).unwrap();
    }
    let preview_name = |preview: &JitPreview| match preview {
        JitPreview::Create { .. } => "create".to_owned(),
        JitPreview::Link { .. } => "link".to_owned(),
        JitPreview::SignIn { .. } => "sign_in".to_owned(),
        JitPreview::Refuse { failure, .. } => failure.code().to_owned(),
    };
    let login_name = |result: Result<roster_store::JitOutcome, JitError>| match result {
        Ok(outcome) if outcome.created => "create".to_owned(),
        Ok(outcome) if outcome.linked => "link".to_owned(),
        Ok(_) => "sign_in".to_owned(),
        Err(JitError::Refused { failure, .. }) => failure.code().to_owned(),
        Err(JitError::Store(err)) => panic!("store error: {err}"),
    };
    let written = || {
        (
            store.count_users(ws.id).unwrap(),
            store.audit_events(ws.id, None, 100_000).unwrap().len(),
            store.events(ws.id, 0, 100_000, &[]).unwrap().len(),
        )
    };

    // (subject, email, what the login does), in order: each row sees the ones before it.
    let table = [
        ("s-new", "new@example.test", "create"),
        ("s-new", "new@example.test", "sign_in"),
        ("s-ada", "ada@example.test", "link"),
        ("s-ada", "ada@example.test", "sign_in"),
        ("s-gus", "gus@other.test", "email_conflict"),
        ("s-eve", "not an email", "missing_claims"),
    ];
    for (subject, email, want) in table {
        let claims = claims(subject, email, known(&["eng"]));
        let before = written();
        let preview = store.jit_preview(&ws, &corp, &claims).unwrap();
        assert_eq!(written(), before, "{subject}: the preview wrote something");
        assert_eq!(preview_name(&preview), want, "{subject} preview");
        assert_eq!(
            login_name(store.jit_login(&ws, &corp, &claims)),
            want,
            "{subject} login"
        );
    }
}
