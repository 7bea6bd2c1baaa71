#!/usr/bin/env node
// Writes the MobileNetV2 that the nsfwjs package bundles (MIT; ImageNet-initialised, fine-tuned
// by nsfwjs on its five image classes; 224×224 input in [0, 1], weights stored as uint8) as a
// plain tfjs layers-model folder: model.json + one weights shard, the layout tfjs-converter and
// `model.save` write. nsfwjs ships it as JavaScript modules (the model JSON and base64 shards),
// which is why this script exists; any other tfjs model folder is used as it is.
//
//   node scripts/mobilenet-from-nsfwjs.mjs OUT_DIR
//
// Then point a config at it: "vision": { "kind": "pretrained", "model": "/abs/OUT_DIR", "layer": "out_relu" }
// (out_relu: the last feature map, 7×7×1280 at 224 px).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/mobilenet-from-nsfwjs.mjs OUT_DIR');
  process.exit(2);
}
const require = createRequire(import.meta.url);
let modelDir;
try {
  modelDir = path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2'); // from dist/cjs/index.js
} catch {
  console.error('error: the nsfwjs package is not installed (it is a devDependency: npm ci, or npm install nsfwjs@4.4.0)');
  process.exit(1);
}
const json = require(path.join(modelDir, 'model.min.js'));
const [group] = json.weightsManifest;
const shards = group.paths.map((p) => Buffer.from(require(path.join(modelDir, `${p}.min.js`)), 'base64'));
const names = shards.map((_, i) => `group1-shard${i + 1}of${shards.length}.bin`);
fs.mkdirSync(out, { recursive: true });
shards.forEach((s, i) => fs.writeFileSync(path.join(out, names[i]), s));
const modelJson = {
  format: 'layers-model',
  generatedBy: 'nsfwjs 4.4.0 mobilenet_v2',
  convertedBy: 'vqa scripts/mobilenet-from-nsfwjs.mjs',
  ...json,
  weightsManifest: [{ ...group, paths: names }],
};
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(modelJson));
const bytes = shards.reduce((n, s) => n + s.length, 0);
console.log(`wrote ${out}: model.json and ${names.length} shard(s), ${(bytes / 2 ** 20).toFixed(1)} MiB of weights (${group.weights.length} tensors)`);
