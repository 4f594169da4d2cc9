// One video: picks HLS (native, or hls.js loaded on demand) or the
// progressive MP4, shows the cover until the first frame, plays while
// active, preloads while next, records a view after real playback, and
// saves and resumes the viewer's position.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { getMe } from './store.js';
import { t } from './i18n.js';
import { Icon } from './icons.jsx';

// Sound is off until the first tap anywhere (browsers only autoplay muted);
// from then on every video plays with sound.
let soundOn = false;
const soundSubs = new Set();
export function setSound(on) { soundOn = on; soundSubs.forEach((f) => f(on)); }
function useSound() {
  const [s, set] = useState(soundOn);
  useEffect(() => { soundSubs.add(set); return () => soundSubs.delete(set); }, []);
  return s;
}

let hlsModule = null;
function loadHls() {
  if (!hlsModule) hlsModule = import('hls.js/dist/hls.mjs').then((m) => m.default);
  return hlsModule;
}

// preloadPlayer fetches hls.js while the feed itself is being asked for,
// where the browser will need it.
export function preloadPlayer() {
  if (!nativeHLS()) loadHls().catch(() => {});
}
let native;
function nativeHLS() {
  if (native === undefined) native = !!document.createElement('video').canPlayType('application/vnd.apple.mpegurl');
  return native;
}

// captionLang is the caption language of v to show: the first of the
// viewer's languages (navigator.languages) that v has captions in, matched
// on the primary subtag ("pt-BR" takes "pt"), or undefined. The feed
// starts muted, so a caption in the viewer's language is shown at once.
function captionLang(v) {
  const have = (v.captions || []).map((c) => c.lang);
  for (const want of navigator.languages || [navigator.language]) {
    const primary = String(want).toLowerCase().split('-')[0];
    const hit = have.find((l) => l.toLowerCase() === String(want).toLowerCase())
      || have.find((l) => l.toLowerCase().split('-')[0] === primary);
    if (hit) return hit;
  }
  return undefined;
}

function attach(el, v, eager) {
  let hls = null, gone = false;
  const native = v.hls_url && el.canPlayType('application/vnd.apple.mpegurl');
  if (v.hls_url && !native) {
    loadHls().then((Hls) => {
      if (gone) return;
      if (Hls.isSupported()) {
        const lang = captionLang(v);
        hls = new Hls({
          capLevelToPlayerSize: true, maxBufferLength: eager ? 20 : 6, backBufferLength: 10,
          subtitleDisplay: !!lang, ...(lang ? { subtitlePreference: { lang } } : {}),
        });
        hls.loadSource(v.hls_url);
        hls.attachMedia(el);
      } else if (v.play_url) {
        el.src = v.play_url;
      }
    }, () => { if (!gone && v.play_url) el.src = v.play_url; });
  } else {
    el.src = native ? v.hls_url : v.play_url;
  }
  return () => {
    gone = true;
    if (hls) hls.destroy();
    el.removeAttribute('src');
    try { el.load(); } catch { /* ignore */ }
  };
}

