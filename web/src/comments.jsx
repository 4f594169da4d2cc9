// Comments of a video: newest first, paged, with a form to add one and a
// delete button for the comment's author and the video's owner.
import { useEffect, useState } from 'preact/hooks';
import { api, get, humanError } from './api.js';
import { useMe, useEvent } from './store.js';
import { Link } from './router.js';
import { t, fmtTime } from './i18n.js';
import { needSignIn } from './actions.jsx';

export function Comments({ video, onCount, autoFocus }) {
  const me = useMe();
  const [list, setList] = useState([]);
  const [cursor, setCursor] = useState('');
  const [loading, setLoading] = useState(true);
  const [err, setErr] = useState('');
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);

  const load = async (c) => {
    setLoading(true);
    try {
      const r = await get(`/videos/${video.id}/comments?limit=20` + (c ? '&cursor=' + encodeURIComponent(c) : ''));
      setList((l) => (c ? l.concat(r.comments) : r.comments));
      setCursor(r.next_cursor);
      setErr('');
    } catch (e) { setErr(humanError(e)); }
    setLoading(false);
  };
  useEffect(() => { load(''); }, [video.id]);
  // Comments by others on the viewer's own video arrive live.
  useEvent('comment', (c) => {
    if (!c || c.video_id !== video.id) return;
    setList((l) => (l.some((x) => x.id === c.id) ? l : [c, ...l]));
    onCount && onCount(1);
  }, [video.id]);

  const submit = async (e) => {
    e.preventDefault();
    if (!me) return needSignIn();
    if (!text.trim()) return;
    setBusy(true);
    try {
      const c = await api('POST', `/videos/${video.id}/comments`, { text: text.trim() });
      setList((l) => [c, ...l.filter((x) => x.id !== c.id)]);
      setText('');
      setErr('');
      onCount && onCount(1);
    } catch (e2) { setErr(humanError(e2)); }
    setBusy(false);
  };
  const del = async (c) => {
    try {
      await api('DELETE', `/comments/${c.id}`);
      setList((l) => l.filter((x) => x.id !== c.id));
      onCount && onCount(-1);
    } catch (e) { setErr(humanError(e)); }
  };
  const owner = me && video.author && me.id === video.author.id;
  return (
    <section class="comments" aria-label={t('comments.title')}>
      <h2 class="h2">{t('comments.titleN', { n: video.comment_count ?? list.length })}</h2>
      <form class="comment-form" onSubmit={submit}>
        <label class="sr-only" for={'c-' + video.id}>{t('comments.add')}</label>
        <input id={'c-' + video.id} type="text" maxLength={500} value={text} placeholder={t('comments.add')} autoFocus={autoFocus}
          onInput={(e) => setText(e.currentTarget.value)} disabled={busy} />
        <button type="submit" class="btn primary" disabled={busy || !text.trim()}>{t('comments.post')}</button>
      </form>
      {err ? <p class="error" role="alert">{err}</p> : null}
      <ul class="comment-list">
        {list.map((c) => (
          <li key={c.id} class="comment">
            <div class="comment-head">
              <Link href={'/u/' + encodeURIComponent(c.user.username)} class="who">@{c.user.username}</Link>
              <time dateTime={c.created_at}>{fmtTime(c.created_at)}</time>
            </div>
            <p class="comment-text">{c.text}</p>
            {me && (me.id === c.user.id || owner) ? (
              <button type="button" class="link-btn" onClick={() => del(c)} aria-label={t('comments.deleteBy', { name: c.user.username })}>{t('comments.delete')}</button>
            ) : null}
          </li>
        ))}
      </ul>
      {!loading && list.length === 0 ? <p class="muted">{t('comments.none')}</p> : null}
      {cursor ? <button type="button" class="btn secondary" disabled={loading} onClick={() => load(cursor)}>{t('comments.more')}</button> : null}
    </section>
  );
}
