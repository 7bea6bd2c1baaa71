import fs from 'node:fs';
import path from 'node:path';
import { selectBackend } from '../backend/select.ts';
import { parseRunConfig } from '../model/config.ts';
import { VqaModel } from '../model/vqa_model.ts';
import { createApp } from '../server/app.ts';
import { train } from '../train/train.ts';
import { synthesize } from './synth.ts';

/** The bundled model, its data and its training config, relative to the package root. */
export const BUNDLED = {
  model: 'models/clevr-lite',
  data: 'data/clevr-lite',
  run: 'runs/clevr-lite',
  config: 'models/clevr-lite.config.json',
};

export async function runDemo(root: string, port: number): Promise<void> {
  const modelDir = path.join(root, BUNDLED.model);
  if (!fs.existsSync(path.join(modelDir, 'config.json'))) {
    console.log(`no bundled model at ${modelDir}: generating data and training one (this takes a while on a CPU)`);
    const dataDir = path.join(root, BUNDLED.data);
    if (!fs.existsSync(path.join(dataDir, 'dataset.json'))) {
      await synthesize({ kind: 'clevr-lite', out: dataDir, train: 3000, val: 500, seed: 1, questionsPerImage: 10 });
    }
    const configFile = path.join(root, BUNDLED.config);
    const config = parseRunConfig(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
    const runDir = path.join(root, BUNDLED.run);
    const resume = fs.existsSync(path.join(runDir, 'checkpoint'));
    const { model } = await train({ dataDir, outDir: runDir, config, backend: await selectBackend('auto'), resume, log: (l) => console.log(l) });
    model.dispose();
    fs.cpSync(path.join(runDir, 'model'), modelDir, { recursive: true });
  }
  const { model, card } = VqaModel.load(modelDir);
  createApp(model, card).listen(port, '127.0.0.1', () => console.log(`serving ${card.name} on http://127.0.0.1:${port}/`));
}
