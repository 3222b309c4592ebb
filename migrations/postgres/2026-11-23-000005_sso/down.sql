DROP TABLE revoked_sessions;
DROP TABLE session_keys;
DROP TABLE login_events;
DROP TABLE saml_replay;
DROP TABLE sso_requests;
