// The tls transport stream's handshake: a signed Upgrade on the control port, a signed 101 back, then raw
// bytes both ways; unauthenticated or refused upgrades never reach the acceptor's socket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { Secret } from '../../src/base/secret.js';
import { ControlServer } from '../../src/control/server.js';
import { StreamDialer } from '../../src/control/stream-dial.js';
import type { MembershipHandler } from '../../src/membership/messages.js';
import { Metrics } from '../../src/metrics/registry.js';
import { FrameReader, encodeFrame } from '../../src/transport/frames.js';
import { selfSignedCert, type TestCert } from '../helpers/tls.js';

const secret = new Secret('stream test cluster secret, long enough');
let cert: TestCert;
let server: ControlServer;
let base: string;
const metrics = new Metrics();
let accept: (from: string, socket: Duplex) => boolean = () => false;
const membership = {} as MembershipHandler;

before(async () => {
  cert = await selfSignedCert();
  server = new ControlServer({
    nodeId: 'srv',
    secret,
    tls: { cert: cert.cert, key: new Secret(cert.key) },
    host: '127.0.0.1',
    port: 0,
    metrics,
    streams: (from, socket) => accept(from, socket),
    providers: { health: () => ({ ok: true }), metricsText: () => '', status: () => ({}), membership },
  });
  base = `https://127.0.0.1:${(await server.start()).port}`;
});

after(async () => {
  await server.stop();
});

test('a signed upgrade from a known peer becomes a framed byte stream both ways', async () => {
  let serverSide: Duplex | undefined;
  const seen: string[] = [];
  accept = (from, socket) => {
    seen.push(from);
    serverSide = socket;
    // The server echoes every frame back.
    const r = new FrameReader();
    socket.on('data', (c: Buffer) => r.push(c, (f) => socket.write(encodeFrame(f))));
    return true;
  };
  const dialer = await StreamDialer.create({ nodeId: 'cli', secret, trust: cert.cert });
  const s = await dialer.dial(base, 'srv');
  const got = new Promise<string>((resolve) => {
    const r = new FrameReader();
    s.on('data', (c: Buffer) => r.push(c, (f) => resolve(f.toString())));
  });
  s.write(encodeFrame(Buffer.from('\x01hello')));
  assert.equal(await got, '\x01hello');
  assert.deepEqual(seen, ['cli']);
  s.destroy();
  serverSide?.destroy();
});

test('wrong cluster secret: 401, the acceptor never sees it', async () => {
  let called = false;
  accept = () => (called = true);
  const dialer = await StreamDialer.create({
    nodeId: 'cli',
    secret: new Secret('another secret entirely!!'),
    trust: cert.cert,
  });
  await assert.rejects(dialer.dial(base, 'srv'), /refused with 401/);
  assert.equal(called, false);
  assert.ok((await metrics.value('control_auth_failures_total', { reason: 'bad_signature' })) >= 1);
});

test('a refused peer gets 409; a stream addressed to another node is refused', async () => {
  accept = () => false;
  const dialer = await StreamDialer.create({ nodeId: 'cli', secret, trust: cert.cert });
  await assert.rejects(dialer.dial(base, 'srv'), /refused with 409/);
  accept = () => true;
  await assert.rejects(dialer.dial(base, 'other'), /refused with 401/);
});
