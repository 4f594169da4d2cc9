import { launch } from './lib.mjs';
const base = process.argv[2];
const b = await launch();
const p = await (await b.newContext({ viewport: { width: 390, height: 844 } })).newPage();
for (const path of process.argv.slice(3)) {
  await p.goto(base + path); await p.waitForTimeout(1200);
  console.log('=== ' + path); console.log(await p.locator('body').ariaSnapshot());
}
await b.close();
