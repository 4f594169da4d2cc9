// Upload: pick or drop a file, send it with tus (resumable across a dropped
// connection and a page reload: tus-js-client keeps each upload's URL in
// localStorage under the file's fingerprint), then follow processing on the
// video's event stream until it is ready to watch.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, humanError, get, fmtWait } from './api.js';
import { useMe } from './store.js';
import { Link, navigate } from './router.js';
import { Player } from './player.jsx';
import { t, fmtBytes } from './i18n.js';

const ENDPOINT = '/api/v1/uploads/';
// Chunks of about a twentieth of the file (16 KiB to 16 MiB) let the server
// confirm progress as it goes, so that a dropped connection or a reload
// loses at most one chunk; tus resumes from the last confirmed byte.
const chunkFor = (size) => Math.min(16 << 20, Math.max(16 << 10, Math.ceil(size / 20)));
const VIDEO_EXT = /\.(mp4|m4v|mov|webm|mkv|avi|mpe?g|ts|m2ts|3gp|3g2|flv|wmv|ogv)$/i;
const idKey = (url) => 'reel.upload-video:' + url;

let tusModule = null;
const loadTus = () => (tusModule ||= import('tus-js-client'));

function tusError(err) {
  const res = err && err.originalResponse;
  if (!res) return new ApiError(0, 'network', t('err.network'));
  let body = null;
  try { body = JSON.parse(res.getBody() || ''); } catch { /* not JSON */ }
  const e = (body && body.error) || {};
  const retry = parseInt(res.getHeader('Retry-After') || '', 10);
  return new ApiError(res.getStatus(), e.code || 'http_' + res.getStatus(), e.message || '', e.fields, Number.isFinite(retry) ? retry : undefined);
}

// The upload's state lives here, outside the page, so that an upload goes
// on while the person looks at other pages of the app, and the page shows
// it again on return. Leaving the app (reload, closing the tab) asks first;
// the upload then resumes when the same file is picked again.
const shared = {};
const sharedSubs = new Set();
const upRef = { current: null };
const esRef = { current: null };
const samples = { current: [] };
const startRef = { current: null };
function useShared(key, init) {
  if (!(key in shared)) shared[key] = init;
  const [, tick] = useState(0);
  useEffect(() => { const f = () => tick((n) => n + 1); sharedSubs.add(f); return () => sharedSubs.delete(f); }, []);
  return [shared[key], (v) => {
    const nv = typeof v === 'function' ? v(shared[key]) : v;
    if (nv === shared[key]) return;
    shared[key] = nv;
    sharedSubs.forEach((f) => f());
    uploadSubs.forEach((f) => f());
  }];
}
const sending = () => shared.phase === 'uploading' || shared.phase === 'stalled';
window.addEventListener('beforeunload', (e) => { if (shared.phase === 'uploading') { e.preventDefault(); e.returnValue = ''; } });
window.addEventListener('online', () => { if (upRef.current && shared.phase === 'stalled' && startRef.current) startRef.current(); });
window.addEventListener('reel:signed-out', () => { if (upRef.current && sending()) upRef.current.abort(); });

// For the navigation: the share of an upload going on, or -1.
const uploadSubs = new Set();
export function useUploadPct() {
  const [, tick] = useState(0);
  useEffect(() => { const f = () => tick((n) => n + 1); uploadSubs.add(f); return () => uploadSubs.delete(f); }, []);
  return sending() && shared.file ? Math.floor((shared.sent / shared.file.size) * 100) : -1;
}

