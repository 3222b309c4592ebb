//! The admin console in a real browser (Debian's headless Chromium, driven by
//! `e2e/console/drive.mjs` with playwright-core): an admin signs in with a password, creates a
//! SAML connection from SimpleSAMLphp's metadata URL, tests it, creates a draft SAML connection
//! without metadata and activates it by adding the metadata, turns SCIM on, generates a token,
//! provisions a user through SCIM with it, sees the user and the sync status, finds their own
//! account cannot be disabled (and why), disables another user after a confirmation, adds a
//! mapping, is refused (after a confirmation) the deletion of the mapping that makes them an
//! admin, revokes the token after a confirmation, registers a webhook endpoint, opens the page of
//! a user signed into two products and signs them out everywhere, and signs out. On the way it
//! edits the connection, copies the token shown once, sees an expired token as expired, picks
//! the mapping's connection, role and app group from lists, reads the roles page, finds SSO
//! enforcement disabled for a password session (and why), revokes a leaked API key, and reads a
//! login failure's want/got, a SCIM request's target and the audit trail. It also sets up a
//! connection through the guided setup (picks Okta, reads its steps with the draft's own values,
//! gives it SimpleSAMLphp's metadata URL) and, on the Domains page, adds a domain, reads the TXT
//! record to publish, checks it against a DNS server that has no record, deletes it after a
//! confirmation and keeps another. On the Attributes page it declares department from its
//! template and a number of its own (a second declaration is refused with the API's reason),
//! sets both on a user's page and sees them, finds a SCIM-managed user's values read-only with
//! the reason, filters the users by department, maps department on the SAML connection's card
//! and resets it to its default, and deletes the number after a confirmation. On the Roles page it
//! adds a rule that gives reviewer by department (Ada holds it at once) and deletes it after a
//! confirmation. The script
//! fails on any page error, CSP violation or unexpected failed request; this test then checks the
//! database (and the token endpoint) agree with what the page showed.
//! Screenshots of every main page are left in `<target>/console-screenshots/`.

use roster_store::testing::test_app;
use std::path::{Path, PathBuf};
use std::process::Command;

use pretty_assertions::assert_eq;
use roster_store::domain::{
    Actor, ConnectionKind, DisplayName, GroupKind, GroupSync, Lifecycle, LoginFailure, MappingId,
    ProfileSync, Provenance, Source, Timestamp, User, UserName, Vendor,
};
use roster_store::{
    CodeBinding, NewConnection, NewGroup, NewLoginEvent, NewMapping, NewOAuthGrant,
};
use serde_json::{json, Value};

use crate::idps::{OidcOp, OidcOptions, SamlIdp};
use crate::support::{e2e_enabled, password_user, SsoApp};

// The domain tests' DNS server, for the Domains page's "Check now" (it has no record, so the
// check fails the same way every run). `set_txt` is not used here.
#[path = "../domains/dns_server.rs"]
#[allow(dead_code)]
pub(crate) mod dns_server;

pub(crate) fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/console")
}

pub(crate) fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("console-screenshots")
}

/// The screenshots the admin's walk leaves, one per main page and step.
const SCREENSHOTS: &[&str] = &[
    "01-sign-in",
    "02-overview",
    "03-connection-created",
    "04b-connection-editor",
    "05-scim-token",
    "05a-scim-token-in-view",
    "06-users",
    "06b-disable-confirmation",
    "07-sync-status",
    "08-mappings",
    "08b-mapping-deletion-refused",
    "08c-roles",
    "09a-token-revoke-confirmation",
    "09-token-revoked",
    "10-migration-planner",
    "11-logs",
    "12-webhooks",
    "14-user-apps",
    "15-sign-out-confirmation",
    "16-signed-out-everywhere",
    "17a-api-key-revoke-confirmation",
    "17-settings",
    "18-audit",
    "19-certificate-warning",
    "20a-idp-picker",
    "20b-guided-okta-steps",
    "20c-guided-okta-active",
    "21a-domain-added",
    "21b-domain-checked",
    "21c-domain-delete-confirmation",
    "21-domains",
    "22-attributes",
    "22b-attribute-delete-confirmation",
    "23-user-attributes",
    "24-users-filtered-by-attribute",
    "25-attribute-mappings",
];

/// Removes what an earlier run left of `names` (only those: the setup walk writes its own into
/// the same directory, maybe at the same time).
pub(crate) fn forget_screenshots(dir: &Path, names: &[&str]) {
    for name in names {
        let _ = std::fs::remove_file(dir.join(format!("{name}.png")));
    }
}

/// Each of `names` was taken, as a PNG.
pub(crate) fn expect_screenshots(dir: &Path, names: &[&str]) {
    for name in names {
        let png = std::fs::read(dir.join(format!("{name}.png")))
            .unwrap_or_else(|err| panic!("the screenshot {name}: {err}"));
        assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG screenshot");
    }
}

