// One registry of stable error codes. Every error the daemon or CLI reports to a person carries one of
// these codes; docs list them from here.

export const errorCodes = {
  CONFIG_INVALID: 'the configuration breaks a rule of the schema',
  CONFIG_UNREADABLE: 'the configuration file (or a file it names) could not be read',
  AUTH_FAILED: 'a control request or response failed authentication',
  PEER_UNREACHABLE: 'a control request to another node failed',
  ADDRESS_CONFLICT: 'an overlay address is claimed by two nodes',
  TUN_SETUP_FAILED: 'the TUN device could not be created or configured',
  NATIVE_UNAVAILABLE: 'the native addon is not built or could not be loaded',
  SOCKET_BIND_FAILED: 'a UDP socket could not be bound to the configured address and port',
  PRIVILEGE_DROP_FAILED: 'the daemon could not drop to the configured uid/gid',
  API_BAD_REQUEST: 'a control API request was malformed',
  NOT_FOUND: 'no such resource',
  KEY_ROTATION_REFUSED: 'a live rotation of the node key was refused; the node keeps its running key',
  INTERNAL: 'an internal invariant failed',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class TunmeshError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TunmeshError';
    this.code = code;
    this.hint = options?.hint;
  }
}
