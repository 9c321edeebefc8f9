// Structured JSON logs. Keys that could carry secrets are redacted by pino before serialisation.
import { pino, type Logger } from 'pino';

export type { Logger };

export const redactPaths = [
  'secret',
  '*.secret',
  'privateKey',
  '*.privateKey',
  'presharedKey',
  '*.presharedKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers["x-tunmesh-auth"]',
];

export function createLogger(opts: { level?: string; name?: string; destination?: number } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.name ? { node: opts.name } : {},
      redact: { paths: redactPaths, censor: '<redacted>' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: opts.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
