-- The webhook delivery log no longer references its endpoint.
--
-- Deleting an endpoint deleted its whole delivery log in the same transaction (ON DELETE
-- CASCADE): after an initial sync that is hundreds of thousands of rows in one write, holding
-- SQLite's writer for seconds and the memory of the whole delete. Now the endpoint goes alone,
-- and the log rows of an endpoint that no longer exists are pruned in small batches with the
-- log's retention (`webhooks.delivery_log_retention_days`). Nothing reads them meanwhile: the
-- log is read through its endpoint.
CREATE TABLE webhook_deliveries_new (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms BIGINT NOT NULL,
    error TEXT,
    resend BOOLEAN NOT NULL DEFAULT FALSE,
    delivered_at BIGINT NOT NULL
);
INSERT INTO webhook_deliveries_new (id, endpoint_id, workspace_id, event_id, event_seq, attempt,
                                    status_code, duration_ms, error, resend, delivered_at)
    SELECT id, endpoint_id, workspace_id, event_id, event_seq, attempt, status_code, duration_ms,
           error, resend, delivered_at
    FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, delivered_at);
