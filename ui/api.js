// The JSON API, called with the signed-in user's bearer token. Errors arrive as the API's
// envelope ({"error": {"code", "message", "correlation_id"}}) and are thrown as ApiError.

import { accessToken } from './auth.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Listeners told when the API refuses the token (the page then offers to sign in again). */
export const onUnauthorized = new Set();

function url(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== '') params.append(key, String(value));
  }
  const text = params.toString();
  return `../v1/${path}${text ? `?${text}` : ''}`;
}

async function request(path, { method = 'GET', query, body } = {}) {
  const headers = { Accept: 'application/json' };
  const token = await accessToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url(path, query), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit', cache: 'no-store',
  });
  if (response.status === 401) onUnauthorized.forEach((f) => f());
  return response;
}

async function failed(response) {
  const envelope = await response.json().catch(() => null);
  const error = envelope?.error;
  return new ApiError(response.status, error?.code || 'http_error',
    error?.message || `the API answered ${response.status}`);
}

/** GET (or another method with `body`) of /api/v1/<path>, answering the parsed JSON. */
export async function api(path, options) {
  const response = await request(path, options);
  if (!response.ok) throw await failed(response);
  return response.status === 204 ? null : response.json();
}

/** Reads every page of a list (following next_cursor), at most `limit` items. */
export async function all(path, query, limit = 2000) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, page_size: 500, cursor, include_total: false } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < limit);
  return { items, complete: !cursor };
}

/** Downloads /api/v1/<path> as a file (the API's CSV exports need the bearer token too). */
export async function download(path, query, filename) {
  const response = await request(path, { query });
  if (!response.ok) throw await failed(response);
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
