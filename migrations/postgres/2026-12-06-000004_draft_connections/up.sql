-- Draft SAML connections: created before the IdP's metadata (Okta and Entra ask for the SP
-- entity id and ACS URL first), they serve their SP values and refuse logins until the metadata
-- arrives. A flag beside `status` rather than a new status value: `status` stays 'active' for a
-- draft, so a replica of the previous release still reads every row during a rolling upgrade
-- (it would refuse a draft's logins as misconfigured, since a draft has no metadata).
ALTER TABLE connections ADD COLUMN draft BOOLEAN NOT NULL DEFAULT FALSE;
