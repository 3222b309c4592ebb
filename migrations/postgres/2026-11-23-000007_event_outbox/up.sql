-- Pending directory events. On PostgreSQL a write transaction inserts its events here, with no
-- lock: `ins` orders them by insertion. A publisher (one at a time, on an advisory lock held to
-- its commit) moves committed rows into `events` in `ins` order, where `seq` is taken, so `seq`
-- follows publication order and no event can appear behind a position a reader already passed.
-- This replaced a per-workspace lock that every writer held to its commit (writers queued on it).
-- SQLite has one writer at a time and writes `events` directly; the table stays empty there.
CREATE TABLE event_outbox (
    ins BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    changed TEXT
);
