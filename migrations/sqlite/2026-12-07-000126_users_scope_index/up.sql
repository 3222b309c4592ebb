-- The users of a workspace that one SCIM connection does not see — no connection's (JIT,
-- invited), another connection's, its own deprovisioned ones — read as a few index ranges. A
-- filter on a custom attribute counts its matches from the attribute index alone and takes
-- these users away, instead of looking up every match's user (a million-user directory has
-- thousands of users per department and, usually, none of these).
CREATE INDEX users_scope_idx ON users (workspace_id, managing_connection_id, lifecycle);
