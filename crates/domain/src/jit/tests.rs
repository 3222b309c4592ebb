//! The JIT rules as tables: one row per situation a login can meet, and what it does.

use pretty_assertions::assert_eq;

use super::*;
use crate::{
    ConnectionId, ConnectionKind, ConnectionStatus, DisplayName, Domain, RoleName, Slug, Source,
    Timestamp, Vendor, WorkspaceId,
};
use Lifecycle::*;
use LoginFailure::*;

fn workspace(domains: &[&str]) -> Workspace {
    Workspace {
        id: WorkspaceId::new(),
        slug: Slug::parse("acme").unwrap(),
        name: "acme".to_owned(),
        sso_enforced: false,
        default_role: RoleName::parse("member").unwrap(),
        domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
        created_at: Timestamp::from_micros(0),
        updated_at: Timestamp::from_micros(0),
    }
}

/// An OIDC connection authoritative for `domains`, syncing the profile as `profile_sync` says.
fn connection(domains: &[&str], profile_sync: ProfileSync) -> Connection {
    Connection {
        id: ConnectionId::new(),
        workspace_id: WorkspaceId::new(),
        name: DisplayName::parse("idp").unwrap(),
        kind: ConnectionKind::Oidc,
        vendor: Vendor::Generic,
        status: ConnectionStatus::Active,
        protocol_config: "{}".to_owned(),
        domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
        profile_sync,
        group_sync: GroupSync::EveryLogin,
        scim_enabled: false,
        strict_immutability: false,
        last_sync_at: None,
        created_at: Timestamp::from_micros(0),
        updated_at: Timestamp::from_micros(0),
    }
}

/// Ada's login: subject `s-ada`, a verified email, her given name, no user name claim.
fn claims(email: Option<&str>, verified: bool) -> LoginClaims {
    LoginClaims {
        subject: "s-ada".to_owned(),
        email: email.map(str::to_owned),
        email_verified: verified,
        user_name: None,
        given_name: Some("Ada".to_owned()),
        family_name: None,
        display_name: None,
        groups: GroupsClaim::Known(vec!["eng".to_owned()]),
        attributes: Vec::new(),
    }
}

/// A user named `user_name` with `email`, no names; managed by `managed_by` if given.
fn user(
    user_name: &str,
    email: Option<&str>,
    lifecycle: Lifecycle,
    managed_by: Option<ConnectionId>,
) -> User {
    let source = if managed_by.is_some() {
        Source::Scim
    } else {
        Source::Jit
    };
    crate::testing::user(user_name, email, lifecycle, source, managed_by)
}

/// A decision with its user left out (the table names only the known user or the holder, so
/// which one is checked apart) and its profile reduced to the changed attributes.
#[derive(Debug, PartialEq)]
enum Want {
    Login(&'static [&'static str]),
    Link(&'static [&'static str]),
    /// The created user's name.
    Create(&'static str),
    Refuse(LoginFailure),
}

/// One login: the workspace's and the connection's domains, the connection's profile sync, the
/// claims, and the users the store loaded (the known subject's, or the holder of the keys).
struct Case {
    workspace_domains: &'static [&'static str],
    connection: Connection,
    claims: LoginClaims,
    known: Option<User>,
    holder: Option<User>,
}

fn check(case: &Case, want: &Want) {
    let workspace = workspace(case.workspace_domains);
    let input = JitInput {
        workspace: &workspace,
        connection: &case.connection,
        claims: &case.claims,
        known: case.known.as_ref(),
        holder: case.holder.as_ref(),
        // Every domain the connection lists is verified here; `unverified_domains_do_not_link`
        // takes that away.
        verified_domains: &case.connection.domains,
    };
    let changed = |profile: Option<ProfileUpdate>| profile.map(|p| p.changed).unwrap_or_default();
    let got = match decide(&input) {
        JitDecision::Login { user, profile } => {
            assert!(case.known.as_ref().is_some_and(|u| std::ptr::eq(u, user)));
            (Some(changed(profile)), None, None, None)
        }
        JitDecision::Link { user, profile } => {
            assert!(case.holder.as_ref().is_some_and(|u| std::ptr::eq(u, user)));
            (None, Some(changed(profile)), None, None)
        }
        JitDecision::Create(new) => (None, None, Some(new.user_name.to_string()), None),
        JitDecision::Refuse(refusal) => {
            // Only an inactive user is named by a refused login.
            assert_eq!(
                refusal.user_id().is_some(),
                refusal.failure() == UserInactive,
                "{refusal:?}"
            );
            (None, None, None, Some(refusal.failure()))
        }
    };
    let want = match want {
        Want::Login(changed) => (Some(changed.to_vec()), None, None, None),
        Want::Link(changed) => (None, Some(changed.to_vec()), None, None),
        Want::Create(name) => (None, None, Some((*name).to_owned()), None),
        Want::Refuse(failure) => (None, None, None, Some(*failure)),
    };
    assert_eq!(
        got,
        want,
        "workspace domains {:?}, connection domains {:?} ({:?}), {:?}, known {:?}, holder {:?}",
        case.workspace_domains,
        case.connection.domains,
        case.connection.profile_sync,
        case.claims,
        case.known,
        case.holder
    );
}

