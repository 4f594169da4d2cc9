// A development server: serves dist/ like reel does (index.html for app
// routes, the same CSP) and forwards /api, /media, /douyin and the health
// routes to a running `reel serve` (REEL_UPSTREAM, e.g.
// http://127.0.0.1:8080). With DEV_COOKIE=1 it plays the server's part of
// cookie sessions for a reel that does not have them yet: it keeps the
// token of a sign-up/sign-in sent with X-Reel-Session: cookie in an
// HttpOnly cookie and turns that cookie back into a Bearer header.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const upstream = new URL(process.env.REEL_UPSTREAM || 'http://127.0.0.1:8080');
const port = Number(process.env.PORT || 5173);
const emulateCookie = process.env.DEV_COOKIE === '1';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html; charset=utf-8', '.json': 'application/json', '.woff2': 'font/woff2', '.svg': 'image/svg+xml' };

function cookieToken(req) {
  const m = /(?:^|;\s*)reel_session=([^;]+)/.exec(req.headers.cookie || '');
  return m ? decodeURIComponent(m[1]) : '';
}

// For a reel without GET /api/v1/users/@{username}: finds the id by
// asking for users 1, 2, ... (a development database is small).
async function userByName(req, res) {
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice('/api/v1/users/@'.length)).toLowerCase();
  for (let id = 1; id < 500; id++) {
    const r = await fetch(new URL('/api/v1/users/' + id, upstream));
    if (r.status === 404) break;
    const u = await r.json();
    if (u.username.toLowerCase() === name) {
      req.url = '/api/v1/users/' + id + (req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '');
      return proxy(req, res, true);
    }
  }
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end('{"error":{"code":"not_found","message":"user not found"}}');
}

function proxy(req, res, resolved) {
  if (emulateCookie && !resolved && req.url.startsWith('/api/v1/users/@')) return userByName(req, res);
  const headers = { ...req.headers }; // the Host stays: reel builds media URLs from it
  const want = emulateCookie && req.headers['x-reel-session'] === 'cookie';
  if (emulateCookie) {
    const tok = cookieToken(req);
    if (tok && !headers.authorization) headers.authorization = 'Bearer ' + tok;
    delete headers.cookie;
  }
  const signOut = emulateCookie && req.method === 'DELETE' && /^\/api\/v1\/sessions(\/current)?$/.test(req.url);
  const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (ur) => {
    const h = { ...ur.headers };
    if (want && ur.statusCode < 300) {
      const chunks = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('end', () => {
        let body = Buffer.concat(chunks).toString();
        try {
          const j = JSON.parse(body);
          if (j.token) {
            h['set-cookie'] = `reel_session=${encodeURIComponent(j.token)}; Path=/; HttpOnly; SameSite=Lax`;
            j.token = '';
          }
          body = JSON.stringify(j);
        } catch { /* leave it */ }
        delete h['content-length'];
        delete h['content-encoding'];
        res.writeHead(ur.statusCode, h);
        res.end(body);
      });
      return;
    }
    if (signOut) {
      h['set-cookie'] = 'reel_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0';
    }
    res.writeHead(ur.statusCode, h);
    ur.pipe(res);
  });
  up.on('error', (e) => { if (!res.headersSent) res.writeHead(502); res.end(String(e)); });
  res.on('close', () => up.destroy()); // event streams end with their client
  req.pipe(up);
}

http.createServer(async (req, res) => {
  const u = new URL(req.url, 'http://x');
  if (/^\/(api|media|douyin)\//.test(u.pathname) || /^\/(healthz|readyz|metrics)$/.test(u.pathname)) return proxy(req, res);
  const base = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin' };
  if (u.pathname.startsWith('/assets/')) {
    try {
      const f = path.join(dist, path.normalize(u.pathname).replace(/^\/+/, ''));
      if (!f.startsWith(dist)) throw new Error('outside');
      const b = await readFile(f);
      res.writeHead(200, { ...base, 'Content-Type': types[path.extname(f)] || 'application/octet-stream', 'Cache-Control': 'public, max-age=31536000, immutable' });
      return res.end(b);
    } catch {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end('{"error":{"code":"not_found","message":"no such asset"}}');
    }
  }
  const b = await readFile(path.join(dist, 'index.html'));
  res.writeHead(200, { ...base, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache', 'Content-Security-Policy': CSP });
  res.end(b);
}).listen(port, '127.0.0.1', () => console.log(`web app on http://127.0.0.1:${port}/ -> ${upstream.href}${emulateCookie ? ' (cookie sessions emulated)' : ''}`));
