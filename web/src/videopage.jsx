// A video's own page, /v/{id}: shareable, with its comments; the owner
// and administrators may block, unblock and delete.
import { useEffect, useState } from 'preact/hooks';
import { api, get, humanError } from './api.js';
import { useMe } from './store.js';
import { Link, navigate } from './router.js';
import { Player } from './player.jsx';
import { VideoActions, FollowButton, toggleLike, needSignIn } from './actions.jsx';
import { Comments } from './comments.jsx';
import { t, fmtTime, fmtCount } from './i18n.js';

export function VideoPage({ id }) {
  const me = useMe();
  const [v, setV] = useState(null);
  const [err, setErr] = useState('');
  const [note, setNote] = useState('');
  // Whether the video is blocked: the answer carries \`blocked\` for its
  // owner and administrators.
  const [blocked, setBlocked] = useState(false);
  useEffect(() => {
    if (me === undefined) return;
    setV(null); setErr('');
    get('/videos/' + id).then((x) => { setV(x); setBlocked(!!x.blocked); }, (e) => setErr(humanError(e)));
  }, [id, me === undefined, me ? me.id : 0]);
  if (err) return <main class="page"><h1 class="h1">{t('video.title')}</h1><p class="error" role="alert">{err}</p></main>;
  if (!v) return <main class="page"><p role="status">{t('common.loading')}</p></main>;
  const update = (p) => setV((x) => ({ ...x, ...p }));
  const isOwner = me && me.id === v.author.id;
  const isAdmin = !!(me && me.is_admin);
  const admin = async (block) => {
    try {
      await api(block ? 'POST' : 'DELETE', `/admin/videos/${v.id}/block`);
      setBlocked(block);
      setNote(block ? t('admin.blocked') : t('admin.unblocked'));
    } catch (e) { setNote(humanError(e)); }
  };
  const del = async () => {
    try { await api('DELETE', '/videos/' + v.id); navigate('/u/' + encodeURIComponent(v.author.username)); } catch (e) { setNote(humanError(e)); }
  };
  return (
    <main class="page video-page">
      <div class="video-stage">
        <Player video={v} active preload={false} label={v.title || t('video.untitled')}
          onDoubleTap={() => { if (!me) return needSignIn(); if (!v.is_liked) toggleLike(v, true, update).catch(() => {}); }} />
      </div>
      <div class="video-side">
        <h1 class="h1">{v.title || t('video.untitled')}</h1>
        <p class="author">
          <Link href={'/u/' + encodeURIComponent(v.author.username)}>@{v.author.username}</Link>{' '}
          <FollowButton user={v.author} onChange={(u) => update({ author: u })} />
        </p>
        <p class="muted">{t('video.views', { n: fmtCount(v.view_count), count: v.view_count })} · <time dateTime={v.created_at}>{fmtTime(v.created_at)}</time>
          {v.status !== 'ready' ? ' · ' + t('status.' + v.status) : ''}</p>
        {v.description ? <p class="desc-full">{v.description}</p> : null}
        <VideoActions video={v} update={update} onComments={() => { const el = document.getElementById('c-' + v.id); if (el) el.focus(); }} />
        {isOwner || isAdmin ? (
          <div class="row" role="group" aria-label={t('video.manage')}>
            {isAdmin ? <button type="button" class="btn secondary" onClick={() => admin(!blocked)}>{blocked ? t('admin.unblock') : t('admin.block')}</button> : null}
            {isOwner ? <Link class="btn secondary" href={'/u/' + encodeURIComponent(v.author.username)}>{t('video.manageOnProfile')}</Link> : null}
            <ConfirmButton label={t('video.delete')} confirm={t('video.confirmDelete')} onConfirm={del} />
          </div>
        ) : null}
        {blocked && (isOwner || isAdmin) ? <p><span class="badge failed">{t('admin.isBlocked')}</span></p> : null}
        {note ? <p role="status">{note}</p> : null}
        <Comments video={v} onCount={(d) => setV((x) => ({ ...x, comment_count: Math.max(0, x.comment_count + d) }))} />
      </div>
    </main>
  );
}

export function ConfirmButton({ label, confirm, onConfirm, small }) {
  const sm = small ? ' small' : '';
  const [ask, setAsk] = useState(false);
  if (!ask) return <button type="button" class={'btn danger' + sm} onClick={() => setAsk(true)}>{label}</button>;
  return (
    <span class="confirm" role="group" aria-label={confirm}>
      <span>{confirm}</span>{' '}
      <button type="button" class={'btn danger' + sm} onClick={() => { setAsk(false); onConfirm(); }}>{t('common.yesDelete')}</button>{' '}
      <button type="button" class={'btn secondary' + sm} onClick={() => setAsk(false)}>{t('common.cancel')}</button>
    </span>
  );
}
