//! Group-to-role mapping driven by real SCIM requests: effective roles and mapped app-group
//! memberships are right after every step, without any "reassign" action.

use pretty_assertions::assert_eq;
use roster_store::domain::{Actor, DisplayName, Provenance, RoleName};
use roster_store::NewMapping;
use serde_json::json;

use crate::common::{patch_op, TestApp};

fn roles(app: &TestApp, user_id: &str) -> (Vec<String>, String) {
    let effective = app
        .db
        .store
        .effective_roles(&app.workspace, user_id.parse().unwrap())
        .unwrap();
    (
        effective.roles.iter().map(|r| r.to_string()).collect(),
        effective.primary.to_string(),
    )
}

fn app_groups(app: &TestApp, user_id: &str) -> Vec<String> {
    app.db
        .store
        .groups_of_user(app.workspace.id, user_id.parse().unwrap())
        .unwrap()
        .into_iter()
        .filter(|g| g.kind == roster_store::domain::GroupKind::App)
        .map(|g| g.display_name.to_string())
        .collect()
}

fn role(app: &TestApp, name: &str, rank: i32) -> roster_store::domain::RoleId {
    app.db
        .store
        .create_role(
            &Actor::Cli,
            app.workspace.id,
            &RoleName::parse(name).unwrap(),
            rank,
        )
        .unwrap()
        .id
}

fn map(
    app: &TestApp,
    key: Option<&str>,
    name: Option<&str>,
    group: Option<&str>,
    role: Option<roster_store::domain::RoleId>,
) -> roster_store::domain::GroupMapping {
    let app_group = group.map(|g| {
        app.db
            .store
            .app_group_by_name_or_create(
                &Actor::Cli,
                app.workspace.id,
                &DisplayName::parse(g).unwrap(),
            )
            .unwrap()
            .id
    });
    app.db
        .store
        .create_mapping(
            &Actor::Cli,
            &NewMapping {
                workspace_id: app.workspace.id,
                connection_id: app.connection.id,
                idp_group_key: key.map(str::to_owned),
                idp_group_name: name.map(str::to_owned),
                app_group_id: app_group,
                role_id: role,
            },
        )
        .unwrap()
}

