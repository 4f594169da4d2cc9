// The vertical feed: one video per screen, scroll-snapped; swipe, wheel,
// the arrow keys or the buttons move on. The active video plays, the next
// one preloads, the rest show only their covers.
import { useEffect, useLayoutEffect, useRef, useState, useCallback } from 'preact/hooks';
import { get, humanError } from './api.js';
import { useMe, useEvent } from './store.js';
import { Link } from './router.js';
import { Player, preloadPlayer } from './player.jsx';
import { VideoActions, FollowButton, toggleLike, needSignIn } from './actions.jsx';
import { Comments } from './comments.jsx';
import { t } from './i18n.js';
import { Icon } from './icons.jsx';

// The first page of everyone's feed is asked for as soon as the script
// runs, before the first render, when the app opens on it.
let early = null;
export function prefetchFeed() {
  early = get('/feed?limit=10');
  early.catch(() => {});
}

// Each feed's loaded list and the video on screen, kept for the session,
// so that going to a profile or a video and back (or Back) returns to the
// same place. A reload starts at the top.
const kept = {};

// A wheel gesture moves exactly one video. A gesture is a run of wheel
// events with short gaps (a mouse notch, or a trackpad swipe and its
// inertia, which goes on for a second or more with shrinking deltas); one
// that grows again after a while is a new swipe during the inertia.
const WHEEL_GAP_MS = 200;
const WHEEL_NEW_SWIPE_MS = 400;

