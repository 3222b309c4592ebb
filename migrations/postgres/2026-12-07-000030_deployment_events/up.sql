-- Events that outlive their workspace, and webhook endpoints of the deployment.
--
-- A workspace's deletion is an event of its own, `workspace.deleted`, read by the operator's feed
-- and webhooks after the workspace's rows are gone. So `events` and `event_outbox` no longer
-- reference `workspaces`: the store deletes a workspace's events itself, in the deletion's
-- transaction, and then writes the `workspace.deleted` event, which stays (until retention).
--
-- A webhook endpoint belongs to a workspace (`workspace_id`, as before) or to the deployment
-- (`workspace_id` NULL: the operator's endpoints, which receive every workspace's events, or
-- those of the workspaces listed in `workspaces`, a JSON array of ids). Their delivery log rows
-- have no workspace either.
--
-- Rolling upgrade: until replaced, an older replica deletes a workspace without the event (its
-- events then wait for retention), and its webhook worker cannot load a deployment endpoint
-- (it logs the error; the new replicas deliver).
ALTER TABLE events DROP CONSTRAINT events_workspace_id_fkey;
ALTER TABLE event_outbox DROP CONSTRAINT event_outbox_workspace_id_fkey;

ALTER TABLE webhook_endpoints ALTER COLUMN workspace_id DROP NOT NULL;
ALTER TABLE webhook_endpoints ADD COLUMN workspaces TEXT NOT NULL DEFAULT '[]';
ALTER TABLE webhook_deliveries ALTER COLUMN workspace_id DROP NOT NULL;
