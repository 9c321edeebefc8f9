// Two nodes over the real HTTPS transport on 127.0.0.1: join through a bootstrap URL, see each other,
// exchange record updates, and detect the other's death. Fast protocol timings; generous caps.
import { keyedAuth } from '../helpers/record-keys.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret } from '../../src/base/secret.js';
import { ControlClient } from '../../src/control/client.js';
import { OperatorAuth } from '../../src/control/operator-auth.js';
import { ControlServer } from '../../src/control/server.js';
import { HttpsTransport } from '../../src/control/transport.js';
import { Membership, type MembershipClock } from '../../src/membership/membership.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { selfSignedCert, type TestCert } from '../helpers/tls.js';

const realClock: MembershipClock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

const options = {
  probeIntervalMs: 100,
  failureTimeoutMs: 2_000,
  gossipFanout: 3,
  requestTimeoutMs: 400,
  bootstrapRetryMinMs: 50,
  bootstrapRetryMaxMs: 400,
};

const secret = new Secret('two-node-https-test-secret-0123456789');

const operatorToken = new Secret('operator-token-for-tests-0123456789abcdef');
const operatorAuth = new OperatorAuth({ token: operatorToken });

async function until(cond: () => boolean, capMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > capMs) throw new Error(`condition not met within ${capMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Node {
  membership: Membership;
  server: ControlServer;
  client: ControlClient;
  url: string;
  stop(): Promise<void>;
}

async function startNode(name: string, cert: TestCert, bootstrap: string[], index: number): Promise<Node> {
  const client = await ControlClient.create({
    nodeId: name,
    secret,
    trust: cert.cert,
    timeoutMs: options.requestTimeoutMs,
  });
  const holder = {} as { membership: Membership };
  const server = new ControlServer({
    nodeId: name,
    secret,
    tls: { cert: cert.cert, key: cert.key },
    host: '127.0.0.1',
    port: 0,
    operatorAuth: () => operatorAuth,
    providers: {
      health: () => ({ ok: true }),
      metricsText: () => '',
      status: () => ({ node: holder.membership.self(), peers: holder.membership.members() }),
      membership: {
        self: () => holder.membership.self(),
        handleJoin: (r, from) => holder.membership.handleJoin(r, from),
        handleGossip: (m, from) => holder.membership.handleGossip(m, from),
      },
    },
  });
  const { port } = await server.start();
  const url = `https://127.0.0.1:${port}/`;
  const self: NodeRecord = {
    id: name,
    epoch: Date.now(),
    version: 0,
    publicKey: Buffer.alloc(32, index).toString('base64'),
    addresses: [`198.19.0.${index}/16`],
    endpoints: [`198.18.0.${index}:51820`],
    apiUrl: url,
    methods: ['wireguard'],
    routes: [],
  };
  const membership = (holder.membership = new Membership({
    self,
    auth: keyedAuth(index),
    options,
    transport: new HttpsTransport(client),
    clock: realClock,
    bootstrap,
  }));
  membership.start();
  return {
    membership,
    server,
    client,
    url,
    async stop() {
      await membership.stop();
      await server.stop();
      client.close();
    },
  };
}

test('two nodes over HTTPS: join, see each other, spread a record change, detect a death', async () => {
  const cert = await selfSignedCert();
  const a = await startNode('node-a', cert, [], 1);
  // b's bootstrap list also names a dead URL; it must still get in.
  const b = await startNode('node-b', cert, ['https://127.0.0.1:1/', a.url], 2);
  try {
    const downs: string[] = [];
    a.membership.on('down', (id, reason) => downs.push(`${id}:${reason}`));
    await until(
      () => a.membership.peers().some((p) => p.id === 'node-b') && b.membership.peers().some((p) => p.id === 'node-a'),
    );
    assert.equal(b.membership.health().joined, true);
    assert.equal(a.membership.peers().find((p) => p.id === 'node-b')!.apiUrl, b.url);

    // A change of b's record reaches a.
    b.membership.updateSelf({ endpoints: ['198.18.0.22:51820'] });
    await until(() => a.membership.peers().find((p) => p.id === 'node-b')?.endpoints[0] === '198.18.0.22:51820');

    // The CLI view: status signed as "cli", with the operator token's proof.
    const cli = await ControlClient.create({ nodeId: 'cli', secret, trust: cert.cert, timeoutMs: 2000 });
    const status = (await cli.status(a.url, 'node-a', operatorToken)) as {
      node: NodeRecord;
      peers: { id: string; state: string }[];
    };
    cli.close();
    assert.equal(status.node.id, 'node-a');
    // On a loaded machine a short probe period can briefly suspect b; the view must still list it as live.
    assert.deepEqual(
      status.peers.map((p) => p.id),
      ['node-b'],
    );
    assert.ok(['alive', 'suspect'].includes(status.peers[0]!.state), status.peers[0]!.state);

    // b dies without a word (server gone): a declares it dead.
    await b.stop();
    await until(() => downs.includes('node-b:failed'));
    assert.equal(a.membership.members().find((m) => m.id === 'node-b')?.state, 'dead');
  } finally {
    await a.stop();
    await b.stop();
  }
});
