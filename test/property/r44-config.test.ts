// R44 config schema. Every setting of the schema (walked from the schema itself, so a new setting is
// covered the day it is added) is broken in every way its kind allows — wrong type, out of range, bad
// format, missing when required, unknown key beside it, too many list elements. Each break must be
// refused by `loadConfig` with a ConfigError whose code is in the error registry (CONFIG_INVALID) and an
// issue at that setting's key path. Then fast-check throws random JSON, random edits of a valid config,
// random TUNMESH_* overrides and mangled YAML text at the loader: 0 crashes, and every rejection carries a
// registry code and issues that each have a key path and a rule.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { errorCodes } from '../../src/base/errors.js';
import { ConfigError, applyEnvOverrides, loadConfig, parseYaml, validateConfigData } from '../../src/config/index.js';
import { allSettings, envName, type SettingInfo } from '../../src/config/introspect.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { makeConfigFixture, type ConfigFixture } from '../helpers/config-fixture.js';

type Data = Record<string, unknown>;
let fx: ConfigFixture;
let base: Data;

before(async () => {
  fx = await makeConfigFixture({ prefix: 'tunmesh-r44-' });
  // One static peer and one route grant, so the settings inside list elements have an element to break.
  base = {
    ...structuredClone(fx.data),
    cluster: {
      ...(fx.data.cluster as Data),
      routePolicy: [{ prefix: '198.19.251.0/24', nodes: ['gw-*'], exit: false }],
    },
    wireguard: {
      staticPeers: [
        {
          name: 'p1',
          publicKey: encodeKey(publicKeyOf(generatePrivateKey())),
          endpoint: '198.18.0.9:51820',
          allowedIps: ['198.19.9.0/24'],
        },
      ],
    },
  };
});
after(() => fx?.cleanup());

/** `wireguard.staticPeers[].name` -> ['wireguard', 'staticPeers', 0, 'name']. */
function segments(path: string): (string | number)[] {
  return path.split('.').flatMap((s) => (s.endsWith('[]') ? [s.slice(0, -2), 0] : [s]));
}
const concrete = (path: string) => path.replace(/\[\]/g, '[0]');

function setAt(data: Data, path: (string | number)[], value: unknown, remove = false): void {
  let cur = data as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) {
    if (cur[seg] === undefined || cur[seg] === null || typeof cur[seg] !== 'object') cur[seg] = {};
    cur = cur[seg] as Record<string | number, unknown>;
  }
  const last = path.at(-1)!;
  if (remove) delete cur[last];
  else cur[last] = value;
}

interface Break {
  readonly setting: string;
  readonly how: string;
  readonly path: string;
  readonly apply: (d: Data) => void;
}

const wrongType: Record<string, unknown> = {
  string: 12345,
  number: 'many',
  integer: 'many',
  boolean: 'maybe',
  enum: 7,
  array: 'not-a-list',
  object: 42,
};

function breaksOf(s: SettingInfo): Break[] {
  const segs = segments(s.path);
  const path = concrete(s.path);
  const mk = (how: string, apply: (d: Data) => void, at = path): Break => ({ setting: s.path, how, path: at, apply });
  const set = (v: unknown) => (d: Data) => setAt(d, segs, v);
  const out: Break[] = [mk(`wrong type (${JSON.stringify(wrongType[s.kind])})`, set(wrongType[s.kind]))];
  if (s.kind !== 'object' || s.required) out.push(mk('null', set(null)));
  if (s.required) out.push(mk('missing', (d) => setAt(d, segs, undefined, true)));
  if (s.kind === 'object') out.push(mk('unknown key beside its settings', set({ bogusKey: 1 }), `${path}.bogusKey`));
  if (s.kind === 'integer') {
    out.push(mk('fraction', set((s.min ?? 0) + 0.5)));
    if (s.min !== undefined) out.push(mk('below min', set(s.min - 1)));
    if (s.max !== undefined) out.push(mk('above max', set(s.max + 1)));
  }
  if (s.kind === 'enum') out.push(mk('not one of the values', set('no-such-value')));
  if (s.kind === 'string' && s.meta.type === 'file path') out.push(mk('empty path', set('')));
  else if (s.kind === 'string' && s.meta.type !== undefined) out.push(mk('bad format', set('%%bad value%%')));
  if (s.kind === 'array' && s.elementKind === 'string') {
    out.push(mk('element of the wrong type', set([12345]), `${path}[0]`));
    if (s.typeLabel !== 'list of string') out.push(mk('element in a bad format', set(['%%bad%%']), `${path}[0]`));
  }
  if (s.kind === 'array' && s.max !== undefined && Array.isArray(s.meta.example) && s.meta.example.length > 0) {
    // Copies, not one object repeated: YAML would write repeats as aliases and refuse that many.
    const many = Array.from({ length: s.max + 1 }, () => structuredClone(s.meta.example) as unknown[]).flat();
    out.push(mk(`more than ${s.max} elements`, set(many.slice(0, Math.max(s.max + 1, many.length)))));
  }
  if (s.kind === 'array' && s.min !== undefined && s.min > 0) out.push(mk('empty list', set([])));
  return out;
}