#[test]
fn an_admin_sets_up_sso_and_scim_in_the_console() {
    if !e2e_enabled() {
        return;
    }
    let dns = dns_server::DnsServer::start();
    let mut settings = roster_server::settings::Settings::default();
    settings.dns.nameservers = vec![dns.addr.to_string()];
    // No background checks: the domain kept pending stays pending while the test reads it.
    settings.dns.check_interval_secs = 0;
    let app = SsoApp::with_settings(settings);
    // The admin is one only through the directory's "Console admins" group, mapped to `admin`:
    // deleting that mapping would leave the workspace without an active admin.
    password_user(&app, "root-admin", "console-pw-123", false);
    let (lockout_group, lockout_mapping) = admin_through_a_mapping(&app, "root-admin");
    let bea = app
        .db
        .store
        .create_user(
            &Actor::Cli,
            &roster_store::NewUser::minimal(
                app.workspace.id,
                UserName::parse("bea@example.test").unwrap(),
                Source::Invited,
            ),
        )
        .unwrap();
    // The IdP only has to serve its metadata here; no login goes through it.
    let idp = SamlIdp::start("urn:roster:console-test", "http://127.0.0.1:1/acs");
    let shots = screenshots_dir();
    forget_screenshots(&shots, SCREENSHOTS);
    // Ada is signed into two products; the catalog holds a refresh token.
    let ada = app
        .db
        .store
        .create_user(
            &Actor::Cli,
            &roster_store::NewUser::minimal(
                app.workspace.id,
                UserName::parse("ada@example.test").unwrap(),
                Source::Invited,
            ),
        )
        .unwrap();
    let catalog_refresh = sign_into_product(&app, &ada, "Data Catalog", true);
    let _billing_refresh = sign_into_product(&app, &ada, "Billing", false);
    // A leaked API key for the admin to revoke, an expired SCIM token of the directory, and a
    // login failure with its want/got.
    let (_, leaked_key) = app
        .db
        .store
        .create_api_key(&Actor::Cli, app.workspace.id, "leaked-key")
        .unwrap();
    let leaked_key = leaked_key.expose().to_owned();
    let directory = app
        .db
        .store
        .connection_by_name(app.workspace.id, "directory")
        .unwrap();
    let yesterday = Timestamp::from_micros(Timestamp::now().as_micros() - 86_400_000_000);
    app.db
        .store
        .create_scim_token(
            &Actor::Cli,
            app.workspace.id,
            directory.id,
            "old-directory",
            Some(yesterday),
        )
        .unwrap();
    app.db
        .store
        .record_login_event(NewLoginEvent {
            workspace_id: app.workspace.id,
            connection_id: Some(directory.id),
            user_id: None,
            protocol: "saml",
            failure: Some(LoginFailure::InvalidResponse),
            detail: json!({
                "reason": "audience_mismatch",
                "want": "https://roster.example/sp",
                "got": ["https://other.example/sp"],
            }),
            subject: None,
            email: Some("eve@example.test".to_owned()),
        })
        .unwrap();

    let output = Command::new("node")
        .arg(console_dir().join("drive.mjs"))
        .current_dir(console_dir())
        .env("BASE_URL", app.url())
        .env("WORKSPACE", "acme")
        .env("ADMIN_USER", "root-admin")
        .env("ADMIN_PASSWORD", "console-pw-123")
        .env("SAML_METADATA_URL", idp.metadata_url())
        .env("WEBHOOK_URL", format!("{}/product-webhook", app.url()))
        .env("APPS_USER", "ada@example.test")
        .env("DISABLE_USER", "bea@example.test")
        .env("LOCKOUT_GROUP", &lockout_group)
        .env("API_KEY_NAME", "leaked-key")
        .env("EXPIRED_TOKEN", "old-directory")
        .env(
            "EXPIRED_METADATA_FILE",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../sso/tests/fixtures/ssoready/assertions/ping/metadata.xml"),
        )
        .env("SCREENSHOTS", &shots)
        .output()
        .expect("node runs e2e/console/drive.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let seen: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no result from the driver\n{stdout}\n{stderr}"));
    assert!(
        output.status.success(),
        "the console run failed: {:#}\n{stderr}",
        seen["problems"]
    );

    // What the page showed…
    assert_eq!(
        seen["signedIn"].as_str().unwrap(),
        "Signed in with a password · Sign out"
    );
    assert_eq!(seen["testSummary"], "All checks passed.");
    // Roster's own keys: after adding an encryption key and retiring the first, the card lists
    // the signing key and the second encryption key, and asked before retiring.
    assert_eq!(
        seen["spKeys"],
        json!(["sp-key-encryption-2", "sp-key-signing-1"]),
        "{seen:#}"
    );
    assert!(
        seen["retireSpKeyConfirmation"]
            .as_str()
            .unwrap_or_default()
            .contains("private key is erased"),
        "{seen:#}"
    );
    let retired = app
        .db
        .store
        .audit_events(app.workspace.id, None, 1_000)
        .unwrap()
        .into_iter()
        .filter(|event| event.action == "connection.sp_key_retired")
        .count();
    assert_eq!(retired, 1);
    assert_eq!(seen["provisionStatus"], 201);
    assert_eq!(seen["provisionedUsers"], "1");
    assert_ne!(seen["lastSync"], "never");
    assert_eq!(seen["afterRevokeStatus"], 401);
    assert_eq!(seen["scimBaseUrl"], format!("{}/scim/v2", app.url()));
    // The console's sign-in and sign-out forms pass Roster's same-origin check, and sign-out
    // ends the session. The console is served with `Referrer-Policy: no-referrer`, so Chromium
    // sends `Origin: null` with them; `Sec-Fetch-Site: same-origin` is what vouches for them.
    assert_eq!(
        seen["signedOut"], "Roster You are not signed in.",
        "{seen:#}"
    );
    assert_eq!(seen["signInShownAgain"], true);
    for form in ["/login/password", "/logout"] {
        assert_eq!(
            seen["formHeaders"][form]["secFetchSite"], "same-origin",
            "{seen:#}"
        );
    }

    // …is what the database holds.
    let store = &app.db.store;
    let connections = store.list_connections(app.workspace.id).unwrap();
    assert_eq!(
        connections.len(),
        5,
        "the directory, the one created, the draft, the guided Okta one and the one whose \
         certificate expired"
    );
    let draft = connections
        .iter()
        .find(|c| c.name.as_str() == "okta-later")
        .unwrap();
    assert_eq!(seen["draftState"], "SAML · generic · draft", "{seen:#}");
    assert_eq!(
        seen["draftAcsUrl"],
        format!("{}/sso/saml/{}/acs", app.url(), draft.id)
    );
    assert_eq!(
        seen["activatedState"], "SAML · generic · active",
        "{seen:#}"
    );
    assert_eq!(draft.status, roster_store::domain::ConnectionStatus::Active);
    assert!(draft.protocol_config.contains(&idp.metadata_url()));
    let connection = connections
        .iter()
        .find(|c| c.name.as_str() == "simplesaml")
        .unwrap();
    assert_eq!(connection.kind, ConnectionKind::Saml);
    assert!(connection.scim_enabled);
    assert_eq!(
        seen["acsUrl"],
        format!("{}/sso/saml/{}/acs", app.url(), connection.id)
    );
    assert_eq!(
        seen["sloUrl"],
        format!("{}/sso/saml/{}/slo", app.url(), connection.id)
    );
    assert_eq!(
        seen["samlKeys"],
        "Encrypted assertions accepted · requests unsigned"
    );
    assert!(connection.protocol_config.contains(&idp.metadata_url()));
    assert!(store
        .list_scim_tokens(app.workspace.id, connection.id)
        .unwrap()
        .is_empty());
    let user = store
        .user_by_user_name(app.workspace.id, "grace@example.test")
        .unwrap();
    assert_eq!(user.id.to_string(), seen["userId"].as_str().unwrap());
    assert_eq!(user.source, Source::Scim);
    assert_eq!(
        user.user_name,
        UserName::parse("grace@example.test").unwrap()
    );
    let mappings = store.list_mappings(app.workspace.id).unwrap();
    assert_eq!(mappings.len(), 2, "{mappings:#?}");
    let engineering = mappings
        .iter()
        .find(|m| m.idp_group_name.as_deref() == Some("Engineering"))
        .unwrap();
    assert_eq!(engineering.connection_id, connection.id);

    // The admin's own account offered no Disable button, only the reason; another user was
    // disabled once the admin confirmed, and not when they cancelled.
    assert_eq!(
        seen["ownRowRefusal"],
        "Disable: you cannot disable or delete your own account; another admin can"
    );
    assert_eq!(seen["ownRowButtons"], 0);
    assert!(
        seen["disableConfirmation"]
            .as_str()
            .unwrap()
            .starts_with("Every session and app sign-in of bea@example.test ends at once"),
        "{seen:#}"
    );
    assert_eq!(seen["statusAfterCancel"], "active");
    assert_eq!(seen["statusAfterDisable"], "deactivated");
    assert_eq!(seen["disableFlash"], "bea@example.test disabled.");
    assert_eq!(
        store.user(app.workspace.id, bea.id).unwrap().lifecycle,
        Lifecycle::Deactivated
    );
    let admin = store
        .user_by_user_name(app.workspace.id, "root-admin")
        .unwrap();
    assert_eq!(admin.lifecycle, Lifecycle::Active);

    // Deleting the mapping the admin depends on was asked about, then refused with the policy's
    // reason, and nothing changed: the mapping and the admin role stay.
    assert_eq!(
        seen["mappingConfirmation"],
        "Members of Console admins lose what it gives them at once: the role admin."
    );
    assert_eq!(
        seen["mappingRefusal"],
        "Not allowed: this mapping is what makes the workspace's active admins admins, so \
         deleting it would leave none; make another user an admin first (last_active_admin)"
    );
    assert_eq!(seen["lockoutMappingShown"], 1);
    assert!(mappings.iter().any(|m| m.id == lockout_mapping));
    assert_eq!(
        store
            .active_admins(app.workspace.id)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![admin.id]
    );
    assert!(
        seen["tokenConfirmation"]
            .as_str()
            .unwrap()
            .contains("requests with entra"),
        "{seen:#}"
    );
    assert_eq!(seen["webhookSecretShown"], true);
    let webhooks = store.list_webhooks(app.workspace.id).unwrap();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(
        webhooks[0].event_types,
        vec!["user.created".to_owned(), "user.deactivated".to_owned()]
    );

    // The user's page showed Ada's two sign-ins, asked before signing her out (a cancel changed
    // nothing), and the sign-out ended both: the store and the token endpoint agree.
    assert_eq!(seen["userPageName"], "ada@example.test");
    assert_eq!(seen["userPageNavActive"], "Users");
    assert_eq!(seen["userApps"], json!(["Billing", "Data Catalog"]));
    assert!(
        seen["confirmation"]
            .as_str()
            .unwrap()
            .contains("2 app sign-ins are revoked"),
        "{seen:#}"
    );
    assert_eq!(seen["appsAfterCancel"], 2);
    assert_eq!(seen["signedOutApps"], json!(["Billing", "Data Catalog"]));
    assert_eq!(seen["appsAfterSignOut"], 0);
    assert_eq!(seen["noAppsShown"], true);
    assert!(seen["signOutFlash"]
        .as_str()
        .unwrap()
        .contains("signed out everywhere"));
    assert!(store
        .user_oauth_apps(app.workspace.id, ada.id)
        .unwrap()
        .is_empty());
    assert_eq!(
        store.user(app.workspace.id, ada.id).unwrap().session_epoch,
        ada.session_epoch + 1
    );
    let (status, body) = catalog_refresh();
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant"))
    );

    // Custom attributes: department came from its template and deskFloor was declared by name
    // and type (declaring it again was refused with the API's reason); Ada's page set both and
    // showed them; the SCIM-managed user's page offered no editor, only the policy's reason; the
    // users list filtered by department (its value read without case) showed Ada alone; the
    // SAML connection's card mapped department and reset it to the vendor's default; deleting
    // deskFloor asked first and took Ada's value with it.
    assert_eq!(seen["attributeTemplates"], 9, "{seen:#}");
    assert_eq!(seen["templatesLeft"], 8, "{seen:#}");
    assert_eq!(
        seen["attributeRows"],
        json!({
            "department": ["Department", "string", "", "yes", "yes"],
            "deskFloor": ["Desk floor", "number", "", "yes", "no"],
        }),
        "{seen:#}"
    );
    assert!(
        seen["duplicateAttributeFlash"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{seen:#}"
    );
    assert_eq!(seen["attributesBefore"], "none", "{seen:#}");
    assert_eq!(
        seen["attributesAfter"],
        json!({"department": "Engineering", "deskFloor": "3"}),
        "{seen:#}"
    );
    assert_eq!(
        seen["attributesFlash"], "ada@example.test's attributes saved.",
        "{seen:#}"
    );
    assert_eq!(
        seen["scimUserAttributes"],
        json!({
            "refusal": "Edit attributes: this user is managed by your identity provider through SCIM; change it there",
            "editButtons": 0,
        }),
        "{seen:#}"
    );
    assert_eq!(
        seen["filteredUsers"],
        json!(["ada@example.test"]),
        "{seen:#}"
    );
    assert_eq!(seen["filteredValues"], json!(["Engineering"]), "{seen:#}");
    assert_eq!(
        seen["mappingDefault"],
        json!({"sources": "department", "origin": "default"}),
        "{seen:#}"
    );
    assert_eq!(
        seen["mappingCustom"],
        json!({"sources": "dept, department", "origin": "custom"}),
        "{seen:#}"
    );
    assert_eq!(seen["mappingReset"], seen["mappingDefault"], "{seen:#}");
    assert!(
        seen["attributeConfirmation"]
            .as_str()
            .unwrap()
            .starts_with("Its values are removed from every user at once"),
        "{seen:#}"
    );
    assert_eq!(seen["attributesLeft"], json!(["department"]), "{seen:#}");
    assert_eq!(seen["attributeDeleteFlash"], "Attribute deskFloor deleted.");
    let declared: Vec<String> = store
        .attribute_definitions(app.workspace.id)
        .unwrap()
        .iter()
        .map(|d| d.name.to_string())
        .collect();
    assert_eq!(declared, ["department"]);
    let ada_values: Value =
        serde_json::from_str(&store.user(app.workspace.id, ada.id).unwrap().attributes).unwrap();
    assert_eq!(ada_values, json!({"department": "Engineering"}));
    // Roles from attributes: the rule department = engineering gave Ada (Engineering) reviewer
    // while it stood; admin was never offered; it is gone, and so is the role it gave.
    let rule = &seen["attributeRule"];
    assert!(
        !rule["offeredRoles"]
            .as_array()
            .unwrap()
            .contains(&json!("admin"))
            && rule["offeredRoles"]
                .as_array()
                .unwrap()
                .contains(&json!("reviewer")),
        "{seen:#}"
    );
    assert_eq!(
        rule["row"],
        json!(["department", "engineering", "reviewer"]),
        "{seen:#}"
    );
    assert_eq!(rule["reviewerUsers"], 1, "{seen:#}");
    assert!(
        rule["confirmation"]
            .as_str()
            .unwrap()
            .starts_with("The users it matches lose the role reviewer"),
        "{seen:#}"
    );
    assert_eq!(rule["reviewerUsersAfter"], 0, "{seen:#}");
    assert_eq!(rule["flash"], "Rule department = engineering deleted.");
    assert!(store
        .attribute_role_rules(app.workspace.id)
        .unwrap()
        .is_empty());
    let rule_audit: Vec<String> = store
        .audit_events(app.workspace.id, None, 1_000)
        .unwrap()
        .into_iter()
        .filter(|event| event.action.starts_with("attribute_rule."))
        .map(|event| event.action)
        .collect();
    assert_eq!(rule_audit.len(), 2, "{rule_audit:?}");

    // The connection was edited from its card: the vendor and domains changed, the metadata was
    // fetched again, and the audit trail says which fields changed.
    assert!(
        seen["editedHeader"]
            .as_str()
            .unwrap()
            .contains("SAML · okta · active"),
        "{seen:#}"
    );
    assert_eq!(seen["editFlash"], "simplesaml updated.");
    assert_eq!(connection.vendor, Vendor::Okta);
    assert_eq!(
        connection
            .domains
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>(),
        ["example.test", "example.org"]
    );
    let audit = store.audit_events(app.workspace.id, None, 10_000).unwrap();
    let edit = audit
        .iter()
        .find(|e| {
            e.action == "connection.config_updated" && e.target_id == connection.id.to_string()
        })
        .expect("the edit is audited");
    // (The metadata fetched again may differ byte for byte, a fresh validUntil say, so only the
    // fields the form changed are checked.)
    let changed = serde_json::from_str::<Value>(&edit.detail).unwrap()["changed"].clone();
    for field in ["vendor", "domains"] {
        assert!(
            changed.as_array().unwrap().contains(&json!(field)),
            "{changed}"
        );
    }

    // Test connection flagged the expired certificate and opened the editor beside the warning.
    assert!(
        seen["certificateWarning"].as_str().unwrap().starts_with(
            "The IdP's signing certificate expired or changed: load its new metadata."
        ),
        "{seen:#}"
    );
    assert_eq!(seen["editorNextToWarning"], "Edit ping");
    // The card itself says the certificate expired, from the metadata alone.
    assert!(
        seen["expiryOnCard"]
            .as_str()
            .unwrap()
            .starts_with("The IdP's signing certificate expired on"),
        "{seen:#}"
    );

    // The Overview counted both active connections, SCIM on or not.
    assert_eq!(seen["activeConnections"], "2", "{seen:#}");

    // The guided setup: the picker offered every IdP; Okta's steps showed a placeholder before the
    // draft existed and its values after, with a Copy button; the IdP metadata activated it.
    assert_eq!(
        seen["pickerIdps"],
        json!([
            "Microsoft Entra ID",
            "Okta",
            "Google Workspace",
            "OneLogin",
            "JumpCloud",
            "AD FS",
            "PingFederate",
            "Other SAML 2.0 IdP",
            "Other OpenID Provider"
        ]),
        "{seen:#}"
    );
    assert_eq!(seen["guideTitle"], "Okta (SAML)");
    assert_eq!(
        seen["guidePlaceholder"],
        "(shown once the connection is created)"
    );
    let okta = connections
        .iter()
        .find(|c| c.name.as_str() == "okta")
        .expect("the guided connection");
    assert_eq!(okta.vendor, Vendor::Okta);
    assert_eq!(okta.kind, ConnectionKind::Saml);
    assert_eq!(okta.status, roster_store::domain::ConnectionStatus::Active);
    assert!(okta.protocol_config.contains(&idp.metadata_url()));
    let okta_acs = format!("{}/sso/saml/{}/acs", app.url(), okta.id);
    assert_eq!(seen["guideAcsUrl"], okta_acs);
    assert_eq!(seen["guidedCardAcsUrl"], okta_acs);
    assert_eq!(
        seen["guideEntityId"],
        format!("{}/sso/saml/{}/metadata", app.url(), okta.id)
    );
    assert_eq!(seen["guideAcsCopied"], true);
    let steps = seen["guideSteps"].as_array().unwrap();
    assert_eq!(steps.len(), 5, "{seen:#}");
    assert!(
        steps[1].as_str().unwrap().starts_with(&format!(
            "Configure SAML: Single sign-on URL = {okta_acs} Copy"
        )),
        "{seen:#}"
    );
    assert_eq!(seen["guidedState"], "SAML · okta · active");
    assert_eq!(
        seen["guidedFlash"],
        "okta is active: its sign-ins work now."
    );
    assert_eq!(
        seen["guidedTestSignIn"], 1,
        "an active connection offers a test sign-in"
    );

    // The Domains page: the record to publish, a check that found none (and said so), a deletion
    // after a confirmation; the domain kept is the database's, with the value the page showed.
    assert_eq!(
        seen["domainRecord"]["name"],
        "_roster-challenge.console-proof.test"
    );
    assert!(seen["domainRecord"]["value"]
        .as_str()
        .unwrap()
        .starts_with("roster-domain-verification="));
    assert_eq!(seen["domainRecord"]["copyButtons"], 2);
    assert_eq!(seen["domainStateAdded"], "pending");
    assert!(
        seen["domainCheck"]
            .as_str()
            .unwrap()
            .starts_with("no TXT record at _roster-challenge.console-proof.test ("),
        "{seen:#}"
    );
    assert!(
        seen["domainCheckFlash"]
            .as_str()
            .unwrap()
            .starts_with("console-proof.test: no TXT record at"),
        "{seen:#}"
    );
    assert!(
        seen["domainConfirmation"]
            .as_str()
            .unwrap()
            .starts_with("Sign-ins with console-proof.test addresses stop finding this workspace"),
        "{seen:#}"
    );
    assert!(dns
        .queries()
        .contains(&"_roster-challenge.console-proof.test.".to_owned()));
    let domains = store.list_domains(app.workspace.id).unwrap();
    assert!(
        !domains
            .iter()
            .any(|d| d.domain.as_str() == "console-proof.test"),
        "deleted"
    );
    let kept = domains
        .iter()
        .find(|d| d.domain.as_str() == "kept-proof.test")
        .expect("the domain kept");
    assert_eq!(kept.state.as_str(), "pending");
    assert_eq!(seen["keptDomainRecord"]["value"], kept.challenge.as_str());
    let listed: Vec<String> = domains.iter().map(|d| d.domain.to_string()).collect();
    assert_eq!(seen["domainRows"], json!(listed), "{seen:#}");

    // The token shown once was in view, and its Copy button copied it; the new token read
    // active and the expired one expired.
    assert_eq!(seen["tokenInView"], true, "{seen:#}");
    assert_eq!(seen["tokenCopied"], true, "{seen:#}");
    assert_eq!(seen["newTokenState"], "active");
    assert_eq!(seen["expiredTokenState"], "expired");

    // The mapping form offered the SCIM connections and the roles as lists; the table showed
    // names, not ids.
    assert_eq!(
        seen["mappingConnections"],
        json!(["directory", "simplesaml"])
    );
    assert_eq!(
        seen["mappingRoles"],
        json!(["(no role)", "admin", "member"])
    );
    assert_eq!(
        seen["mappingRow"],
        json!([
            "Engineering (waiting for the group)",
            "simplesaml",
            "admin",
            "Engineers"
        ])
    );
    assert_eq!(
        seen["lockoutMappingRow"],
        json!(["Console admins", "directory", "admin", ""])
    );
    let engineers = store
        .admin_groups(app.workspace.id, Some("Engineers"), None, 10)
        .unwrap()
        .items
        .into_iter()
        .find(|g| g.display_name.as_str() == "Engineers")
        .expect("the new app group");
    assert_eq!(engineering.app_group_id, Some(engineers.id));
    // The roles page: the role created from its form, every role with its rank; the admin
    // holds `admin` (through the mapping).
    assert!(
        store
            .list_roles(app.workspace.id)
            .unwrap()
            .iter()
            .any(|role| role.name.as_str() == "reviewer" && role.rank == 3),
        "the role created in the console is stored"
    );
    assert_eq!(seen["roles"]["reviewer"]["users"], 0, "{seen:#}");
    assert_eq!(seen["roles"]["admin"]["users"], 1, "{seen:#}");
    for role in store.list_roles(app.workspace.id).unwrap() {
        assert_eq!(
            seen["roles"][role.name.as_str()]["rank"],
            role.rank,
            "{seen:#}"
        );
    }

    // SSO enforcement was offered disabled, with the policy's reason; nothing changed.
    assert_eq!(seen["ssoToggleDisabled"], true);
    assert!(
        seen["ssoReason"]
            .as_str()
            .unwrap()
            .contains("sign in with SSO before enforcing it, or you would lock yourself out"),
        "{seen:#}"
    );
    assert!(!store.workspace(app.workspace.id).unwrap().sso_enforced);
    // The leaked API key was revoked after a confirmation: it is refused from then on.
    assert!(
        seen["apiKeyConfirmation"]
            .as_str()
            .unwrap()
            .starts_with("Every script using leaked-key"),
        "{seen:#}"
    );
    assert_eq!(seen["apiKeyFlash"], "API key leaked-key revoked.");
    assert!(store.list_api_keys(app.workspace.id).unwrap().is_empty());
    assert_eq!(
        admin_call(&app, &leaked_key, "GET", "/session", None).0,
        401
    );

    // The logs showed the login failure's want/got and the SCIM create's target; the audit
    // view listed the changes made here, newest first.
    assert!(
        seen["loginDetails"].as_array().unwrap().iter().any(|d| d
            == "audience_mismatch · want https://roster.example/sp · got [\"https://other.example/sp\"]"),
        "{seen:#}"
    );
    assert_eq!(seen["badFilterStatus"], 400);
    assert_eq!(
        seen["provisioningQuery"],
        "GET /scim/v2/Users?filter=nickName zz \"x\""
    );
    assert_eq!(
        seen["provisioningTarget"],
        format!("user {}", seen["userId"].as_str().unwrap())
    );
    let actions: Vec<&str> = seen["auditActions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for action in [
        "api_key.revoked",
        "mapping.created",
        "connection.config_updated",
        "scim_token.revoked",
        "attribute.created",
        "attribute.deleted",
        "user.attributes_updated",
        "connection.attribute_mapping_set",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let seqs: Vec<i64> = seen["auditSeqs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert!(
        !seqs.is_empty() && seqs.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {seqs:?}"
    );

    expect_screenshots(&shots, SCREENSHOTS);
}

/// Makes `user_name` an admin only through an IdP group of a SCIM connection ("directory"),
/// mapped to the `admin` role: returns the group's key (as the mappings list shows it) and the
/// mapping's id.
fn admin_through_a_mapping(app: &SsoApp, user_name: &str) -> (String, MappingId) {
    let store = &app.db.store;
    let workspace = app.workspace.id;
    let directory = store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace,
                name: DisplayName::parse("directory").unwrap(),
                kind: ConnectionKind::Scim,
                vendor: Vendor::Generic,
                protocol_config: "{}".to_owned(),
                domains: Vec::new(),
                scim_enabled: true,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap();
    let group = store
        .create_group(
            &Actor::Cli,
            &NewGroup {
                workspace_id: workspace,
                kind: GroupKind::Idp,
                display_name: DisplayName::parse("Console admins").unwrap(),
                connection_id: Some(directory.id),
                external_id: Some("console-admins".to_owned()),
                scim_attributes: "{}".to_owned(),
            },
        )
        .unwrap();
    let user = store.user_by_user_name(workspace, user_name).unwrap();
    store
        .add_group_member(&Actor::Cli, workspace, group.id, user.id, Provenance::Idp)
        .unwrap();
    let admin_role = store.role_by_name(workspace, "admin").unwrap();
    let mapping = store
        .create_mapping(
            &Actor::Cli,
            &NewMapping {
                workspace_id: workspace,
                connection_id: directory.id,
                idp_group_key: Some(group.id.to_string()),
                idp_group_name: None,
                app_group_id: None,
                role_id: Some(admin_role.id),
            },
        )
        .unwrap();
    assert_eq!(
        store
            .active_admins(workspace)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![user.id],
        "the mapping makes {user_name} the only admin"
    );
    (group.id.to_string(), mapping.id)
}

/// Registers a product `name` and signs `user` into it (a grant and its code, as the
/// authorization endpoint issues them), the product redeeming the code at `/oauth2/token`.
/// Returns a call that refreshes with the refresh token (an `offline` sign-in): (status, body).
fn sign_into_product<'a>(
    app: &'a SsoApp,
    user: &User,
    name: &str,
    offline: bool,
) -> impl Fn() -> (u16, Value) + 'a {
    const REDIRECT: &str = "https://product.example/callback";
    let store = &app.db.store;
    let (product, secret) = app.db.register_app(&test_app(name, REDIRECT));
    let secret = secret.unwrap();
    let scope = if offline {
        "openid email offline_access"
    } else {
        "openid email"
    };
    let (_, code) = store
        .issue_authorization_code(
            &Actor::System,
            &NewOAuthGrant {
                client_id: product.client_id.clone(),
                workspace_id: user.workspace_id,
                user_id: user.id,
                connection_id: None,
                session_id: None,
                sid: format!("sid-{}", product.client_id),
                scope: scope.to_owned(),
                offline,
                auth_time: Timestamp::now(),
                amr: vec!["pwd".to_owned()],
                acr: None,
            },
            &CodeBinding {
                redirect_uri: REDIRECT.to_owned(),
                code_challenge: None,
                nonce: None,
            },
            Timestamp::now(),
        )
        .unwrap();
    let token = move |form: &[(&str, &str)]| -> (u16, Value) {
        let mut fields = vec![
            ("client_id", product.client_id.as_str()),
            ("client_secret", secret.as_str()),
        ];
        fields.extend_from_slice(form);
        let reply = app.post_form("/oauth2/token", &fields, None);
        (
            reply.status,
            serde_json::from_str(&reply.body).unwrap_or(Value::Null),
        )
    };
    let (status, redeemed) = token(&[
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", REDIRECT),
    ]);
    assert_eq!(status, 200, "{redeemed:#}");
    let refresh_token = redeemed["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    move || {
        token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ])
    }
}

