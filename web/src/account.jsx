// Sign up, sign in, sign out, change password. Sign-up and sign-in ask for
// the session in an HttpOnly cookie (X-Reel-Session: cookie): the token
// never reaches script.
import { useEffect, useState } from 'preact/hooks';
import { api, get, humanError } from './api.js';
import { useMe, setMe } from './store.js';
import { Link, navigate } from './router.js';
import { t } from './i18n.js';

function nextPath() {
  const n = new URLSearchParams(location.search).get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

export function AuthForm({ mode }) {
  const [username, setU] = useState('');
  const [password, setP] = useState('');
  const [err, setErr] = useState('');
  const [fields, setFields] = useState({});
  const [busy, setBusy] = useState(false);
  const signup = mode === 'signup';
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setErr(''); setFields({});
    try {
      const r = await api('POST', signup ? '/users' : '/sessions', { username: username.trim(), password }, { headers: { 'X-Reel-Session': 'cookie' } });
      setMe(r.user);
      navigate(nextPath(), { replace: true });
    } catch (e2) {
      setErr(humanError(e2, signup ? 'signup' : 'signin'));
      if (e2.fields) setFields(e2.fields);
    }
    setBusy(false);
  };
  return (
    <main class="page narrow">
      <h1 class="h1">{signup ? t('auth.signUp') : t('auth.signIn')}</h1>
      <form class="form" onSubmit={submit}>
        <label class="field">{t('field.username')}
          <input type="text" name="username" autoComplete="username" required minLength={3} maxLength={64} value={username}
            aria-invalid={fields.username ? 'true' : undefined} onInput={(e) => { setU(e.currentTarget.value); setErr(''); setFields({}); }} />
        </label>
        {signup ? <p class="hint">{t('auth.usernameHint')}</p> : null}
        <label class="field">{t('field.password')}
          <input type="password" name="password" autoComplete={signup ? 'new-password' : 'current-password'} required minLength={signup ? 6 : 1} value={password}
            aria-invalid={fields.password ? 'true' : undefined} onInput={(e) => { setP(e.currentTarget.value); setErr(''); setFields({}); }} />
        </label>
        {signup ? <p class="hint">{t('auth.passwordHint')}</p> : null}
        {/* A click clears the last answer even when the browser's own
            checks then stop the form from being sent. */}
        <button type="submit" class="btn primary" disabled={busy} onClick={() => setErr('')}>{signup ? t('auth.signUp') : t('auth.signIn')}</button>
      </form>
      {err ? <p class="error" role="alert">{err}</p> : null}
      <p>{signup ? t('auth.haveAccount') : t('auth.noAccount')}{' '}
        <Link href={(signup ? '/signin' : '/signup') + location.search}>{signup ? t('auth.signIn') : t('auth.signUp')}</Link></p>
    </main>
  );
}

export function Account() {
  const me = useMe();
  const [oldP, setOld] = useState('');
  const [newP, setNew] = useState('');
  const [msg, setMsg] = useState('');
  const [err, setErr] = useState('');
  if (me === undefined) return <main class="page"><p role="status">{t('common.loading')}</p></main>;
  if (!me) {
    return (
      <main class="page narrow">
        <h1 class="h1">{t('nav.account')}</h1>
        <p>{t('account.signedOut')}</p>
        <p class="row"><Link class="btn primary" href="/signin">{t('auth.signIn')}</Link> <Link class="btn secondary" href="/signup">{t('auth.signUp')}</Link></p>
      </main>
    );
  }
  const signOut = async (all) => {
    try { await api('DELETE', all ? '/sessions' : '/sessions/current'); } catch { /* signed out either way */ }
    setMe(null);
    navigate('/');
  };
  const change = async (e) => {
    e.preventDefault();
    setMsg(''); setErr('');
    try {
      await api('PUT', '/me/password', { old_password: oldP, new_password: newP });
      setOld(''); setNew('');
      setMsg(t('account.changed'));
    } catch (e2) { setErr(e2.code === 'unauthorized' ? t('account.wrongOld') : humanError(e2)); }
  };
  return (
    <main class="page narrow">
      <h1 class="h1">{t('nav.account')}</h1>
      <p>{t('account.signedInAs')} <Link href={'/u/' + encodeURIComponent(me.username)}>@{me.username}</Link></p>
      <div class="row">
        <button type="button" class="btn secondary" onClick={() => signOut(false)}>{t('auth.signOut')}</button>
        <button type="button" class="btn secondary" onClick={() => signOut(true)}>{t('auth.signOutAll')}</button>
      </div>
      <h2 class="h2">{t('account.changePassword')}</h2>
      <form class="form" onSubmit={change}>
        <label class="field">{t('field.old_password')}
          <input type="password" autoComplete="current-password" required value={oldP} onInput={(e) => setOld(e.currentTarget.value)} />
        </label>
        <label class="field">{t('field.new_password')}
          <input type="password" autoComplete="new-password" required minLength={6} value={newP} onInput={(e) => setNew(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn primary">{t('account.changePassword')}</button>
      </form>
      {msg ? <p role="status">{msg}</p> : null}
      {err ? <p class="error" role="alert">{err}</p> : null}
      {me.is_admin ? <BlockedVideos /> : null}
    </main>
  );
}

// An administrator's list of blocked videos, each a link to its page where
// it can be unblocked. A reel without the list (404) shows nothing.
function BlockedVideos() {
  const [list, setList] = useState(null);
  const [cursor, setCursor] = useState('');
  const [err, setErr] = useState('');
  const load = (c) => get('/admin/videos/blocked?limit=50' + (c ? '&cursor=' + encodeURIComponent(c) : '')).then((r) => {
    setList((l) => (c && l ? l.concat(r.videos || []) : r.videos || []));
    setCursor(r.next_cursor || ''); setErr('');
  }, (e) => { if (e.status === 404) setList(false); else setErr(humanError(e)); });
  useEffect(() => { load(''); }, []);
  if (list === false) return null;
  return (
    <section aria-labelledby="blocked-h">
      <h2 class="h2" id="blocked-h">{t('admin.blockedList')}</h2>
      {err ? <p class="error" role="alert">{err}</p> : null}
      {list && list.length === 0 ? <p class="muted">{t('admin.noneBlocked')}</p> : null}
      {list && list.length ? (
        <ul class="user-list">
          {list.map((v) => (
            <li key={v.id} class="user-row">
              <Link href={'/v/' + v.id}>{v.title || t('video.untitled')}</Link>
              <span class="muted">@{v.author ? v.author.username : '?'}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {cursor ? <button type="button" class="btn secondary" onClick={() => load(cursor)}>{t('common.more')}</button> : null}
    </section>
  );
}
