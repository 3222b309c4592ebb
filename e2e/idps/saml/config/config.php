<?php
/*
 * SimpleSAMLphp 1.19 (Debian package) configuration for Roster's local test IdP.
 * start.sh points SIMPLESAMLPHP_CONFIG_DIR here and sets the environment read below.
 * Every path that SimpleSAMLphp writes to lives under SAML_IDP_DATA_DIR and the signing key
 * under SAML_IDP_KEY_DIR, so several instances (one per test, each with its own temp dir and
 * port) can run side by side from the same checkout.
 *
 * Test only: plain HTTP, fixed salt, admin password "admin".
 */
$env = function (string $name, string $default): string {
    $v = getenv($name);
    return $v === false || $v === '' ? $default : $v;
};
$root = dirname(__DIR__);
$base = $env('SAML_IDP_BASE_URL', 'http://127.0.0.1:9080/');
$data = rtrim($env('SAML_IDP_DATA_DIR', $root . '/data'), '/') . '/';
$keys = rtrim($env('SAML_IDP_KEY_DIR', $root . '/keys'), '/') . '/';

$sources = [['type' => 'flatfile', 'directory' => $root . '/metadata/']];
if (getenv('SAML_SP_METADATA_FILE')) {
    // Optional: also trust the SP's own metadata XML (Roster serves one), with its entity ID,
    // ACS and certificates; SAML_SP_ENTITY_ID/SAML_SP_ACS_URL still describe a second SP.
    $sources[] = ['type' => 'xml', 'file' => getenv('SAML_SP_METADATA_FILE')];
}

$config = [
    // A full URL: SimpleSAMLphp builds every endpoint (and the IdP entity ID) from it, and behind
    // `php -S` it cannot guess the port reliably.
    'baseurlpath' => $base,
    'certdir' => $keys,
    'loggingdir' => $data,
    'datadir' => $data,
    'tempdir' => $data . 'tmp',
    'metadatadir' => $root . '/metadata/',
    'metadata.sources' => $sources,

    'technicalcontact_name' => 'Roster test IdP',
    'technicalcontact_email' => 'na@example.test',
    'secretsalt' => 'roster-e2e-idp-salt-not-a-secret',
    'auth.adminpassword' => 'admin',
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'timezone' => 'UTC',

    // Logs go to php -S's stderr, which the test harness keeps in a file next to the data.
    'logging.level' => getenv('SAML_IDP_DEBUG') ? SimpleSAML\Logger::DEBUG : SimpleSAML\Logger::NOTICE,
    'logging.handler' => 'stderr',
    'debug' => ['saml' => (bool) getenv('SAML_IDP_DEBUG'), 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => ['core' => true, 'saml' => true, 'admin' => true, 'exampleauth' => true],

    // Cookies are per host, not per port: these names must not clash with Roster's
    // (roster_session, roster_sso) on 127.0.0.1. Not Secure (plain HTTP), no SameSite.
    'session.duration' => 8 * 3600,
    'session.cookie.name' => 'SimpleSAMLSessionID',
    'session.phpsession.cookiename' => 'SSPIDP_PHPSESSID',
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken',
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    // PHP sessions, saved in the data dir (start.sh sets session.save_path).
    'store.type' => 'phpsession',
];
