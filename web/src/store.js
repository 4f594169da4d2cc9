// A small shared state: who is signed in and the live event stream of that
// user. Components subscribe with useMe / onEvent.
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

let me; // undefined: not known yet; null: signed out; else the User
const meSubs = new Set();

export function setMe(u) {
  me = u;
  meSubs.forEach((f) => f(u));
  connectEvents();
}
export const getMe = () => me;

export function useMe() {
  const [u, set] = useState(me);
  useEffect(() => { meSubs.add(set); set(me); return () => meSubs.delete(set); }, []);
  return u;
}

window.addEventListener('reel:signed-out', () => { if (me) setMe(null); });

// GET /session answers 200 with {user: null} for a visitor who is not signed
// in, so that opening the app logs no failed request; a reel without it
// (404) is asked GET /me, whose 401 means signed out.
export async function loadMe() {
  try {
    const r = await api('GET', '/session');
    setMe((r && r.user) || null);
    return;
  } catch (e) {
    if (e.status !== 404) { setMe(null); return; }
  }
  try { setMe(await api('GET', '/me')); } catch { setMe(null); }
}

export async function refreshMe() {
  try { setMe(await api('GET', '/me')); } catch { /* keep what we have */ }
}

// The signed-in user's events (/api/v1/events), one EventSource for the
// whole app; EventSource sends the session cookie and Last-Event-ID itself.
const bus = new EventTarget();
let es = null;
let esUser = 0;
export const eventsLive = { ok: false };

let retry = 0;
function connectEvents(force) {
  const id = me ? me.id : 0;
  if (id === esUser && !force) return;
  if (es) { es.close(); es = null; eventsLive.ok = false; }
  clearTimeout(retry);
  esUser = id;
  if (!id || typeof EventSource === 'undefined') return;
  es = new EventSource('/api/v1/events');
  const mine = es;
  es.onopen = () => { eventsLive.ok = true; };
  es.onerror = () => {
    eventsLive.ok = false;
    // EventSource reconnects by itself after a dropped stream, but gives up
    // on an error answer (429 over the stream cap, 503): try again later.
    if (mine.readyState === EventSource.CLOSED && es === mine) retry = setTimeout(() => connectEvents(true), 15000);
  };
  for (const type of ['message', 'like', 'comment', 'follow', 'video_status', 'reset']) {
    es.addEventListener(type, (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch { /* ignore */ }
      bus.dispatchEvent(new CustomEvent(type, { detail: data }));
    });
  }
}

export function useEvent(type, fn, deps = []) {
  useEffect(() => {
    const h = (ev) => fn(ev.detail);
    bus.addEventListener(type, h);
    return () => bus.removeEventListener(type, h);
  }, deps);
}
