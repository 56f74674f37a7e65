// Sign-in with MSAL (@azure/msal-browser, vendored as vendor/msal-browser.min.js, which defines
// the global `msal`): the authorization code flow with PKCE of a single-page application
// registered in Entra ID, asking for the API's scope; locally the same against
// `azure-sim dev-idp`, which serves Entra ID's v2.0 endpoints over loopback HTTPS. MSAL keeps
// its cache (tokens included) in sessionStorage: this tab only, gone when it closes, never a
// cookie. The page reads the access token's claims only to show who is signed in and which
// buttons apply; the API decides what is allowed.

const msal = globalThis.msal;

let app = null;
let scopes = [];

/** Where the authority sends the browser back: this page (registered as the SPA's redirect URI). */
export function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

/**
 * Starts MSAL and, when the authority has just sent the browser back, completes the sign-in
 * (the code is redeemed at the token endpoint with the PKCE verifier). Returns the route the
 * sign-in started from, or null.
 */
export async function initialize(config) {
  if (!msal) throw new Error('the sign-in library did not load');
  scopes = [config.scope].filter(Boolean);
  app = new msal.PublicClientApplication({
    auth: {
      clientId: config.client_id,
      authority: config.authority,
      // The authority's host is trusted as given (no instance discovery at Microsoft's).
      knownAuthorities: [new URL(config.authority).host],
      redirectUri: redirectUri(),
      postLogoutRedirectUri: redirectUri(),
    },
    cache: { cacheLocation: 'sessionStorage' },
  });
  await app.initialize();
  const result = await app.handleRedirectPromise({ navigateToLoginRequestUrl: false });
  if (result?.account) app.setActiveAccount(result.account);
  if (!app.getActiveAccount() && app.getAllAccounts().length) app.setActiveAccount(app.getAllAccounts()[0]);
  if (!result) return null;
  const route = result.state && result.state.startsWith('#/') ? result.state : '#/overview';
  history.replaceState(null, '', redirectUri() + route);
  return route;
}

/** Sends the browser to the authority; it comes back to this page with a code. */
export async function signIn() {
  await app.loginRedirect({ scopes, state: location.hash || '#/overview', redirectUri: redirectUri() });
}

/**
 * A valid access token for the API: from MSAL's cache, or renewed with the refresh token.
 * Null when the user must sign in again (no account, or the refresh token is spent).
 */
export async function accessToken() {
  const account = app?.getActiveAccount();
  if (!account) return null;
  try {
    const result = await app.acquireTokenSilent({
      scopes,
      account,
      // No hidden iframe: the page's policy allows no frames.
      cacheLookupPolicy: msal.CacheLookupPolicy.AccessTokenAndRefreshToken,
    });
    return result.accessToken || null;
  } catch {
    return null;
  }
}

/** The access token's claims (unverified: for display and for choosing which buttons to show). */
export async function claims() {
  const token = await accessToken();
  if (!token) return null;
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

/** Forgets the account's tokens and signs out at the authority, which sends the browser back. */
export async function signOut() {
  const account = app?.getActiveAccount();
  await app.logoutRedirect({ account, postLogoutRedirectUri: redirectUri() });
}
