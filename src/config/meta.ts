// Documentation attached to schema nodes. `field()` stores it beside the zod schema it describes, so the
// schema stays the one source for validation, the example config, env overrides and docs/CONFIG.md.
import type { ZodTypeAny } from 'zod';

export interface FieldMeta {
  /** One sentence: what the setting does. */
  readonly description: string;
  /** Further lines for the example and the docs (why, caveats). */
  readonly details?: readonly string[];
  /** Unit of a number, when its name does not already end in one (Ms, Sec). */
  readonly unit?: string;
  /** Type label shown to people, overriding the one derived from the schema (e.g. `CIDR`, `ip:port`). */
  readonly type?: string;
  /** Value used in the example for required settings and optional settings without a default. */
  readonly example?: unknown;
  /** A file path: resolved against the config file's directory and required to exist. */
  readonly file?: boolean;
}

const registry = new WeakMap<ZodTypeAny, FieldMeta>();

/** Attaches `meta` to `schema`; apply it last (outside `.default()`/`.optional()`). */
export function field<T extends ZodTypeAny>(schema: T, meta: FieldMeta): T {
  const described = schema.describe(meta.description) as T;
  registry.set(described, meta);
  return described;
}

export function metaOf(schema: ZodTypeAny): FieldMeta | undefined {
  return registry.get(schema);
}
