-- The log references its endpoint again; rows of endpoints deleted since are dropped.
DELETE FROM webhook_deliveries WHERE endpoint_id NOT IN (SELECT id FROM webhook_endpoints);
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id)
    REFERENCES webhook_endpoints(id) ON DELETE CASCADE;
