-- What makes custom attributes filterable, mapped and role-bearing (docs/attributes.md).
--
-- users.attributes (JSON) stays what delivery reads; user_attribute_values is its index, written
-- in the same transaction: one row per value (per element for a string list) with an
-- order-preserving text key, so one B-tree serves eq, ranges, presence and sorts on both
-- databases without a column per attribute.
CREATE TABLE user_attribute_values (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attribute_id TEXT NOT NULL REFERENCES attribute_definitions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    sort_key TEXT NOT NULL,
    PRIMARY KEY (user_id, attribute_id, position)
);
CREATE INDEX user_attribute_values_key_idx ON user_attribute_values (attribute_id, sort_key, user_id);

-- Where a connection's IdP sends an attribute, when the vendor default does not fit: sources is
-- a JSON array of SAML attribute names, OIDC claim paths or SCIM paths; the first that has a
-- value wins, and an empty array maps nothing.
CREATE TABLE attribute_mappings (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    attribute_id TEXT NOT NULL REFERENCES attribute_definitions(id) ON DELETE CASCADE,
    protocol TEXT NOT NULL,
    sources TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (connection_id, attribute_id, protocol)
);

-- "department = Finance gives the role finance-viewer": value_key is the value's index key, so
-- a rule matches exactly the users the index finds.
CREATE TABLE attribute_role_rules (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    attribute_id TEXT NOT NULL REFERENCES attribute_definitions(id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    value_key TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (attribute_id, value_key, role_id)
);

-- A custom SCIM extension schema the attribute belongs to (its SCIM name is the attribute's).
ALTER TABLE attribute_definitions ADD COLUMN scim_schema TEXT;
