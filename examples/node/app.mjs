// A small product that signs its users in with Roster, using only standard libraries:
// openid-client for the login (authorization code + PKCE, ID token validation, userinfo, refresh)
// and jose (openid-client's own JWT library) for back-channel logout tokens.
//
// Configuration (environment):
//   ROSTER_ISSUER   Roster's issuer, e.g. https://id.example.com (its server.public_url)
//   CLIENT_ID       from `roster app create`
//   CLIENT_SECRET   from `roster app create` (shown once)
//   PORT            where this product listens (default 3000, on 127.0.0.1; HOST to change)
//   REDIRECT_URI    registered redirect URI (default http://127.0.0.1:PORT/callback)
//   POST_LOGOUT_REDIRECT_URI  registered post-logout URI (default http://127.0.0.1:PORT/signed-out)
//
// Routes:
//   GET  /                    who is signed in (HTML)
//   GET  /login               starts a sign-in; ?workspace=SLUG, ?login_hint=EMAIL or
//                             ?connection=ID tell Roster which workspace (none: Roster asks)
//   GET  /callback            the redirect URI: code exchange, ID token validation, session
//   GET  /me                  the validated ID token claims of this session (JSON)
//   GET  /userinfo            Roster's userinfo for this session's access token (JSON)
//   POST /refresh             a refresh_token grant for this session (JSON)
//   POST /logout              ends this session here, then sends the browser to Roster's
//                             end_session_endpoint (RP-initiated logout), which comes back to
//                             /signed-out
//   GET  /signed-out          where Roster sends the browser after signing out
//   POST /backchannel-logout  Roster's back-channel logout: ends the sessions a valid token names
//   GET  /status              the back-channel logouts received (JSON; for demos and tests)

import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

import express from 'express';
import * as jose from 'jose';
import * as client from 'openid-client';

const SCOPE = 'openid profile email roles groups attributes offline_access';
const SESSION_COOKIE = 'node_product_session';
const LOGIN_TIMEOUT_MS = 10 * 60 * 1000;
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (see README.md)`);
    process.exit(2);
  }
  return value;
}

const issuer = new URL(required('ROSTER_ISSUER'));
const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const redirectUri = process.env.REDIRECT_URI ?? `http://127.0.0.1:${port}/callback`;
const postLogoutRedirectUri =
  process.env.POST_LOGOUT_REDIRECT_URI ?? `http://127.0.0.1:${port}/signed-out`;
const secureCookies = new URL(redirectUri).protocol === 'https:';
const require = createRequire(import.meta.url);
const library = `openid-client ${require('openid-client/package.json').version}`;

// Discovery: every endpoint and the JWKS come from Roster's metadata. Plain http is allowed only
// for a local Roster (development and the end-to-end tests); the library refuses it otherwise.
const execute = [client.enableNonRepudiationChecks];
if (issuer.protocol === 'http:') execute.push(client.allowInsecureRequests);
const config = await client.discovery(
  issuer,
  clientId,
  undefined,
  client.ClientSecretBasic(clientSecret),
  { execute },
);
const metadata = config.serverMetadata();
// Back-channel logout tokens are verified with the same JWKS as ID tokens; jose fetches it again
// when a token names a key it does not know yet.
const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));

// Sessions live in this process (a real product keeps them in its database), so that a
// back-channel logout can end them: id -> { pending } or { claims, tokens, sid, sub }.
const sessions = new Map();
// What /status shows.
const logouts = [];
const refusedLogouts = [];
// Logout token ids already processed (until their exp), so a replayed token ends nothing twice.
const seenLogoutJtis = new Map();

function cookieOf(req, name) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function currentSession(req) {
  const id = cookieOf(req, SESSION_COOKIE);
  return id === undefined ? undefined : sessions.get(id);
}

function startSession(res, data) {
  const id = randomBytes(32).toString('base64url');
  sessions.set(id, data);
  res.cookie(SESSION_COOKIE, id, {
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies,
    path: '/',
  });
  return id;
}

function endSession(req, res) {
  const id = cookieOf(req, SESSION_COOKIE);
  if (id !== undefined) sessions.delete(id);
  res.clearCookie(SESSION_COOKIE, { path: '/' });
}

function signedIn(req, res) {
  const session = currentSession(req);
  if (session?.claims) return session;
  res.status(401).json({ error: 'not_signed_in' });
  return undefined;
}

