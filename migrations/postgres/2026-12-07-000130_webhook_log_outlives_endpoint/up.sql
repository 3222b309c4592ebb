-- The webhook delivery log no longer references its endpoint.
--
-- Deleting an endpoint deleted its whole delivery log in the same transaction (ON DELETE
-- CASCADE): after an initial sync that is hundreds of thousands of rows in one write. Now the
-- endpoint goes alone, and the log rows of an endpoint that no longer exists are pruned in small
-- batches with the log's retention (`webhooks.delivery_log_retention_days`). Nothing reads them
-- meanwhile: the log is read through its endpoint.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;