/// An admin API call with an API key: (status, body).
pub(crate) fn admin_call(
    app: &SsoApp,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/v1/admin{path}", app.url());
    let request = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = match body {
        None if method == "GET" => request
            .get(&url)
            .header("Authorization", &format!("Bearer {key}"))
            .call(),
        None => request
            .post(&url)
            .header("Authorization", &format!("Bearer {key}"))
            .send_empty(),
        Some(body) if method == "PUT" => request
            .put(&url)
            .header("Authorization", &format!("Bearer {key}"))
            .header("Content-Type", "application/json")
            .send(body.to_string()),
        Some(body) => request
            .post(&url)
            .header("Authorization", &format!("Bearer {key}"))
            .header("Content-Type", "application/json")
            .send(body.to_string()),
    }
    .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn oidc_connections_are_created_and_tested_against_a_real_op_and_never_echo_the_secret() {
    if !e2e_enabled() {
        return;
    }
    let app = SsoApp::new();
    let (_, key) = app
        .db
        .store
        .create_api_key(
            &roster_store::domain::Actor::Cli,
            app.workspace.id,
            "console-test",
        )
        .unwrap();
    let key = key.expose().to_owned();
    // Only discovery is asked here; no login comes back to this redirect URI.
    let op = OidcOp::start(OidcOptions {
        redirect_uris: vec![format!("{}/unused-callback", app.url())],
        ..OidcOptions::default()
    });
    let secret = op.client_secret().to_owned();

    let (status, created) = admin_call(
        &app,
        &key,
        "POST",
        "/connections",
        Some(
            json!({"name": "corp", "kind": "oidc", "vendor": "okta", "domains": ["example.test"],
            "oidc": {"issuer": op.issuer(), "clientId": op.client_id(), "clientSecret": secret, "tokenAuthMethod": "client_secret_post"}}),
        ),
    );
    assert_eq!(status, 201, "{created:#}");
    assert!(
        !created.to_string().contains(&secret),
        "the secret is write-only"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["sp"]["redirectUri"],
        format!("{}/sso/oidc/{id}/callback", app.url())
    );
    assert_eq!(created["idp"]["issuer"], op.issuer());
    assert_eq!(created["idp"]["tokenAuthMethod"], "client_secret_post");

    let (_, tested) = admin_call(&app, &key, "POST", &format!("/connections/{id}/test"), None);
    assert_eq!(tested["ok"], true, "{tested:#}");
    let names: Vec<&str> = tested["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "issuer",
            "response_type",
            "token_endpoint",
            "token_endpoint_auth_method",
            "signing_keys"
        ]
    );

    // A new issuer that does not answer is refused; the connection keeps its settings, and an
    // update without a secret keeps the stored one. (A new issuer needs the secret again, so
    // this request carries one.)
    let (status, refused) = admin_call(
        &app,
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(
            json!({"oidc": {"issuer": "http://127.0.0.1:9/", "clientId": "other", "clientSecret": "another-secret"}}),
        ),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("idp_unreachable"))
    );
    let (status, kept) = admin_call(
        &app,
        &key,
        "PUT",
        &format!("/connections/{id}/settings"),
        Some(json!({"oidc": {"issuer": op.issuer(), "clientId": op.client_id()}})),
    );
    assert_eq!(status, 200, "{kept:#}");
    assert_eq!(kept["idp"]["tokenAuthMethod"], "client_secret_basic");
    let stored = app
        .db
        .store
        .connection(app.workspace.id, id.parse().unwrap())
        .unwrap();
    assert!(
        stored.protocol_config.contains(&secret),
        "the stored secret is kept"
    );
}
