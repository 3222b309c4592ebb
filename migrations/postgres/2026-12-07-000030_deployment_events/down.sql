-- The deployment's webhook endpoints (with their deliveries and resends) and the events of
-- deleted workspaces have no place in the older schema: they go.
DELETE FROM webhook_endpoints WHERE workspace_id IS NULL;
ALTER TABLE webhook_deliveries ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE webhook_endpoints DROP COLUMN workspaces;
ALTER TABLE webhook_endpoints ALTER COLUMN workspace_id SET NOT NULL;

DELETE FROM event_outbox WHERE workspace_id NOT IN (SELECT id FROM workspaces);
DELETE FROM events WHERE workspace_id NOT IN (SELECT id FROM workspaces);
ALTER TABLE event_outbox ADD CONSTRAINT event_outbox_workspace_id_fkey
    FOREIGN KEY (workspace_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE events ADD CONSTRAINT events_workspace_id_fkey
    FOREIGN KEY (workspace_id) REFERENCES workspaces(id) ON DELETE CASCADE;