const ADA: &str = "ada@example.test";

#[test]
fn jit_table() {
    use ProfileSync::{EveryLogin, FirstLogin};
    let open = |profile_sync| connection(&[], profile_sync);
    // The connection authoritative for example.test.
    let corp = connection(&["example.test"], FirstLogin);
    let scim_of = |connection: &Connection, email| user(ADA, email, Active, Some(connection.id));
    let jit = |email, lifecycle| user(ADA, email, lifecycle, None);
    let with_user_name = |name: &str| LoginClaims {
        user_name: Some(name.to_owned()),
        ..claims(Some(ADA), true)
    };
    let with_subject_as_external_id = |connection: &Connection| User {
        external_id: Some("s-ada".to_owned()),
        ..user(
            "ada.l",
            Some("lovelace@other.test"),
            Active,
            Some(connection.id),
        )
    };
    let verified = claims(Some(ADA), true);
    let unverified = claims(Some(ADA), false);
    let nameless = LoginClaims {
        user_name: Some("  ".to_owned()),
        ..claims(None, true)
    };
    let no_email = LoginClaims {
        user_name: Some("ada".to_owned()),
        ..claims(None, true)
    };
    let other_email_same_name = LoginClaims {
        user_name: Some(ADA.to_owned()),
        ..claims(Some("ada.l@example.test"), true)
    };
    // The connection that provisions the SCIM users of the table.
    let open_scim = open(FirstLogin);
    let case = |workspace_domains: &'static [&'static str],
                connection: &Connection,
                claims: &LoginClaims,
                known: Option<User>,
                holder: Option<User>| Case {
        workspace_domains,
        connection: connection.clone(),
        claims: claims.clone(),
        known,
        holder,
    };
    #[rustfmt::skip]
    let cases: Vec<(Case, Want)> = vec![
        // A known subject logs its user in; the profile is copied again only with every_login,
        // and never over a SCIM-managed user.
        (case(&[], &open(FirstLogin), &verified, Some(jit(Some(ADA), Active)), None), Want::Login(&[])),
        (case(&[], &open(EveryLogin), &verified, Some(jit(Some(ADA), Active)), None), Want::Login(&["givenName"])),
        (case(&[], &open(EveryLogin), &claims(Some("ada.new@example.test"), true), Some(jit(Some(ADA), Active)), None), Want::Login(&["givenName", "email"])),
        (case(&[], &open_scim, &verified, Some(scim_of(&open_scim, Some(ADA))), None), Want::Login(&[])),
        // ... unless the user is inactive (SCIM `active=false` wins over the IdP).
        (case(&[], &open(FirstLogin), &verified, Some(jit(Some(ADA), Deactivated)), None), Want::Refuse(UserInactive)),
        (case(&[], &open(FirstLogin), &verified, Some(jit(Some(ADA), Deprovisioned)), None), Want::Refuse(UserInactive)),
        // The workspace's domains hold at every login, known subject or not.
        (case(&["example.test"], &open(FirstLogin), &verified, Some(jit(Some(ADA), Active)), None), Want::Login(&[])),
        (case(&["example.test"], &open(FirstLogin), &unverified, Some(jit(Some(ADA), Active)), None), Want::Refuse(EmailUnverified)),
        (case(&["other.test"], &open(FirstLogin), &verified, Some(jit(Some(ADA), Active)), None), Want::Refuse(EmailDomainNotAllowed)),
        (case(&["example.test"], &open(FirstLogin), &no_email, None, None), Want::Refuse(EmailDomainNotAllowed)),
        (case(&["example.test"], &open(FirstLogin), &verified, None, None), Want::Create(ADA)),
        // Claims that name nobody.
        (case(&[], &open(FirstLogin), &claims(Some("not an email"), true), Some(jit(Some(ADA), Active)), None), Want::Refuse(MissingClaims)),
        (case(&[], &open(FirstLogin), &nameless, None, None), Want::Refuse(MissingClaims)),
        (case(&[], &open(FirstLogin), &with_user_name(" ada"), None, None), Want::Refuse(MissingClaims)),
        // A claim a known subject's login does not need is not asked for.
        (case(&[], &open(FirstLogin), &nameless, Some(jit(Some(ADA), Active)), None), Want::Login(&[])),
        // A new subject nobody's keys match: a user named by the user name claim, or the email.
        (case(&[], &open(FirstLogin), &verified, None, None), Want::Create(ADA)),
        (case(&[], &open(FirstLogin), &with_user_name("ada"), None, None), Want::Create("ada")),
        (case(&[], &open(FirstLogin), &no_email, None, None), Want::Create("ada")),
        // A new subject of a user this connection provisions through SCIM: same email, user
        // name, or the subject as its externalId. Claims never overwrite it.
        (case(&[], &open_scim, &verified, None, Some(scim_of(&open_scim, Some(ADA)))), Want::Link(&[])),
        (case(&[], &open_scim, &other_email_same_name, None, Some(scim_of(&open_scim, None))), Want::Link(&[])),
        (case(&[], &open_scim, &verified, None, Some(with_subject_as_external_id(&open_scim))), Want::Link(&[])),
        (case(&[], &open_scim, &verified, None, Some(User { lifecycle: Deactivated, ..scim_of(&open_scim, Some(ADA)) })), Want::Refuse(UserInactive)),
        // Another connection's SCIM user is linked only as any other existing user is.
        (case(&[], &open(FirstLogin), &verified, None, Some(scim_of(&open_scim, Some(ADA)))), Want::Refuse(EmailConflict)),
        (case(&[], &corp, &verified, None, Some(scim_of(&open_scim, Some(ADA)))), Want::Link(&[])),
        // An existing user's email links a new subject only at a connection authoritative for
        // its domain, and only when the IdP verified the address; the empty fields are filled.
        (case(&[], &corp, &verified, None, Some(jit(Some(ADA), Active))), Want::Link(&["givenName"])),
        (case(&[], &corp, &claims(Some("ADA@Example.test"), true), None, Some(jit(Some(ADA), Active))), Want::Link(&["givenName"])),
        (case(&[], &corp, &unverified, None, Some(jit(Some(ADA), Active))), Want::Refuse(EmailConflict)),
        (case(&[], &open(FirstLogin), &verified, None, Some(jit(Some(ADA), Active))), Want::Refuse(EmailConflict)),
        (case(&[], &corp, &verified, None, Some(jit(Some(ADA), Deactivated))), Want::Refuse(UserInactive)),
        // A user holding the user name but not the email is no one to link to.
        (case(&[], &corp, &verified, None, Some(jit(None, Active))), Want::Refuse(EmailConflict)),
        (case(&[], &corp, &verified, None, Some(jit(Some("other@example.test"), Active))), Want::Refuse(UserNameConflict)),
        (case(&[], &corp, &no_email, None, Some(user("ada", Some(ADA), Active, None))), Want::Refuse(UserNameConflict)),
    ];
    for (case, want) in &cases {
        check(case, want);
    }
}

