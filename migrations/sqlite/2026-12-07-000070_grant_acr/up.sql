-- The authentication context class the upstream IdP asserted for a grant's login (SAML
-- AuthnContextClassRef): the ID token's `acr`. NULL when none was asserted.
ALTER TABLE oauth_grants ADD COLUMN acr TEXT;
