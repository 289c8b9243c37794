// Babel side of hack/bench-jsx.sh: transforms JSX the way an in-browser
// canvas does with @babel/standalone (React automatic runtime, ES modules to
// CommonJS so imports become require() calls, like esbuild's IIFE output).
//
//   node bench-jsx-babel.mjs once FILE        # one transform, code on stdout
//   node bench-jsx-babel.mjs loop FILE N      # warm loop, prints the median ms
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const require = createRequire(process.env.BABEL_DIR + '/');
const Babel = require('@babel/standalone');

const options = {
  filename: 'component.jsx',
  presets: [['react', { runtime: 'automatic' }]],
  plugins: ['transform-modules-commonjs'],
  sourceType: 'module',
};

const [mode, file, n] = process.argv.slice(2);
const src = readFileSync(file, 'utf8');
if (mode === 'once') {
  process.stdout.write(Babel.transform(src, options).code + '\n');
} else if (mode === 'loop') {
  const iterations = Number(n) || 200;
  for (let i = 0; i < 20; i++) Babel.transform(src, options);
  const times = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    Babel.transform(src, options);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(times[Math.floor(times.length / 2)].toFixed(4) + '\n');
} else {
  console.error('usage: bench-jsx-babel.mjs once FILE | loop FILE N');
  process.exit(2);
}