/// (workspace domains, email, email_verified) -> the refusal, if any.
type AllowlistCase = (
    &'static [&'static str],
    Option<&'static str>,
    bool,
    Option<LoginFailure>,
);

#[test]
fn the_domain_allowlist_counts_only_vouched_emails() {
    #[rustfmt::skip]
    let cases: &[AllowlistCase] = &[
        (&[], Some("eve@evil.test"), false, None),
        (&[], None, false, None),
        (&["example.test"], Some("a@example.test"), true, None),
        (&["example.test"], Some("A@EXAMPLE.test"), true, None),
        (&["example.test"], Some("a@example.test"), false, Some(EmailUnverified)),
        (&["example.test"], Some("eve@evil.test"), true, Some(EmailDomainNotAllowed)),
        (&["example.test"], Some("eve@evil.test"), false, Some(EmailDomainNotAllowed)),
        (&["example.test"], None, true, Some(EmailDomainNotAllowed)),
    ];
    for (domains, email, verified, want) in cases {
        let email = email.map(|e| Email::parse(e).unwrap());
        let got = check_workspace_domain(&workspace(domains), email.as_ref(), *verified)
            .err()
            .map(|refusal| refusal.failure());
        assert_eq!(got, *want, "{domains:?} {email:?} verified={verified}");
    }
}

