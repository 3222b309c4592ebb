DROP TABLE granted_roles;
DROP TABLE group_roles;
DROP INDEX group_mappings_workspace_idx;
DROP INDEX group_mappings_key_idx;
DROP INDEX group_mappings_uidx;
DELETE FROM group_mappings WHERE idp_group_key IS NULL;
ALTER TABLE group_mappings DROP CONSTRAINT group_mappings_target_check;
ALTER TABLE group_mappings DROP COLUMN idp_group_name;
ALTER TABLE group_mappings ALTER COLUMN idp_group_key SET NOT NULL;
CREATE UNIQUE INDEX group_mappings_uidx ON group_mappings
    (connection_id, idp_group_key, COALESCE(app_group_id, ''), COALESCE(role_id, ''));
