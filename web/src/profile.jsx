// A profile, /u/{username}: counts, follow button, a grid of covers, liked
// videos, followers and following. On one's own profile also the videos
// still processing or failed (with the reason), editing, visibility and
// deletion.
import { useEffect, useState } from 'preact/hooks';
import { api, get, humanError } from './api.js';
import { useMe, refreshMe, useEvent } from './store.js';
import { Link } from './router.js';
import { FollowButton } from './actions.jsx';
import { ConfirmButton } from './videopage.jsx';
import { t, fmtCount, fmtDuration } from './i18n.js';

const TABS = ['videos', 'likes', 'followers', 'following'];

export function Profile({ username }) {
  const me = useMe();
  const [user, setUser] = useState(null);
  const [err, setErr] = useState('');
  const [tab, setTab] = useState('videos');
  useEffect(() => {
    if (me === undefined) return;
    setUser(null); setErr(''); setTab('videos');
    get('/users/@' + encodeURIComponent(username)).then(setUser, (e) => setErr(humanError(e)));
  }, [username, me === undefined, me ? me.id : 0]);
  // The counts are asked again after what changes them here (a deletion,
  // a follow), so that they are the server's, not a guess.
  const recount = () => get('/users/@' + encodeURIComponent(username)).then((u) => setUser((x) => (x && x.id === u.id ? u : x)), () => {});
  if (err) return <main class="page"><h1 class="h1">@{username}</h1><p class="error" role="alert">{err}</p></main>;
  if (!user) return <main class="page"><p role="status">{t('common.loading')}</p></main>;
  const own = me && me.id === user.id;
  const friends = me && !own && user.is_following; // the chat shows whether it is mutual
  return (
    <main class="page profile">
      <header class="profile-head">
        <div class="avatar" aria-hidden="true">{user.username.slice(0, 1).toUpperCase()}</div>
        <div>
          <h1 class="h1">@{user.username}</h1>
          <ul class="counts" aria-label={t('profile.counts')}>
            <li><strong>{fmtCount(user.following_count)}</strong> {t('profile.following', { count: user.following_count })}</li>
            <li><strong>{fmtCount(user.follower_count)}</strong> {t('profile.followers', { count: user.follower_count })}</li>
            <li><strong>{fmtCount(user.liked_count)}</strong> {t('profile.likesReceived', { count: user.liked_count })}</li>
            <li><strong>{fmtCount(user.video_count)}</strong> {t('profile.videos', { count: user.video_count })}</li>
          </ul>
          <div class="row">
            <FollowButton user={user} onChange={(u) => { setUser(u); refreshMe(); recount(); }} />
            {friends ? <Link class="btn secondary" href={'/messages/' + user.id}>{t('msg.send')}</Link> : null}
            {own ? <Link class="btn secondary" href="/upload">{t('nav.upload')}</Link> : null}
            {own ? <Link class="btn secondary" href="/account">{t('nav.account')}</Link> : null}
          </div>
        </div>
      </header>
      <div class="tabs" role="tablist" aria-label={t('profile.sections')}>
        {TABS.map((k) => (
          <button type="button" role="tab" key={k} id={'tab-' + k} aria-selected={tab === k ? 'true' : 'false'} aria-controls={'panel-' + k}
            tabIndex={tab === k ? 0 : -1} class="tab" onClick={() => setTab(k)}
            onKeyDown={(e) => {
              const i = TABS.indexOf(k);
              const n = e.key === 'ArrowRight' ? TABS[(i + 1) % TABS.length] : e.key === 'ArrowLeft' ? TABS[(i + TABS.length - 1) % TABS.length] : null;
              if (n) { setTab(n); document.getElementById('tab-' + n).focus(); }
            }}>
            {t('profile.tab.' + k)}
          </button>
        ))}
      </div>
      <section role="tabpanel" id={'panel-' + tab} aria-labelledby={'tab-' + tab} class="panel">
        {tab === 'videos' ? <VideoGrid key={'v' + user.id} path={`/users/${user.id}/videos`} own={own} onCounts={recount} /> : null}
        {tab === 'likes' ? <VideoGrid key={'l' + user.id} path={`/users/${user.id}/likes`} /> : null}
        {tab === 'followers' ? <UserList key={'f' + user.id} path={`/users/${user.id}/followers`} onCounts={recount} /> : null}
        {tab === 'following' ? <UserList key={'g' + user.id} path={`/users/${user.id}/following`} onCounts={recount} /> : null}
      </section>
    </main>
  );
}

function usePaged(path, field) {
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState('');
  const [loading, setLoading] = useState(true);
  const [err, setErr] = useState('');
  const load = async (c) => {
    setLoading(true);
    try {
      const r = await get(path + '?limit=24' + (c ? '&cursor=' + encodeURIComponent(c) : ''));
      setItems((l) => (c ? l.concat(r[field]) : r[field]));
      setCursor(r.next_cursor); setErr('');
    } catch (e) { setErr(humanError(e)); }
    setLoading(false);
  };
  useEffect(() => { load(''); }, [path]);
  return { items, setItems, cursor, loading, err, load };
}

