//! The diesel schema shared by both backends.
//!
//! Written by hand to match `migrations/sqlite` and `migrations/postgres`, which differ only in
//! how `audit_events.seq` auto-increments; every column type here (`Text`, `BigInt`, `Integer`,
//! `Bool`) maps the same way on SQLite and PostgreSQL, which is what lets one query serve both.
//! A test (`schema_matches_migrations`) checks every column against the migrated databases.

diesel::table! {
    workspaces (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        sso_enforced -> Bool,
        default_role -> Text,
        domains -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    connections (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        name_key -> Text,
        kind -> Text,
        vendor -> Text,
        status -> Text,
        protocol_config -> Text,
        domains -> Text,
        profile_sync -> Text,
        group_sync -> Text,
        scim_enabled -> Bool,
        strict_immutability -> Bool,
        last_sync_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        draft -> Bool,
    }
}

diesel::table! {
    scim_tokens (id) {
        id -> Text,
        workspace_id -> Text,
        connection_id -> Text,
        name -> Text,
        token_hash -> Text,
        hint -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        key_hash -> Text,
        hint -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    operator_keys (id) {
        id -> Text,
        name -> Text,
        key_hash -> Text,
        hint -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        workspace_id -> Text,
        user_name -> Text,
        user_name_key -> Text,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        display_name -> Nullable<Text>,
        external_id -> Nullable<Text>,
        lifecycle -> Text,
        source -> Text,
        managing_connection_id -> Nullable<Text>,
        scim_attributes -> Text,
        password_hash -> Nullable<Text>,
        version -> BigInt,
        session_epoch -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        display_name_key -> Nullable<Text>,
        attributes -> Text,
    }
}

diesel::table! {
    identities (id) {
        id -> Text,
        workspace_id -> Text,
        connection_id -> Text,
        subject -> Text,
        user_id -> Text,
        created_at -> BigInt,
        last_login_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        workspace_id -> Text,
        kind -> Text,
        display_name -> Text,
        display_name_key -> Text,
        connection_id -> Nullable<Text>,
        external_id -> Nullable<Text>,
        scim_attributes -> Text,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    group_members (group_id, user_id, provenance) {
        group_id -> Text,
        user_id -> Text,
        provenance -> Text,
        workspace_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        name_key -> Text,
        rank -> Integer,
        created_at -> BigInt,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> Text,
        role_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    group_mappings (id) {
        id -> Text,
        workspace_id -> Text,
        connection_id -> Text,
        idp_group_key -> Nullable<Text>,
        app_group_id -> Nullable<Text>,
        role_id -> Nullable<Text>,
        created_at -> BigInt,
        idp_group_name -> Nullable<Text>,
    }
}

diesel::table! {
    group_roles (group_id, role_id) {
        group_id -> Text,
        role_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    granted_roles (user_id, role_id) {
        user_id -> Text,
        role_id -> Text,
        workspace_id -> Text,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        workspace_id -> Nullable<Text>,
        occurred_at -> BigInt,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        target_kind -> Text,
        target_id -> Text,
        detail -> Text,
    }
}

diesel::table! {
    provisioning_log (seq) {
        seq -> BigInt,
        workspace_id -> Text,
        connection_id -> Text,
        occurred_at -> BigInt,
        request_id -> Text,
        method -> Text,
        path -> Text,
        status -> Integer,
        duration_us -> BigInt,
        resource_id -> Nullable<Text>,
        error -> Nullable<Text>,
        warnings -> Nullable<Text>,
        query -> Nullable<Text>,
    }
}

diesel::table! {
    /// `workspace_id` references no row: a workspace's `workspace.deleted` event outlives it.
    events (seq) {
        seq -> BigInt,
        id -> Text,
        workspace_id -> Text,
        event_type -> Text,
        occurred_at -> BigInt,
        actor -> Text,
        resource_kind -> Text,
        resource_id -> Text,
        resource -> Text,
        changed -> Nullable<Text>,
    }
}

diesel::table! {
    /// Events not yet given their `seq` (PostgreSQL only; see `models/events.rs`).
    event_outbox (ins) {
        ins -> BigInt,
        id -> Text,
        workspace_id -> Text,
        event_type -> Text,
        occurred_at -> BigInt,
        actor -> Text,
        resource_kind -> Text,
        resource_id -> Text,
        resource -> Text,
        changed -> Nullable<Text>,
    }
}

diesel::table! {
    /// `workspace_id` NULL: an endpoint of the deployment (the operator's), receiving the events
    /// of the workspaces in `workspaces` (a JSON array of ids), or of every workspace when empty.
    webhook_endpoints (id) {
        id -> Text,
        workspace_id -> Nullable<Text>,
        url -> Text,
        event_types -> Text,
        secret -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        cursor_seq -> BigInt,
        attempts -> Integer,
        consecutive_failures -> Integer,
        next_attempt_at -> BigInt,
        lease_until -> BigInt,
        created_at -> BigInt,
        workspaces -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        workspace_id -> Nullable<Text>,
        event_id -> Text,
        event_seq -> BigInt,
        attempt -> Integer,
        status_code -> Nullable<Integer>,
        duration_ms -> BigInt,
        error -> Nullable<Text>,
        resend -> Bool,
        delivered_at -> BigInt,
    }
}

diesel::table! {
    webhook_resends (id) {
        id -> Text,
        endpoint_id -> Text,
        event_seq -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    sso_requests (id) {
        id -> Text,
        workspace_id -> Text,
        connection_id -> Text,
        browser_hash -> Text,
        nonce -> Nullable<Text>,
        pkce_verifier -> Nullable<Text>,
        return_to -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    test_sign_ins (id) {
        id -> Text,
        workspace_id -> Text,
        connection_id -> Text,
        request_id -> Nullable<Text>,
        browser_hash -> Nullable<Text>,
        report -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        started_at -> Nullable<BigInt>,
        completed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    saml_replay (connection_id, assertion_id) {
        connection_id -> Text,
        assertion_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_events (id) {
        id -> Text,
        workspace_id -> Text,
        connection_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        protocol -> Text,
        outcome -> Text,
        reason -> Nullable<Text>,
        detail -> Text,
        subject -> Nullable<Text>,
        email -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    session_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_pem -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        verify_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    revoked_sessions (session_id) {
        session_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    oauth_apps (client_id) {
        client_id -> Text,
        name -> Text,
        token_endpoint_auth_method -> Text,
        id_token_alg -> Text,
        secret_hash -> Nullable<Text>,
        secret_hint -> Nullable<Text>,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_until -> Nullable<BigInt>,
        backchannel_logout_uri -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    oauth_app_uris (client_id, kind, uri) {
        client_id -> Text,
        kind -> Text,
        uri -> Text,
        position -> Integer,
    }
}

diesel::table! {
    oauth_signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_pem -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        signs_from -> BigInt,
        retired_at -> Nullable<BigInt>,
        verify_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_auth_requests (id) {
        id -> Text,
        browser_hash -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        scope -> Text,
        state -> Nullable<Text>,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        prompt -> Nullable<Text>,
        max_age -> Nullable<BigInt>,
        login_hint -> Nullable<Text>,
        workspace_id -> Nullable<Text>,
        connection_id -> Nullable<Text>,
        upstream_request_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_grants (id) {
        id -> Text,
        client_id -> Text,
        workspace_id -> Text,
        user_id -> Text,
        connection_id -> Nullable<Text>,
        session_id -> Nullable<Text>,
        sid -> Text,
        scope -> Text,
        offline -> Bool,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        acr -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_codes (code_hash) {
        code_hash -> Text,
        grant_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        nonce -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_refresh_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        parent_hash -> Nullable<Text>,
        scope -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    backchannel_logouts (id) {
        id -> Text,
        client_id -> Text,
        workspace_id -> Text,
        user_id -> Text,
        sid -> Text,
        reason -> Text,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_until -> BigInt,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<BigInt>,
        abandoned_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    workspace_domains (workspace_id, domain) {
        workspace_id -> Text,
        domain -> Text,
        state -> Text,
        challenge -> Text,
        attempts -> Integer,
        last_check -> Nullable<Text>,
        last_checked_at -> Nullable<BigInt>,
        next_check_at -> Nullable<BigInt>,
        verified_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    setup_links (id) {
        id -> Text,
        workspace_id -> Text,
        intent -> Text,
        token_hash -> Text,
        return_url -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        redeemed_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        session_hash -> Nullable<Text>,
        session_expires_at -> Nullable<BigInt>,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    admin_invitations (id) {
        id -> Text,
        workspace_id -> Text,
        email -> Text,
        token_hash -> Text,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        accepted_at -> Nullable<BigInt>,
        accepted_by -> Nullable<Text>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    certificate_warnings (connection_id, certificate_use, not_after, days) {
        connection_id -> Text,
        certificate_use -> Text,
        not_after -> BigInt,
        days -> Integer,
        warned_at -> BigInt,
    }
}

diesel::table! {
    attribute_definitions (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        name_key -> Text,
        label -> Text,
        kind -> Text,
        case_exact -> Bool,
        released -> Bool,
        standard -> Nullable<Text>,
        created_at -> BigInt,
        scim_schema -> Nullable<Text>,
    }
}

diesel::table! {
    user_attribute_values (user_id, attribute_id, position) {
        user_id -> Text,
        attribute_id -> Text,
        position -> Integer,
        sort_key -> Text,
    }
}

diesel::table! {
    attribute_mappings (id) {
        id -> Text,
        connection_id -> Text,
        attribute_id -> Text,
        protocol -> Text,
        sources -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    attribute_role_rules (id) {
        id -> Text,
        workspace_id -> Text,
        attribute_id -> Text,
        value -> Text,
        value_key -> Text,
        role_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    saml_sessions (session_id) {
        session_id -> Text,
        connection_id -> Text,
        name_id -> Text,
        name_id_format -> Nullable<Text>,
        session_index -> Nullable<Text>,
        expires_at -> BigInt,
    }
}

diesel::table! {
    saml_sp_keys (id) {
        id -> Text,
        connection_id -> Text,
        key_use -> Text,
        generation -> Integer,
        private_pem -> Text,
        certificate -> Text,
        not_after -> BigInt,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(connections -> workspaces (workspace_id));
diesel::joinable!(workspace_domains -> workspaces (workspace_id));
diesel::joinable!(setup_links -> workspaces (workspace_id));
diesel::joinable!(admin_invitations -> workspaces (workspace_id));
diesel::joinable!(certificate_warnings -> connections (connection_id));
diesel::joinable!(saml_sp_keys -> connections (connection_id));
diesel::joinable!(saml_sessions -> connections (connection_id));
diesel::joinable!(attribute_definitions -> workspaces (workspace_id));
diesel::joinable!(user_attribute_values -> users (user_id));
diesel::joinable!(user_attribute_values -> attribute_definitions (attribute_id));
diesel::joinable!(attribute_mappings -> attribute_definitions (attribute_id));
diesel::joinable!(attribute_mappings -> connections (connection_id));
diesel::joinable!(attribute_role_rules -> attribute_definitions (attribute_id));
diesel::joinable!(scim_tokens -> connections (connection_id));
diesel::joinable!(users -> workspaces (workspace_id));
diesel::joinable!(identities -> users (user_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(granted_roles -> roles (role_id));
diesel::joinable!(group_roles -> roles (role_id));
diesel::joinable!(oauth_app_uris -> oauth_apps (client_id));
diesel::joinable!(oauth_auth_requests -> oauth_apps (client_id));
diesel::joinable!(oauth_grants -> oauth_apps (client_id));
diesel::joinable!(oauth_grants -> users (user_id));
diesel::joinable!(oauth_codes -> oauth_grants (grant_id));
diesel::joinable!(oauth_refresh_tokens -> oauth_grants (grant_id));
diesel::joinable!(backchannel_logouts -> oauth_apps (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    workspaces,
    connections,
    scim_tokens,
    api_keys,
    operator_keys,
    users,
    identities,
    groups,
    group_members,
    roles,
    user_roles,
    group_mappings,
    audit_events,
    provisioning_log,
    group_roles,
    granted_roles,
    events,
    event_outbox,
    webhook_endpoints,
    webhook_deliveries,
    webhook_resends,
    sso_requests,
    test_sign_ins,
    saml_replay,
    login_events,
    session_keys,
    revoked_sessions,
    oauth_apps,
    oauth_app_uris,
    oauth_signing_keys,
    oauth_auth_requests,
    oauth_grants,
    oauth_codes,
    oauth_refresh_tokens,
    backchannel_logouts,
    workspace_domains,
    setup_links,
    admin_invitations,
    certificate_warnings,
    saml_sp_keys,
    saml_sessions,
    attribute_definitions,
    user_attribute_values,
    attribute_mappings,
    attribute_role_rules,
);
