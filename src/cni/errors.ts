// CNI errors: the spec's well-known codes (0-99 are the spec's; 100+ the plugin's), printed on stdout as
// {cniVersion, code, msg, details} with a non-zero exit.

export const cniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** Ours: the device could not be created, configured or removed in the namespace. */
  interfaceFailure: 100,
  /** Ours: CHECK found the device missing or not as the conf says. */
  checkFailed: 101,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
    this.name = 'CniError';
  }

  toJson(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}
