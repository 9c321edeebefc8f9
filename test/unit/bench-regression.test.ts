// R27's regression rule in the bench (scripts/bench/regression.mjs): a tunmesh figure more than 20 % worse
// than the stored baseline on the same machine kind is a regression; other machine kinds are not compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
// @ts-expect-error -- a plain .mjs script without type declarations
import { baselineFrom, compareWithBaseline } from '../../scripts/bench/regression.mjs';

interface Row {
  system: string;
  key: string;
  regressed: boolean;
}
type Compare = (b: unknown, r: unknown) => { comparable: boolean; rows: Row[] };

const machine = { cpu: 'AMD EPYC', vcpus: 2 };
const system = (name: string, tcp1: number, tcp4: number, cpu: number) => ({
  system: name,
  tcp1: { gbps: tcp1, vpn_cpu_s_per_gb: cpu },
  tcp4: { gbps: tcp4 },
});
const base = (baselineFrom as (r: unknown) => unknown)({
  stamp: 'b',
  machine,
  systems: [system('raw', 9, 9, 0), system('tunmesh-native', 4, 4, 3), system('wireguard-go', 0.5, 0.5, 20)],
});
const compare = compareWithBaseline as Compare;

test('bench regression: only tunmesh figures, each judged against 20 %', () => {
  const same = compare(base, { machine, systems: [system('tunmesh-native', 4 * 0.81, 4 * 1.3, 3 * 1.19)] });
  assert.equal(same.comparable, true);
  assert.deepEqual(
    same.rows.map((r) => [r.key, r.regressed]),
    [
      ['tcp1_gbps', false],
      ['tcp4_gbps', false],
      ['cpu_s_per_gb', false],
    ],
  );
  const worse = compare(base, { machine, systems: [system('tunmesh-native', 4 * 0.79, 4, 3 * 1.21)] });
  assert.deepEqual(
    worse.rows.filter((r) => r.regressed).map((r) => r.key),
    ['tcp1_gbps', 'cpu_s_per_gb'],
  );
});

test('bench regression: another machine kind is not compared; peers never are', () => {
  const other = compare(base, { machine: { cpu: 'Intel', vcpus: 2 }, systems: [system('tunmesh-native', 1, 1, 9)] });
  assert.equal(other.comparable, false);
  assert.equal(other.rows.length, 0);
  const peers = compare(base, { machine, systems: [system('wireguard-go', 0.1, 0.1, 90)] });
  assert.equal(peers.rows.length, 0);
});
