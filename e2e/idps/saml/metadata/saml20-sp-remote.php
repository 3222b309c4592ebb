<?php
/*
 * The SP under test (Roster): its entity ID and HTTP-POST ACS from the environment. An SP
 * metadata XML given by SAML_SP_METADATA_FILE is trusted as well (config.php).
 */
$formats = [
    'persistent' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    'email' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'transient' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
];
$format = getenv('SAML_NAMEID_FORMAT') ?: 'persistent';
if (!isset($formats[$format])) {
    throw new Exception("SAML_NAMEID_FORMAT must be persistent, email or transient, not $format");
}
$entityId = getenv('SAML_SP_ENTITY_ID') ?: 'http://127.0.0.1:8080/sso/saml/metadata';
$acs = getenv('SAML_SP_ACS_URL') ?: 'http://127.0.0.1:8080/sso/saml/acs';

$metadata[$entityId] = [
    // SimpleSAMLphp posts only to an ACS listed here: an AssertionConsumerServiceURL in the
    // AuthnRequest that is not in this list is silently replaced by this one.
    'AssertionConsumerService' => [[
        'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
        'Location' => $acs,
        'index' => 0,
    ]],
    // Roster's Single Logout endpoint sits beside its ACS (…/acs → …/slo), as its SP metadata
    // says: an IdP admin pastes both.
    'SingleLogoutService' => [[
        'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'Location' => preg_replace('#/acs$#', '/slo', $acs),
    ]],
    // The NameID format used when the AuthnRequest asks for none (or for "unspecified").
    'NameIDFormat' => $formats[$format],
    // Roster's AuthnRequests are unsigned; don't demand a signature.
    'validate.authnrequest' => false,
];
