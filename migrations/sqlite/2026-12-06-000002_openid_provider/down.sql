DROP TABLE oauth_refresh_tokens;
DROP TABLE oauth_codes;
DROP TABLE oauth_grants;
DROP TABLE oauth_auth_requests;
DROP TABLE oauth_signing_keys;
DROP TABLE oauth_app_uris;
DROP TABLE oauth_apps;
