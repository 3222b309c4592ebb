-- When a retired session-signing key stops verifying (microseconds since the epoch): set by a
-- rotation to the end of the longest session the key could have signed. NULL while the key is
-- current. Expand-only: older replicas ignore the column.
ALTER TABLE session_keys ADD COLUMN verify_until BIGINT;
