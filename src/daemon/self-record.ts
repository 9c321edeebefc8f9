// What this node announces about itself: endpoints and API URL are derived from what it actually bound
// when the config does not name them, so `listen: 0.0.0.0:…` still advertises something reachable.
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/index.js';
import { formatHostPort, isUnspecified, parseHostPort } from '../config/index.js';
import type { NodeRecord } from '../membership/record.js';

/** Non-loopback addresses of this namespace's interfaces, except the mesh's own TUN. */
export function interfaceAddresses(exceptDevice: string): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === exceptDevice) continue;
    for (const a of addrs ?? []) {
      if (a.internal || (a.family === 'IPv6' && a.address.startsWith('fe80'))) continue;
      out.push(a.address);
    }
  }
  return out;
}

export function advertisedEndpoints(config: Config, udpPort: number, apiUrl: string): string[] {
  if (config.wireguard.advertise.length > 0) return [...config.wireguard.advertise];
  const listen = parseHostPort(config.wireguard.listen, { allowPortZero: true })!;
  if (!isUnspecified(listen.host)) return [formatHostPort({ host: listen.host, port: udpPort })];
  const apiHost = apiUrl ? new URL(apiUrl).hostname.replace(/^\[|\]$/g, '') : '';
  const hosts = apiHost && /^[0-9.]+$|:/.test(apiHost) ? [apiHost] : interfaceAddresses(config.tun.name);
  return hosts.map((host) => formatHostPort({ host, port: udpPort }));
}

export function advertisedApiUrl(config: Config, apiPort: number): string {
  if (config.control.advertiseUrl) return config.control.advertiseUrl;
  const listen = parseHostPort(config.control.listen, { allowPortZero: true })!;
  const host = isUnspecified(listen.host) ? (interfaceAddresses(config.tun.name)[0] ?? '127.0.0.1') : listen.host;
  return `https://${formatHostPort({ host, port: apiPort })}`;
}

export function selfRecord(
  config: Config,
  publicKey: string,
  epoch: number,
  endpoints: string[],
  apiUrl: string,
): NodeRecord {
  return {
    id: config.node.name,
    epoch,
    version: 0,
    publicKey,
    addresses: [...config.node.addresses],
    endpoints,
    apiUrl,
    methods: ['wireguard'],
    routes: [...config.node.routes],
  };
}