const settings = allSettings();
const breaks = settings.flatMap(breaksOf);

test('R44: the valid base config loads (so every refusal below is the break, not the base)', async () => {
  await fx.write(stringify(base));
  const config = await loadConfig(fx.file, {});
  assert.equal(config.wireguard.staticPeers.length, 1);
});

test(`R44: each invalid field is refused with CONFIG_INVALID and an issue at its key path`, async () => {
  // A floor at today's figure: removing a bound from the schema removes its break and trips this. Raise it
  // when settings are added (the hand-written table below does not depend on this count).
  assert.ok(breaks.length >= breaksFloor, `${breaks.length} breaks < ${breaksFloor}: a bound or setting was removed`);
  const misses: string[] = [];
  for (const b of breaks) {
    const data = structuredClone(base);
    b.apply(data);
    await fx.write(stringify(data));
    let err: unknown;
    try {
      await loadConfig(fx.file, {});
    } catch (e) {
      err = e;
    }
    if (!(err instanceof ConfigError)) {
      misses.push(`${b.setting} ${b.how}: ${err === undefined ? 'accepted' : String(err)}`);
      continue;
    }
    const codeOk = err.code === 'CONFIG_INVALID' && err.code in errorCodes;
    const at = err.issues.filter((i) => i.path === b.path || i.path.startsWith(`${b.path}[`));
    if (!codeOk || at.length === 0 || at.some((i) => i.rule === ''))
      misses.push(`${b.setting} ${b.how}: ${err.code} ${err.issues.map((i) => `${i.path}: ${i.rule}`).join(' | ')}`);
  }
  console.log(`# R44: ${breaks.length} breaks over ${settings.length} settings, ${misses.length} misses`);
  assert.deepEqual(misses, []);
});

/**
 * Bounds of security- and liveness-relevant integer settings, written by hand (not read from the schema), so
 * removing a `.min`/`.max` from the schema fails here even though the generated breaks above shrink with it.
 */
const handBounds: readonly [path: string, min: number, max: number, companions?: Record<string, number>][] = [
  ['tun.mtu', 1280, 9000],
  ['wireguard.persistentKeepaliveSec', 0, 3600],
  ['wireguard.staticPeers[].persistentKeepaliveSec', 0, 3600],
  ['transport.recoverIntervalMs', 1000, 3_600_000],
  ['transport.silenceMs', 500, 600_000],
  // Cross-field rules (probe < failure timeout, request < failure timeout) need room at the bounds.
  ['membership.probeIntervalMs', 50, 60_000, { 'membership.failureTimeoutMs': 3_600_000 }],
  [
    'membership.failureTimeoutMs',
    500,
    3_600_000,
    { 'membership.probeIntervalMs': 50, 'membership.requestTimeoutMs': 50 },
  ],
  ['membership.gossipFanout', 1, 32],
  ['membership.requestTimeoutMs', 50, 60_000, { 'membership.failureTimeoutMs': 3_600_000 }],
  ['dns.timeoutMs', 100, 30_000],
  ['process.uid', 1, 4_294_967_294],
  ['process.gid', 1, 4_294_967_294],
];
const breaksFloor = 250;

