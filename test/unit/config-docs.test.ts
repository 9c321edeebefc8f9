// The generated docs must match their sources: edit the schema, metric table or error registry, then run
// `npm run docs` and commit the result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateDocs, staleDocs } from '../../scripts/gen-docs.js';
import { errorCodes } from '../../src/base/errors.js';
import { allSettings, envName } from '../../src/config/introspect.js';
import { dropReasons, metricTable } from '../../src/metrics/table.js';

test('committed docs/CONFIG.md, METRICS.md and ERRORS.md equal what `npm run docs` generates', () => {
  assert.deepEqual(staleDocs(), [], 'out of date: run `npm run docs` and commit the result');
});

test('the generated docs cover every setting, metric, drop reason and error code', () => {
  const docs = generateDocs();
  for (const s of allSettings()) {
    if (s.kind === 'object') continue;
    assert.ok(docs['docs/CONFIG.md']!.includes(`| \`${s.path}\` |`), s.path);
    if (!s.path.includes('[]')) assert.ok(docs['docs/CONFIG.md']!.includes(envName(s.path)), envName(s.path));
  }
  for (const m of Object.keys(metricTable)) assert.ok(docs['docs/METRICS.md']!.includes(`tunmesh_${m}\``), m);
  for (const r of Object.keys(dropReasons)) assert.ok(docs['docs/METRICS.md']!.includes(`| \`${r}\` |`), r);
  for (const c of Object.keys(errorCodes)) assert.ok(docs['docs/ERRORS.md']!.includes(`| \`${c}\` |`), c);
  assert.equal(readFileSync(new URL('../../docs/CONFIG.md', import.meta.url), 'utf8'), docs['docs/CONFIG.md']);
});

test('env variable names follow the documented mapping', () => {
  assert.equal(envName('node.name'), 'TUNMESH_NODE__NAME');
  assert.equal(envName('wireguard.persistentKeepaliveSec'), 'TUNMESH_WIREGUARD__PERSISTENT_KEEPALIVE_SEC');
  assert.equal(envName('control.tls.caFile'), 'TUNMESH_CONTROL__TLS__CA_FILE');
});
