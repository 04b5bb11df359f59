import typescript from '@rollup/plugin-typescript'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import replace from '@rollup/plugin-replace'
import terser from '@rollup/plugin-terser'

// Type declarations come from `tsc -p tsconfig.build.json`; rollup only emits JavaScript.
const ts = () => typescript({ tsconfig: './tsconfig.json', declaration: false, noEmitOnError: true, include: ['protocol/**', 'server/**', 'sw/**', 'page/**'], exclude: ['**/*.test.ts', '**/testSupport.ts'] })

export default [
  {
    // Node: dependencies stay external and are resolved by Node at run time.
    input: { 'server/index': 'server/index.ts', 'protocol/index': 'protocol/index.ts' },
    output: { dir: 'dist', format: 'es', sourcemap: true, entryFileNames: '[name].js', chunkFileNames: 'shared/[name]-[hash].js' },
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
    plugins: [ts()],
  },
  {
    // Browser page module: self-contained, no bare specifiers left.
    input: 'page/index.ts',
    output: { file: 'dist/page/index.js', format: 'es', sourcemap: true },
    plugins: [nodeResolve({ browser: true }), ts()],
  },
  {
    // Service worker: one classic script. Workbox reads process.env.NODE_ENV, which no worker has.
    input: 'sw/index.ts',
    output: { file: 'dist/pixstore-sw.js', format: 'iife', sourcemap: true },
    plugins: [
      replace({ preventAssignment: true, values: { 'process.env.NODE_ENV': JSON.stringify('production') } }),
      nodeResolve({ browser: true }),
      ts(),
      terser(),
    ],
  },
]
