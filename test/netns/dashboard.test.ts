// The dashboard in a real browser (Debian's chromium driven by playwright-core, run inside the mesh
// namespace) against a three-node mesh: without the token the page and its data API answer 401; after
// signing in the page shows three nodes and their links with live RTT, and marks a node down within
// the failure timeout after it is killed. Screenshots go to artifacts/dashboard/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, waitFor, type LabProcess } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const artifacts = join(repoRoot, 'artifacts', 'dashboard');
const chromium = '/usr/bin/chromium';
const failureTimeoutMs = 5000;
/** The page polls every second and a poll takes a moment: the slack on top of the failure timeout. */
const pageRefreshSlackMs = 2000;
const token = 'tp9-operator-token-0123456789abcdefghijklmnopqrstuv';
const nodes = ['n1', 'n2', 'n3'];

let lab: Lab;
let mesh: Mesh;
let dir: string;

// The browser side: sign in, wait for the mesh picture, then (when the signal file appears) for n3 to
// turn down; prints one JSON line per milestone.
const driver = `
const [pwUrl, base, tokenArg, shots, userDir, signal, timeoutMs] = process.argv.slice(1);
const { chromium } = await import(pwUrl);
const fs = await import('node:fs');
const say = (o) => console.log(JSON.stringify(o));
// A fresh profile directory per run (Playwright takes it as the persistent context's userDataDir).
let ctx;
const deadline = Date.now() + Number(timeoutMs);
try {
  ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: '${chromium}',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ignoreHTTPSErrors: true,
    viewport: { width: 1400, height: 1100 },
  });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const first = await page.goto(base + '/ui/');
  const api = await page.request.get(base + '/ui/api/overview');
  say({ step: 'unauthenticated', page: first.status(), api: api.status() });
  await page.screenshot({ path: shots + '/0-login.png' });
  await page.fill('input[name=token]', tokenArg);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  const cookies = await ctx.cookies();
  say({ step: 'signed-in', url: page.url(), cookie: cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite })) });
  const state = () => page.evaluate(() => ({
    nodes: [...document.querySelectorAll('#node-list li')].map((li) => [li.dataset.node, li.dataset.state]),
    links: [...document.querySelectorAll('#link-list li')].map((li) => [li.dataset.link, li.dataset.state, li.dataset.rtt]),
    canvas: document.querySelectorAll('#topology canvas').length,
    charts: document.querySelectorAll('.uplot').length,
    events: [...document.querySelectorAll('#events li')].map((li) => li.dataset.type),
  }));
  let s;
  for (;;) {
    s = await state();
    const up = s.nodes.filter(([, st]) => st === 'up').length;
    const live = s.links.filter(([, st, rtt]) => st === 'up' && rtt !== '').length;
    if (up === 3 && live === 3 && s.charts === 2) break;
    if (Date.now() > deadline) throw new Error('no full mesh on the page: ' + JSON.stringify(s));
    await page.waitForTimeout(250);
  }
  await page.waitForTimeout(2500); // a few chart points
  await page.screenshot({ path: shots + '/1-mesh.png', fullPage: true });
  const rtts1 = (await state()).links.map(([l, , rtt]) => [l, rtt]);
  await page.waitForTimeout(2500);
  const rtts2 = (await state()).links.map(([l, , rtt]) => [l, rtt]);
  // The page as it stands after those seconds: the events panel polls on its own timer.
  say({ step: 'mesh', state: await state(), rtts1, rtts2, errors });
  while (!fs.existsSync(signal)) {
    if (Date.now() > deadline) throw new Error('no kill signal');
    await page.waitForTimeout(50);
  }
  for (;;) {
    s = await state();
    if (s.nodes.some(([n, st]) => n === 'n3' && st === 'down')) break;
    if (Date.now() > deadline) throw new Error('n3 never shown down: ' + JSON.stringify(s));
    await page.waitForTimeout(100);
  }
  const downAt = Date.now();
  await page.waitForTimeout(1200);
  await page.screenshot({ path: shots + '/2-n3-down.png', fullPage: true });
  say({ step: 'down', downAt, state: await state(), errors });
} catch (e) {
  say({ step: 'error', message: e.message });
} finally {
  await ctx?.close();
}
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tp9d-'));
  await writeFile(join(dir, 'operator.token'), `${token}\n`, { mode: 0o600 });
  lab = await Lab.create('tp9d-', { nodes: 3 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n2'] },
    patch: (_n, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs };
      c.control!.operatorTokenFile = join(dir, 'operator.token');
    },
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Step {
  step: string;
  [k: string]: unknown;
}

function steps(p: LabProcess): Step[] {
  return p
    .lines()
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Step);
}

test(
  'the dashboard shows the mesh with live RTT and marks a killed node down within the failure timeout',
  {
    skip: existsSync(chromium) ? false : `${chromium} missing: apt-get install -y chromium`,
  },
  async (t) => {
    mkdirSync(artifacts, { recursive: true });
    const signal = join(dir, 'killed');
    const browser = lab.spawn(
      lab.node('n1').ns,
      process.execPath,
      [
        '--input-type=module',
        '-e',
        driver,
        import.meta.resolve('playwright-core'),
        mesh.apiUrl('n1'),
        token,
        artifacts,
        join(dir, 'chromium-profile'),
        signal,
        '90000',
      ],
      { logFile: 'dashboard-browser.log' },
    );
    try {
      const find = (name: string) => steps(browser).find((s) => s.step === name || s.step === 'error');
      const fail = (s: Step | undefined) => {
        if (s?.step === 'error') throw new Error(`browser: ${String(s.message)}\n${browser.log().slice(-3000)}`);
      };

      const unauth = await waitFor(() => find('unauthenticated'), { what: 'the login page', timeoutMs: 60_000 });
      fail(unauth);
      assert.equal(unauth.page, 401, 'the page without the token');
      assert.equal(unauth.api, 401, 'the data API without the token');

      const signedIn = (await waitFor(() => find('signed-in'), { what: 'signing in', timeoutMs: 30_000 })) as Step & {
        url: string;
        cookie: { name: string; httpOnly: boolean; secure: boolean; sameSite: string }[];
      };
      fail(signedIn);
      assert.equal(signedIn.url, `${mesh.apiUrl('n1')}/ui/`, 'no token in the URL after login');
      assert.deepEqual(signedIn.cookie, [
        { name: 'tunmesh_session', httpOnly: true, secure: true, sameSite: 'Strict' },
      ]);

      const shown = (await waitFor(() => find('mesh'), { what: 'the mesh on the page', timeoutMs: 60_000 })) as Step & {
        state: { nodes: [string, string][]; links: [string, string, string][]; canvas: number; events: string[] };
        rtts1: [string, string][];
        rtts2: [string, string][];
        errors: string[];
      };
      fail(shown);
      assert.deepEqual(shown.state.nodes.map(([n, s]) => `${n}:${s}`).sort(), ['n1:up', 'n2:up', 'n3:up']);
      assert.deepEqual(shown.state.links.map(([l]) => l).sort(), ['n1|n2', 'n1|n3', 'n2|n3']);
      for (const [l, , rtt] of shown.state.links) assert.ok(Number(rtt) > 0 && Number(rtt) < 1000, `${l} rtt ${rtt}`);
      assert.ok(shown.state.canvas > 0, 'the topology graph is drawn');
      assert.ok(shown.state.events.includes('join'), 'events list the joins');
      // Live: the RTT values move between two looks a few seconds apart.
      assert.notDeepEqual(shown.rtts1, shown.rtts2, 'RTT values are refreshed');
      assert.deepEqual(shown.errors, [], 'no script errors on the page');

      mesh.proc('n3').kill('SIGKILL');
      const killedAt = Date.now();
      await writeFile(signal, '');
      const down = (await waitFor(() => find('down'), {
        what: 'n3 shown down',
        timeoutMs: failureTimeoutMs + 30_000,
      })) as Step & { downAt: number; state: { links: [string, string, string][] } };
      fail(down);
      const took = down.downAt - killedAt;
      t.diagnostic(`n3 shown down ${took} ms after the kill`);
      assert.ok(
        took <= failureTimeoutMs + pageRefreshSlackMs,
        `n3 shown down ${took} ms after the kill (failure timeout ${failureTimeoutMs} ms + ${pageRefreshSlackMs} ms page refresh)`,
      );
      const n3Links = down.state.links.filter(([l]) => l.includes('n3'));
      assert.ok(
        n3Links.length > 0 && n3Links.every(([, s]) => s === 'down'),
        `links of n3 down: ${JSON.stringify(n3Links)}`,
      );
      for (const f of ['0-login.png', '1-mesh.png', '2-n3-down.png'])
        assert.ok(existsSync(join(artifacts, f)), `screenshot ${f}`);
    } finally {
      browser.kill('SIGTERM');
      await browser.waitExit(10_000).catch(() => browser.kill('SIGKILL'));
    }
  },
);
