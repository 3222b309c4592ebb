DROP TABLE provisioning_log;
DROP INDEX groups_connection_idx;
DROP INDEX users_display_name_key_idx;
DROP INDEX users_managing_connection_idx;
ALTER TABLE users DROP COLUMN display_name_key;
