// Plays a video's HLS master in Chromium with hls.js (the full build: the
// light one has no subtitles) and prints what a viewer's player gets of
// its captions, as one JSON line:
//   {"tracks":[{"lang","name"}],"shown":"<lang>","cues":[{"start","end","text"}]}
//
//   REEL_URL=http://127.0.0.1:8080 HLS_URL=<a video's hls_url> LANG_SHOWN=pt-BR \
//     CHROMIUM=/usr/bin/chromium node web/test/captions.mjs
//
// The page is one of reel's own (same origin as the media URLs, as the web
// app is); hls.js is put into it from node_modules.
import { createRequire } from 'node:module';
import { launch, need } from './lib.mjs';

const base = need('REEL_URL').replace(/\/$/, '');
const hlsURL = need('HLS_URL');
const shown = need('LANG_SHOWN');
const hlsPath = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

const browser = await launch();
try {
  // bypassCSP: the script is added to a JSON page of reel's, whose policy
  // allows no script.
  const ctx = await browser.newContext({ bypassCSP: true });
  const page = await ctx.newPage();
  await page.goto(base + '/healthz');
  await page.addScriptTag({ path: hlsPath });
  const result = await page.evaluate(async ({ url, lang }) => {
    const video = document.createElement('video');
    video.muted = true;
    document.body.appendChild(video);
    const hls = new window.Hls({ subtitleDisplay: true });
    const fail = (why) => { throw new Error(why); };
    const parsed = new Promise((resolve, reject) => {
      hls.on(window.Hls.Events.MANIFEST_PARSED, resolve);
      hls.on(window.Hls.Events.ERROR, (_, d) => { if (d.fatal) reject(new Error('hls.js: ' + d.details)); });
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    await parsed;
    const tracks = hls.subtitleTracks.map((t) => ({ lang: t.lang, name: t.name }));
    const index = hls.subtitleTracks.findIndex((t) => t.lang === lang);
    if (index < 0) return { tracks, shown: '', cues: [] };
    hls.subtitleTrack = index;
    await video.play().catch(() => {});
    // The cues arrive in the element's text track once hls.js has loaded
    // the subtitle playlist and its WebVTT segment.
    const deadline = Date.now() + 20000;
    for (;;) {
      const track = [...video.textTracks].find((t) => t.language === lang && t.mode === 'showing');
      if (track && track.cues && track.cues.length > 0) {
        return {
          tracks,
          shown: track.language,
          cues: [...track.cues].map((c) => ({ start: c.startTime, end: c.endTime, text: c.text })),
        };
      }
      if (Date.now() > deadline) fail('no cues showing within 20 s; text tracks: ' +
        JSON.stringify([...video.textTracks].map((t) => [t.language, t.mode, t.cues ? t.cues.length : null])));
      await new Promise((r) => setTimeout(r, 100));
    }
  }, { url: hlsURL, lang: shown });
  console.log(JSON.stringify(result));
} catch (e) {
  console.error('captions:', e.message);
  await browser.close();
  process.exit(1);
}
await browser.close();
