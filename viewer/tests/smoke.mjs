// Drive a real headless Chromium over a cim page and print what it saw as one JSON object on stdout.
//
//   node viewer/tests/smoke.mjs viewer URL --screenshot FILE [--pick MODEL_ID GLOBAL_ID] [--frames N]
//   node viewer/tests/smoke.mjs view3d FILE_URL --screenshot FILE
//
// viewer: waits for the tileset to load, clicks (a real mouse event) at the screen position the page's test
// hook computes for the element's centre, and reads back the GlobalId the page shows; times the first rendered
// frame and N further frames. view3d: waits for the self-contained three.js page to draw, clicks its centre.
// Console errors and uncaught page errors are collected, never ignored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const { chromium } = require('playwright-core');

const [mode, url, ...rest] = process.argv.slice(2);
const option = (name, count = 1) => {
  const i = rest.indexOf(name);
  return i < 0 ? null : count === 1 ? rest[i + 1] : rest.slice(i + 1, i + 1 + count);
};
const screenshot = option('--screenshot');
const pick = option('--pick', 2);
const frames = Number(option('--frames') || 30);
const timeout = Number(option('--timeout') || 240000);
const executablePath = process.env.CIM_CHROMIUM || '/usr/bin/chromium';

const profile = mkdtempSync(join(tmpdir(), 'cim-chromium-'));
const result = { mode, url, consoleErrors: [], pageErrors: [], failedRequests: [], externalRequests: [] };
const origin = url.startsWith('file:') ? 'file:' : new URL(url).origin;
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('console', (msg) => { if (msg.type() === 'error') result.consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => result.pageErrors.push(String(err)));
  page.on('request', (req) => {  // nothing may come from anywhere but the page's own server (or the page itself)
    const u = req.url();
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) result.externalRequests.push(u);
  });
  page.on('requestfailed', (req) => result.failedRequests.push(`${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (res) => { if (res.status() >= 400) result.failedRequests.push(`${res.url()} ${res.status()}`); });
  const started = Date.now();
  await page.goto(url, { waitUntil: 'load' });
  if (mode === 'viewer') await viewer(page, started);
  else if (mode === 'view3d') await view3d(page);
  else throw new Error(`unknown mode ${mode}`);
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack || err);
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + '\n');

async function viewer(page, started) {
  await page.waitForFunction(() => window.cimViewer && window.cimViewer.firstFrameMs !== null);
  result.firstFrameMs = await page.evaluate(() => window.cimViewer.firstFrameMs);
  result.firstFrameWallMs = Date.now() - started;
  await page.waitForFunction(() => window.cimViewer.allTilesLoaded && window.cimViewer.tilesLoaded > 0);
  result.allTilesLoadedMs = Date.now() - started;
  result.state = await page.evaluate(() => window.cimViewer.summary());
  result.frameMs = await page.evaluate((n) => window.cimViewer.timeFrames(n), frames);
  await shoot(page);
  if (option('--controls')) {  // every colour mode and the underground toggle, through the page's own controls
    for (const value of ['phase', 'clash', 'model']) {
      await page.selectOption('#colour', value);
      await page.evaluate(() => window.cimViewer.timeFrames(1));
    }
    await page.check('#underground');
    await page.evaluate(() => window.cimViewer.timeFrames(1));
    result.legend = await page.textContent('#legend');
    await page.uncheck('#underground');
  }
  if (pick) {
    const [modelId, globalId] = pick;
    const at = await page.evaluate(([m, g]) => window.cimViewer.screenPositionOf(m, g), [modelId, globalId]);
    result.pickAt = at;
    if (at) {
      await page.mouse.move(at.x, at.y);
      await page.mouse.click(at.x, at.y);
      await page.waitForFunction(() => window.cimViewer.picked && window.cimViewer.picked.loaded);
      result.picked = await page.evaluate(() => window.cimViewer.picked);
      result.panel = await page.textContent('#pick');
    }
  }
}

async function view3d(page) {
  await page.waitForFunction(() => window.cimView3d && window.cimView3d.ready && window.cimView3d.frames > 0);
  result.state = await page.evaluate(() => ({ ...window.cimView3d }));
  const box = await page.locator('#view canvas').boundingBox();
  result.canvas = box;
  await shoot(page);
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => window.cimView3d.picked !== undefined);
  result.picked = await page.evaluate(() => window.cimView3d.picked);
}

async function shoot(page) {
  if (!screenshot) return;
  await page.screenshot({ path: screenshot });
  result.screenshot = screenshot;
}
