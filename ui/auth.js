// Sign-in: the OAuth 2.0 authorization code flow with PKCE (RFC 7636), as a single-page
// application registered in Entra ID (or, locally, `azure-sim dev-idp`, which serves the same
// endpoints). The access token is kept in sessionStorage (this tab only, gone when it closes),
// never in a cookie. The page reads the token's claims only to show who is signed in and which
// buttons apply; the API decides what is allowed.

const TOKEN = 'azcops.token';
const PENDING = 'azcops.signin';
const METADATA = 'azcops.oidc';

function base64url(bytes) {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function challengeOf(verifier) {
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

/** Where the authority sends the browser back: this page (registered as the SPA's redirect URI). */
export function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

/** The authority's OpenID Connect metadata (authorize and token endpoints). */
async function metadata(config) {
  const cached = sessionStorage.getItem(METADATA);
  if (cached) {
    const m = JSON.parse(cached);
    if (m.authority === config.authority) return m;
  }
  const response = await fetch(`${config.authority}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the sign-in authority answered ${response.status}`);
  const doc = await response.json();
  const m = {
    authority: config.authority,
    authorize: doc.authorization_endpoint,
    token: doc.token_endpoint,
    logout: doc.end_session_endpoint || null,
  };
  sessionStorage.setItem(METADATA, JSON.stringify(m));
  return m;
}

function scopes(config) {
  return ['openid', 'profile', config.scope].filter(Boolean).join(' ');
}

/** Sends the browser to the authority; it comes back to this page with a code. */
export async function signIn(config) {
  const m = await metadata(config);
  const verifier = random(48);
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, route: location.hash || '#/overview' }));
  const query = new URLSearchParams({
    client_id: config.client_id,
    response_type: 'code',
    response_mode: 'fragment',
    redirect_uri: redirectUri(),
    scope: scopes(config),
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: 'S256',
  });
  location.assign(`${m.authorize}?${query}`);
}

/**
 * Completes a sign-in when the authority has just sent the browser back (the code is in the
 * fragment, never sent to a server but the token endpoint). Returns the route to show, or null.
 */
export async function completeSignIn(config) {
  const answer = new URLSearchParams(location.hash.slice(1));
  if (!answer.has('code') && !answer.has('error')) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', redirectUri() + (pending?.route || '#/overview'));
  if (answer.has('error')) {
    throw new Error(answer.get('error_description') || answer.get('error'));
  }
  if (!pending || pending.state !== answer.get('state')) {
    throw new Error('the sign-in answer does not belong to this tab; sign in again');
  }
  const m = await metadata(config);
  const response = await fetch(m.token, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: config.client_id,
      grant_type: 'authorization_code',
      code: answer.get('code'),
      redirect_uri: redirectUri(),
      code_verifier: pending.verifier,
      scope: scopes(config),
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new Error(body.error_description || body.error || `the token endpoint answered ${response.status}`);
  }
  const expiresAt = Date.now() + 1000 * Number(body.expires_in || 3600);
  sessionStorage.setItem(TOKEN, JSON.stringify({ token: body.access_token, expiresAt }));
  return pending.route;
}

/** The access token, while it has more than a minute left. */
export function accessToken() {
  const stored = JSON.parse(sessionStorage.getItem(TOKEN) || 'null');
  if (!stored || stored.expiresAt - Date.now() < 60_000) return null;
  return stored.token;
}

/** The token's claims (unverified: for display and for choosing which buttons to show). */
export function claims() {
  const token = accessToken();
  if (!token) return null;
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

/** Forgets the token (and signs out at the authority when it has an end-session endpoint). */
export async function signOut(config) {
  sessionStorage.removeItem(TOKEN);
  const cached = JSON.parse(sessionStorage.getItem(METADATA) || 'null');
  if (cached?.logout) {
    location.assign(`${cached.logout}?${new URLSearchParams({ post_logout_redirect_uri: redirectUri() })}`);
  } else {
    location.reload();
  }
}
