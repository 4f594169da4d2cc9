// The web app's journey in a real browser, as two people would go through
// it: sign up, upload a clip with tus (reloading the page in the middle and
// resuming), watch processing reach ready, see it play in the feed, like and
// comment as the other person, follow each other, exchange messages; an
// anonymous visit logs no error, an upload goes on while its person looks
// elsewhere in the app, one wheel step moves the desktop feed by one video,
// the feed keeps its place across a profile and Back, counts read in words.
// Everything is found by role and label, as a person sees the page.
//
//   REEL_URL=http://127.0.0.1:8080 REEL_CLIP=clip.mp4 REEL_SHOTS=/tmp/shots \
//   CHROMIUM=/usr/bin/chromium node web/test/journey.mjs
//
// Exits non-zero, saying which step failed and why, on any failure.
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { launch, need } from './lib.mjs';

const base = need('REEL_URL').replace(/\/$/, '');
const clip = need('REEL_CLIP');
const shots = need('REEL_SHOTS');
const STEP_MS = 30_000;
const READY_MS = 240_000;

const suffix = Date.now().toString(36).slice(-5);
const alice = { name: 'alice' + suffix, password: 'alice-pass-1' };
const bob = { name: 'bob' + suffix, password: 'bob-pass-1' };
const title = 'Journey clip ' + suffix;
const title2 = 'Second clip ' + suffix;
const problems = [];
const consoleErrors = { alice: [], bob: [] };

