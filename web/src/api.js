// The one door to reel's JSON API. The session lives in an HttpOnly cookie
// (the server sets it when sign-up/sign-in carry X-Reel-Session: cookie), so
// no token ever reaches script; fetch sends the cookie on same-origin calls.
import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, code, message, fields, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || null;
    this.retryAfter = retryAfter;
  }
}

export async function api(method, path, body, { headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin', signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', t('err.network'));
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    // A session that ended (expired, signed out elsewhere, password
    // changed) makes the app signed out, rather than failing on and on.
    if (res.status === 401 && !['/sessions', '/session', '/me', '/me/password'].includes(path)) window.dispatchEvent(new Event('reel:signed-out'));
    const retry = parseInt(res.headers.get('Retry-After') || '', 10);
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText, err.fields, Number.isFinite(retry) ? retry : undefined);
  }
  return data;
}

export const get = (p, o) => api('GET', p, undefined, o);

// humanError turns any failure into words a person understands, in the
// chosen language: the code decides, the server's message only adds detail.
export function humanError(e, what) {
  if (!e) return '';
  if (e.name === 'AbortError') return '';
  const code = e.code || '';
  switch (code) {
    case 'network': return t('err.network');
    case 'unauthorized': return what === 'signin' ? t('err.badPair') : t('err.signin');
    case 'forbidden': return t('err.forbidden');
    case 'not_found': return t('err.notFound');
    case 'conflict': return t('err.taken');
    case 'too_large': return t('err.tooLarge');
    case 'quota_exceeded': return t('err.quota');
    case 'unsupported_media': return t('err.notVideo') + (e.message ? ' (' + e.message + ')' : '');
    case 'invalid': {
      const f = e.fields ? Object.entries(e.fields).map(([k, v]) => `${t('field.' + k)}: ${v}`).join('; ') : e.message;
      return t('err.invalid', { detail: f });
    }
    case 'rate_limited': return e.retryAfter ? t('err.rateRetry', { s: fmtWait(e.retryAfter) }) : t('err.rate');
    case 'unavailable': return e.retryAfter ? t('err.busyRetry', { s: fmtWait(e.retryAfter) }) : t('err.busy');
    case 'insufficient_storage': return t('err.storage');
    case 'internal': return t('err.internal');
    default: return e.message || t('err.internal');
  }
}

export function fmtWait(s) {
  if (s < 90) return t('unit.seconds', { n: s });
  if (s < 5400) return t('unit.minutes', { n: Math.ceil(s / 60) });
  return t('unit.hours', { n: Math.ceil(s / 3600) });
}
