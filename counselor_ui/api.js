// HTTP calls to the server's API with the login token as a bearer header (never in a URL).

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

const auth = { token: null, onUnauthorized: () => {} };

export function setToken(token, onUnauthorized) {
  auth.token = token;
  if (onUnauthorized) auth.onUnauthorized = onUnauthorized;
}

/** Human-readable text of a FastAPI error detail (a string, or a list of validation errors). */
export function detailText(detail) {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== 'body').join('.')}: ${d.msg}`).join('; ');
  }
  return detail == null ? '' : JSON.stringify(detail);
}

/** One call; resolves to the parsed JSON (or null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
    });
  } catch (err) {
    throw new ApiError(0, String(err?.message || err));
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401 && auth.token && path !== '/api/auth/login') auth.onUnauthorized();
    const error = new ApiError(response.status, data?.detail ?? response.statusText);
    error.retryAfter = Number(response.headers.get('Retry-After')) || 0;
    throw error;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
