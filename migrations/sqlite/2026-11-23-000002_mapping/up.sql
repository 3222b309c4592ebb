-- Group-to-role mapping: mappings may wait for an IdP group by name (bound to its stable id when
-- the group is pushed), roles can be attached to app groups, and every user's granted roles are
-- materialised so reads are one indexed lookup and changes can be audited as diffs.

CREATE TABLE group_mappings_new (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    idp_group_key TEXT,
    idp_group_name TEXT,
    app_group_id TEXT REFERENCES "groups"(id) ON DELETE CASCADE,
    role_id TEXT REFERENCES roles(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    CHECK (app_group_id IS NOT NULL OR role_id IS NOT NULL),
    CHECK (idp_group_key IS NOT NULL OR idp_group_name IS NOT NULL)
);
INSERT INTO group_mappings_new (id, workspace_id, connection_id, idp_group_key, app_group_id, role_id, created_at)
    SELECT id, workspace_id, connection_id, idp_group_key, app_group_id, role_id, created_at FROM group_mappings;
DROP TABLE group_mappings;
ALTER TABLE group_mappings_new RENAME TO group_mappings;
CREATE UNIQUE INDEX group_mappings_uidx ON group_mappings (connection_id, COALESCE(idp_group_key, ''),
    COALESCE(idp_group_name, ''), COALESCE(app_group_id, ''), COALESCE(role_id, ''));
CREATE INDEX group_mappings_key_idx ON group_mappings (connection_id, idp_group_key);
CREATE INDEX group_mappings_workspace_idx ON group_mappings (workspace_id, created_at);

CREATE TABLE group_roles (
    group_id TEXT NOT NULL REFERENCES "groups"(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, role_id)
);

CREATE TABLE granted_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX granted_roles_role_idx ON granted_roles (role_id);
INSERT INTO granted_roles (user_id, role_id, workspace_id)
    SELECT ur.user_id, ur.role_id, r.workspace_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id;