fn scim_group(app: &TestApp, name: &str, external_id: &str, members: &[&String]) -> String {
    let members: Vec<_> = members.iter().map(|m| json!({"value": m})).collect();
    let reply = app.scim(
        "POST",
        "/Groups",
        Some(json!({"displayName": name, "externalId": external_id, "members": members})),
    );
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn member_patch(app: &TestApp, group: &str, op: &str, user: &str) {
    let reply = app.scim(
        "PATCH",
        &format!("/Groups/{group}"),
        Some(patch_op(
            json!([{"op": op, "path": "members", "value": [{"value": user}]}]),
        )),
    );
    assert_eq!(reply.status, 204, "{:#}", reply.body);
}

#[test]
fn roles_follow_every_change_live() {
    let app = TestApp::new();
    let editor = role(&app, "editor", 50);
    let sales_role = role(&app, "sales", 40);
    let (ann, ben) = (
        app.create_user("ann", "e-ann"),
        app.create_user("ben", "e-ben"),
    );
    let eng = scim_group(&app, "Eng", "aad-eng", &[&ann, &ben]);
    assert_eq!(
        roles(&app, &ann),
        (vec!["member".into()], "member".into()),
        "nothing mapped yet: the default role"
    );

    // A mapping added after the users exist applies at once (by externalId here).
    let eng_mapping = map(
        &app,
        Some("aad-eng"),
        None,
        Some("Engineering"),
        Some(editor),
    );
    assert_eq!(roles(&app, &ann), (vec!["editor".into()], "editor".into()));
    assert_eq!(app_groups(&app, &ben), vec!["Engineering".to_string()]);

    // Renamed in the IdP: the mapping follows the stable key.
    app.scim(
        "PATCH",
        &format!("/Groups/{eng}"),
        Some(patch_op(
            json!([{"op": "replace", "path": "displayName", "value": "Engineering (all)"}]),
        )),
    );
    assert_eq!(roles(&app, &ann).0, vec!["editor".to_string()]);

    // Moved between groups: roles change with the membership.
    let sales = scim_group(&app, "Sales", "aad-sales", &[]);
    map(&app, Some(&sales), None, None, Some(sales_role));
    member_patch(&app, &eng, "remove", &ann);
    member_patch(&app, &sales, "add", &ann);
    assert_eq!(roles(&app, &ann), (vec!["sales".into()], "sales".into()));
    assert!(
        app_groups(&app, &ann).is_empty(),
        "left the mapped app group with the IdP group"
    );

    // In two mapped groups: both roles, the higher rank is primary.
    member_patch(&app, &eng, "add", &ann);
    assert_eq!(
        roles(&app, &ann),
        (vec!["editor".into(), "sales".into()], "editor".into())
    );

    // A manual member of the mapped app group.
    let carl = app.create_user("carl", "e-carl");
    let engineering = app
        .db
        .store
        .app_group_by_name_or_create(
            &Actor::Cli,
            app.workspace.id,
            &DisplayName::parse("Engineering").unwrap(),
        )
        .unwrap();
    app.db
        .store
        .add_group_member(
            &Actor::Cli,
            app.workspace.id,
            engineering.id,
            carl.parse().unwrap(),
            Provenance::Manual,
        )
        .unwrap();

    // The IdP group is deleted: its mapping goes, the app group stays with its manual member only.
    assert_eq!(
        app.scim("DELETE", &format!("/Groups/{eng}"), None).status,
        204
    );
    assert!(
        app.db
            .store
            .mapping(app.workspace.id, eng_mapping.id)
            .is_err(),
        "mapping deleted"
    );
    assert_eq!(roles(&app, &ann), (vec!["sales".into()], "sales".into()));
    assert_eq!(roles(&app, &ben), (vec!["member".into()], "member".into()));
    assert!(app_groups(&app, &ben).is_empty());
    assert_eq!(
        app_groups(&app, &carl),
        vec!["Engineering".to_string()],
        "manual members stay"
    );

    // Every role change is audited with its cause.
    let changes: Vec<String> = app
        .db
        .store
        .audit_events(app.workspace.id, None, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "user.roles_changed" && e.target_id == ann)
        .map(|e| e.detail)
        .collect();
    assert_eq!(changes.len(), 5, "{changes:#?}");
    assert!(
        changes[0].contains("\"mapping\"") && changes[0].contains("editor"),
        "{}",
        changes[0]
    );
    assert!(changes[1].contains("idp_group"), "{}", changes[1]);
    assert!(changes[4].contains("idp_group_deleted"), "{}", changes[4]);
}

#[test]
fn deleting_a_mapping_takes_back_what_it_gave() {
    let app = TestApp::new();
    let editor = role(&app, "editor", 50);
    let ann = app.create_user("ann", "e-ann");
    let eng = scim_group(&app, "Eng", "x-eng", &[&ann]);
    let mapping = map(&app, Some(&eng), None, Some("Engineering"), Some(editor));
    assert_eq!(roles(&app, &ann).0, vec!["editor".to_string()]);
    app.db
        .store
        .delete_mapping(&Actor::Cli, app.workspace.id, mapping.id)
        .unwrap();
    assert_eq!(roles(&app, &ann).0, vec!["member".to_string()]);
    assert!(app_groups(&app, &ann).is_empty());
}

#[test]
fn a_mapping_by_name_waits_for_the_group() {
    let app = TestApp::new();
    let editor = role(&app, "editor", 50);
    let pending = map(&app, None, Some("Data Stewards"), None, Some(editor));
    assert_eq!(
        (
            pending.idp_group_key.as_deref(),
            pending.idp_group_name.as_deref()
        ),
        (None, Some("Data Stewards"))
    );
    let ann = app.create_user("ann", "e-ann");
    let group = scim_group(&app, "Data Stewards", "x-ds", &[&ann]);
    let bound = app.db.store.mapping(app.workspace.id, pending.id).unwrap();
    assert_eq!(
        bound.idp_group_key.as_deref(),
        Some(group.as_str()),
        "bound to the stable id"
    );
    assert_eq!(roles(&app, &ann).0, vec!["editor".to_string()]);
    // The name match is exact: another case does not bind.
    let other = map(&app, None, Some("ops"), None, Some(editor));
    scim_group(&app, "OPS", "x-ops", &[]);
    assert_eq!(
        app.db
            .store
            .mapping(app.workspace.id, other.id)
            .unwrap()
            .idp_group_key,
        None
    );
}

#[test]
fn duplicate_mappings_conflict_and_deprovisioning_drops_roles() {
    let app = TestApp::new();
    let editor = role(&app, "editor", 50);
    let ann = app.create_user("ann", "e-ann");
    let eng = scim_group(&app, "Eng", "x-eng", &[&ann]);
    map(&app, Some(&eng), None, None, Some(editor));
    let dup = app.db.store.create_mapping(
        &Actor::Cli,
        &NewMapping {
            workspace_id: app.workspace.id,
            connection_id: app.connection.id,
            idp_group_key: Some(eng.clone()),
            idp_group_name: None,
            app_group_id: None,
            role_id: Some(editor),
        },
    );
    assert!(
        matches!(dup, Err(roster_store::StoreError::Conflict { .. })),
        "{dup:?}"
    );
    assert_eq!(
        app.db.store.list_mappings(app.workspace.id).unwrap().len(),
        1
    );
    assert_eq!(
        app.scim("DELETE", &format!("/Users/{ann}"), None).status,
        204
    );
    assert_eq!(roles(&app, &ann).0, vec!["member".to_string()]);
}
