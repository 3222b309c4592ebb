-- Domains with proof: a workspace's email domains become records with a state. A domain routes
-- `login_hint` discovery and lets connections link users by email only once `verified` (a TXT
-- record `_roster-challenge.DOMAIN` holding `challenge` was seen). At most one workspace holds a
-- domain verified: the partial unique index below.
CREATE TABLE workspace_domains (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'verified', 'failed')),
    challenge TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_check TEXT,
    last_checked_at BIGINT,
    next_check_at BIGINT,
    verified_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, domain)
);
CREATE UNIQUE INDEX workspace_domains_verified_once ON workspace_domains (domain)
    WHERE state = 'verified';
CREATE INDEX workspace_domains_due ON workspace_domains (next_check_at)
    WHERE next_check_at IS NOT NULL;

-- Existing deployments: every domain a workspace or one of its connections lists today was set
-- by its operator or admin and already routes logins, so it becomes `verified` (no running
-- workspace breaks on upgrade). A domain listed by several workspaces stays verified for the
-- oldest one; the others get it `pending`, to prove like a new domain. Each record is noted in
-- the audit log as `domain.migrated` by `system`.
INSERT OR IGNORE INTO workspace_domains
    (workspace_id, domain, state, challenge, verified_at, created_at, updated_at)
SELECT listed.workspace_id, listed.domain, 'verified',
       'roster-domain-verification=' || lower(hex(randomblob(32))),
       unixepoch() * 1000000, unixepoch() * 1000000, unixepoch() * 1000000
FROM (
    SELECT w.id AS workspace_id, j.value AS domain, w.created_at AS since
    FROM workspaces w, json_each(w.domains) j
    UNION
    SELECT w.id, j.value, w.created_at
    FROM connections c JOIN workspaces w ON w.id = c.workspace_id, json_each(c.domains) j
) listed
ORDER BY listed.since, listed.workspace_id;

INSERT OR IGNORE INTO workspace_domains
    (workspace_id, domain, state, challenge, next_check_at, created_at, updated_at)
SELECT listed.workspace_id, listed.domain, 'pending',
       'roster-domain-verification=' || lower(hex(randomblob(32))),
       unixepoch() * 1000000, unixepoch() * 1000000, unixepoch() * 1000000
FROM (
    SELECT w.id AS workspace_id, j.value AS domain FROM workspaces w, json_each(w.domains) j
    UNION
    SELECT c.workspace_id, j.value FROM connections c, json_each(c.domains) j
) listed;

INSERT INTO audit_events
    (workspace_id, occurred_at, actor_kind, actor_id, action, target_kind, target_id, detail)
SELECT workspace_id, created_at, 'system', NULL, 'domain.migrated', 'domain', domain,
       json_object('state', state, 'note', CASE state
           WHEN 'verified' THEN 'listed before domain verification existed: verified on upgrade'
           ELSE 'listed before domain verification existed, but verified for another workspace: pending'
       END)
FROM workspace_domains
ORDER BY created_at, workspace_id, domain;
