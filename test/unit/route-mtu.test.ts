// The RouteMtuSource port (R28): parsing `ip -j route show` output, the memory twin, and the Linux watcher
// driven by a stand-in `ip` script (no root): its monitor child, the debounced re-dump and the fall-back
// to polling when the monitor dies.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinuxRouteMtuSource, smallestRouteMtu } from '../../src/platform/linux/route-mtu.js';
import { MemoryRouteMtu } from '../../src/platform/memory/route-mtu.js';
import type { RouteMtuWatch } from '../../src/platform/ports.js';

// Captured from iproute2 6.1 (`ip -j route show table all dev tx0`, both families, an `mtu lock` route).
const captured =
  '[{"dst":"198.19.1.3","table":"100","scope":"link","flags":["linkdown"],"metrics":[{"mtu":1300}]},' +
  '{"dst":"198.19.0.0/24","protocol":"kernel","scope":"link","prefsrc":"198.19.0.1","flags":["linkdown"]},' +
  '{"dst":"198.19.1.2","scope":"link","flags":["linkdown"],"metrics":[{"mtu":1299}]},' +
  '{"dst":"198.19.1.4","scope":"link","flags":["linkdown"],"metrics":[{"mtu":1290}]},' +
  '{"type":"local","dst":"198.19.0.1","table":"local","protocol":"kernel","scope":"host","prefsrc":"198.19.0.1","flags":[]},' +
  '{"dst":"fd00:1::2","metric":1024,"flags":["linkdown"],"metrics":[{"mtu":1298}],"pref":"medium"}]';

test('smallestRouteMtu: the smallest mtu metric of any route; undefined for none or for garbage', () => {
  assert.equal(smallestRouteMtu(captured), 1290);
  assert.equal(smallestRouteMtu('[{"dst":"198.19.0.0/24","protocol":"kernel"}]'), undefined);
  assert.equal(smallestRouteMtu('[]'), undefined);
  assert.equal(smallestRouteMtu(''), undefined, 'some iproute2 versions print nothing for no routes');
  assert.equal(smallestRouteMtu('[{"metrics":{"mtu":1400}}]'), 1400, 'a bare metrics object');
  assert.equal(smallestRouteMtu('[{"metrics":[{"advmss":1200},{"mtu":1350}]}]'), 1350);
  for (const bad of ['{', 'null', '{"mtu":1}', '[null,1,"x",{"metrics":[null,{"mtu":"1300"},{"mtu":-1},{"mtu":1.5}]}]'])
    assert.equal(smallestRouteMtu(bad), undefined, bad);
});

test('MemoryRouteMtu: watches see the smallest MTU of their device, live, and nothing after stop', async () => {
  const src = new MemoryRouteMtu();
  src.setRoute('tm0', '198.19.0.0/16');
  const w = await src.watch('tm0');
  const seen: (number | undefined)[] = [];
  w.onChange((m) => seen.push(m));
  assert.equal(w.current(), undefined);
  src.setRoute('tm0', '198.19.0.2/32', 1299);
  src.setRoute('other', '198.19.0.3/32', 1200);
  src.setRoute('tm0', 'fd00::2/128', 1350);
  src.setRoute('tm0', '198.19.0.2/32', 1400);
  src.deleteRoute('tm0', 'fd00::2/128');
  assert.deepEqual(seen, [1299, 1350, 1400]);
  assert.equal(w.current(), 1400);
  await w.stop();
  src.deleteRoute('tm0', '198.19.0.2/32');
  assert.deepEqual(seen, [1299, 1350, 1400]);
});

// ---- the Linux watcher against a stand-in ip ----

const dir = mkdtempSync(join(tmpdir(), 'tunmesh-route-mtu-'));
const watches: RouteMtuWatch[] = [];
after(async () => {
  for (const w of watches) await w.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * An `ip` that answers `-j -4|-6 route show table all dev D` from files and whose `-o monitor route` prints
 * each line appended to an events file (or exits at once with `monitor: exit`).
 */
function fakeIp(
  name: string,
  monitor: 'tail' | 'exit',
): { ip: string; routes: (v4: string, v6: string) => void; event: () => void } {
  const base = join(dir, name);
  const ip = `${base}.sh`;
  writeFileSync(`${base}.events`, '');
  const routes = (v4: string, v6: string): void => {
    writeFileSync(`${base}.4.json`, v4);
    writeFileSync(`${base}.6.json`, v6);
  };
  routes('[]', '[]');
  writeFileSync(
    ip,
    [
      '#!/bin/sh',
      'case "$*" in',
      monitor === 'tail'
        ? `  "-o monitor route") exec tail -n 0 -F "${base}.events" 2>/dev/null ;;`
        : '  "-o monitor route") exit 1 ;;',
      `  "-j -4 route show table all dev tm0") cat "${base}.4.json" ;;`,
      `  "-j -6 route show table all dev tm0") cat "${base}.6.json" ;;`,
      '  *) echo "unexpected: $*" >&2; exit 2 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(ip, 0o755);
  return { ip, routes, event: () => appendFileSync(`${base}.events`, '198.19.0.2 dev tm0 mtu 1299\n') };
}

/** The next value a watch reports (bounded wait: the test fails rather than hangs). */
function nextChange(w: RouteMtuWatch, what: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no change reported: ${what}`)), 10_000);
    w.onChange((m) => {
      clearTimeout(t);
      resolve(m);
    });
  });
}

test('LinuxRouteMtuSource: first dump over both families, then a monitor line triggers a re-dump', async () => {
  const f = fakeIp('monitor', 'tail');
  f.routes('[{"dst":"198.19.0.2","metrics":[{"mtu":1350}]}]', '[{"dst":"fd00::2","metrics":[{"mtu":1320}]}]');
  const w = await new LinuxRouteMtuSource({ ipPath: f.ip, debounceMs: 20 }).watch('tm0');
  watches.push(w);
  assert.equal(w.current(), 1320, 'IPv6 route counted');
  // Routes change silently: no event, no re-dump.
  f.routes('[{"dst":"198.19.0.2","metrics":[{"mtu":1299}]}]', '[]');
  const changed = nextChange(w, 'after a monitor line');
  // The monitor child may not be reading yet: repeat the line until the change is seen (bounded).
  let done = false;
  void changed.finally(() => (done = true)).catch(() => undefined);
  for (let i = 0; i < 50 && !done; i++) {
    f.event();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await changed, 1299);
  assert.equal(w.current(), 1299);
  f.routes('[]', '[]');
  const cleared = nextChange(w, 'route removed');
  f.event();
  assert.equal(await cleared, undefined);
  await w.stop();
});

test('LinuxRouteMtuSource: a monitor that dies falls back to polling', async () => {
  const f = fakeIp('poll', 'exit');
  const w = await new LinuxRouteMtuSource({ ipPath: f.ip, pollMs: 50 }).watch('tm0');
  watches.push(w);
  assert.equal(w.current(), undefined);
  const changed = nextChange(w, 'by polling');
  f.routes('[{"dst":"198.19.0.2","metrics":[{"mtu":1299}]}]', '[]');
  assert.equal(await changed, 1299);
  await w.stop();
});

test('LinuxRouteMtuSource: an ip that cannot run reports undefined and never throws', async () => {
  const w = await new LinuxRouteMtuSource({ ipPath: join(dir, 'no-such-ip'), pollMs: 50 }).watch('tm0');
  watches.push(w);
  assert.equal(w.current(), undefined);
  await w.stop();
});
