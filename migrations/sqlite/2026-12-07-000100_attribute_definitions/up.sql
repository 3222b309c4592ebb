-- The custom attributes a workspace declares (department, cost centre, …): their names, which
-- products see in tokens and events and which never change, and their types. Values come with
-- the next step (docs/attributes.md).
CREATE TABLE attribute_definitions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    case_exact BOOLEAN NOT NULL,
    released BOOLEAN NOT NULL,
    standard TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name_key)
);
