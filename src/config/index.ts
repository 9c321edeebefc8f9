// Public surface of the config layer.
export {
  configSchema,
  derivedAdvertiseUrl,
  type Config,
  type ConfigInput,
  type LogLevel,
  type StaticPeerConfig,
} from './schema.js';
export { loadConfig, parseYaml, validateConfigData, configPathFromEnv, defaultConfigPath } from './load.js';
export {
  readSecrets,
  readPrivateKeyFile,
  secretFileWarnings,
  minClusterSecretLength,
  minOperatorTokenLength,
  type Secrets,
} from './secrets.js';
export { ConfigError, formatIssues, type ConfigIssue, type ConfigErrorCode } from './errors.js';
export { applyEnvOverrides, configPathEnv, envPrefix } from './env.js';
export { renderExample } from './example.js';
export { routePolicyWarnings } from './policy-warnings.js';
export { renderConfigDocs } from './docs.js';
export {
  parseCidr,
  parseHostPort,
  parseHttpsUrl,
  parseIp,
  formatHostPort,
  isUnspecified,
  loopbackPrefixes,
  type Cidr,
  type HostPort,
} from './net.js';
