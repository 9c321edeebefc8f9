// Adjusts a config written by `tunmesh config init` for the benchmark: engine, TUN name and MTU, and
// optionally N fake static peers (random keys, no endpoint, one /32 each) to size the tables.
//   node patch-config.mjs <file.yaml> --engine native --mtu 1440 --tun tmbtma --fake-peers 100
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    engine: { type: 'string', default: 'native' },
    mtu: { type: 'string', default: '1420' },
    tun: { type: 'string' },
    'fake-peers': { type: 'string', default: '0' },
    // Transport methods (comma-separated), e.g. null or tls: both nodes list only these.
    methods: { type: 'string' },
  },
});
const file = positionals[0];
const config = parse(readFileSync(file, 'utf8'));
config.dataplane = { ...config.dataplane, engine: values.engine };
config.tun = { ...config.tun, mtu: Number(values.mtu), ...(values.tun ? { name: values.tun } : {}) };
if (values.methods) config.transport = { ...config.transport, methods: values.methods.split(',') };
const fake = Number(values['fake-peers']);
if (fake > 0) {
  config.wireguard ??= {};
  config.wireguard.staticPeers = Array.from({ length: fake }, (_, i) => ({
    name: `fake-${i}`,
    publicKey: randomBytes(32).toString('base64'),
    // 198.19.1.0 - 198.19.8.255: inside the nodes' /16, away from the nodes' own 198.19.250.x.
    allowedIps: [`198.19.${1 + Math.floor(i / 250)}.${1 + (i % 250)}/32`],
  }));
}
writeFileSync(file, stringify(config));
