import typescript from '@rollup/plugin-typescript'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import replace from '@rollup/plugin-replace'
import terser from '@rollup/plugin-terser'
import { dts } from 'rollup-plugin-dts'

// JavaScript only here; each public entry's types are bundled into one .d.ts below.
const ts = () => typescript({ tsconfig: './tsconfig.json', declaration: false, noEmitOnError: true, include: ['protocol/**', 'server/**', 'sw/**', 'page/**', 'cli/**'], exclude: ['**/*.test.ts'] })
const isBare = (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0')

/**
 * One self-contained declaration file per entry: no relative imports left, so
 * it resolves the same under moduleResolution nodenext, node16 and bundler,
 * and no internal module's declarations get published.
 */
const declarations = (entry, file) => ({
  input: entry,
  output: { file, format: 'es' },
  external: isBare,
  plugins: [dts({ tsconfig: './tsconfig.json' })],
})

export default [
  {
    // Node: dependencies stay external and are resolved by Node at run time.
    input: { 'server/index': 'server/index.ts', 'protocol/index': 'protocol/index.ts', 'cli/index': 'cli/index.ts' },
    output: {
      dir: 'dist',
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: 'shared/[name]-[hash].js',
      banner: (chunk) => (chunk.name === 'cli/index' ? '#!/usr/bin/env node' : ''),
    },
    external: isBare,
    plugins: [ts()],
  },
  {
    // Browser page module: self-contained, no bare specifiers left.
    input: 'page/index.ts',
    output: { file: 'dist/page/index.js', format: 'es' },
    plugins: [nodeResolve({ browser: true }), ts()],
  },
  {
    // Service worker: one classic script. Workbox reads process.env.NODE_ENV, which no worker has.
    input: 'sw/index.ts',
    output: { file: 'dist/pixstore-sw.js', format: 'iife' },
    plugins: [
      replace({ preventAssignment: true, values: { 'process.env.NODE_ENV': JSON.stringify('production') } }),
      nodeResolve({ browser: true }),
      ts(),
      terser(),
    ],
  },
  declarations('server/index.ts', 'dist/server/index.d.ts'),
  declarations('protocol/index.ts', 'dist/protocol/index.d.ts'),
  declarations('page/index.ts', 'dist/page/index.d.ts'),
]
