// History-API routing: reel serves index.html for every app path, so links
// are real hrefs (open in a new tab, copy) and clicks stay in the page.
import { useEffect, useState } from 'preact/hooks';
import { jsx } from 'preact/jsx-runtime';

const subs = new Set();
export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  subs.forEach((f) => f(location.pathname));
  window.scrollTo(0, 0);
}
window.addEventListener('popstate', () => subs.forEach((f) => f(location.pathname)));

export function usePath() {
  const [p, set] = useState(location.pathname);
  useEffect(() => { subs.add(set); return () => subs.delete(set); }, []);
  return p;
}

export function Link(props) {
  const { href, onClick, ...rest } = props;
  return jsx('a', {
    href,
    ...rest,
    onClick: (e) => {
      if (onClick) onClick(e);
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      if (!href || !href.startsWith('/')) return;
      e.preventDefault();
      navigate(href);
    },
  });
}
