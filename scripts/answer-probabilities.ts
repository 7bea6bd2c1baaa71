// Writes every answer probability of a model on a data set's val split, through tfjs and through
// onnxruntime, so that a change meant to keep the network's function can be checked against a
// copy taken before it: `node --import tsx scripts/answer-probabilities.ts MODEL DATA OUT.bin`
// (then the same with --compare OUT.bin, which prints the largest difference of each runtime).
import fs from 'node:fs';
import { selectBackend } from '../src/backend/select.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { batchArrays, inOrderBatches } from '../src/inputs/batches.ts';
import { openSplitInputs } from '../src/inputs/split_inputs.ts';
import { loadOnnxRuntime, OnnxPredictor } from '../src/infer/onnx_predictor.ts';
import { TfjsPredictor } from '../src/infer/predictor.ts';
import { loadPretrainedModels } from '../src/model/pretrained_encoders.ts';
import { VqaModel } from '../src/model/vqa_model.ts';

const [modelDir, dataDir, outFile, compare] = process.argv.slice(2);
if (!modelDir || !dataDir || !outFile) throw new Error('usage: answer-probabilities.ts MODEL DATA FILE [--compare]');
await selectBackend('wasm');
const { model } = VqaModel.load(modelDir);
const ds = loadDataset(dataDir);
const inputs = await openSplitInputs(model, await loadPretrainedModels(model.config.model, model.pretrained), ds, 'val', { skipBad: false });
const ort = await loadOnnxRuntime();
if (typeof ort === 'string') throw new Error(ort);
const predictors = { tfjs: new TfjsPredictor(model), onnx: await OnnxPredictor.create(ort, model, 2) };
const width = model.answers.size;
const column = new Map(model.answers.answers.map((a, i) => [a, i]));
const samples = inputs.split.samples;
const probabilities = { tfjs: new Float32Array(samples.length * width), onnx: new Float32Array(samples.length * width) };
let done = 0;
for (const batch of inOrderBatches(samples, 256)) {
  const arrays = batchArrays(batch, inputs.images, inputs.questions);
  for (const [name, predictor] of Object.entries(predictors) as [keyof typeof predictors, TfjsPredictor | OnnxPredictor][]) {
    const preds = await predictor.predict(arrays, width);
    preds.forEach((p, b) => {
      for (const { answer, score } of p.answers) probabilities[name][(done + b) * width + column.get(answer)!] = score;
    });
  }
  done += batch.length;
}
if (compare) {
  const before = new Float32Array(new Uint8Array(fs.readFileSync(outFile)).buffer);
  for (const [i, name] of (['tfjs', 'onnx'] as const).entries()) {
    let max = 0;
    let changedTop = 0;
    const offset = i * samples.length * width;
    for (let q = 0; q < samples.length; q++) {
      let [bestBefore, bestNow] = [0, 0];
      for (let a = 0; a < width; a++) {
        const [b, n] = [before[offset + q * width + a]!, probabilities[name][q * width + a]!];
        max = Math.max(max, Math.abs(b - n));
        if (b > before[offset + q * width + bestBefore]!) bestBefore = a;
        if (n > probabilities[name][q * width + bestNow]!) bestNow = a;
      }
      if (bestBefore !== bestNow) changedTop++;
    }
    console.log(`${name}: ${samples.length} questions × ${width} answers, largest probability difference ${max.toExponential(2)}, top answer changed on ${changedTop}`);
  }
} else {
  fs.writeFileSync(outFile, Buffer.concat([Buffer.from(probabilities.tfjs.buffer), Buffer.from(probabilities.onnx.buffer)]));
  console.log(`wrote ${outFile}: ${samples.length} questions × ${width} answers, two runtimes`);
}
model.dispose();
