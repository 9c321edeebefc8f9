// /metrics on its own address (control.metricsListen): only GET /metrics, the bearer token when one is
// set (wrong tokens rate limited), and the API port then answers 404 for /metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Secret } from '../../src/base/secret.js';
import { MetricsListener } from '../../src/control/metrics-listener.js';

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('metrics listener: GET /metrics only; with a token, the bearer is required and wrong ones are rate limited', async () => {
  const token = new Secret('metrics-token-for-tests-0123456789abcdef');
  const l = new MetricsListener({ host: '127.0.0.1', port: 0, metricsText: () => 'tunmesh_up 1\n', token });
  const { port } = await l.start();
  try {
    const ok = await get(port, '/metrics', { authorization: `Bearer ${token.expose()}` });
    assert.deepEqual(ok, { status: 200, body: 'tunmesh_up 1\n' });
    assert.equal((await get(port, '/metrics')).status, 401);
    assert.equal((await get(port, '/health', { authorization: `Bearer ${token.expose()}` })).status, 404);
    assert.equal((await get(port, '/metrics', { authorization: `Bearer ${token.expose()}` }, 'POST')).status, 404);
    const wrong: number[] = [];
    for (let i = 0; i < 5; i++) wrong.push((await get(port, '/metrics', { authorization: `Bearer x${i}` })).status);
    assert.deepEqual(wrong, [401, 401, 401, 401, 429], 'the 6th failure of this source is refused unchecked');
    assert.equal((await get(port, '/metrics', { authorization: `Bearer ${token.expose()}` })).status, 429);
  } finally {
    await l.stop();
  }
});

test('metrics listener without a token serves /metrics to anyone who reaches it (bind it to loopback)', async () => {
  const l = new MetricsListener({ host: '127.0.0.1', port: 0, metricsText: () => 'tunmesh_up 1\n' });
  const { port } = await l.start();
  try {
    assert.equal((await get(port, '/metrics')).status, 200);
  } finally {
    await l.stop();
  }
});
