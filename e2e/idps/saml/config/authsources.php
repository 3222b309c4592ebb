<?php
/*
 * Password login (exampleauth:UserPass) for the users in ../../users.json, the same file the
 * OpenID Provider reads, or IDP_USERS_FILE. The attributes here are the user's full record;
 * metadata/saml20-idp-hosted.php decides what the SP gets.
 */
$file = getenv('IDP_USERS_FILE') ?: dirname(__DIR__, 2) . '/users.json';
$users = json_decode(file_get_contents($file), true, 16, JSON_THROW_ON_ERROR);

$userpass = ['exampleauth:UserPass'];
foreach ($users as $u) {
    $attrs = [
        'uid' => [$u['username']],
        'subject' => [$u['sub']],  // becomes the persistent NameID
        'email' => [$u['email']],
        'givenName' => [$u['given_name']],
        'surname' => [$u['family_name']],
        'displayName' => [$u['given_name'] . ' ' . $u['family_name']],
    ];
    // HR attributes, for Roster's custom attributes: short names, as Okta or OneLogin send
    // them (an SP maps them by name).
    foreach (['department', 'title', 'employeeNumber'] as $hr) {
        if (isset($u[$hr]) && $u[$hr] !== '') {
            $attrs[$hr] = [(string) $u[$hr]];
        }
    }
    if (!empty($u['groups'])) {
        // Multi-valued: one <AttributeValue> per group. A user without groups gets no
        // `groups` attribute at all (SimpleSAMLphp drops empty attributes anyway).
        $attrs['groups'] = array_values($u['groups']);
    }
    $userpass[$u['username'] . ':' . $u['password']] = $attrs;
}

$config = [
    'admin' => ['core:AdminPassword'],
    'test-users' => $userpass,
];