#[test]
fn profile_update_table() {
    let stored = User {
        given_name: Some("Ada".to_owned()),
        ..user(ADA, None, Active, None)
    };
    let sent = LoginClaims {
        given_name: Some("Augusta".to_owned()),
        family_name: Some("Lovelace".to_owned()),
        ..claims(Some(ADA), true)
    };
    let ada = Email::parse(ADA).unwrap();
    let silent = LoginClaims {
        given_name: None,
        ..claims(None, true)
    };
    // (claims, email, overwrite) => changed attributes
    let cases: [(&LoginClaims, Option<&Email>, bool, &[&str]); 4] = [
        // The first login fills what is missing and keeps what is there.
        (&sent, Some(&ada), false, &["familyName", "email"]),
        // `every_login` copies every claim sent.
        (
            &sent,
            Some(&ada),
            true,
            &["givenName", "familyName", "email"],
        ),
        // An absent claim keeps the stored value, either way.
        (&silent, None, true, &[]),
        (&silent, None, false, &[]),
    ];
    for (claims, email, overwrite, want) in cases {
        let got = profile_update(&stored, claims, email, overwrite);
        assert_eq!(
            got.as_ref()
                .map(|p| p.changed.as_slice())
                .unwrap_or_default(),
            want,
            "{claims:?} overwrite={overwrite}"
        );
        if let Some(profile) = got {
            assert!(profile.given_name.is_some());
            assert_eq!(profile.email.as_ref(), Some(&ada));
        }
    }
}

#[test]
fn group_claims_sync_only_where_scim_does_not_own_memberships() {
    let open = connection(&[], ProfileSync::FirstLogin);
    let off = Connection {
        group_sync: GroupSync::Off,
        ..open.clone()
    };
    let scim = Connection {
        scim_enabled: true,
        ..open.clone()
    };
    let jit_user = user(ADA, Some(ADA), Active, None);
    let scim_user = user(ADA, Some(ADA), Active, Some(ConnectionId::new()));
    let known = claims(Some(ADA), true);
    let unknown = LoginClaims {
        groups: GroupsClaim::Unknown,
        ..known.clone()
    };
    let eng = ["eng".to_owned()];
    let cases: [(&Connection, &User, &LoginClaims, Option<&[String]>); 5] = [
        (&open, &jit_user, &known, Some(&eng)),
        (&open, &jit_user, &unknown, None),
        (&off, &jit_user, &known, None),
        (&scim, &jit_user, &known, None),
        (&open, &scim_user, &known, None),
    ];
    for (connection, user, claims, want) in cases {
        assert_eq!(
            synced_groups(connection, user, claims),
            want,
            "{:?} scim={} managed={}",
            connection.group_sync,
            connection.scim_enabled,
            user.is_scim_managed()
        );
    }
}

#[test]
fn first_login_keys_are_the_name_a_user_would_get_and_the_email() {
    let keys = first_login_keys(&claims(Some(" Ada@Example.test "), true)).unwrap();
    assert_eq!(keys.user_name.as_str(), "Ada@Example.test");
    assert_eq!(
        keys.email.map(|e| e.to_string()),
        Some("Ada@Example.test".to_owned())
    );
    assert_eq!(first_login_keys(&claims(None, true)), None);
    assert_eq!(first_login_keys(&claims(Some("nobody"), true)), None);
}

#[test]
fn every_jit_refusal_is_in_the_sso_guide() {
    let guide = include_str!("../../../../docs/sso.md");
    let row = guide
        .lines()
        .find(|line| line.ends_with("| JIT refusals (403) |"))
        .expect("docs/sso.md lists the JIT refusals");
    for failure in [
        EmailDomainNotAllowed,
        EmailUnverified,
        EmailConflict,
        UserNameConflict,
        UserInactive,
    ] {
        assert!(
            row.contains(&format!("`{}`", failure.code())),
            "docs/sso.md's JIT refusals lack {}",
            failure.code()
        );
    }
}

/// A connection that lists a domain links an existing user by email only when the workspace
/// verified that domain (a DNS record): listing it is not enough, nor is verifying another.
#[test]
fn unverified_domains_do_not_link() {
    let workspace = workspace(&[]);
    let corp = connection(&["example.test"], ProfileSync::FirstLogin);
    let claims = claims(Some(ADA), true);
    let holder = user(ADA, Some(ADA), Active, None);
    let other = [Domain::parse("other.test").unwrap()];
    let example = [Domain::parse("example.test").unwrap()];
    let cases: &[(&[Domain], Option<LoginFailure>)] = &[
        (&[], Some(EmailConflict)),
        (&other, Some(EmailConflict)),
        (&example, None),
    ];
    for (verified_domains, want) in cases {
        let input = JitInput {
            workspace: &workspace,
            connection: &corp,
            claims: &claims,
            known: None,
            holder: Some(&holder),
            verified_domains,
        };
        let got = match decide(&input) {
            JitDecision::Refuse(refusal) => Some(refusal.failure()),
            JitDecision::Link { .. } => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(got, *want, "verified {verified_domains:?}");
    }
}
