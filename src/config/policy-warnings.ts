// Advice `config check` and `tunmesh run` print about the route policy: not errors (a lab mesh may want
// any route from anyone), but a production mesh that uses subnet routes should say who may advertise them.
import type { ConfigIssue } from './errors.js';
import type { Config } from './schema.js';

export function routePolicyWarnings(config: Config): ConfigIssue[] {
  if (config.cluster.routePolicy !== undefined) return [];
  const used = config.node.routes.length > 0 ? 'node.routes' : config.tun.routes.length > 0 ? 'tun.routes' : undefined;
  if (used === undefined) return [];
  return [
    {
      path: 'cluster.routePolicy',
      rule:
        `is not set while ${used} is used: any member may then advertise any route that covers no member ` +
        'address; grant prefixes to the nodes that serve them (docs/ADDRESSING.md "Route policy")',
    },
  ];
}
