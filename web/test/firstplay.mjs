// Measures the time from navigation to the first video's `playing` event
// in Chromium, on a phone-sized screen, with a fresh browser context (empty
// cache) each round. Prints one JSON line:
//   {"rounds_ms":[...],"median_ms":N,"min_ms":N}
//
//   REEL_URL=http://127.0.0.1:8080 CHROMIUM=/usr/bin/chromium ROUNDS=5 node web/test/firstplay.mjs
//
// The server must have at least one ready public video in its feed.
import { launch, need } from './lib.mjs';

const base = need('REEL_URL').replace(/\/$/, '');
const rounds = Math.max(1, Number(process.env.ROUNDS || 5));

const browser = await launch();
const times = [];
try {
  for (let i = 0; i < rounds; i++) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    // performance.now() counts from the navigation's start.
    await page.addInitScript(() => {
      window.__firstPlaying = null;
      document.addEventListener('playing', () => {
        if (window.__firstPlaying === null) window.__firstPlaying = performance.now();
      }, true);
    });
    await page.goto(base + '/');
    const h = await page.waitForFunction(() => window.__firstPlaying, null, { timeout: 30_000 }).catch(async () => {
      throw new Error('no video reached `playing` within 30 s (is there a ready public video in the feed?)');
    });
    times.push(Math.round(await h.jsonValue()));
    await ctx.close();
  }
} catch (e) {
  console.error('firstplay:', e.message);
  await browser.close();
  process.exit(1);
}
await browser.close();
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor((sorted.length - 1) / 2)];
console.log(JSON.stringify({ rounds_ms: times, median_ms: median, min_ms: sorted[0] }));
