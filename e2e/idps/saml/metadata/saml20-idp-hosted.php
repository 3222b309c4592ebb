<?php
/*
 * The hosted IdP. Its entity ID is <base URL>saml2/idp/metadata.php, which is also where its
 * metadata XML (signing certificate, SSO/SLO endpoints, NameID formats) is served.
 */
$base = getenv('SAML_IDP_BASE_URL') ?: 'http://127.0.0.1:9080/';
$entityId = getenv('SAML_IDP_ENTITY_ID') ?: $base . 'saml2/idp/metadata.php';

$metadata[$entityId] = [
    'host' => '__DEFAULT__',
    'SingleSignOnServiceBinding' => [
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
    ],
    'privatekey' => 'idp.key',   // in SAML_IDP_KEY_DIR (certdir), made by start.sh
    'certificate' => 'idp.crt',
    'auth' => 'test-users',
    // Both the Response and the Assertion are signed, RSA-SHA256: an SP must accept either and
    // must not be fooled by an unsigned part. Off switches exist to test the SP's rejections.
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'saml20.sign.response' => getenv('SAML_SIGN_RESPONSE') !== '0',
    'saml20.sign.assertion' => getenv('SAML_SIGN_ASSERTION') !== '0',
    // Encrypt assertions to the SP's encryption certificate (from its metadata), and refuse
    // AuthnRequests that the SP did not sign: what "encrypt assertions" and "sign requests"
    // policies at ADFS or a government IdP mean. An SP entry can override either (sp-remote).
    'assertion.encryption' => getenv('SAML_ENCRYPT_ASSERTION') === '1',
    'validate.authnrequest' => getenv('SAML_VALIDATE_AUTHNREQUEST') === '1',
    // Single Logout: sign the LogoutRequests and LogoutResponses it sends (an SP must refuse
    // unsigned ones, which would let any page sign users out), as ADFS, Entra and Okta do.
    'sign.logout' => true,
    'NameIDFormat' => [
        'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
    ],
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'authproc' => [
        // One generator per NameID format; SimpleSAMLphp uses the one whose Format is what the
        // AuthnRequest's <NameIDPolicy> asks for, or else the SP's NameIDFormat (sp-remote).
        10 => ['class' => 'saml:AttributeNameID', 'attribute' => 'subject',
               'Format' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
        11 => ['class' => 'saml:AttributeNameID', 'attribute' => 'email',
               'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
        12 => ['class' => 'saml:TransientNameID'],
        // Only these reach the SP (`subject` is the NameID, not an attribute).
        50 => ['class' => 'core:AttributeLimit', 'email', 'givenName', 'surname', 'displayName', 'uid', 'groups',
               'department', 'title', 'employeeNumber'],
    ],
];
