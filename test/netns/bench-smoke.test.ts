// A short smoke run of the benchmark harness (scripts/bench.sh): raw veth and tunmesh native with 1 s
// iperf3 runs. Proves the harness sets up, measures, reports and cleans up; the figures themselves are
// not judged here (docs/BENCHMARKS.md has the real run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadFastPath } from '../../src/dataplane/native-addon.js';
import { which } from '../helpers/wg-netns.js';

const skip =
  (loadFastPath() === undefined && 'native addon not built (run npm install)') ||
  (!(which('iperf3') && which('jq')) && 'iperf3/jq not installed');

test(
  'npm run bench (smoke): raw and tunmesh native are measured and reported',
  { skip, timeout: 120_000 },
  async () => {
    const env = { ...process.env, TCP_TIME: '1', UDP_TIME: '1', QUIET_WAIT_S: '0' };
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'bash',
        ['scripts/bench.sh', '--systems', 'raw tunmesh-native', '--no-scaling', '--no-baseline'],
        { env, timeout: 110_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const file = /wrote (artifacts\/bench\/\S+\.json)/.exec(out)?.[1];
    assert.ok(file && existsSync(file), out);
    const report = JSON.parse(readFileSync(file, 'utf8')) as {
      systems: { system: string; error?: string; tcp1: { gbps: number; vpn_cpu_s_per_gb: number | null } }[];
    };
    const by = new Map(report.systems.map((s) => [s.system, s]));
    assert.ok(by.get('raw')!.tcp1.gbps > 0, JSON.stringify(by.get('raw')));
    const native = by.get('tunmesh-native')!;
    assert.equal(native.error, undefined);
    assert.ok(native.tcp1.gbps > 0 && native.tcp1.vpn_cpu_s_per_gb! > 0, JSON.stringify(native));
    assert.match(out, /\| tunmesh-native \| tunmesh .* \(native engine\) \|/);
    const ns = await new Promise<string>((resolve) => execFile('ip', ['netns', 'list'], (_e, o) => resolve(o)));
    assert.doesNotMatch(ns, /tmbench-/, 'namespaces removed');
  },
);
