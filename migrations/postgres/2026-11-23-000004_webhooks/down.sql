DROP TABLE webhook_resends;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