let current = '';
async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  await fn();
  console.log(`ok  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

function watch(page, who) {
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to (load|execute|apply)/i.test(text)) problems.push(`${who}: CSP: ${text}`);
    else if (m.type() === 'error') {
      consoleErrors[who].push(text);
      if (process.env.JOURNEY_VERBOSE) console.log(`${who} console: ${text}`);
    }
  });
}

async function expectText(locator, re, timeout = STEP_MS) {
  await locator.filter({ hasText: re }).first().waitFor({ timeout });
}

async function signUp(page, u) {
  await page.goto(base + '/signup');
  await page.getByRole('heading', { name: 'Sign up' }).waitFor();
  await page.getByLabel('Username').fill(u.name);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  // Signed in: the navigation offers the profile instead of signing in.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' }).waitFor({ timeout: STEP_MS });
  const who = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
  if (who !== 200) throw new Error(`GET /api/v1/me answers ${who} after sign-up: the session cookie does not work`);
  const js = await page.evaluate(() => document.cookie);
  if (/reel_session/.test(js)) throw new Error('the session cookie is readable from script (not HttpOnly)');
}

// A video is playing and shows a picture: currentTime passes minSeconds
// and a frame drawn into a canvas is not one flat colour.
async function expectPlaying(page, video, minSeconds) {
  await video.waitFor({ timeout: STEP_MS });
  const handle = await video.elementHandle();
  await page.waitForFunction((v) => v.currentTime > 0 && !v.paused, handle, { timeout: STEP_MS }).catch(async () => {
    const st = await handle.evaluate((v) => ({ t: v.currentTime, paused: v.paused, rs: v.readyState, err: v.error && v.error.message, src: v.currentSrc }));
    throw new Error(`the video does not play: ${JSON.stringify(st)}`);
  });
  await page.waitForFunction((a) => a[0].currentTime > a[1], [handle, minSeconds], { timeout: STEP_MS }).catch(async () => {
    const st = await handle.evaluate((v) => ({ t: v.currentTime, paused: v.paused, rs: v.readyState }));
    throw new Error(`currentTime did not pass ${minSeconds} s: ${JSON.stringify(st)}`);
  });
  // A frame drawn into a canvas; a black one (a seek not yet decoded) is
  // looked at again for a few seconds before the picture counts as blank.
  const frame = () => handle.evaluate((v) => {
    const c = document.createElement('canvas');
    c.width = 64; c.height = 64;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, 64, 64);
    const d = g.getImageData(0, 0, 64, 64).data;
    let sum = 0, sq = 0;
    for (let i = 0; i < d.length; i += 4) { const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]; sum += y; sq += y * y; }
    const n = d.length / 4, mean = sum / n;
    return { mean, variance: sq / n - mean * mean, t: v.currentTime, w: v.videoWidth, h: v.videoHeight };
  });
  let pic = await frame();
  for (let i = 0; i < 20 && !(pic.variance > 20 && pic.w); i++) {
    await page.waitForTimeout(250);
    pic = await frame();
  }
  if (!(pic.variance > 20) || !pic.w) throw new Error(`the picture looks blank: ${JSON.stringify(pic)}`);
  return pic;
}

async function main() {
  await mkdir(shots, { recursive: true });
  const size = (await stat(clip)).size;
  const browser = await launch();
  // Alice on a phone-sized screen, Bob on a desktop one.
  const ctxA = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, locale: 'en-US' });
  const ctxB = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  // Bob's browser has no native HLS (as Firefox or Chrome before it had
  // it): his videos play through hls.js, Alice's natively where Chromium can.
  await ctxB.addInitScript(() => {
    const can = HTMLMediaElement.prototype.canPlayType;
    HTMLMediaElement.prototype.canPlayType = function (type) { return /mpegurl/i.test(type) ? '' : can.call(this, type); };
  });
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  watch(a, 'alice'); watch(b, 'bob');
  try {
    await step('an anonymous visit to the feed logs no console error (phone and desktop)', async () => {
      for (const [p, who] of [[a, 'alice'], [b, 'bob']]) {
        consoleErrors[who].length = 0;
        await p.goto(base + '/', { waitUntil: 'networkidle' });
        await p.locator('[role="feed"][aria-busy="false"]').waitFor({ timeout: STEP_MS });
        await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).waitFor({ timeout: STEP_MS });
        if (consoleErrors[who].length) throw new Error(`${who}'s console: ${consoleErrors[who].join(' | ')}`);
      }
    });

    await step('both sign up', async () => { await signUp(a, alice); await signUp(b, bob); });

    let videoId = '';
    await step(`alice starts a slow tus upload of ${path.basename(clip)} (${size} bytes) and reloads in the middle`, async () => {
      // Each chunk is held back a moment, so that the upload is slow enough
      // to interrupt; the bytes themselves go through untouched.
      await a.route('**/api/v1/uploads/**', async (route) => {
        if (route.request().method() === 'PATCH') await new Promise((r) => setTimeout(r, 700));
        await route.continue().catch(() => {});
      });
      await a.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upload' }).click();
      await a.getByRole('heading', { name: 'Upload a video' }).waitFor();
      await a.getByLabel('Video file').setInputFiles(clip);
      await a.getByLabel('Title').fill(title);
      await a.getByLabel('Description').fill('Made by the journey test');
      await a.getByLabel('Visibility').selectOption('public');
      await a.getByRole('button', { name: 'Upload', exact: true }).click();
      const bar = a.getByRole('progressbar', { name: 'Upload progress' });
      await bar.waitFor({ timeout: STEP_MS });
      await a.waitForFunction(() => {
        const p = document.querySelector('progress[aria-label="Upload progress"]');
        return p && p.value >= 30;
      }, null, { timeout: STEP_MS });
      await expectText(a.locator('p'), /\/s/); // speed shown
      await a.screenshot({ path: path.join(shots, 'upload-progress.png') });
      // The upload goes on while Alice looks at the feed.
      const nav = a.getByRole('navigation', { name: 'Main' });
      const before = await bar.evaluate((p) => p.value);
      await nav.getByRole('link', { name: 'Home' }).click();
      await a.getByRole('navigation', { name: 'Feeds' }).waitFor();
      await nav.getByRole('link', { name: 'Upload' }).click();
      await a.waitForFunction((v) => {
        const p = document.querySelector('progress[aria-label="Upload progress"]');
        return p && p.value > v;
      }, before, { timeout: STEP_MS });
      // Leaving the app asks first; Alice leaves (reloads) anyway.
      let asked = '';
      const onDialog = (d) => { asked = d.type(); d.accept().catch(() => {}); };
      a.on('dialog', onDialog);
      await a.reload();
      a.off('dialog', onDialog);
      if (asked !== 'beforeunload') throw new Error(`a reload during an upload did not ask first (dialog: ${asked || 'none'})`);
      await a.getByRole('heading', { name: 'Upload a video' }).waitFor();
      await a.getByRole('region', { name: 'Unfinished uploads' }).waitFor({ timeout: STEP_MS });
    });

    await step('alice picks the same file again and the upload resumes where it stopped', async () => {
      await a.getByLabel('Video file').setInputFiles(clip);
      await a.getByText('This file was partly uploaded before').waitFor({ timeout: STEP_MS });
      const t = await a.getByLabel('Title').inputValue();
      if (t !== title) throw new Error(`the title was not kept for the resumed upload: ${JSON.stringify(t)}`);
      await a.getByRole('button', { name: 'Upload', exact: true }).click();
      const resumed = a.getByText(/^Resumed at \d+%/);
      await resumed.waitFor({ timeout: STEP_MS });
      const pct = Number((await resumed.textContent()).match(/(\d+)%/)[1]);
      if (!(pct > 0)) throw new Error(`the upload started over instead of resuming (${pct}%)`);
      console.log(`    resumed at ${pct}%`);
    });

    await step('processing progress reaches ready and the video plays on the upload page', async () => {
      await a.unroute('**/api/v1/uploads/**');
      await a.getByText('Your video is ready.').waitFor({ timeout: READY_MS });
      const link = a.getByRole('link', { name: 'Watch it' });
      videoId = (await link.getAttribute('href')).split('/').pop();
      await a.screenshot({ path: path.join(shots, 'upload.png') });
    });

    await step('alice uploads a second clip', async () => {
      await a.getByRole('button', { name: 'Upload another video' }).click();
      await a.getByLabel('Video file').setInputFiles(clip);
      await a.getByLabel('Title').fill(title2);
      await a.getByRole('button', { name: 'Upload', exact: true }).click();
      await a.getByText('Your video is ready.').waitFor({ timeout: READY_MS });
    });

    await step('bob sees it play in the feed (past 2 s, a real picture)', async () => {
      await b.goto(base + '/');
      const item = b.getByRole('article', { name: `${title} by @${alice.name}` });
      await item.waitFor({ timeout: STEP_MS });
      await item.scrollIntoViewIfNeeded(); // the newest video is first, unless others came in between
      const video = item.getByLabel(title, { exact: true });
      const pic = await expectPlaying(b, video, 2);
      const src = await video.evaluate((v) => v.currentSrc);
      if (!src.startsWith('blob:')) throw new Error(`without native HLS the video should play through hls.js (MSE), not ${src}`);
      console.log(`    playing through hls.js at ${pic.t.toFixed(2)} s, ${pic.w}x${pic.h}, luma variance ${pic.variance.toFixed(0)}`);
      await b.screenshot({ path: path.join(shots, 'feed-desktop.png') });
    });

    await step('bob likes and comments', async () => {
      const item = b.getByRole('article', { name: `${title} by @${alice.name}` });
      await item.getByRole('button', { name: 'Like 0', exact: true, pressed: false }).click();
      await item.getByRole('button', { name: 'Like 1', exact: true, pressed: true }).waitFor({ timeout: STEP_MS });
      await item.getByRole('button', { name: 'Comments 0', exact: true }).click();
      const sheet = b.getByRole('dialog', { name: 'Comments' });
      await sheet.getByLabel('Add a comment').fill('Nice one, ' + alice.name);
      await sheet.getByRole('button', { name: 'Post comment' }).click();
      await sheet.getByText('Nice one, ' + alice.name).waitFor({ timeout: STEP_MS });
      await item.getByRole('button', { name: 'Comments 1', exact: true }).waitFor({ timeout: STEP_MS });
      await sheet.getByRole('button', { name: 'Close' }).click();
      // The like is stored: after a reload it is still there.
      await b.goto(base + '/v/' + videoId);
      await b.getByRole('button', { name: 'Like 1', exact: true, pressed: true }).waitFor({ timeout: STEP_MS });
    });

    await step('alice sees the like and the comment on her video', async () => {
      await a.goto(base + '/v/' + videoId);
      await a.getByRole('button', { name: 'Like 1', exact: true, pressed: false }).waitFor({ timeout: STEP_MS });
      await a.getByText('Nice one, ' + alice.name).waitFor({ timeout: STEP_MS });
      await expectPlaying(a, a.getByLabel(title, { exact: true }), 1);
    });

    await step('they follow each other, and the following feed shows it', async () => {
      await b.getByRole('button', { name: `Follow @${alice.name}`, exact: true, pressed: false }).first().click();
      await b.getByRole('button', { name: `Following @${alice.name}`, exact: true, pressed: true }).first().waitFor({ timeout: STEP_MS });
      await a.goto(base + '/u/' + bob.name);
      await a.getByRole('heading', { name: '@' + bob.name }).waitFor();
      await a.getByRole('button', { name: `Follow @${bob.name}`, exact: true }).click();
      await a.getByRole('button', { name: `Following @${bob.name}`, exact: true, pressed: true }).waitFor({ timeout: STEP_MS });
      // Bob's following feed now has Alice's clip.
      await b.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' }).click();
      await b.getByRole('navigation', { name: 'Feeds' }).getByRole('link', { name: 'Following' }).click();
      await b.getByRole('article', { name: `${title} by @${alice.name}` }).waitFor({ timeout: STEP_MS });
      await a.getByRole('tab', { name: 'Followers' }).click();
      await a.getByRole('tabpanel').getByRole('link', { name: '@' + alice.name }).waitFor({ timeout: STEP_MS });
      // Counts read in words: one follower, not "1 followers".
      const counts = a.getByRole('list', { name: 'Counts' });
      await counts.getByRole('listitem').filter({ hasText: /^1 follower$/ }).waitFor({ timeout: STEP_MS });
      await a.getByRole('tabpanel').getByText('1 follower', { exact: true }).waitFor({ timeout: STEP_MS });
    });

    await step('one small wheel step moves the desktop feed by one video, and the place is kept across a profile and Back', async () => {
      await b.goto(base + '/');
      const first = b.getByRole('article', { name: `${title2} by @${alice.name}` });
      const second = b.getByRole('article', { name: `${title} by @${alice.name}` });
      await first.waitFor({ timeout: STEP_MS });
      const onTop = (name) => b.waitForFunction((n) => {
        const feed = document.querySelector('[role="feed"]');
        const el = [...feed.querySelectorAll('article')].find((x) => x.getAttribute('aria-label') === n);
        return el && Math.abs(el.getBoundingClientRect().top - feed.getBoundingClientRect().top) < 2;
      }, name, { timeout: STEP_MS });
      await onTop(`${title2} by @${alice.name}`);
      const box = await b.getByRole('feed').boundingBox();
      await b.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await b.mouse.wheel(0, 100);
      await onTop(`${title} by @${alice.name}`);
      await second.getByRole('link', { name: '@' + alice.name }).click();
      await b.getByRole('heading', { name: '@' + alice.name }).waitFor({ timeout: STEP_MS });
      await b.goBack();
      await b.getByRole('navigation', { name: 'Feeds' }).waitFor({ timeout: STEP_MS });
      await onTop(`${title} by @${alice.name}`);
    });

    await step('they exchange messages (live)', async () => {
      await b.goto(base + '/messages');
      await b.getByRole('heading', { name: 'Messages' }).waitFor();
      await b.getByRole('link', { name: '@' + alice.name }).click();
      await b.getByRole('heading', { name: `Chat with @${alice.name}` }).waitFor({ timeout: STEP_MS });
      await a.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
      await a.getByRole('link', { name: '@' + bob.name }).click();
      await a.getByRole('heading', { name: `Chat with @${bob.name}` }).waitFor({ timeout: STEP_MS });
      await a.getByLabel('Write a message').fill('Hello ' + bob.name + '!');
      await a.getByRole('button', { name: 'Send' }).click();
      await b.getByRole('list', { name: `Conversation with ${alice.name}` }).getByText('Hello ' + bob.name + '!').waitFor({ timeout: STEP_MS });
      await b.getByLabel('Write a message').fill('Hi ' + alice.name + ', thanks for the clip');
      await b.getByRole('button', { name: 'Send' }).click();
      await a.getByRole('list', { name: `Conversation with ${bob.name}` }).getByText('Hi ' + alice.name + ', thanks for the clip').waitFor({ timeout: STEP_MS });
      await a.screenshot({ path: path.join(shots, 'messages.png') });
    });

    await step('profiles, the phone-sized feed and the language switch', async () => {
      await a.goto(base + '/u/' + alice.name);
      await a.getByRole('heading', { name: '@' + alice.name }).waitFor();
      await a.getByRole('link', { name: title }).first().waitFor({ timeout: STEP_MS });
      const counts = a.getByRole('list', { name: 'Counts' });
      for (const re of [/^2 videos$/, /^1 follower$/, /^1 following$/, /^1 like$/]) {
        await counts.getByRole('listitem').filter({ hasText: re }).waitFor({ timeout: STEP_MS });
      }
      await a.screenshot({ path: path.join(shots, 'profile.png') });
      await b.goto(base + '/u/' + alice.name);
      await b.getByRole('heading', { name: '@' + alice.name }).waitFor();
      await b.screenshot({ path: path.join(shots, 'profile-desktop.png') });
      await a.goto(base + '/');
      const item = a.getByRole('article', { name: `${title} by @${alice.name}` });
      await item.scrollIntoViewIfNeeded();
      await expectPlaying(a, item.getByLabel(title, { exact: true }), 0.5);
      await a.screenshot({ path: path.join(shots, 'feed.png') });
      await a.getByLabel('Language').selectOption('zh');
      await a.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '首页' }).waitFor();
      await a.reload();
      await a.getByRole('navigation', { name: '主导航' }).getByRole('link', { name: '上传' }).waitFor();
      await a.screenshot({ path: path.join(shots, 'feed-zh.png') });
      await a.getByLabel('语言').selectOption('en');
      await a.getByRole('navigation', { name: 'Main' }).waitFor();
    });

    await step('sign out ends the session', async () => {
      await b.goto(base + '/account');
      await b.getByRole('button', { name: 'Sign out', exact: true }).click();
      await b.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).waitFor({ timeout: STEP_MS });
      const st = await b.evaluate(async () => (await fetch('/api/v1/me')).status);
      if (st !== 401) throw new Error(`GET /api/v1/me answers ${st} after sign-out`);
    });

    if (problems.length) throw new Error('the pages reported problems:\n  ' + problems.join('\n  '));
  } catch (e) {
    console.error(`FAIL ${current}: ${e.message.split('\n').slice(0, 12).join('\n')}`);
    await a.screenshot({ path: path.join(shots, 'failure-alice.png') }).catch(() => {});
    await b.screenshot({ path: path.join(shots, 'failure-bob.png') }).catch(() => {});
    console.error(`screenshots of the failure in ${shots}`);
    await browser.close();
    process.exit(1);
  }
  await browser.close();
  console.log(`journey passed; screenshots in ${shots}`);
}

main().catch((e) => { console.error('FAIL', current, e); process.exit(1); });