export function Feed({ kind }) {
  preloadPlayer();
  const me = useMe();
  const saved = kept[kind];
  const [videos, setVideos] = useState(saved ? saved.videos : []);
  const [cursor, setCursor] = useState(saved ? saved.cursor : '');
  const [loading, setLoading] = useState(!saved);
  const [err, setErr] = useState('');
  const [active, setActive] = useState(saved ? saved.active : 0);
  const [sheet, setSheet] = useState(0); // id of the video whose comments are open
  // The next video preloads once the one on screen plays, so that it does
  // not compete with it for the first frames.
  const [playedOnce, setPlayedOnce] = useState(false);
  // Nothing plays while the page is hidden (another tab, a locked phone).
  const [hidden, setHidden] = useState(document.hidden);
  useEffect(() => {
    const f = () => setHidden(document.hidden);
    document.addEventListener('visibilitychange', f);
    return () => document.removeEventListener('visibilitychange', f);
  }, []);
  const box = useRef(null);
  const path = kind === 'following' ? '/feed/following' : '/feed';

  const load = async (c) => {
    setLoading(true);
    try {
      let r;
      if (!c && kind !== 'following' && early) { r = await early.finally(() => { early = null; }); }
      else r = await get(path + '?limit=10' + (c ? '&cursor=' + encodeURIComponent(c) : ''));
      setVideos((l) => (c ? l.concat(r.videos.filter((v) => !l.some((x) => x.id === v.id))) : r.videos));
      setCursor(r.next_cursor);
      setErr('');
    } catch (e) { setErr(humanError(e)); }
    setLoading(false);
  };
  // Everyone's feed is asked for at once, beside /me (the session cookie
  // goes with it either way); it is asked again only when the person signs
  // in or out. The following feed needs to know who is signed in.
  const who = me === undefined ? (kind === 'following' ? undefined : 'start') : me ? me.id : 0;
  const last = useRef(saved ? { who: saved.who, kind } : { who: null, kind: null });
  useEffect(() => { kept[kind] = { videos, cursor, active, who }; }, [kind, videos, cursor, active, who]);
  // Back on a kept feed: the video that was on screen is on screen again.
  useLayoutEffect(() => {
    const root = box.current;
    const el = root && saved && root.querySelectorAll('.feed-item')[saved.active];
    if (el) root.scrollTop = el.offsetTop;
  }, []);
  useEffect(() => {
    if (who === undefined) return;
    const prev = last.current;
    last.current = { who, kind };
    // /me answered after everyone's feed was asked for: that request
    // carried the session cookie already, nothing to redo.
    if (prev.kind === kind && (prev.who === who || prev.who === 'start')) return;
    setVideos([]); setActive(0); setSheet(0); setCursor('');
    if (kind === 'following' && me === null) { setLoading(false); return; }
    load('');
  }, [kind, who]);

  // Which item fills the screen.
  useEffect(() => {
    const root = box.current;
    if (!root) return undefined;
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) setActive(Number(e.target.dataset.index));
    }, { root, threshold: 0.6 });
    root.querySelectorAll('.feed-item').forEach((el) => io.observe(el));
    return () => io.disconnect();
  }, [videos.length]);

  useEffect(() => {
    if (cursor && !loading && active >= videos.length - 3) load(cursor);
  }, [active, cursor, loading, videos.length]);

  const go = useCallback((i) => {
    const root = box.current;
    if (!root) return;
    const items = root.querySelectorAll('.feed-item');
    if (i < 0 || i >= items.length) return;
    root.scrollTo({ top: items[i].offsetTop, behavior: 'smooth' });
    setActive(i);
  }, []);

  const activeRef = useRef(active);
  activeRef.current = active;
  useEffect(() => {
    const root = box.current;
    if (!root) return undefined;
    // -Infinity, not 0: event times count from the page's start, so a first
    // wheel step within WHEEL_GAP_MS of a fresh load would otherwise be
    // taken for the tail of an earlier gesture and ignored.
    let lastAt = -Infinity; let startAt = -Infinity; let lastAbs = 0;
    const wheel = (e) => {
      // The comments sheet scrolls as usual; so does a pinch (ctrl+wheel).
      if (e.ctrlKey || (e.target && e.target.closest && e.target.closest('.sheet'))) return;
      const dy = e.deltaY;
      if (!dy || Math.abs(e.deltaX) > Math.abs(dy)) return;
      e.preventDefault();
      const now = e.timeStamp || performance.now();
      const abs = Math.abs(dy);
      const same = now - lastAt < WHEEL_GAP_MS && !(now - startAt > WHEEL_NEW_SWIPE_MS && abs > lastAbs * 2 && abs >= 20);
      lastAt = now; lastAbs = abs;
      if (same) return;
      startAt = now;
      go(activeRef.current + (dy > 0 ? 1 : -1));
    };
    root.addEventListener('wheel', wheel, { passive: false });
    return () => root.removeEventListener('wheel', wheel);
  }, [go]);

  useEffect(() => {
    const key = (e) => {
      const tag = (e.target && e.target.tagName) || '';
      if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === 'ArrowDown' || e.key === 'PageDown' || e.key === 'j') { e.preventDefault(); go(active + 1); }
      else if (e.key === 'ArrowUp' || e.key === 'PageUp' || e.key === 'k') { e.preventDefault(); go(active - 1); }
      else if (e.key === 'Escape') setSheet(0);
    };
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  }, [active, go]);

  const update = (id, patch) => setVideos((l) => l.map((v) => (v.id === id ? { ...v, ...patch } : v)));
  const updateAuthor = (u) => setVideos((l) => l.map((v) => (v.author.id === u.id ? { ...v, author: { ...v.author, ...u } } : v)));

  // Live counts: the viewer's own videos hear likes and comments at once;
  // the video on screen is refreshed now and then.
  useEvent('like', (d) => { if (d) setVideos((l) => l.map((v) => (v.id === d.video_id ? { ...v, like_count: v.like_count + 1 } : v))); });
  useEffect(() => {
    const v = videos[active];
    if (!v) return undefined;
    const refresh = () => get(`/videos/${v.id}`).then((fresh) => update(v.id, {
      like_count: fresh.like_count, comment_count: fresh.comment_count, view_count: fresh.view_count, is_liked: fresh.is_liked,
    }), () => {});
    const iv = setInterval(refresh, 15000);
    return () => clearInterval(iv);
  }, [active, videos[active] && videos[active].id]);

  const tabs = (
    <nav class="feed-tabs" aria-label={t('feed.tabs')}>
      <Link href="/" aria-current={kind !== 'following' ? 'page' : undefined}>{t('feed.everyone')}</Link>
      <Link href="/following" aria-current={kind === 'following' ? 'page' : undefined}>{t('feed.following')}</Link>
    </nav>
  );

  let empty = null;
  if (kind === 'following' && me === null) {
    empty = <p>{t('feed.signInFollowing')} <Link href="/signin?next=/following">{t('auth.signIn')}</Link></p>;
  } else if (!loading && !err && videos.length === 0) {
    empty = kind === 'following'
      ? <p>{t('feed.noFollowing')}</p>
      : <p>{t('feed.empty')} <Link href="/upload">{t('nav.upload')}</Link></p>;
  }

  return (
    <main class="feed-page">
      <h1 class="sr-only">{kind === 'following' ? t('feed.following') : t('feed.everyone')}</h1>
      {tabs}
      <div class="feed" ref={box} aria-label={t('feed.label')} role="feed" aria-busy={loading ? 'true' : 'false'}>
        {videos.map((v, i) => (
          <article class="feed-item" key={v.id} data-index={i} aria-posinset={i + 1} aria-setsize={cursor ? -1 : videos.length}
            aria-label={t('feed.itemLabel', { title: v.title || t('video.untitled'), name: v.author.username })}>
            <div class="frame">
            {Math.abs(i - active) <= 2 ? (
              <Player video={v} active={i === active && !hidden} preload={i === active + 1 && playedOnce}
                onStarted={i === active ? () => setPlayedOnce(true) : undefined}
                label={v.title || t('video.untitled')}
                onDoubleTap={() => { if (!me) return needSignIn(); if (!v.is_liked) toggleLike(v, true, (p) => update(v.id, p)).catch(() => {}); }} />
            ) : (v.cover_url ? <img class="cover alone" src={v.cover_url} alt="" loading="lazy" /> : null)}
            <div class="overlay">
              <div class="info">
                <p class="author">
                  <Link href={'/u/' + encodeURIComponent(v.author.username)}>@{v.author.username}</Link>
                  {' '}<FollowButton user={v.author} onChange={updateAuthor} small />
                </p>
                <h2 class="title"><Link href={'/v/' + v.id}>{v.title || t('video.untitled')}</Link></h2>
                {v.description ? <p class="desc">{v.description}</p> : null}
              </div>
              <VideoActions video={v} update={(p) => update(v.id, p)} commentsOpen={sheet === v.id}
                onComments={() => setSheet(sheet === v.id ? 0 : v.id)} />
            </div>
            {sheet === v.id ? (
              <div class="sheet" role="dialog" aria-label={t('comments.title')}>
                <button type="button" class="btn secondary close" onClick={() => setSheet(0)}>{t('common.close')}</button>
                <Comments video={v} autoFocus onCount={(d) => update(v.id, { comment_count: Math.max(0, v.comment_count + d) })} />
              </div>
            ) : null}
            </div>
          </article>
        ))}
        {empty || err ? <div class="feed-empty">{empty}{err ? <p class="error" role="alert">{err} <button type="button" class="btn secondary" onClick={() => load('')}>{t('common.retry')}</button></p> : null}</div> : null}
      </div>
      {videos.length > 1 ? (
        <div class="feed-nav">
          <button type="button" class="icon-btn" onClick={() => go(active - 1)} disabled={active === 0} aria-label={t('feed.prev')}><Icon name="up" /></button>
          <button type="button" class="icon-btn" onClick={() => go(active + 1)} disabled={active >= videos.length - 1} aria-label={t('feed.next')}><Icon name="down" /></button>
        </div>
      ) : null}
    </main>
  );
}
