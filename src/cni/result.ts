// The ADD result: what the previous plugins of the chain reported (prevResult), with our TUN device, its
// addresses and routes appended. Results before 1.0.0 carry an IP `version` per address; 1.0.0 dropped it.
import type { CniConf, PrevResult } from './conf.js';

export interface CniResult {
  cniVersion: string;
  interfaces: Record<string, unknown>[];
  ips: Record<string, unknown>[];
  routes: Record<string, unknown>[];
  dns: Record<string, unknown>;
  [key: string]: unknown;
}

export function addResult(conf: CniConf, netns: string): CniResult {
  const prev: PrevResult = conf.prevResult ?? {};
  const interfaces: Record<string, unknown>[] = [...(prev.interfaces ?? [])];
  const index = interfaces.length;
  interfaces.push({ name: conf.ifName, sandbox: netns });
  const legacy = conf.cniVersion.startsWith('0.');
  const ips = [
    ...(prev.ips ?? []),
    ...conf.addresses.map((address) => ({
      ...(legacy ? { version: address.includes(':') ? '6' : '4' } : {}),
      address,
      interface: index,
    })),
  ];
  const routes = [...(prev.routes ?? []), ...conf.routes.map((dst) => ({ dst }))];
  return { ...prev, cniVersion: conf.cniVersion, interfaces, ips, routes, dns: prev.dns ?? {} };
}
