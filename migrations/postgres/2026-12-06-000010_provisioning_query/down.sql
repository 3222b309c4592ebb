ALTER TABLE provisioning_log DROP COLUMN query;
