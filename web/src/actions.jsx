// The controls around a video: like, comments, follow, copy link. Counts
// change at once on the viewer's own action and follow the server's.
import { useState } from 'preact/hooks';
import { api, humanError } from './api.js';
import { useMe } from './store.js';
import { navigate } from './router.js';
import { t, fmtCount } from './i18n.js';
import { Icon } from './icons.jsx';

export function needSignIn() {
  navigate('/signin?next=' + encodeURIComponent(location.pathname));
}

export async function toggleLike(video, on, update) {
  const before = { is_liked: video.is_liked, like_count: video.like_count };
  if (before.is_liked === on) return;
  update({ is_liked: on, like_count: Math.max(0, video.like_count + (on ? 1 : -1)) });
  try {
    await api(on ? 'PUT' : 'DELETE', `/videos/${video.id}/like`);
  } catch (e) {
    update(before);
    throw e;
  }
}

export function FollowButton({ user, onChange, small }) {
  const me = useMe();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  if (!user || (me && me.id === user.id)) return null;
  const on = !!user.is_following;
  const click = async () => {
    if (!me) return needSignIn();
    setBusy(true); setErr('');
    try {
      await api(on ? 'DELETE' : 'PUT', `/users/${user.id}/follow`);
      onChange({ ...user, is_following: !on, follower_count: Math.max(0, (user.follower_count || 0) + (on ? -1 : 1)) });
    } catch (e) { setErr(humanError(e)); }
    setBusy(false);
  };
  return (
    <>
      {/* Named "Follow @name" or "Following @name" (pressed): clicking the
          latter unfollows. */}
      <button type="button" class={'btn ' + (on ? 'secondary' : 'primary') + (small ? ' small' : '')} disabled={busy} aria-pressed={on ? 'true' : 'false'}
        onClick={click}>
        {on ? t('follow.following') : t('follow.follow')}<span class="sr-only"> @{user.username}</span>
      </button>
      {err ? <span class="error" role="alert">{err}</span> : null}
    </>
  );
}

export function VideoActions({ video, update, onComments, commentsOpen }) {
  const me = useMe();
  const [msg, setMsg] = useState('');
  const like = async () => {
    if (!me) return needSignIn();
    try { await toggleLike(video, !video.is_liked, update); } catch (e) { setMsg(humanError(e)); }
  };
  const copy = async () => {
    const url = location.origin + '/v/' + video.id;
    try {
      await navigator.clipboard.writeText(url);
      setMsg(t('share.copied'));
    } catch {
      setMsg(t('share.here', { url }));
    }
    setTimeout(() => setMsg(''), 4000);
  };
  return (
    <div class="actions" role="group" aria-label={t('video.actions')}>
      {/* Names are the action and the live count ("Like 3"); whether the
          viewer likes it is the button's pressed state. */}
      <button type="button" class={'act' + (video.is_liked ? ' on' : '')} aria-pressed={video.is_liked ? 'true' : 'false'} onClick={like}>
        <span class="act-icon" aria-hidden="true"><Icon name="heart" size={26} /></span>
        <span class="sr-only">{t('like.like')} </span>
        <span class="act-count">{fmtCount(video.like_count)}</span>
      </button>
      <button type="button" class="act" aria-expanded={commentsOpen === undefined ? undefined : commentsOpen ? 'true' : 'false'} onClick={onComments}>
        <span class="act-icon" aria-hidden="true"><Icon name="comment" size={24} /></span>
        <span class="sr-only">{t('comments.title')} </span>
        <span class="act-count">{fmtCount(video.comment_count)}</span>
      </button>
      <button type="button" class="act" aria-label={t('share.copy')} onClick={copy}>
        <span class="act-icon" aria-hidden="true"><Icon name="link" size={24} /></span>
        <span class="act-count" aria-hidden="true">{t('share.short')}</span>
      </button>
      <span class="sr-status" role="status" aria-live="polite">{msg}</span>
    </div>
  );
}
