// Builds the web app into dist/: index.html plus assets/ with content-hashed
// names (cached immutably by reel), no inline script or style (reel's CSP
// forbids them), nothing from another origin. Run with `npm run build`.
import * as esbuild from 'esbuild';
import { mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const budget = 250 * 1024; // the app's JavaScript, gzipped, hls.js included

export async function build({ quiet = false } = {}) {
  await rm(dist, { recursive: true, force: true });
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(here, 'src/main.jsx')],
    bundle: true,
    splitting: true, // hls.js and tus-js-client load only where they are needed
    format: 'esm',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    outdir: path.join(dist, 'assets'),
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': '"production"' },
    metafile: true,
    logLevel: quiet ? 'warning' : 'info',
  });
  let entryJS = '', entryCSS = '';
  const preload = []; // chunks the entry imports statically: fetched beside it
  let jsRaw = 0, jsGz = 0, total = 0;
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    const rel = path.relative(dist, path.resolve(file)).split(path.sep).join('/');
    const bytes = await readFile(path.resolve(file));
    total += bytes.length;
    if (rel.endsWith('.js')) {
      jsRaw += bytes.length;
      jsGz += gzipSync(bytes, { level: 9 }).length;
      if (out.entryPoint && out.entryPoint.endsWith('src/main.jsx')) {
        entryJS = '/' + rel;
        for (const im of out.imports) {
          if (im.kind === 'import-statement') preload.push('/' + path.relative(dist, path.resolve(im.path)).split(path.sep).join('/'));
        }
      }
    }
    if (rel.endsWith('.css')) entryCSS = '/' + rel;
  }
  if (!entryJS) throw new Error('no entry script in the build');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="dark light">
<title>reel</title>
<link rel="icon" href="data:,">
${entryCSS ? `<link rel="stylesheet" href="${entryCSS}">\n` : ''}${preload.map((p) => `<link rel="modulepreload" href="${p}">\n`).join('')}<script type="module" src="${entryJS}"></script>
</head>
<body>
<div id="app"><noscript>reel needs JavaScript to play videos.</noscript></div>
</body>
</html>
`;
  await writeFile(path.join(dist, 'index.html'), html);
  total += Buffer.byteLength(html);
  const report = { js_bytes: jsRaw, js_gzip_bytes: jsGz, total_bytes: total, budget_gzip_bytes: budget };
  if (!quiet) {
    console.log(`JavaScript: ${(jsRaw / 1024).toFixed(1)} KiB, ${(jsGz / 1024).toFixed(1)} KiB gzipped (budget ${budget / 1024} KiB); all files ${(total / 1024).toFixed(1)} KiB`);
  }
  if (jsGz > budget) throw new Error(`JavaScript is ${jsGz} bytes gzipped, over the budget of ${budget}`);
  return report;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  build().catch((e) => { console.error(e.message || e); process.exit(1); });
}
