// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layering (DESIGN.md): a module may import only from the layers listed for it.
const layers = {
  base: [],
  wire: ['base'],
  crypto: ['base'],
  noise: ['base', 'wire', 'crypto'],
  metrics: ['base'],
  config: ['base', 'crypto'],
  platform: ['base', 'wire', 'metrics'],
  routing: ['base', 'wire'],
  dataplane: ['base', 'wire', 'crypto', 'noise', 'platform', 'routing', 'metrics'],
  membership: ['base', 'wire', 'crypto', 'metrics', 'routing'],
  transport: ['base', 'wire', 'crypto', 'metrics', 'noise', 'dataplane'],
  control: ['base', 'wire', 'crypto', 'membership', 'metrics', 'config', 'routing'],
  daemon: [
    'base',
    'wire',
    'crypto',
    'noise',
    'metrics',
    'config',
    'platform',
    'routing',
    'dataplane',
    'membership',
    'control',
    'transport',
  ],
  cli: ['base', 'crypto', 'config', 'control', 'daemon', 'metrics'],
  // The CNI plugin (bin/tunmesh-cni) is its own executable run by container runtimes, not part of the CLI.
  cni: ['base', 'wire', 'config', 'platform'],
};
const all = Object.keys(layers);
const layerRules = Object.entries(layers).map(([layer, allowed]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: all
          .filter((l) => l !== layer && !allowed.includes(l))
          .map((l) => ({
            group: [`**/${l}/*`, `**/${l}/**`],
            message: `layer ${layer} may not import ${l} (see DESIGN.md layering)`,
          })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/build/**', 'artifacts/**', 'web/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  ...layerRules,
);
