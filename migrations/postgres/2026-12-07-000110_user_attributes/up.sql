-- The values of a user's custom attributes (attribute_definitions), as a JSON object keyed by
-- attribute name: what the admin API, events, /api/v1/me and tokens deliver.
ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
