// Roster's local OpenID Provider for the SSO end-to-end tests, built on panva's OpenID Certified
// `oidc-provider` (npm, pinned in package-lock.json). One confidential client, the users of
// ../users.json, a plain HTML login form (`login`, `password`) and automatic consent, so a
// scripted browser (../browser.py) can log in without JavaScript.
//
// Everything is set by environment variables, so a test can start one OP per test on a free port
// with a temp data dir:
//   OP_HOST, OP_PORT            listen address (127.0.0.1, 9090)
//   OP_ISSUER                   issuer URL (http://OP_HOST:OP_PORT)
//   OP_CLIENT_ID, OP_CLIENT_SECRET             (roster-e2e, roster-e2e-secret)
//   OP_REDIRECT_URIS            comma-separated, exact match (http://127.0.0.1:8080/sso/oidc/callback)
//   OP_POST_LOGOUT_REDIRECT_URIS comma-separated (http://127.0.0.1:8080/)
//   OP_TOKEN_AUTH_METHOD        client_secret_basic (default) or client_secret_post
//   OP_PKCE_REQUIRED            1 (default): S256 PKCE required; 0: optional
//   OP_CLAIMS_IN_ID_TOKEN       0 (default): the ID token has sub only, the rest is at userinfo;
//                               1: email, names and groups in the ID token too
//   IDP_USERS_FILE              users (../users.json)
//   OP_DATA_DIR                 where the signing key is kept (./data)
//
// Test only: fixed cookie keys, plain HTTP, codes/tokens/sessions in memory.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => process.env[name] || fallback;
const flag = (name, fallback) => (process.env[name] ? /^(1|true|yes|on)$/i.test(process.env[name]) : fallback);
const list = (name, fallback) => env(name, fallback).split(',').map((s) => s.trim()).filter(Boolean);

const HOST = env('OP_HOST', '127.0.0.1');
const PORT = Number(env('OP_PORT', '9090'));
const ISSUER = env('OP_ISSUER', `http://${HOST}:${PORT}`);
const DATA_DIR = env('OP_DATA_DIR', path.join(here, 'data'));
const USERS = JSON.parse(fs.readFileSync(env('IDP_USERS_FILE', path.join(here, '..', 'users.json')), 'utf8'));
const TOKEN_AUTH_METHOD = env('OP_TOKEN_AUTH_METHOD', 'client_secret_basic');
if (!['client_secret_basic', 'client_secret_post'].includes(TOKEN_AUTH_METHOD)) {
  throw new Error(`OP_TOKEN_AUTH_METHOD must be client_secret_basic or client_secret_post, not ${TOKEN_AUTH_METHOD}`);
}

// RS256 signing key, made once per data dir and kept, so that an SP's cached JWKS stays valid
// across restarts of the same OP. Tests use a temp dir (a fresh key each run).
function signingKeys() {
  const file = path.join(DATA_DIR, 'jwks.json');
  if (!fs.existsSync(file)) {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
    fs.mkdirSync(DATA_DIR, { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ keys: [jwk] }, null, 2), { mode: 0o600 });
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const client = {
  client_id: env('OP_CLIENT_ID', 'roster-e2e'),
  client_secret: env('OP_CLIENT_SECRET', 'roster-e2e-secret'),
  redirect_uris: list('OP_REDIRECT_URIS', 'http://127.0.0.1:8080/sso/oidc/callback'),
  post_logout_redirect_uris: list('OP_POST_LOGOUT_REDIRECT_URIS', 'http://127.0.0.1:8080/'),
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: TOKEN_AUTH_METHOD,
};

const configuration = {
  clients: [client],
  // Scope -> claims. `groups` is a custom scope whose claim is a JSON array ([] for no groups).
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    // department, title and employeeNumber: HR claims as Okta's custom profile claims send
    // them, for Roster's custom attributes.
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'department', 'title', 'employeeNumber'],
    groups: ['groups'],
  },
  async findAccount(ctx, sub) {
    const u = USERS.find((x) => x.sub === sub);
    if (!u) return undefined;
    return {
      accountId: u.sub,
      async claims() {
        return {
          sub: u.sub,
          email: u.email,
          email_verified: u.email_verified !== false,
          name: `${u.given_name} ${u.family_name}`,
          given_name: u.given_name,
          family_name: u.family_name,
          preferred_username: u.username,
          department: u.department,
          title: u.title,
          employeeNumber: u.employeeNumber,
          groups: u.groups ?? [],
        };
      },
    };
  },
  // true (oidc-provider's default) is the spec read strictly: with response_type=code the ID
  // token carries only sub and the protocol claims; the scope claims come from userinfo. Many
  // real IdPs put them in the ID token as well; an SP must cope with both.
  conformIdTokenClaims: !flag('OP_CLAIMS_IN_ID_TOKEN', false),
  pkce: { required: () => flag('OP_PKCE_REQUIRED', true) }, // S256 only either way
  features: {
    devInteractions: { enabled: false }, // replaced by the login form below
    revocation: { enabled: true },
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: {
    keys: ['roster-e2e-op-cookie-key-not-a-secret'],
    // Cookies are per host, not per port: the SP (Roster: roster_session, roster_sso) and every
    // IdP on 127.0.0.1 share one jar, so the names are prefixed.
    names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
  },
  jwks: signingKeys(),
  ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><body><h1>OP error</h1><pre>${esc(JSON.stringify(out, null, 2))}</pre></body></html>`;
  },
};

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(ISSUER, configuration);

function loginPage(res, uid, clientId, error) {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!DOCTYPE html><html><head><title>Sign in</title></head><body>
<h1>Sign in to ${esc(clientId)}</h1>${error ? `<p class="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
  <label>Username <input type="text" name="login" autofocus></label>
  <label>Password <input type="password" name="password"></label>
  <button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${esc(uid)}/abort">Cancel</a></p></body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session } = details;

  if (action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'login') {
    if (req.method !== 'POST' || action !== 'login') return loginPage(res, uid, params.client_id);
    const form = await readForm(req);
    const user = USERS.find((u) => u.username === form.login && u.password === form.password);
    // A rejected login shows the form again (with a message), as real IdPs do.
    if (!user) return loginPage(res, uid, params.client_id, 'Invalid username or password');
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'consent') {
    // Automatic consent, as for a first-party client: grant whatever the request is missing.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }
  throw new Error(`unsupported prompt ${prompt.name}`);
}

const oidc = provider.callback();
const server = http.createServer(async (req, res) => {
  const m = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(req.url.split('?')[0]);
  if (!m) return oidc(req, res);
  try {
    await interaction(req, res, m[1], m[2]);
  } catch (err) {
    console.error('interaction error:', err.message);
    if (!res.headersSent) res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end(`interaction failed: ${err.message}\n`);
  }
});
provider.on('server_error', (ctx, err) => console.error('server_error:', err));
server.listen(PORT, HOST, () => {
  console.error(`OIDC OP: ${ISSUER}/.well-known/openid-configuration`
    + ` (client ${client.client_id}, ${TOKEN_AUTH_METHOD}, redirect ${client.redirect_uris.join(' ')})`);
});