export function UploadPage() {
  const me = useMe();
  const [file, setFile] = useShared('file', null);
  const [title, setTitle] = useShared('title', '');
  const [desc, setDesc] = useShared('desc', '');
  const [vis, setVis] = useShared('vis', 'public');
  const [phase, setPhase] = useShared('phase', 'idle'); // idle uploading stalled processing ready failed
  const [sent, setSent] = useShared('sent', 0);
  const [speed, setSpeed] = useShared('speed', 0);
  const [err, setErr] = useShared('err', '');
  const [resumeAt, setResumeAt] = useShared('resumeAt', -1);
  const [pending, setPending] = useState([]);
  const [maxSize, setMaxSize] = useShared('maxSize', 0);
  const [video, setVideo] = useShared('video', null);
  const [drag, setDrag] = useState(false);
  // A new file input after each finished upload, so that picking the same
  // file again is a change too.
  const [round, setRound] = useShared('round', 0);

  useEffect(() => {
    loadTus().then(async (tus) => {
      try { setPending(await tus.defaultOptions.urlStorage.findAllUploads()); } catch { /* storage off */ }
    });
    if (!maxSize) fetch(ENDPOINT, { method: 'OPTIONS' }).then((r) => setMaxSize(parseInt(r.headers.get('Tus-Max-Size') || '0', 10) || 0), () => {});
  }, []);

  if (me === null) {
    return <main class="page narrow"><h1 class="h1">{t('upload.title')}</h1>
      <p>{t('upload.signIn')} <Link href="/signin?next=/upload">{t('auth.signIn')}</Link></p></main>;
  }

  const choose = async (f) => {
    setErr(''); setResumeAt(-1);
    if (!f) { setFile(null); return; }
    if (maxSize && f.size > maxSize) {
      setFile(null);
      setErr(t('upload.tooLargeLocal', { size: fmtBytes(f.size), max: fmtBytes(maxSize) }));
      return;
    }
    if (!(f.type.startsWith('video/') || VIDEO_EXT.test(f.name))) {
      setFile(null);
      setErr(t('upload.notVideoLocal', { name: f.name }));
      return;
    }
    setFile(f);
    const tus = await loadTus();
    const probe = new tus.Upload(f, { endpoint: ENDPOINT });
    const prev = await probe.findPreviousUploads().catch(() => []);
    if (prev.length) {
      const m = prev[0].metadata || {};
      if (m.title !== undefined) setTitle(m.title);
      if (m.description !== undefined) setDesc(m.description);
      if (m.visibility) setVis(m.visibility);
      setResumeAt(0);
    } else if (!title) {
      setTitle(f.name.replace(/\.[^.]+$/, '').slice(0, 150));
    }
  };

  const follow = (id) => {
    setPhase('processing');
    let done = false;
    const show = (v) => {
      setVideo(v);
      if (v.status === 'ready') { done = true; setPhase('ready'); close(); }
      if (v.status === 'failed') { done = true; setPhase('failed'); setErr(t('upload.failed', { reason: v.error || t('err.internal') })); close(); }
    };
    let poll = 0;
    const close = () => { if (esRef.current) esRef.current.close(); esRef.current = null; clearInterval(poll); };
    const es = new EventSource(`/api/v1/videos/${id}/events`);
    esRef.current = es;
    es.addEventListener('status', (ev) => { try { show(JSON.parse(ev.data)); } catch { /* ignore */ } });
    es.addEventListener('deleted', () => { done = true; close(); setPhase('failed'); setErr(t('upload.deleted')); });
    // The stream ends after ready or failed; a failing stream falls back
    // to asking now and then.
    es.onerror = () => {
      if (done) return;
      if (!poll) poll = setInterval(() => get('/videos/' + id).then(show, () => {}), 2000);
    };
  };

  const start = async () => {
    if (!file) return;
    setErr('');
    const tus = await loadTus();
    let videoId = '';
    const up = new tus.Upload(file, {
      endpoint: ENDPOINT,
      chunkSize: chunkFor(file.size),
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      metadata: { filename: file.name, title: title.trim(), description: desc.trim(), visibility: vis },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onAfterResponse: (req, res) => {
        const id = res.getHeader('Video-ID');
        if (id) {
          videoId = id;
          try { if (up.url) localStorage.setItem(idKey(up.url), id); } catch { /* ignore */ }
        }
      },
      onProgress: (bytes) => {
        const now = performance.now();
        const s = samples.current;
        s.push([now, bytes]);
        while (s.length > 2 && now - s[0][0] > 4000) s.shift();
        if (s.length > 1 && now > s[0][0]) setSpeed(((bytes - s[0][1]) * 1000) / (now - s[0][0]));
        setSent(bytes);
        setPhase('uploading');
      },
      onShouldRetry: (e2) => {
        const st = e2 && e2.originalResponse ? e2.originalResponse.getStatus() : 0;
        if (st === 0) setPhase('stalled');
        return st === 0 || st === 409 || st === 423 || st >= 500 && st !== 507;
      },
      onError: (e2) => {
        const e = tusError(e2);
        if (e.code === 'network') { setPhase('stalled'); setErr(t('upload.stalled')); return; }
        setPhase('idle');
        // A refused upload cannot be resumed: forget it.
        if (up._urlStorageKey) tus.defaultOptions.urlStorage.removeUpload(up._urlStorageKey).catch(() => {});
        if (e.code === 'unauthorized') setErr(t('err.signin'));
        else if (e.code === 'too_large' && maxSize) setErr(t('upload.tooLargeLocal', { size: fmtBytes(file.size), max: fmtBytes(maxSize) }));
        else setErr(humanError(e));
      },
      onSuccess: () => {
        const url = up.url;
        let id = videoId;
        try { id = id || localStorage.getItem(idKey(url)) || ''; localStorage.removeItem(idKey(url)); } catch { /* ignore */ }
        setSent(file.size);
        setPending((p) => p.filter((x) => x.uploadUrl !== url));
        if (id) follow(id); else { setPhase('ready'); }
      },
    });
    upRef.current = up;
    samples.current = [];
    const prev = await up.findPreviousUploads().catch(() => []);
    if (prev.length) {
      up.resumeFromPreviousUpload(prev[0]);
      try { videoId = localStorage.getItem(idKey(prev[0].uploadUrl)) || ''; } catch { /* ignore */ }
    }
    setPhase('uploading');
    up.start();
    // tus asks the server where to go on (HEAD); show where it resumed.
    if (prev.length) {
      const iv = setInterval(() => {
        if (up._offset != null) { setResumeAt(up._offset); clearInterval(iv); }
      }, 50);
      setTimeout(() => clearInterval(iv), 10000);
    }
  };

  startRef.current = start;

  const forget = async (p) => {
    const tus = await loadTus();
    try { await tus.Upload.terminate(p.uploadUrl, {}); } catch { /* gone already */ }
    try { await tus.defaultOptions.urlStorage.removeUpload(p.urlStorageKey); } catch { /* ignore */ }
    setPending((l) => l.filter((x) => x !== p));
  };

  const submit = (e) => { e.preventDefault(); start(); };
  const pct = file ? Math.floor((sent / file.size) * 100) : 0;
  const left = speed > 0 && file ? (file.size - sent) / speed : 0;
  const busy = phase === 'uploading' || phase === 'stalled' || phase === 'processing';

  return (
    <main class="page narrow upload-page">
      <h1 class="h1">{t('upload.title')}</h1>
      {pending.length && phase === 'idle' ? (
        <section class="notice" aria-label={t('upload.unfinished')}>
          <h2 class="h2">{t('upload.unfinished')}</h2>
          <ul>
            {pending.map((p) => (
              <li key={p.urlStorageKey}>
                {t('upload.pendingOne', { name: (p.metadata && p.metadata.filename) || '?', size: fmtBytes(p.size || 0) })}{' '}
                <button type="button" class="link-btn" onClick={() => forget(p)}>{t('upload.forget')}</button>
              </li>
            ))}
          </ul>
          <p class="muted">{t('upload.pickSame')}</p>
        </section>
      ) : null}
      <form onSubmit={submit} class="form">
        <label class={'drop' + (drag ? ' over' : '')}
          onDragOver={(e) => { e.preventDefault(); setDrag(true); }} onDragLeave={() => setDrag(false)}
          onDrop={(e) => { e.preventDefault(); setDrag(false); if (!busy) choose(e.dataTransfer.files[0]); }}>
          <span class="drop-text">{file ? `${file.name} · ${fmtBytes(file.size)}` : t('upload.drop')}</span>
          <span class="btn secondary" aria-hidden="true">{t('upload.choose')}</span>
          <input key={round} class="file-input" type="file" accept="video/*" aria-label={t('upload.file')} disabled={busy}
            onChange={(e) => choose(e.currentTarget.files[0])} />
        </label>
        {resumeAt === 0 && phase === 'idle' ? <p role="status">{t('upload.willResume')}</p> : null}
        <label class="field">{t('field.title')}
          <input type="text" maxLength={150} value={title} onInput={(e) => setTitle(e.currentTarget.value)} disabled={busy} />
        </label>
        <label class="field">{t('field.description')}
          <textarea maxLength={5000} rows={3} value={desc} onInput={(e) => setDesc(e.currentTarget.value)} disabled={busy} />
        </label>
        <label class="field">{t('field.visibility')}
          <select value={vis} onChange={(e) => setVis(e.currentTarget.value)} disabled={busy}>
            <option value="public">{t('vis.public')}</option>
            <option value="unlisted">{t('vis.unlisted')}</option>
            <option value="private">{t('vis.private')}</option>
          </select>
        </label>
        {phase === 'idle' ? <button type="submit" class="btn primary" disabled={!file || !me}>{t('upload.start')}</button> : null}
        {phase === 'stalled' ? <button type="button" class="btn primary" onClick={start}>{t('upload.resume')}</button> : null}
      </form>
      {err ? <p class="error" role="alert">{err}</p> : null}
      {phase === 'uploading' || phase === 'stalled' ? (
        <section class="progress-box" aria-label={t('upload.progress')}>
          {resumeAt > 0 ? <p role="status">{t('upload.resumedAt', { pct: Math.floor((resumeAt / file.size) * 100) })}</p> : null}
          <progress max={100} value={pct} aria-label={t('upload.progress')} />
          <p aria-live="polite">{t('upload.sent', { pct, sent: fmtBytes(sent), total: fmtBytes(file.size) })}
            {speed > 0 ? ' · ' + t('upload.speed', { speed: fmtBytes(speed) }) : ''}
            {left > 0 ? ' · ' + t('upload.left', { time: fmtWait(Math.ceil(left)) }) : ''}
            {phase === 'stalled' ? ' · ' + t('upload.waitingNet') : ''}</p>
          <button type="button" class="btn secondary" onClick={() => { upRef.current.abort(); setPhase('stalled'); }}>{t('upload.pause')}</button>
        </section>
      ) : null}
      {phase === 'processing' ? (
        <section class="progress-box" aria-label={t('upload.processing')}>
          <p role="status">{t('upload.processingN', { pct: video ? video.progress : 0 })}</p>
          <progress max={100} value={video ? video.progress : 0} aria-label={t('upload.processing')} />
        </section>
      ) : null}
      {phase === 'ready' ? (
        <section class="progress-box" aria-label={t('upload.done')}>
          <p role="status">{t('upload.readyMsg')}</p>
          {video ? <div class="upload-preview"><Player video={video} active preload={false} label={video.title || t('video.untitled')} /></div> : null}
          <p class="row">
            {video ? <Link class="btn primary" href={'/v/' + video.id}>{t('upload.open')}</Link> : null}
            <button type="button" class="btn secondary" onClick={() => { setPhase('idle'); setFile(null); setVideo(null); setTitle(''); setDesc(''); setSent(0); setRound((n) => n + 1); }}>{t('upload.another')}</button>
          </p>
        </section>
      ) : null}
      {phase === 'failed' ? <p><button type="button" class="btn secondary" onClick={() => { setPhase('idle'); setFile(null); setVideo(null); setErr(''); setRound((n) => n + 1); }}>{t('upload.another')}</button></p> : null}
    </main>
  );
}

export { navigate };
