// `npm run bench -- torch-parity`: the PyTorch reference (bench/torch_reference.py) against the
// network on the same weights and batch: the bundled models, and a model of random weights with an
// MFH fusion and the attention norm per region. Prints the largest logit difference of each.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf } from '../src/backend/tf.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { batchTensors, type BatchArrays } from '../src/inputs/batches.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { inference } from '../src/nn/eager_ops.ts';
import { Rng } from '../src/util/rng.ts';

/** float32 logits of models of this size agree to about this much (float32 sums in two libraries) */
export const LOGIT_TOLERANCE = 1e-3;

type NamedArray = [name: string, values: Float32Array | Int32Array, shape: number[]];

/** BASE.bin and BASE.json ([{name, shape, dtype, offset}]), which torch_reference.py reads. */
function writeArrays(dir: string, base: string, arrays: NamedArray[]): void {
  let offset = 0;
  const index = arrays.map(([name, values, shape]) => {
    const entry = { name, shape, dtype: values instanceof Int32Array ? 'int32' : 'float32', offset };
    offset += values.byteLength;
    return entry;
  });
  fs.writeFileSync(path.join(dir, `${base}.json`), JSON.stringify(index));
  fs.writeFileSync(path.join(dir, `${base}.bin`), Buffer.concat(arrays.map(([, v]) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))));
}

/** Eight questions on three images of random pixels, with 3 to all tokens real. */
function randomBatch(model: VqaModel, seed: number): BatchArrays {
  const cfg = model.config.model;
  const rng = new Rng(seed);
  const [batch, images, t, s] = [8, 3, cfg.language.maxTokens, cfg.imageSize];
  const mask = new Float32Array(batch * t);
  for (let b = 0; b < batch; b++) mask.fill(1, b * t, b * t + Math.min(t, 3 + b * 2));
  const vocab = model.net.store.get('language.embedding').shape[0]!;
  return {
    batch,
    images,
    imageShape: [s, s, 3],
    imageValues: Float32Array.from({ length: images * s * s * 3 }, () => rng.next() * 4 - 2),
    imageIndex: Int32Array.from({ length: batch }, (_, b) => b % images),
    maxTokens: t,
    textWidth: 0,
    text: Int32Array.from(mask, (m) => (m ? rng.int(1, vocab) : 0)),
    mask,
    answers: 0,
  };
}

/** The largest logit difference between the network and the PyTorch reference on one model. */
function compare(python: string, script: string, model: VqaModel): Record<string, number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqa-torch-parity-'));
  try {
    const arrays = randomBatch(model, 7);
    const { inputs } = batchTensors(arrays);
    const logits = tf.tidy(() => model.net.forward(inference, inputs).logits);
    writeArrays(
      dir,
      'weights',
      model.net.store.entries().map(([name, v]) => [name, v.dataSync() as Float32Array, v.shape]),
    );
    writeArrays(dir, 'batch', [
      ['images', arrays.imageValues, [arrays.images, ...arrays.imageShape]],
      ['image_index', arrays.imageIndex, [arrays.batch]],
      ['tokens', arrays.text as Int32Array, [arrays.batch, arrays.maxTokens]],
      ['mask', arrays.mask, [arrays.batch, arrays.maxTokens]],
      ['logits', logits.dataSync() as Float32Array, logits.shape],
    ]);
    tf.dispose([logits, ...Object.values(inputs)]);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(model.config));
    const r = spawnSync(python, [script, '--config', path.join(dir, 'config.json'), '--parity', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every parameter drawn at random (std 0.3), batch-norm variances in [0.5, 1.5]. */
function randomized(model: VqaModel): VqaModel {
  model.net.store.entries().forEach(([name, v], i) => {
    if (name === 'stages.on') return;
    tf.tidy(() => v.assign(name.endsWith('running_var') ? tf.randomUniform(v.shape, 0.5, 1.5, 'float32', i) : tf.randomNormal(v.shape, 0, 0.3, 'float32', i)));
  });
  return model;
}

export function torchParity(python: string, script: string, root: string): boolean {
  const check = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (check.error || check.status !== 0) {
    console.log(`torch parity: skipped: ${python} has no torch (apt-get install python3-torch)`);
    return true;
  }
  const models: [string, () => VqaModel][] = [
    ['models/sort-of-clevr (bundled weights)', () => VqaModel.load(path.join(root, 'models', 'sort-of-clevr')).model],
    ['models/clevr-lite (bundled weights, every module)', () => VqaModel.load(path.join(root, 'models', 'clevr-lite')).model],
    [
      'MFH fusion, attention norm per region, random weights',
      () => {
        const cfg = parseRunConfig(
          {
            model: {
              imageSize: 24,
              d: 16,
              vision: { channels: [8, 8], strides: [2, 1] },
              language: { maxTokens: 9, layers: 1, heads: 2 },
              attention: { hidden: 12, k: 3, o: 8 },
              fusion: { kind: 'mfh', k: 3, o: 10 },
            },
          },
          'torch parity',
        );
        return randomized(new VqaModel(cfg, QuestionTokenizer.build(['what colour is the big circle left of the cube']).files, new AnswerVocab(['a', 'b', 'c', 'd', 'e'])));
      },
    ],
  ];
  let ok = true;
  for (const [name, make] of models) {
    const model = make();
    try {
      const r = compare(python, script, model);
      const pass = r.max_abs_logit_diff! <= LOGIT_TOLERANCE;
      ok &&= pass;
      console.log(
        `${pass ? 'ok  ' : 'FAIL'} ${name}: ${r.questions} questions, largest |logit difference| ${r.max_abs_logit_diff!.toExponential(2)} (largest |logit| ${r.max_abs_logit!.toFixed(4)}; tolerance ${LOGIT_TOLERANCE})`,
      );
    } finally {
      model.dispose();
    }
  }
  return ok;
}