function VideoGrid({ path, own, onCounts }) {
  const p = usePaged(path, 'videos');
  // The owner's processing videos change status live.
  useEvent('video_status', (d) => {
    if (!own || !d) return;
    get('/videos/' + d.video_id).then((v) => p.setItems((l) => (l.some((x) => x.id === v.id) ? l.map((x) => (x.id === v.id ? v : x)) : [v, ...l])), () => {});
  }, [own]);
  return (
    <>
      {p.err ? <p class="error" role="alert">{p.err}</p> : null}
      {!p.loading && p.items.length === 0 ? <p class="muted">{t('profile.noVideos')}</p> : null}
      <ul class="grid">
        {p.items.map((v) => (
          <li key={v.id} class="tile">
            <Link href={'/v/' + v.id} class="tile-link" aria-label={v.title || t('video.untitled')}>
              {v.cover_url ? <img src={v.cover_url} alt="" loading="lazy" /> : <span class="tile-blank" aria-hidden="true" />}
              <span class="tile-meta" aria-hidden="true">♥ {fmtCount(v.like_count)}{v.duration_ms ? ' · ' + fmtDuration(v.duration_ms) : ''}</span>
            </Link>
            <p class="tile-title">{v.title || t('video.untitled')}</p>
            {own ? <OwnVideo v={v} onChange={(nv) => { p.setItems((l) => (nv ? l.map((x) => (x.id === nv.id ? nv : x)) : l.filter((x) => x.id !== v.id))); if (onCounts) onCounts(); }} /> : null}
          </li>
        ))}
      </ul>
      {p.cursor ? <button type="button" class="btn secondary" disabled={p.loading} onClick={() => p.load(p.cursor)}>{t('common.more')}</button> : null}
    </>
  );
}

function OwnVideo({ v, onChange }) {
  const [edit, setEdit] = useState(false);
  const [title, setTitle] = useState(v.title);
  const [desc, setDesc] = useState(v.description);
  const [vis, setVis] = useState(v.visibility);
  const [err, setErr] = useState('');
  const save = async (e) => {
    e.preventDefault();
    try {
      const nv = await api('PATCH', '/videos/' + v.id, { title, description: desc, visibility: vis });
      onChange(nv); setEdit(false); setErr('');
    } catch (e2) { setErr(humanError(e2)); }
  };
  const del = async () => {
    try { await api('DELETE', '/videos/' + v.id); onChange(null); refreshMe(); } catch (e) { setErr(humanError(e)); }
  };
  return (
    <div class="own">
      <p class="badges">
        <span class={'badge ' + v.status}>{t('status.' + v.status)}{v.status === 'processing' ? ` ${v.progress}%` : ''}</span>
        <span class="badge">{t('vis.' + v.visibility)}</span>
      </p>
      {v.status === 'failed' ? <p class="error">{t('upload.failed', { reason: v.error || '?' })}</p> : null}
      {edit ? (
        <form class="form" onSubmit={save} aria-label={t('video.editName', { title: v.title || t('video.untitled') })}>
          <label class="field">{t('field.title')}<input type="text" maxLength={150} value={title} onInput={(e) => setTitle(e.currentTarget.value)} /></label>
          <label class="field">{t('field.description')}<textarea rows={2} maxLength={5000} value={desc} onInput={(e) => setDesc(e.currentTarget.value)} /></label>
          <label class="field">{t('field.visibility')}
            <select value={vis} onChange={(e) => setVis(e.currentTarget.value)}>
              <option value="public">{t('vis.public')}</option><option value="unlisted">{t('vis.unlisted')}</option><option value="private">{t('vis.private')}</option>
            </select>
          </label>
          <div class="row"><button type="submit" class="btn primary">{t('common.save')}</button>
            <button type="button" class="btn secondary" onClick={() => setEdit(false)}>{t('common.cancel')}</button></div>
        </form>
      ) : (
        <div class="row">
          <button type="button" class="btn secondary small" onClick={() => setEdit(true)} aria-label={t('video.editName', { title: v.title || t('video.untitled') })}>{t('video.edit')}</button>
          <ConfirmButton small label={t('video.delete')} confirm={t('video.confirmDelete')} onConfirm={del} />
        </div>
      )}
      {err ? <p class="error" role="alert">{err}</p> : null}
    </div>
  );
}

export function UserList({ path, empty, linkTo, onCounts }) {
  const p = usePaged(path, 'users');
  const me = useMe();
  return (
    <>
      {p.err ? <p class="error" role="alert">{p.err}</p> : null}
      {!p.loading && p.items.length === 0 ? <p class="muted">{empty || t('profile.noUsers')}</p> : null}
      <ul class="user-list">
        {p.items.map((u) => (
          <li key={u.id} class="user-row">
            <span class="avatar small" aria-hidden="true">{u.username.slice(0, 1).toUpperCase()}</span>
            <Link href={linkTo ? linkTo(u) : '/u/' + encodeURIComponent(u.username)}>@{u.username}</Link>
            <span class="muted">{t('profile.nFollowers', { n: fmtCount(u.follower_count), count: u.follower_count })}</span>
            {me && me.id !== u.id && !linkTo ? <FollowButton user={u} small onChange={(nu) => { p.setItems((l) => l.map((x) => (x.id === nu.id ? nu : x))); if (onCounts) onCounts(); }} /> : null}
          </li>
        ))}
      </ul>
      {p.cursor ? <button type="button" class="btn secondary" disabled={p.loading} onClick={() => p.load(p.cursor)}>{t('common.more')}</button> : null}
    </>
  );
}
