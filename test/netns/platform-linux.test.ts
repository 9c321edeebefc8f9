// The Linux platform (TUN on the native addon, `ip` NetConfig, node:dgram sockets) passes the same
// compliance suite as the memory twins, plus Linux-only checks. A process cannot switch its own network
// namespace, so this file runs in two modes: the outer run makes a fresh namespace with the lab and runs
// this same file again inside it (`ip netns exec`) with TUNMESH_PLATFORM_INNER=1, which registers the
// real checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LinuxTunFactory, type LinuxTun } from '../../src/platform/linux/tun.js';
import { IpNetConfig } from '../../src/platform/linux/netconfig.js';
import { NodeUdpFactory } from '../../src/platform/linux/udp.js';
import type { Datagram } from '../../src/platform/ports.js';
import { Lab } from '../helpers/netns.js';
import {
  buildIPv4Udp,
  buildIcmpEcho,
  eventually,
  parseIcmpEcho,
  parseIPv4Udp,
  tunCompliance,
  udpCompliance,
  type Settle,
  type TunFixture,
} from '../helpers/platform-compliance.js';

const inner = process.env.TUNMESH_PLATFORM_INNER === '1';

if (!inner) {
  test(
    'Linux platform: compliance and Linux checks pass inside a fresh network namespace',
    { timeout: 180_000 },
    async () => {
      const lab = await Lab.create('tp4-p-', { nodes: 1 });
      try {
        const node = lab.node('n1');
        const r = await lab.exec(
          'n1',
          process.execPath,
          ['--import', 'tsx', '--test', '--test-reporter=tap', fileURLToPath(import.meta.url)],
          {
            env: {
              TUNMESH_PLATFORM_INNER: '1',
              TUNMESH_LAB_IPV4: node.ipv4,
              TUNMESH_LAB_IPV6: node.ipv6,
              NODE_TEST_CONTEXT: undefined, // else the inner runner talks the outer runner's protocol
            },
            allowFailure: true,
            timeoutMs: 150_000,
          },
        );
        const passed = Number(/^# pass (\d+)/m.exec(r.stdout)?.[1] ?? 0);
        if (r.code !== 0 || !/^# fail 0$/m.test(r.stdout) || passed < 20) {
          assert.fail(`inner run failed (exit ${r.code}, ${passed} passed):\n${r.stdout}\n${r.stderr}`);
        }
      } finally {
        await lab.destroy();
      }
    },
  );
} else {
  registerInner();
}

function registerInner(): void {
  const labIpv4 = process.env.TUNMESH_LAB_IPV4!;
  const labIpv6 = process.env.TUNMESH_LAB_IPV6!;
  const realTime: Settle = { settle: () => new Promise((r) => setTimeout(r, 10)), maxSteps: 500 };
  const netconfig = new IpNetConfig();
  const tuns = new LinuxTunFactory();
  const hostAddr = '198.19.251.1';
  const peerAddr = '198.19.251.2';

  // Binds or rejects (a bare bind callback never fires on error, which would hang the test instead).
  const bindUdp = (s: dgram.Socket, port: number, address: string): Promise<void> =>
    new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => {
        s.off('error', reject);
        resolve();
      });
    });

  const deviceExists = (name: string): boolean => {
    try {
      execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  };

  async function linuxTunFixture(name = 'tm0'): Promise<TunFixture & { tun: LinuxTun }> {
    const tun = await tuns.open(name);
    await netconfig.addAddress(name, `${hostAddr}/24`);
    await netconfig.setUp(name);
    const senders = new Map<number, dgram.Socket>();
    const senderFor = async (port: number): Promise<dgram.Socket> => {
      let s = senders.get(port);
      if (!s) {
        s = dgram.createSocket('udp4');
        await bindUdp(s, port, hostAddr);
        s.on('error', () => {}); // ENETUNREACH once the device is gone is expected
        senders.set(port, s);
      }
      return s;
    };
    return {
      ...realTime,
      tun,
      name,
      hostAddr,
      peerAddr,
      hostSendUdp: async (payload, srcPort, dstPort) => {
        const s = await senderFor(srcPort);
        await new Promise<void>((r) => s.send(payload, dstPort, peerAddr, () => r()));
      },
      hostListenUdp: async (port) => {
        const s = dgram.createSocket('udp4');
        const received: Datagram[] = [];
        s.on('message', (data, rinfo) => received.push({ data, from: { host: rinfo.address, port: rinfo.port } }));
        await bindUdp(s, port, hostAddr);
        return { received, close: () => new Promise<void>((r) => s.close(() => r())) };
      },
      exists: async () => deviceExists(name),
      close: async () => {
        await Promise.all([...senders.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
      },
    };
  }

  tunCompliance('LinuxTun', () => linuxTunFixture());

  udpCompliance('NodeUdp', async () => {
    const factory = new NodeUdpFactory();
    return {
      ...realTime,
      a: { factory, ipv4: labIpv4, ipv6: labIpv6 },
      b: { factory, ipv4: labIpv4, ipv6: labIpv6 },
      foreignIpv4: '198.18.255.254',
      close: async () => {},
    };
  });

  test('LinuxTun: an ICMP echo request written into the device is answered by the kernel', async () => {
    const fx = await linuxTunFixture();
    try {
      const replies: ReturnType<typeof parseIcmpEcho>[] = [];
      fx.tun.onPackets((ps) => ps.forEach((p) => replies.push(parseIcmpEcho(p))));
      assert.equal(fx.tun.write(buildIcmpEcho(peerAddr, hostAddr, 8, 0x77, 1, Buffer.from('abc'))), true);
      await eventually(fx, () => replies.some((r) => r?.type === 0), 'echo reply');
      const reply = replies.find((r) => r?.type === 0)!;
      assert.deepEqual(reply, { src: hostAddr, dst: peerAddr, type: 0, id: 0x77, seq: 1 });
    } finally {
      await fx.tun.close();
      await fx.close();
    }
  });

  test('LinuxTun: a burst of 2000 datagrams is read in batches without loss', async () => {
    const fx = await linuxTunFixture();
    // The kernel queue in front of the reader holds 500 packets by default; a busy 2-core machine can
    // keep the reader thread off the CPU for that long. Make room so this checks the reader, not the CPU.
    execFileSync('ip', ['link', 'set', 'dev', fx.name, 'txqueuelen', '5000']);
    const s = dgram.createSocket('udp4');
    try {
      let batches = 0;
      let got = 0;
      fx.tun.onPackets((ps) => {
        batches++;
        got += ps.map(parseIPv4Udp).filter((u) => u?.dstPort === 5600).length;
      });
      await bindUdp(s, 0, hostAddr);
      for (let i = 0; i < 2000; i++) s.send(Buffer.alloc(200, i), 5600, peerAddr);
      await eventually(fx, () => got === 2000, '2000 packets');
      assert.ok(batches > 0 && batches <= 2000);
      assert.ok(fx.tun.stats().packetsRead >= 2000);
    } finally {
      s.close();
      await fx.tun.close();
      await fx.close();
    }
  });

  test('LinuxTunFactory: a busy or invalid name is TUN_SETUP_FAILED', async () => {
    const t = await tuns.open('tm1');
    try {
      await assert.rejects(tuns.open('tm1'), { code: 'TUN_SETUP_FAILED', message: /tm1.*busy/i });
      await assert.rejects(tuns.open('a-name-that-is-far-too-long'), { code: 'TUN_SETUP_FAILED' });
    } finally {
      await t.close();
    }
  });

  test('LinuxTun: a process with a running reader and traffic in flight exits by itself', () => {
    const script = `
      import { LinuxTunFactory } from './src/platform/linux/tun.ts';
      import { execFileSync } from 'node:child_process';
      const tun = await new LinuxTunFactory().open('tm7');
      execFileSync('ip', ['addr', 'add', '198.19.252.1/24', 'dev', 'tm7']);
      execFileSync('ip', ['link', 'set', 'tm7', 'up']);
      let n = 0;
      tun.onPackets((ps) => { n += ps.length; });
      // UDP to a closed port: the kernel answers each with ICMP into the TUN, so batches are queued at exit.
      const p = Buffer.from(process.argv.at(-1), 'hex');
      for (let i = 0; i < 50000; i++) tun.write(p);
      console.log('wrote');
    `;
    const packet = buildIPv4Udp('198.19.252.2', 1000, '198.19.252.1', 9, Buffer.alloc(20)).toString('hex');
    for (let run = 0; run < 2; run++) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, packet], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.signal, null, `killed (hung at exit?): ${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'wrote');
    }
    assert.equal(deviceExists('tm7'), false);
  });

  test('IpNetConfig: MTU, addresses and routes (IPv4 and IPv6), idempotent', async () => {
    const fx = await linuxTunFixture('tm2');
    try {
      await netconfig.setMtu('tm2', 1420);
      await netconfig.addAddress('tm2', `${hostAddr}/24`); // again: no error
      await netconfig.addAddress('tm2', 'fd00:19:251::1/64');
      await netconfig.addRoute('tm2', '198.19.252.0/24');
      await netconfig.addRoute('tm2', '198.19.252.0/24');
      await netconfig.addRoute('tm2', 'fd00:19:252::/64');
      const link = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', 'tm2'], { encoding: 'utf8' }));
      assert.equal(link[0].mtu, 1420);
      const addrs = execFileSync('ip', ['-br', 'addr', 'show', 'dev', 'tm2'], { encoding: 'utf8' });
      assert.match(addrs, /198\.19\.251\.1\/24/);
      assert.match(addrs, /fd00:19:251::1\/64/);
      const routes4 = execFileSync('ip', ['-4', 'route', 'show', 'dev', 'tm2'], { encoding: 'utf8' });
      const routes6 = execFileSync('ip', ['-6', 'route', 'show', 'dev', 'tm2'], { encoding: 'utf8' });
      assert.match(routes4, /^198\.19\.252\.0\/24/m);
      assert.match(routes6, /^fd00:19:252::\/64/m);
      await netconfig.delRoute('tm2', '198.19.252.0/24');
      await netconfig.delRoute('tm2', '198.19.252.0/24'); // already gone: fine
      await netconfig.delRoute('tm2', 'fd00:19:252::/64');
      assert.doesNotMatch(
        execFileSync('ip', ['-4', 'route', 'show', 'dev', 'tm2'], { encoding: 'utf8' }),
        /198\.19\.252/,
      );
    } finally {
      await fx.tun.close();
      await fx.close();
    }
  });

  test('IpNetConfig: a failing command is TUN_SETUP_FAILED naming the command and ip’s message', async () => {
    await assert.rejects(netconfig.addAddress('nosuchdev', '198.19.9.1/24'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'TUN_SETUP_FAILED');
      assert.match(err.message, /ip -4 addr replace 198\.19\.9\.1\/24 dev nosuchdev failed/);
      assert.match(err.message, /Cannot find device/);
      return true;
    });
    await assert.rejects(netconfig.setMtu('nosuchdev', 1400), { code: 'TUN_SETUP_FAILED' });
  });
}