test('R44: hand-written bounds: each is enforced by the loader (min and max accepted, one beyond refused)', async () => {
  const misses: string[] = [];
  for (const [path, min, max, companions = {}] of handBounds) {
    for (const [value, ok] of [
      [min, true],
      [max, true],
      [min - 1, false],
      [max + 1, false],
    ] as const) {
      const data = structuredClone(base);
      for (const [p, v] of Object.entries(companions)) setAt(data, segments(p), v);
      setAt(data, segments(path), value);
      await fx.write(stringify(data));
      let err: unknown;
      try {
        await loadConfig(fx.file, {});
      } catch (e) {
        err = e;
      }
      const refusedHere = err instanceof ConfigError && err.issues.some((i) => i.path === concrete(path));
      if (ok && err !== undefined) misses.push(`${path} = ${value} refused: ${String(err)}`);
      if (!ok && !refusedHere) misses.push(`${path} = ${value} ${err === undefined ? 'accepted' : String(err)}`);
    }
  }
  assert.deepEqual(misses, []);
});

// ---- fuzz ----

const keyPaths = settings.map((s) => segments(s.path));
const envNames = settings.filter((s) => !s.path.includes('[]') && s.kind !== 'object').map((s) => envName(s.path));

/** Every rejection has a registry code and issues with a key path and a rule; acceptance needs no issues. */
function checkResult(r: ReturnType<typeof validateConfigData>): void {
  if (r.ok) return;
  assert.ok(r.issues.length > 0, 'a rejection lists its issues');
  for (const i of r.issues) {
    assert.equal(typeof i.path, 'string');
    assert.ok(i.path.length > 0, 'issue has a key path');
    assert.ok(i.rule.length > 0, 'issue has a rule');
  }
}

test('R44 fuzz: random JSON documents (2000) as the config: 0 crashes, every rejection has a path and rule', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      const r = validateConfigData(v, { baseDir: fx.dir });
      assert.equal(r.ok, false, 'random JSON is not a valid config');
      checkResult(r);
    }),
    { numRuns: 2000, seed: 44 },
  );
});

test('R44 fuzz: 1500 random edits of a valid config plus random TUNMESH_* overrides: 0 crashes', () => {
  const edit = fc.record({
    path: fc.constantFrom(...keyPaths),
    value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)),
    extraKey: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
  });
  const env = fc.dictionary(fc.constantFrom(...envNames), fc.string({ maxLength: 24 }), { maxKeys: 3 });
  let rejected = 0;
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), env, (edits, vars) => {
      const data = structuredClone(base);
      for (const e of edits) {
        setAt(data, e.path, e.value, e.value === undefined);
        if (e.extraKey !== undefined) setAt(data, [...e.path.slice(0, -1), e.extraKey], 1);
      }
      const over = applyEnvOverrides(data, vars);
      for (const i of over.issues) assert.ok(i.path.length > 0 && i.rule.length > 0);
      const r = validateConfigData(over.data, { baseDir: fx.dir, sources: over.sources });
      checkResult(r);
      if (!r.ok) rejected++;
    }),
    { numRuns: 1500, seed: 4444 },
  );
  assert.ok(rejected > 500, `only ${rejected} of 1500 edits rejected: the edits are not reaching the schema`);
});

test('R44 fuzz: 400 mangled YAML texts through loadConfig: 0 crashes, only ConfigError with a registry code', async () => {
  const text = stringify(base);
  const mangle = fc.array(
    fc.record({
      at: fc.nat({ max: text.length }),
      cut: fc.nat({ max: 8 }),
      insert: fc.oneof(
        fc.string({ maxLength: 6 }),
        fc.constantFrom(':', '- ', '\n', '  ', '&a', '*a', '!!binary', '"', '{', '['),
      ),
    }),
    { minLength: 1, maxLength: 4 },
  );
  const codes = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(mangle, async (ops) => {
      let t = text;
      for (const o of ops) t = t.slice(0, o.at) + o.insert + t.slice(o.at + o.cut);
      const parsed = parseYaml(t);
      if (!parsed.ok) for (const i of parsed.issues) assert.ok(i.path.length > 0 && i.rule.length > 0);
      await writeFile(fx.file, t);
      try {
        await loadConfig(fx.file, {});
        codes.set('ok', (codes.get('ok') ?? 0) + 1);
      } catch (e) {
        assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
        assert.ok(e.code in errorCodes);
        assert.ok(e.issues.length > 0);
        for (const i of e.issues) assert.ok(i.path.length > 0 && i.rule.length > 0);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }),
    { numRuns: 400, seed: 44_444 },
  );
  console.log(`# R44 YAML fuzz outcomes: ${JSON.stringify(Object.fromEntries(codes))}`);
  assert.ok((codes.get('CONFIG_INVALID') ?? 0) > 0);
});
