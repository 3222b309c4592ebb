-- The Roster sessions a SAML login made, with the IdP's NameID and SessionIndex for them: what
-- an IdP's LogoutRequest names (Single Logout), and what Roster's own LogoutRequest tells the
-- IdP when the user signs out here. Kept until the session would have expired anyway.
CREATE TABLE saml_sessions (
    session_id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name_id TEXT NOT NULL,
    name_id_format TEXT,
    session_index TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX saml_sessions_by_name_id ON saml_sessions (connection_id, name_id);
