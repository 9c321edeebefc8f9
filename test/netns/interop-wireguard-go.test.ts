// A tunmesh daemon and a stock wireguard-go peer configured with `wg setconf`: ping and TCP both ways,
// with the handshake initiated by each side — for each data-plane engine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab, waitFor, type LabProcess } from '../helpers/netns.js';
import { Mesh, runCliHost } from '../helpers/mesh.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';
import { which } from '../helpers/wg-netns.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';

const haveWg = which('wireguard-go') && which('wg');
const wgPort = 51821;

function interopSuite(engine: 'js' | 'native', prefix: string, skip: string | false): void {
  let lab: Lab;
  let mesh: Mesh;
  let wgKey: string;
  let wgPub: string;
  let wgGo: LabProcess | undefined;

  const wgNs = () => lab.node('n2').ns;
  const wgAddr4 = () => `198.19.${lab.subnetIndex}.2`;
  const wgAddr6 = () => `fd00:19:${lab.subnetIndex}::2`;

  async function startWireGuardGo(): Promise<void> {
    const ns = wgNs();
    wgGo = lab.spawn(ns, 'wireguard-go', ['wgtm0'], { env: { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' } });
    await waitFor(
      async () => (await lab.exec(ns, 'ip', ['link', 'show', 'wgtm0'], { allowFailure: true })).code === 0,
      {
        what: 'wireguard-go to create wgtm0',
      },
    );
    const tunmeshPub = (await mesh.status('n1')).node.publicKey;
    const conf = [
      '[Interface]',
      `PrivateKey = ${wgKey}`,
      `ListenPort = ${wgPort}`,
      '[Peer]',
      `PublicKey = ${tunmeshPub}`,
      `Endpoint = ${lab.node('n1').ipv4}:${mesh.udpPort}`,
      `AllowedIPs = ${mesh.overlay4('n1')}/32, ${mesh.overlay6('n1')}/128`,
      '',
    ].join('\n');
    const confFile = join(mesh.dir, 'wgtm0.conf');
    await writeFile(confFile, conf, { mode: 0o600 });
    await lab.exec(ns, 'wg', ['setconf', 'wgtm0', confFile]);
    await lab.exec(ns, 'ip', ['addr', 'add', `${wgAddr4()}/24`, 'dev', 'wgtm0']);
    await lab.exec(ns, 'ip', ['addr', 'add', `${wgAddr6()}/64`, 'dev', 'wgtm0', 'nodad']);
    await lab.exec(ns, 'ip', ['link', 'set', 'wgtm0', 'mtu', '1420', 'up']);
  }

  async function stopWireGuardGo(): Promise<void> {
    if (!wgGo) return;
    wgGo.kill('SIGTERM');
    await wgGo.waitExit(5000).catch(() => wgGo?.kill('SIGKILL'));
    wgGo = undefined;
  }

  before(async () => {
    if (skip) return;
    lab = await Lab.create(prefix, { nodes: 2 });
    wgKey = (await runCliHost(['keys', 'generate'])).trim();
    wgPub = (await lab.exec(lab.node('n1').ns, 'wg', ['pubkey'], { input: `${wgKey}\n` })).stdout.trim();
    mesh = await Mesh.create(lab, {
      // The stock peer is a static peer of n1; n2 runs only wireguard-go.
      patch: (node, c) => {
        if (node !== 'n1') return;
        c.wireguard!.staticPeers = [
          {
            name: 'stock',
            publicKey: wgPub,
            endpoint: `${lab.node('n2').ipv4}:${wgPort}`,
            allowedIps: [`${wgAddr4()}/32`, `${wgAddr6()}/128`],
          },
        ];
      },
    });
    mesh.start('n1', { TUNMESH_DATAPLANE__ENGINE: engine });
    await waitFor(async () => (await mesh.status('n1')).node.publicKey, { what: 'n1 to start' });
  });

  after(async () => {
    if (skip) return;
    await stopWireGuardGo();
    await mesh?.cleanup();
    await lab?.destroy();
  });

  test('tunmesh initiates: ping and TCP both ways with wireguard-go', { skip }, async () => {
    await startWireGuardGo();
    const n1 = lab.node('n1').ns;
    const v4 = await ping(lab, n1, wgAddr4(), { count: 3 });
    assert.equal(v4.received, 3, v4.output);
    const hs = await lab.exec(wgNs(), 'wg', ['show', 'wgtm0', 'latest-handshakes']);
    assert.match(hs.stdout, /\t[1-9]\d*\n/, 'wireguard-go recorded a handshake');
    const v6 = await ping(lab, n1, wgAddr6(), { count: 3 });
    assert.equal(v6.received, 3, v6.output);
    const there = await tcpTransfer(lab, n1, wgNs(), wgAddr4(), 16 * 1024 * 1024);
    assert.equal(there.receivedSha256, there.sentSha256);
    const back = await tcpTransfer(lab, wgNs(), n1, mesh.overlay4('n1'), 16 * 1024 * 1024);
    assert.equal(back.receivedSha256, back.sentSha256);
    const s = await mesh.status('n1');
    const stock = s.peers.find((p) => p.name === 'stock');
    assert.ok(stock?.lastHandshake && stock.rxBytes > 16e6 && stock.txBytes > 16e6, JSON.stringify(stock));
  });

  test(
    'wireguard-go initiates: a fresh stock peer handshakes first and traffic flows both ways',
    { skip },
    async () => {
      await stopWireGuardGo();
      const before = (await mesh.status('n1')).peers.find((p) => p.name === 'stock')!.lastHandshake;
      await startWireGuardGo();
      // The stock side sends first, so it initiates; tunmesh answers as responder.
      const v4 = await ping(lab, wgNs(), mesh.overlay4('n1'), { count: 3 });
      assert.equal(v4.received, 3, v4.output);
      const v6 = await ping(lab, wgNs(), mesh.overlay6('n1'), { count: 3 });
      assert.equal(v6.received, 3, v6.output);
      const after = (await mesh.status('n1')).peers.find((p) => p.name === 'stock')!.lastHandshake;
      assert.notEqual(after, before, 'a new handshake happened');
      const back = await tcpTransfer(lab, wgNs(), n1Ns(), mesh.overlay6('n1'), 16 * 1024 * 1024);
      assert.equal(back.receivedSha256, back.sentSha256);
      const there = await tcpTransfer(lab, n1Ns(), wgNs(), wgAddr6(), 16 * 1024 * 1024);
      assert.equal(there.receivedSha256, there.sentSha256);
    },
  );

  function n1Ns(): string {
    return lab.node('n1').ns;
  }
}

describe('engine js', () => interopSuite('js', 't2w-', !haveWg && 'wireguard-go/wg not installed'));
describe('engine native', () =>
  interopSuite(
    'native',
    't2wn-',
    !haveWg ? 'wireguard-go/wg not installed' : loadFastPath() === undefined && 'the native fast path is not built',
  ));
