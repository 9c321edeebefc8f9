// The start the native fast-path tests' child scripts share (CommonJS, run inside a namespace with
// argv[1] the addon dir): the addon, node modules, `ip`, and an IPv4/UDP packet builder with checksums.
export const fastPathChildPrelude = `
const addon = require(process.argv[1]);
const dgram = require('node:dgram'), crypto = require('node:crypto'), fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const ip = (...a) => execFileSync('ip', a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const limits = { rejectAfterTimeMs: 180000, rejectAfterMessages: 9007199254740991 };
const sum = (b, acc = 0) => { for (let i = 0; i < b.length; i += 2) acc += (b[i] << 8) | (b[i + 1] ?? 0); return acc; };
const fold = (a) => { while (a > 0xffff) a = (a & 0xffff) + (a >>> 16); return a; };
function udp4(src, dst, sport, dport, payload) {
  const p = Buffer.alloc(28 + payload.length);
  p[0] = 0x45; p.writeUInt16BE(p.length, 2); p.writeUInt16BE(0x4000, 6); p[8] = 64; p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12); Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  p.writeUInt16BE(~fold(sum(p.subarray(0, 20))) & 0xffff, 10);
  p.writeUInt16BE(sport, 20); p.writeUInt16BE(dport, 22); p.writeUInt16BE(8 + payload.length, 24);
  payload.copy(p, 28);
  const pseudo = sum(p.subarray(12, 20)) + 17 + 8 + payload.length;
  p.writeUInt16BE(~fold(sum(p.subarray(20), pseudo)) & 0xffff || 0xffff, 26);
  return p;
}
`;
