// reel's web app: the shell (navigation, language) and the routes. reel
// serves index.html for every app path, so each screen has a real URL.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { usePath, Link } from './router.js';
import { useMe, loadMe, useEvent } from './store.js';
import { t, getLang, setLang, useLang, LANGS } from './i18n.js';
import { Feed, prefetchFeed } from './feed.jsx';
import { preloadPlayer } from './player.jsx';
import { Icon } from './icons.jsx';
import { VideoPage } from './videopage.jsx';
import { UploadPage, useUploadPct } from './upload.jsx';
import { Profile } from './profile.jsx';
import { Messages, Chat } from './messages.jsx';
import { AuthForm, Account } from './account.jsx';

function route(path) {
  let m;
  if (path === '/' || path === '') return ['feed', <Feed kind="all" key="all" />];
  if (path === '/following') return ['feed', <Feed kind="following" key="following" />];
  if (path === '/upload') return ['upload', <UploadPage />];
  if (path === '/messages') return ['messages', <Messages />];
  if ((m = path.match(/^\/messages\/(\d+)$/))) return ['messages', <Chat id={m[1]} key={m[1]} />];
  if (path === '/account') return ['account', <Account />];
  if (path === '/signin') return ['account', <AuthForm mode="signin" key="in" />];
  if (path === '/signup') return ['account', <AuthForm mode="signup" key="up" />];
  if ((m = path.match(/^\/v\/(\d+)$/))) return ['video', <VideoPage id={m[1]} key={m[1]} />];
  if ((m = path.match(/^\/u\/([^/]+)$/))) {
    const name = decodeURIComponent(m[1]).replace(/^@/, '');
    return ['profile:' + name, <Profile username={name} key={name} />];
  }
  return ['none', <main class="page"><h1 class="h1">{t('notFound.title')}</h1><p><Link href="/">{t('notFound.home')}</Link></p></main>];
}

function Toast() {
  // A short notice for what happens elsewhere: a message, a new follower.
  const [text, setText] = useState('');
  useEffect(() => { if (!text) return undefined; const id = setTimeout(() => setText(''), 5000); return () => clearTimeout(id); }, [text]);
  useEvent('message', (m) => { if (m && !location.pathname.startsWith('/messages/' + m.from_user_id)) setText(t('toast.message')); });
  useEvent('follow', () => setText(t('toast.follow')));
  useEvent('video_status', (d) => { if (d && d.status === 'ready') setText(t('toast.ready')); if (d && d.status === 'failed') setText(t('toast.failed')); });
  return <div class="toast" role="status" aria-live="polite">{text}</div>;
}

function App() {
  const path = usePath();
  const me = useMe();
  const lang = useLang();
  const upPct = useUploadPct();
  useEffect(() => { document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en'; }, [lang]);
  const [section, page] = route(path);
  useEffect(() => {
    document.title = section === 'feed' ? 'reel' : `${t('title.' + section.split(':')[0])} · reel`;
  }, [section, lang]);
  const cur = (s) => (section === s ? 'page' : undefined);
  const meProfile = me ? section === 'profile:' + me.username : false;
  return (
    <div class={'shell' + (section === 'feed' ? ' on-feed' : '')}>
      <a class="skip" href="#main">{t('nav.skip')}</a>
      <header class="topbar">
        <Link href="/" class="brand" aria-label={t('nav.homeLabel')}>reel</Link>
        <nav class="mainnav" aria-label={t('nav.main')}>
          <Link href="/" aria-current={cur('feed')}><Icon name="home" size={20} /> {t('nav.home')}</Link>
          <Link href="/upload" aria-current={cur('upload')}><Icon name="plus" size={20} /> {t('nav.upload')}
            {upPct >= 0 ? <span class="nav-badge" aria-hidden="true" title={t('upload.running', { pct: upPct })}>{upPct}%</span> : null}</Link>
          <Link href="/messages" aria-current={cur('messages')}><Icon name="mail" size={20} /> {t('nav.messages')}</Link>
          {me ? (
            <Link href={'/u/' + encodeURIComponent(me.username)} aria-current={meProfile ? 'page' : undefined}><Icon name="user" size={20} /> {t('nav.profile')}</Link>
          ) : (
            <Link href="/signin" aria-current={cur('account')}><Icon name="user" size={20} /> {t('auth.signIn')}</Link>
          )}
          {me ? <Link href="/account" aria-current={cur('account')} class="nav-extra"><Icon name="gear" size={20} /> {t('nav.account')}</Link> : null}
        </nav>
        {me === null && section !== 'account' ? <Link href="/signup" class="btn primary small">{t('auth.signUp')}</Link> : null}
        <label class="lang">
          <select value={lang} onChange={(e) => setLang(e.currentTarget.value)} aria-label={t('nav.language')}>
            {LANGS.map(([code, name]) => <option value={code} key={code}>{name}</option>)}
          </select>
        </label>
      </header>
      <div id="main" class="main" tabIndex={-1}>{page}</div>
      <Toast />
    </div>
  );
}

document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en';
if (location.pathname === '/') { prefetchFeed(); preloadPlayer(); }
loadMe();
render(<App />, document.getElementById('app'));
