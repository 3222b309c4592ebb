ALTER TABLE oauth_grants DROP COLUMN acr;
