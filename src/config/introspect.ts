// Reads the config schema as a tree of documented settings. The example generator, the docs, the
// environment overrides and the file checks all walk this tree instead of listing settings themselves.
import { z, type ZodTypeAny } from 'zod';
import { metaOf, type FieldMeta } from './meta.js';
import { configSchema } from './schema.js';

export type BaseKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'array' | 'object';

export interface SettingInfo {
  readonly key: string;
  /** Dotted path; array elements appear as `[]`, e.g. `wireguard.staticPeers[].name`. */
  readonly path: string;
  readonly meta: FieldMeta;
  readonly required: boolean;
  readonly hasDefault: boolean;
  readonly defaultValue: unknown;
  readonly kind: BaseKind;
  /** Element kind for arrays. */
  readonly elementKind?: BaseKind;
  readonly enumValues?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Settings of an object, or of each element of an array of objects. */
  readonly children?: readonly SettingInfo[];
  readonly typeLabel: string;
}

interface Unwrapped {
  readonly inner: ZodTypeAny;
  readonly required: boolean;
  readonly hasDefault: boolean;
  readonly defaultValue: unknown;
}

function unwrap(schema: ZodTypeAny): Unwrapped {
  let s = schema;
  let required = true;
  let hasDefault = false;
  let defaultValue: unknown;
  for (;;) {
    if (s instanceof z.ZodDefault) {
      if (!hasDefault) defaultValue = (s._def.defaultValue as () => unknown)();
      hasDefault = true;
      required = false;
      s = s._def.innerType as ZodTypeAny;
    } else if (s instanceof z.ZodOptional) {
      required = false;
      s = s.unwrap() as ZodTypeAny;
    } else if (s instanceof z.ZodEffects) {
      s = s.innerType() as ZodTypeAny;
    } else return { inner: s, required, hasDefault, defaultValue };
  }
}

function kindOf(s: ZodTypeAny): BaseKind {
  if (s instanceof z.ZodObject) return 'object';
  if (s instanceof z.ZodArray) return 'array';
  if (s instanceof z.ZodEnum) return 'enum';
  if (s instanceof z.ZodBoolean) return 'boolean';
  if (s instanceof z.ZodNumber) return s.isInt ? 'integer' : 'number';
  return 'string';
}

function objectShape(s: ZodTypeAny): Record<string, ZodTypeAny> | undefined {
  const { inner } = unwrap(s);
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, ZodTypeAny>) : undefined;
}

function settingsOf(shape: Record<string, ZodTypeAny>, prefix: string): SettingInfo[] {
  return Object.entries(shape).map(([key, schema]) => describe(key, schema, prefix ? `${prefix}.${key}` : key));
}

function describe(key: string, schema: ZodTypeAny, path: string): SettingInfo {
  const meta = metaOf(schema);
  if (!meta) throw new Error(`config schema: ${path} has no description (wrap it in field())`);
  const { inner, required, hasDefault, defaultValue } = unwrap(schema);
  const kind = kindOf(inner);
  const base = { key, path, meta, required, hasDefault, defaultValue, kind };
  if (inner instanceof z.ZodObject) {
    return { ...base, children: settingsOf(inner.shape as Record<string, ZodTypeAny>, path), typeLabel: 'mapping' };
  }
  if (inner instanceof z.ZodArray) {
    const element = unwrap(inner.element as ZodTypeAny).inner;
    const elementKind = kindOf(element);
    const shape = objectShape(element);
    return {
      ...base,
      elementKind,
      ...(shape ? { children: settingsOf(shape, `${path}[]`) } : {}),
      ...(inner._def.minLength ? { min: inner._def.minLength.value } : {}),
      ...(inner._def.maxLength ? { max: inner._def.maxLength.value } : {}),
      typeLabel: meta.type ?? `list of ${elementKind}`,
    };
  }
  if (inner instanceof z.ZodEnum) {
    const enumValues = inner.options as string[];
    return { ...base, enumValues, typeLabel: meta.type ?? `one of ${enumValues.join(' | ')}` };
  }
  if (inner instanceof z.ZodNumber) {
    const min = inner.minValue ?? undefined;
    const max = inner.maxValue ?? undefined;
    const range = min !== undefined && max !== undefined ? ` ${min}..${max}` : '';
    return {
      ...base,
      ...(min !== undefined ? { min } : {}),
      ...(max !== undefined ? { max } : {}),
      typeLabel: meta.type ?? `${kind}${range}`,
    };
  }
  return { ...base, typeLabel: meta.type ?? kind };
}

/** The top-level sections of the config, each with its settings. */
export function configTree(): readonly SettingInfo[] {
  return settingsOf(configSchema.shape as Record<string, ZodTypeAny>, '');
}

/** Every setting, depth first (sections and array-of-object elements included). */
export function allSettings(tree: readonly SettingInfo[] = configTree()): SettingInfo[] {
  return tree.flatMap((s) => [s, ...allSettings(s.children ?? [])]);
}

/** Name of the environment variable that overrides a setting (not for settings inside lists). */
export function envName(path: string): string {
  return (
    'TUNMESH_' +
    path
      .split('.')
      .map((seg) => seg.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('__')
  );
}
