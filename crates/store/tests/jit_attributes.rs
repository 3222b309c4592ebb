//! Custom attributes at JIT login (issue #28) against a real database: SQLite by default,
//! PostgreSQL when `TEST_DATABASE_URL` is set. The protocol layers extract the values (tested in
//! roster-sso); here claimed attributes go straight into `Store::jit_login`, and the values,
//! versions, directory events and warnings it leaves behind are checked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pretty_assertions::assert_eq;
use roster_store::domain::attributes::{
    AttrValue, AttributeDefinition, AttributeKind, NewAttributeDefinition, Protocol, RawScalar,
    StandardAttribute,
};
use roster_store::domain::{
    Actor, ClaimedAttribute, Connection, ConnectionKind, DisplayName, Email, GroupSync,
    GroupsClaim, LoginClaims, ProfileSync, Source, User, UserName, Vendor, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::{AttributeEdit, JitOutcome, NewConnection, NewUser, Store};
use serde_json::{json, Value};

fn connection(
    db: &TestStore,
    workspace: &Workspace,
    name: &str,
    profile_sync: ProfileSync,
    scim_enabled: bool,
) -> Connection {
    db.store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse(name).unwrap(),
                kind: ConnectionKind::Saml,
                vendor: Vendor::Generic,
                protocol_config: "{}".to_owned(),
                domains: Vec::new(),
                scim_enabled,
                profile_sync,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap()
}

fn declare(
    store: &Store,
    workspace: &Workspace,
    new: NewAttributeDefinition,
) -> AttributeDefinition {
    store
        .create_attribute(&Actor::Cli, workspace.id, &new)
        .unwrap()
}

fn standard(
    store: &Store,
    workspace: &Workspace,
    standard: StandardAttribute,
) -> AttributeDefinition {
    declare(store, workspace, NewAttributeDefinition::standard(standard))
}

/// A login of `subject` carrying `attributes` (definition, source, one text value each).
fn claims(subject: &str, attributes: &[(&AttributeDefinition, &str)]) -> LoginClaims {
    LoginClaims {
        subject: subject.to_owned(),
        email: Some(format!("{subject}@example.test")),
        email_verified: true,
        user_name: None,
        given_name: None,
        family_name: None,
        display_name: None,
        groups: GroupsClaim::Unknown,
        attributes: attributes
            .iter()
            .map(|(definition, value)| ClaimedAttribute {
                definition: (*definition).clone(),
                source: format!("src-{}", definition.name),
                values: vec![RawScalar::Text((*value).to_owned())],
            })
            .collect(),
    }
}

fn values(user: &User) -> Value {
    serde_json::from_str(&user.attributes).unwrap()
}

/// The `user.updated` events of `user` after feed position `after`, as their `changed` lists.
fn updates(store: &Store, workspace: &Workspace, user: &User, after: i64) -> Vec<Value> {
    store
        .events(workspace.id, after, 1000, &["user.updated".to_owned()])
        .unwrap()
        .iter()
        .map(|event| event.message())
        .filter(|message| message.resource["id"] == user.id.to_string())
        .map(|message| json!(message.changed))
        .collect()
}

fn last_position(store: &Store, workspace: &Workspace) -> i64 {
    store
        .events(workspace.id, 0, 100_000, &[])
        .unwrap()
        .last()
        .map_or(0, |event| event.seq)
}

fn login(store: &Store, ws: &Workspace, at: &Connection, claims: &LoginClaims) -> JitOutcome {
    match store.jit_login(ws, at, claims) {
        Ok(outcome) => outcome,
        Err(err) => panic!("refused: {err:?}"),
    }
}

#[test]
fn a_login_sets_attributes_at_creation_and_overwrites_them_only_with_every_login() {
    let db = TestStore::new();
    let store = &db.store;
    let ws = db.workspace("acme");
    let first = connection(&db, &ws, "first", ProfileSync::FirstLogin, false);
    let every = connection(&db, &ws, "every", ProfileSync::EveryLogin, false);
    let department = standard(store, &ws, StandardAttribute::Department);
    let title = standard(store, &ws, StandardAttribute::Title);
    let badge = declare(
        store,
        &ws,
        NewAttributeDefinition::new("badge", None, AttributeKind::Number, false, true).unwrap(),
    );

    // Created: every value that fits; the number that is not one is a warning, not a refusal.
    let created = login(
        store,
        &ws,
        &first,
        &claims(
            "ada",
            &[
                (&department, "Sales"),
                (&title, "Engineer"),
                (&badge, "n/a"),
            ],
        ),
    );
    assert!(created.created);
    assert_eq!(
        values(&created.user),
        json!({"department": "Sales", "title": "Engineer"})
    );
    assert_eq!(created.warnings.len(), 1);
    assert_eq!(created.warnings[0].attribute, "badge");
    assert_eq!(created.warnings[0].source, "src-badge");
    assert_eq!(created.warnings[0].reason, "must be a number, got \"n/a\"");

    // first_login: a later login changes nothing, and says nothing about values it ignores.
    let before = last_position(store, &ws);
    let again = login(
        store,
        &ws,
        &first,
        &claims("ada", &[(&department, "Support"), (&badge, "n/a")]),
    );
    assert_eq!(values(&again.user), values(&created.user));
    assert_eq!(again.user.version, created.user.version);
    assert!(again.warnings.is_empty());
    assert_eq!(
        updates(store, &ws, &created.user, before),
        Vec::<Value>::new()
    );

    // every_login: an attribute-only change moves the version once and is one user.updated.
    let bob = login(
        store,
        &ws,
        &every,
        &claims("bob", &[(&department, "Sales"), (&badge, "7")]),
    );
    assert_eq!(
        values(&bob.user),
        json!({"department": "Sales", "badge": 7})
    );
    let before = last_position(store, &ws);
    let moved = login(
        store,
        &ws,
        &every,
        &claims("bob", &[(&department, "Support")]),
    );
    assert_eq!(
        values(&moved.user),
        json!({"department": "Support", "badge": 7})
    );
    assert_eq!(moved.user.version, bob.user.version + 1);
    assert_eq!(
        updates(store, &ws, &bob.user, before),
        [json!(["attributes.department"])]
    );

    // The same values again: nothing written, no event. An attribute the login did not carry
    // keeps its value (a login never clears).
    let before = last_position(store, &ws);
    let same = login(
        store,
        &ws,
        &every,
        &claims("bob", &[(&department, "Support")]),
    );
    assert_eq!(same.user.version, moved.user.version);
    assert_eq!(
        values(&same.user),
        json!({"department": "Support", "badge": 7})
    );
    assert_eq!(updates(store, &ws, &bob.user, before), Vec::<Value>::new());

    // A profile change and an attribute change together: still one event, one version.
    let before = last_position(store, &ws);
    let mut both = claims("bob", &[(&department, "Legal")]);
    both.given_name = Some("Bob".to_owned());
    let changed = login(store, &ws, &every, &both);
    assert_eq!(changed.user.version, same.user.version + 1);
    assert_eq!(
        updates(store, &ws, &bob.user, before),
        [json!(["givenName", "attributes.department"])]
    );
}

/// A SCIM-managed user linked, then signed in with `every_login`: the link fills only what the
/// user lacks, and neither ever writes what the managing connection sources through SCIM
/// (`department` by the vendor default); what SCIM does not source (a custom attribute, or a
/// standard one whose SCIM mapping the admin turned off) the login may.
#[test]
fn a_link_fills_what_is_missing_and_scim_keeps_what_it_sources() {
    let db = TestStore::new();
    let store = &db.store;
    let ws = db.workspace("acme");
    let corp = connection(&db, &ws, "corp", ProfileSync::EveryLogin, true);
    let department = standard(store, &ws, StandardAttribute::Department);
    let title = standard(store, &ws, StandardAttribute::Title);
    let text = |name: &str| {
        declare(
            store,
            &ws,
            NewAttributeDefinition::new(name, None, AttributeKind::String, false, true).unwrap(),
        )
    };
    let (badge, code) = (text("badge"), text("code"));
    store
        .set_attribute_mapping(
            &Actor::Cli,
            ws.id,
            corp.id,
            title.id,
            Protocol::Scim,
            Some(Vec::new()),
        )
        .unwrap();
    let owned: Vec<String> = store
        .attribute_mappings(ws.id, corp.id, Protocol::Scim)
        .unwrap()
        .into_iter()
        .filter(|mapping| !mapping.sources.is_empty())
        .map(|mapping| mapping.definition.name.to_string())
        .collect();
    assert_eq!(owned, ["department"]);

    let mut ada = NewUser::minimal(ws.id, UserName::parse("ada").unwrap(), Source::Scim);
    ada.email = Some(Email::parse("ada@example.test").unwrap());
    ada.managing_connection_id = Some(corp.id);
    ada.external_id = Some("e-ada".to_owned());
    ada.attributes = vec![
        AttributeEdit {
            definition: department.clone(),
            value: Some(AttrValue::Text("Research".to_owned())),
        },
        AttributeEdit {
            definition: badge.clone(),
            value: Some(AttrValue::Text("B-1".to_owned())),
        },
    ];
    let ada = store.create_user(&Actor::Cli, &ada).unwrap();

    let linked = login(
        store,
        &ws,
        &corp,
        &claims(
            "ada",
            &[
                (&department, "Sales"),
                (&title, "Engineer"),
                (&badge, "B-2"),
                (&code, "C-1"),
            ],
        ),
    );
    assert!(linked.linked);
    assert_eq!(linked.user.id, ada.id);
    assert_eq!(
        values(&linked.user),
        json!({"department": "Research", "badge": "B-1", "title": "Engineer", "code": "C-1"})
    );

    let before = last_position(store, &ws);
    let again = login(
        store,
        &ws,
        &corp,
        &claims(
            "ada",
            &[(&department, "Sales"), (&title, "Manager"), (&badge, "B-2")],
        ),
    );
    assert!(!again.linked && !again.created);
    assert_eq!(
        values(&again.user),
        json!({"department": "Research", "badge": "B-2", "title": "Manager", "code": "C-1"})
    );
    assert_eq!(
        updates(store, &ws, &ada, before),
        [json!(["attributes.badge", "attributes.title"])]
    );
}

/// A manager named by the IdP is found by Roster id, externalId at the connection, userName
/// or email, the first that names exactly one user; otherwise a warning and no value.
#[test]
fn a_user_reference_is_resolved_or_warned_about() {
    let db = TestStore::new();
    let store = &db.store;
    let ws = db.workspace("acme");
    let corp = connection(&db, &ws, "corp", ProfileSync::FirstLogin, true);
    let other = connection(&db, &ws, "other", ProfileSync::FirstLogin, true);
    let manager = standard(store, &ws, StandardAttribute::Manager);
    let user = |name: &str, email: &str, managed: Option<(&Connection, &str)>| {
        let mut new = NewUser::minimal(ws.id, UserName::parse(name).unwrap(), Source::Invited);
        new.email = Some(Email::parse(email).unwrap());
        if let Some((connection, external_id)) = managed {
            new.managing_connection_id = Some(connection.id);
            new.external_id = Some(external_id.to_owned());
            new.source = Source::Scim;
        }
        store.create_user(&Actor::Cli, &new).unwrap()
    };
    let grace = user("grace", "grace@corp.test", Some((&corp, "E-7")));
    let alan = user("alan", "alan@corp.test", Some((&other, "E-8")));
    let edsger = user("edsger", "ed@corp.test", None);
    user("twin1", "twin@corp.test", None);
    user("twin2", "twin@corp.test", None);

    let grace_id = grace.id.to_string();
    #[rustfmt::skip]
    let table: &[(&str, &str, Option<String>)] = &[
        ("by-id", &grace_id, Some(grace.id.to_string())),
        ("by-external-id", "E-7", Some(grace.id.to_string())),
        // Another connection's externalId is not this login's to name.
        ("by-foreign-external-id", "E-8", None),
        ("by-user-name", "ALAN", Some(alan.id.to_string())),
        ("by-email", "ED@corp.test", Some(edsger.id.to_string())),
        ("ambiguous-email", "twin@corp.test", None),
        ("nobody", "nobody", None),
    ];
    for (subject, named, want) in table {
        let outcome = login(store, &ws, &corp, &claims(subject, &[(&manager, named)]));
        let got = values(&outcome.user)["manager"].as_str().map(str::to_owned);
        assert_eq!(&got, want, "{subject}");
        let warned: Vec<&str> = outcome
            .warnings
            .iter()
            .map(|warning| warning.attribute.as_str())
            .collect();
        let want_warned: &[&str] = if want.is_some() { &[] } else { &["manager"] };
        assert_eq!(warned, want_warned, "{subject}");
    }
}
