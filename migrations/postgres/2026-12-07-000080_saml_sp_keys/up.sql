-- A SAML connection's own keys, as a service provider: `signing` keys sign its AuthnRequests
-- and logout messages, `encryption` keys decrypt the assertions its IdP encrypts. Published
-- (in the SP metadata) until `retired_at`; a rotation adds the next `generation` beside the
-- current one, so both are published while the IdP catches up. The unique generation makes
-- two replicas creating a connection's first key agree on one. A retired key's private half
-- is erased.
CREATE TABLE saml_sp_keys (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    key_use TEXT NOT NULL,
    generation INTEGER NOT NULL,
    private_pem TEXT NOT NULL,
    certificate TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    UNIQUE (connection_id, key_use, generation)
);