function describe(error) {
  return {
    error: error.error ?? error.code ?? 'error',
    error_description: error.error_description ?? error.message,
  };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const app = express();
app.disable('x-powered-by');
app.use((req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
});

app.get('/', (req, res) => {
  const session = currentSession(req);
  const body = session?.claims
    ? `<p>Signed in as <strong>${escapeHtml(session.claims.email ?? session.claims.sub)}</strong>
       in workspace <strong>${escapeHtml(session.claims.workspace)}</strong>
       (validated by ${escapeHtml(library)}).</p>
       <pre>${escapeHtml(JSON.stringify(session.claims, null, 2))}</pre>
       <p><a href="/userinfo">userinfo</a></p>`
    : `<p>Not signed in.</p>
       <form action="/login"><label>Workspace <input name="workspace"></label>
       <button>Sign in with Roster</button></form>`;
  res.type('html').send(`<!doctype html><title>Node example product</title>${body}`);
});

app.get('/login', async (req, res) => {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = {
    redirect_uri: redirectUri,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
  };
  // Roster's ways of choosing the workspace: its slug, the user's email, or a connection id.
  for (const name of ['workspace', 'login_hint', 'connection']) {
    if (typeof req.query[name] === 'string' && req.query[name] !== '') {
      parameters[name] = req.query[name];
    }
  }
  endSession(req, res);
  startSession(res, { pending: { pkceCodeVerifier, state, nonce, startedAt: Date.now() } });
  res.redirect(client.buildAuthorizationUrl(config, parameters).href);
});

app.get('/callback', async (req, res) => {
  const pending = currentSession(req)?.pending;
  if (!pending || Date.now() - pending.startedAt > LOGIN_TIMEOUT_MS) {
    res.status(400).json({ error: 'no_login_in_progress' });
    return;
  }
  try {
    // Checks the state, the iss parameter (RFC 9207), exchanges the code with the PKCE verifier
    // and validates the ID token: signature (JWKS), iss, aud, exp, iat, nonce.
    const tokens = await client.authorizationCodeGrant(
      config,
      new URL(req.originalUrl, redirectUri),
      {
        pkceCodeVerifier: pending.pkceCodeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      },
    );
    const claims = tokens.claims();
    // A new session id once signed in (no fixation of the pre-login cookie).
    endSession(req, res);
    startSession(res, { claims, tokens, sub: claims.sub, sid: claims.sid });
    res.redirect('/');
  } catch (error) {
    endSession(req, res);
    res.status(400).json(describe(error));
  }
});

app.get('/me', (req, res) => {
  const session = signedIn(req, res);
  if (session) res.json({ validated_by: library, claims: session.claims });
});

app.get('/userinfo', async (req, res) => {
  const session = signedIn(req, res);
  if (!session) return;
  try {
    const userinfo = await client.fetchUserInfo(
      config,
      session.tokens.access_token,
      session.sub,
    );
    res.json(userinfo);
  } catch (error) {
    res.status(401).json(describe(error));
  }
});

app.post('/refresh', async (req, res) => {
  const session = signedIn(req, res);
  if (!session) return;
  try {
    const tokens = await client.refreshTokenGrant(config, session.tokens.refresh_token);
    const claims = tokens.claims();
    // OpenID Connect Core §12.2: a refreshed ID token is about the same user.
    if (claims && claims.sub !== session.sub) throw new Error('the refreshed ID token names another user');
    const rotated = tokens.refresh_token !== session.tokens.refresh_token;
    session.tokens = { ...session.tokens, ...tokens };
    if (claims) session.claims = claims;
    res.json({ claims: session.claims, refresh_token_rotated: rotated, expires_in: tokens.expires_in });
  } catch (error) {
    res.status(401).json(describe(error));
  }
});

// RP-Initiated Logout 1.0: the local session ends here; Roster then ends its own session (and
// tells every other product that session signed into, by back-channel logout) and sends the
// browser back to the registered post-logout URI.
app.post('/logout', (req, res) => {
  const idToken = currentSession(req)?.tokens?.id_token;
  endSession(req, res);
  if (!idToken) return res.redirect(303, '/signed-out');
  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: idToken,
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: randomBytes(16).toString('base64url'),
  });
  res.redirect(303, endSessionUrl.href);
});

app.get('/signed-out', (req, res) => {
  res.type('html').send('<!doctype html><title>Node example product</title><p>Signed out.</p>');
});

// OpenID Connect Back-Channel Logout 1.0 §2.6: validate the logout token, end the sessions it
// names, answer 200; anything wrong with it is 400.
app.post('/backchannel-logout', express.urlencoded({ extended: false }), async (req, res) => {
  try {
    const token = req.body?.logout_token;
    if (typeof token !== 'string') throw new Error('no logout_token');
    const { payload } = await jose.jwtVerify(token, jwks, {
      issuer: metadata.issuer,
      audience: clientId,
      typ: 'logout+jwt',
      algorithms: metadata.id_token_signing_alg_values_supported,
      requiredClaims: ['iat', 'exp', 'jti', 'events'],
    });
    const event = payload.events?.[BACKCHANNEL_LOGOUT_EVENT];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new Error('events has no back-channel logout event');
    }
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    if (typeof payload.sub !== 'string' && typeof payload.sid !== 'string') {
      throw new Error('neither sub nor sid');
    }
    const now = Date.now() / 1000;
    for (const [jti, exp] of seenLogoutJtis) if (exp < now) seenLogoutJtis.delete(jti);
    if (seenLogoutJtis.has(payload.jti)) throw new Error('this logout token was already used');
    seenLogoutJtis.set(payload.jti, payload.exp);

    // With sid, that session (of that user, when sub is given too); without, every session of
    // the user.
    let ended = 0;
    for (const [id, session] of sessions) {
      if (!session.claims) continue;
      const matches = typeof payload.sid === 'string'
        ? session.sid === payload.sid && (payload.sub === undefined || session.sub === payload.sub)
        : session.sub === payload.sub;
      if (matches) {
        sessions.delete(id);
        ended += 1;
      }
    }
    logouts.push({
      received_at: new Date().toISOString(),
      validated_by: `jose ${require('jose/package.json').version}`,
      iss: payload.iss,
      sub: payload.sub ?? null,
      sid: payload.sid ?? null,
      jti: payload.jti,
      sessions_ended: ended,
    });
    res.status(200).end();
  } catch (error) {
    refusedLogouts.push({ received_at: new Date().toISOString(), reason: error.message });
    res.status(400).json({ error: 'invalid_request', error_description: error.message });
  }
});

app.get('/status', (req, res) => {
  let signedInSessions = 0;
  for (const session of sessions.values()) if (session.claims) signedInSessions += 1;
  res.json({ sessions: signedInSessions, logouts, refused_logouts: refusedLogouts });
});

app.listen(port, host, () => {
  console.log(`Node example product on http://${host}:${port}/ (issuer ${metadata.issuer}, ${library})`);
});
