// Plays one ready video in Chromium through the players reel's users use:
// dash.js on the video's MPD, hls.js on its HLS master (with its
// subtitle track shown), and Chromium's own <video> on the progressive
// MP4. Each must get past PLAY_SECONDS of playback with sound and picture
// tracks; hls.js must list the caption language and show one of its cues.
// Prints one JSON line per player and exits 1 on the first failure.
//
//   DASH_URL=... HLS_URL=... MP4_URL=... CAPTION_LANG=en CAPTION_TEXT='Hello' \
//   CHROMIUM=/usr/bin/chromium node web/test/players.mjs
import { fileURLToPath } from 'node:url';
import { launch, need } from './lib.mjs';

// The players' own browser builds, as a page would load them (the
// packages' exports do not name these files).
const dist = (p) => fileURLToPath(new URL(`../node_modules/${p}`, import.meta.url));
const dashScript = dist('dashjs/dist/modern/umd/dash.all.min.js');
const hlsScript = dist('hls.js/dist/hls.min.js');

const dashURL = need('DASH_URL');
const hlsURL = need('HLS_URL');
const mp4URL = need('MP4_URL');
const captionLang = need('CAPTION_LANG');
const captionText = need('CAPTION_TEXT');
const playSeconds = Number(process.env.PLAY_SECONDS || 2);
const timeout = 60_000;

const browser = await launch();
let failed = false;
try {
  for (const [name, run] of [['dash.js', playDash], ['hls.js', playHls], ['native', playNative]]) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.setContent('<!doctype html><video id="v" muted playsinline width="320"></video>');
    try {
      const result = await run(page);
      console.log(JSON.stringify({ player: name, ok: true, ...result }));
    } catch (e) {
      failed = true;
      const state = await page.evaluate(() => {
        const v = document.getElementById('v');
        return {
          current_time: v.currentTime, ready_state: v.readyState, paused: v.paused,
          text_tracks: [...v.textTracks].map((t) => ({ lang: t.language, kind: t.kind, mode: t.mode, cues: t.cues ? t.cues.length : null })),
        };
      }).catch(() => null);
      console.log(JSON.stringify({ player: name, ok: false, error: e.message, state, log: logs.slice(-20) }));
    }
    await ctx.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

// waitPlayed waits until the video has played past playSeconds, or fails
// with the element's error.
async function waitPlayed(page) {
  await page.waitForFunction((secs) => {
    const v = document.getElementById('v');
    if (v.error) throw new Error(`media error ${v.error.code}: ${v.error.message}`);
    if (window.playerError) throw new Error(window.playerError);
    return v.currentTime > secs;
  }, playSeconds, { timeout, polling: 100 });
  return page.evaluate(() => {
    const v = document.getElementById('v');
    return { current_time: v.currentTime, width: v.videoWidth, height: v.videoHeight };
  });
}

async function playDash(page) {
  await page.addScriptTag({ path: dashScript });
  await page.evaluate((url) => {
    const player = dashjs.MediaPlayer().create();
    window.dashPlayer = player;
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      window.playerError = `dash.js error: ${JSON.stringify(e.error && (e.error.message || e.error))}`;
    });
    player.initialize(document.getElementById('v'), url, true);
  }, dashURL);
  const played = await waitPlayed(page);
  const tracks = await page.evaluate(() => ({
    video: window.dashPlayer.getTracksFor('video').length,
    audio: window.dashPlayer.getTracksFor('audio').length,
    text: window.dashPlayer.getTracksFor('text').map((t) => t.lang),
    representations: window.dashPlayer.getRepresentationsByType('video').length,
  }));
  if (tracks.video < 1) throw new Error(`dash.js found no video track: ${JSON.stringify(tracks)}`);
  if (!tracks.text.includes(captionLang)) {
    throw new Error(`dash.js lists text tracks ${JSON.stringify(tracks.text)}, want ${captionLang}`);
  }
  return { ...played, ...tracks };
}

async function playHls(page) {
  await page.addScriptTag({ path: hlsScript });
  await page.evaluate(({ url, lang }) => {
    // As an app that knows its viewer's language asks for it (hls.js
    // otherwise shows no subtitle track that is not DEFAULT).
    const hls = new Hls({ subtitleDisplay: true, subtitlePreference: { lang } });
    window.hlsPlayer = hls;
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (d.fatal) window.playerError = `hls.js fatal error: ${d.type} ${d.details}`;
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      v.play().catch((e) => { window.playerError = `play(): ${e.message}`; });
    });
    // What Chromium shows: the active cues of showing tracks, sampled
    // while the video plays (a 6 s clip may end before a late look).
    window.shownCues = new Set();
    const v = document.getElementById('v');
    window.cueTimer = setInterval(() => {
      for (const t of v.textTracks) {
        if (t.mode !== 'showing' || !t.activeCues) continue;
        for (const c of t.activeCues) window.shownCues.add(`${t.language}:${c.text}`);
      }
    }, 50);
    hls.loadSource(url);
    hls.attachMedia(v);
  }, { url: hlsURL, lang: captionLang });
  const played = await waitPlayed(page);
  await page.waitForFunction((want) => {
    if (window.playerError) throw new Error(window.playerError);
    return [...window.shownCues].some((c) => c.startsWith(want.lang + ':') && c.includes(want.text));
  }, { lang: captionLang, text: captionText }, { timeout, polling: 100 });
  const info = await page.evaluate(() => ({
    levels: window.hlsPlayer.levels.length,
    audio_tracks: window.hlsPlayer.audioTracks.length,
    subtitles: window.hlsPlayer.subtitleTracks.map((t) => t.lang),
  }));
  return { ...played, ...info };
}

async function playNative(page) {
  await page.evaluate((url) => {
    const v = document.getElementById('v');
    v.src = url;
    v.play().catch((e) => { window.playerError = `play(): ${e.message}`; });
  }, mp4URL);
  return waitPlayed(page);
}
