-- The query string of a logged SCIM request (the filter of a failed read, say), so the console's
-- provisioning log shows what was asked, not only the path. NULL for requests without one and for
-- rows logged before this column existed.
ALTER TABLE provisioning_log ADD COLUMN query TEXT;
