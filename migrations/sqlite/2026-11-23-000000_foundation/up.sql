-- The one user model: workspaces, IdP connections, SCIM tokens, users, identities, groups,
-- memberships, roles, group mappings and the audit trail. Timestamps are microseconds since the
-- Unix epoch (BIGINT) and ids are UUID text, so both backends share one diesel schema.

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sso_enforced BOOLEAN NOT NULL DEFAULT FALSE,
    default_role TEXT NOT NULL DEFAULT 'member',
    domains TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE connections (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('saml', 'oidc', 'scim')),
    vendor TEXT NOT NULL DEFAULT 'generic',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    protocol_config TEXT NOT NULL DEFAULT '{}',
    domains TEXT NOT NULL DEFAULT '[]',
    profile_sync TEXT NOT NULL DEFAULT 'first_login',
    group_sync TEXT NOT NULL DEFAULT 'every_login',
    scim_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    strict_immutability BOOLEAN NOT NULL DEFAULT FALSE,
    last_sync_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name_key)
);

CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX scim_tokens_connection_idx ON scim_tokens (connection_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    email TEXT,
    email_key TEXT,
    given_name TEXT,
    family_name TEXT,
    display_name TEXT,
    external_id TEXT,
    lifecycle TEXT NOT NULL DEFAULT 'active'
        CHECK (lifecycle IN ('active', 'deactivated', 'deprovisioned')),
    source TEXT NOT NULL CHECK (source IN ('invited', 'jit', 'scim')),
    managing_connection_id TEXT REFERENCES connections(id) ON DELETE SET NULL,
    scim_attributes TEXT NOT NULL DEFAULT '{}',
    password_hash TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    session_epoch BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_user_name_key_uidx ON users (workspace_id, user_name_key);
CREATE UNIQUE INDEX users_external_id_uidx ON users (managing_connection_id, external_id);
CREATE INDEX users_email_key_idx ON users (workspace_id, email_key);
CREATE INDEX users_updated_at_idx ON users (workspace_id, updated_at);

CREATE TABLE identities (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT,
    UNIQUE (connection_id, subject)
);
CREATE INDEX identities_user_idx ON identities (user_id);

CREATE TABLE "groups" (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('app', 'idp')),
    display_name TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    connection_id TEXT REFERENCES connections(id) ON DELETE CASCADE,
    external_id TEXT,
    scim_attributes TEXT NOT NULL DEFAULT '{}',
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_app_name_uidx ON "groups" (workspace_id, display_name_key) WHERE kind = 'app';
CREATE UNIQUE INDEX groups_idp_name_uidx ON "groups" (connection_id, display_name_key) WHERE kind = 'idp';
CREATE UNIQUE INDEX groups_external_id_uidx ON "groups" (connection_id, external_id);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES "groups"(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provenance TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id, provenance)
);
CREATE INDEX group_members_user_idx ON group_members (user_id);

CREATE TABLE roles (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    rank INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name_key)
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_idx ON user_roles (role_id);

CREATE TABLE group_mappings (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    idp_group_key TEXT NOT NULL,
    app_group_id TEXT REFERENCES "groups"(id) ON DELETE CASCADE,
    role_id TEXT REFERENCES roles(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    CHECK (app_group_id IS NOT NULL OR role_id IS NOT NULL)
);
CREATE UNIQUE INDEX group_mappings_uidx ON group_mappings
    (connection_id, idp_group_key, COALESCE(app_group_id, ''), COALESCE(role_id, ''));

CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    occurred_at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_workspace_idx ON audit_events (workspace_id, seq);