export function Player({ video, active, preload, onDoubleTap, onStarted, label }) {
  const ref = useRef(null);
  const sound = useSound();
  const [paused, setPaused] = useState(true);
  const [started, setStarted] = useState(false);
  const [heart, setHeart] = useState(0);
  const playable = !!(video.hls_url || video.play_url);
  const load = playable && (active || preload);
  const state = useRef({ played: 0, last: -1, viewed: false, resumed: false, timer: 0 });

  // Source: attached while active or next, detached otherwise.
  useEffect(() => {
    const el = ref.current;
    if (!el || !load) return undefined;
    setStarted(false);
    return attach(el, video, active);
  }, [load, video.id, video.hls_url, video.play_url]);

  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    el.muted = !sound;
    if (!active) { el.pause(); return undefined; }
    const p = el.play();
    if (p && p.catch) {
      p.catch((e) => {
        if (e && e.name === 'NotAllowedError' && !el.muted) { el.muted = true; setSound(false); el.play().catch(() => {}); }
      });
    }
    // Position saved now and then while it plays, and when it leaves.
    const save = () => savePosition(video, el);
    const iv = setInterval(() => { if (!el.paused) save(); }, 5000);
    const hide = () => save();
    window.addEventListener('pagehide', hide);
    return () => { clearInterval(iv); window.removeEventListener('pagehide', hide); save(); };
  }, [active, load]);

  useEffect(() => { if (ref.current) ref.current.muted = !sound; }, [sound]);

  const onTime = () => {
    const el = ref.current, s = state.current;
    if (!el) return;
    const now = el.currentTime;
    if (s.last >= 0 && !el.paused) {
      const d = now - s.last;
      if (d > 0 && d < 1.5) s.played += d;
    }
    s.last = now;
    if (!s.viewed && s.played >= 3) {
      s.viewed = true;
      api('POST', `/videos/${video.id}/views`).catch(() => { s.viewed = false; });
    }
  };
  const onMeta = () => {
    const el = ref.current, s = state.current;
    if (!el) return;
    const r = (video.resume_position_ms || 0) / 1000;
    if (!s.resumed && r > 0.5 && (!el.duration || r < el.duration - 1.5)) el.currentTime = r;
    s.resumed = true;
  };

  const tap = useRef(0);
  const onClick = () => {
    if (tap.current) {
      clearTimeout(tap.current);
      tap.current = 0;
      setHeart((h) => h + 1);
      if (onDoubleTap) onDoubleTap();
      return;
    }
    tap.current = setTimeout(() => {
      tap.current = 0;
      const el = ref.current;
      if (!el) return;
      if (!soundOn) { setSound(true); if (el.paused) el.play().catch(() => {}); return; }
      if (el.paused) el.play().catch(() => {}); else el.pause();
    }, 260);
  };
  const togglePlay = () => { const el = ref.current; if (!el) return; if (el.paused) el.play().catch(() => {}); else el.pause(); };

  return (
    <div class={'player' + (started ? ' started' : '')}>
      {video.cover_url ? <img class="cover" src={video.cover_url} alt="" /> : null}
      <video
        ref={ref}
        class="media"
        playsInline
        loop
        muted
        autoPlay={active}
        preload={active ? 'auto' : preload ? 'auto' : 'none'}
        poster={video.cover_url || undefined}
        aria-label={label || video.title || t('video.untitled')}
        data-video-id={video.id}
        onPlaying={() => { setStarted(true); setPaused(false); if (onStarted) onStarted(); }}
        onPause={() => setPaused(true)}
        onPlay={() => setPaused(false)}
        onTimeUpdate={onTime}
        onLoadedMetadata={onMeta}
        onClick={onClick}
      />
      {heart ? <span key={heart} class="heart-pop" aria-hidden="true"><Icon name="heart" size={110} /></span> : null}
      {!playable ? <p class="player-note">{video.status === 'ready' ? t('video.noMedia') : t('video.notReady')}</p> : null}
      <div class="player-controls">
        <button type="button" class="icon-btn" onClick={togglePlay} aria-label={paused ? t('player.play') : t('player.pause')}>
          <Icon name={paused ? 'play' : 'pause'} />
        </button>
        <button type="button" class="icon-btn" onClick={() => setSound(!sound)} aria-label={sound ? t('player.mute') : t('player.unmute')} aria-pressed={sound ? 'true' : 'false'}>
          <Icon name={sound ? 'soundOn' : 'soundOff'} />
        </button>
      </div>
    </div>
  );
}

function savePosition(video, el) {
  if (!getMe() || !el || !video.duration_ms || !(el.currentTime > 0)) return;
  const ms = Math.min(Math.round(el.currentTime * 1000), video.duration_ms);
  if (Math.abs(ms - (video._savedMs || -10000)) < 1000) return;
  video._savedMs = ms;
  video.resume_position_ms = ms;
  api('PUT', `/videos/${video.id}/progress`, { position_ms: ms }).catch(() => {});
}
