// Messages: conversations with friends (mutual follows) and the chat. New
// messages arrive on the user's event stream; while it is down, the chat
// asks for messages after the last one every few seconds.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get, humanError } from './api.js';
import { useMe, useEvent, eventsLive } from './store.js';
import { Link } from './router.js';
import { UserList } from './profile.jsx';
import { t, fmtTime } from './i18n.js';

export function Messages() {
  const me = useMe();
  if (me === undefined) return <main class="page"><p role="status">{t('common.loading')}</p></main>;
  if (!me) return <main class="page narrow"><h1 class="h1">{t('nav.messages')}</h1><p>{t('msg.signIn')} <Link href="/signin?next=/messages">{t('auth.signIn')}</Link></p></main>;
  return (
    <main class="page narrow">
      <h1 class="h1">{t('nav.messages')}</h1>
      <p class="muted">{t('msg.friendsOnly')}</p>
      <UserList path={`/users/${me.id}/friends`} empty={t('msg.noFriends')} linkTo={(u) => '/messages/' + u.id} />
    </main>
  );
}

export function Chat({ id }) {
  const me = useMe();
  const uid = Number(id);
  const [other, setOther] = useState(null);
  const [list, setList] = useState([]);
  const [text, setText] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const end = useRef(null);
  const lastId = useRef(0);

  const add = (msgs) => {
    if (!msgs.length) return;
    setList((l) => {
      const seen = new Set(l.map((m) => m.id));
      const n = l.concat(msgs.filter((m) => !seen.has(m.id))).sort((a, b) => a.id - b.id);
      if (n.length) lastId.current = n[n.length - 1].id;
      return n;
    });
  };
  const fetchNew = () => get(`/users/${uid}/messages` + (lastId.current ? '?after=' + lastId.current : ''))
    .then((r) => add(r.messages), (e) => setErr(humanError(e)));

  useEffect(() => {
    if (!me) return undefined;
    setList([]); lastId.current = 0;
    get('/users/' + uid).then(setOther, (e) => setErr(humanError(e)));
    fetchNew();
    const iv = setInterval(() => { if (!eventsLive.ok) fetchNew(); }, 4000);
    return () => clearInterval(iv);
  }, [uid, me ? me.id : 0]);
  useEvent('message', (m) => { if (m && (m.from_user_id === uid || m.to_user_id === uid)) add([m]); }, [uid]);
  useEvent('reset', () => fetchNew(), [uid]);
  useEffect(() => { if (end.current) end.current.scrollIntoView({ block: 'end' }); }, [list.length]);

  if (me === undefined) return <main class="page"><p role="status">{t('common.loading')}</p></main>;
  if (!me) return <main class="page narrow"><p>{t('msg.signIn')} <Link href={'/signin?next=/messages/' + uid}>{t('auth.signIn')}</Link></p></main>;

  const send = async (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    try {
      const m = await api('POST', `/users/${uid}/messages`, { text: text.trim() });
      add([m]); setText(''); setErr('');
    } catch (e2) { setErr(humanError(e2)); }
    setBusy(false);
  };
  const name = other ? other.username : '…';
  return (
    <main class="page narrow chat-page">
      <p><Link href="/messages">← {t('nav.messages')}</Link></p>
      <h1 class="h1">{t('msg.with', { name })}</h1>
      <ol class="chat" aria-label={t('msg.conversation', { name })} aria-live="polite">
        {list.map((m) => (
          <li key={m.id} class={'bubble ' + (m.from_user_id === me.id ? 'mine' : 'theirs')}>
            <span class="sr-only">{m.from_user_id === me.id ? t('msg.you') : name}: </span>
            <span class="bubble-text">{m.text}</span>
            <time dateTime={m.created_at}>{fmtTime(m.created_at)}</time>
          </li>
        ))}
        <li ref={end} class="chat-end" aria-hidden="true" />
      </ol>
      {list.length === 0 ? <p class="muted">{t('msg.none')}</p> : null}
      <form class="chat-form" onSubmit={send}>
        <label class="sr-only" for="chat-input">{t('msg.label')}</label>
        <input id="chat-input" type="text" maxLength={2000} value={text} placeholder={t('msg.label')} onInput={(e) => setText(e.currentTarget.value)} disabled={busy} />
        <button type="submit" class="btn primary" disabled={busy || !text.trim()}>{t('msg.sendBtn')}</button>
      </form>
      {err ? <p class="error" role="alert">{err}</p> : null}
    </main>
  );
}
