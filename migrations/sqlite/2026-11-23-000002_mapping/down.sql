DROP TABLE granted_roles;
DROP TABLE group_roles;
DROP INDEX group_mappings_workspace_idx;
DROP INDEX group_mappings_key_idx;
DROP INDEX group_mappings_uidx;
DELETE FROM group_mappings WHERE idp_group_key IS NULL;
CREATE TABLE group_mappings_old (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    idp_group_key TEXT NOT NULL,
    app_group_id TEXT REFERENCES "groups"(id) ON DELETE CASCADE,
    role_id TEXT REFERENCES roles(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    CHECK (app_group_id IS NOT NULL OR role_id IS NOT NULL)
);
INSERT INTO group_mappings_old SELECT id, workspace_id, connection_id, idp_group_key, app_group_id, role_id, created_at FROM group_mappings;
DROP TABLE group_mappings;
ALTER TABLE group_mappings_old RENAME TO group_mappings;
CREATE UNIQUE INDEX group_mappings_uidx ON group_mappings
    (connection_id, idp_group_key, COALESCE(app_group_id, ''), COALESCE(role_id, ''));
