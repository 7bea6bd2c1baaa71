import fs from 'node:fs';
import path from 'node:path';
import { describeBackend, selectBackend, type BackendName } from '../backend/select.ts';
import { parseRunConfig } from '../config/config.ts';
import { exitOnSignals, startServer } from '../server/serve.ts';
import { train } from '../train/train.ts';
import { SYNTH_DEFAULTS, synthesize } from './synth.ts';
import { readJsonFile } from '../util/json_file.ts';
import { readModelInfo } from '../model/checkpoint.ts';

/** The bundled model, its data and its training config, relative to the package root. */
const BUNDLED = {
  model: 'models/clevr-lite',
  data: 'data/clevr-lite',
  run: 'runs/clevr-lite',
  config: 'models/clevr-lite.config.json',
};

/**
 * The other bundled models, served beside the first on the next ports: Sort-of-CLEVR on the
 * published scenes, and on randomised scenes and wordings (other backgrounds, renderers, words);
 * clevr-lite asked in many wordings and read 40 words long.
 */
const OTHER_MODELS = ['models/sort-of-clevr', 'models/sort-of-clevr-random', 'models/clevr-lite-words'];

export async function runDemo(root: string, port: number, backend: BackendName): Promise<void> {
  const modelDir = path.join(root, BUNDLED.model);
  if (!fs.existsSync(path.join(modelDir, 'config.json'))) {
    console.log(`no bundled model at ${modelDir}: generating data and training one (this takes a while on a CPU)`);
    const dataDir = path.join(root, BUNDLED.data);
    if (!fs.existsSync(path.join(dataDir, 'dataset.json'))) {
      // the scenes the bundled recipe was made and measured on (it does not yet learn the randomised ones: docs/experiments.md §14)
      await synthesize({ kind: 'clevr-lite', out: dataDir, ...SYNTH_DEFAULTS['clevr-lite'], seed: 1, questionsPerImage: 10, style: 'spec' });
    }
    const configFile = path.join(root, BUNDLED.config);
    const config = parseRunConfig(readJsonFile(configFile), configFile);
    const runDir = path.join(root, BUNDLED.run);
    const resume = fs.existsSync(path.join(runDir, 'checkpoint'));
    const info = await selectBackend(backend);
    console.error(describeBackend(info));
    const { model } = await train({ dataDir, outDir: runDir, config, backend: info, resume, log: (l) => console.log(l) });
    model.dispose();
    fs.cpSync(path.join(runDir, 'model'), modelDir, { recursive: true });
  }
  await serveSideBySide([modelDir, ...OTHER_MODELS.map((m) => path.join(root, m))], port, backend);
}

/**
 * Each model folder that exists on its own port from `port` up, each page offering a switch to
 * the others; SIGTERM or SIGINT drains them all.
 */
async function serveSideBySide(dirs: string[], port: number, backend: BackendName): Promise<void> {
  const present = dirs.filter((d) => fs.existsSync(path.join(d, 'config.json')));
  const pages = present.map((dir, i) => ({ dir, name: readModelInfo(dir).card.name, url: `http://127.0.0.1:${port + i}/` }));
  const running = await Promise.all(
    pages.map((page, i) =>
      startServer({
        modelDir: page.dir,
        port: port + i,
        host: '127.0.0.1',
        backend,
        workers: 1,
        maxBatch: 8,
        maxWaitMs: 5,
        http: { otherModels: pages.filter((p) => p !== page).map(({ name, url }) => ({ name, url })) },
      }),
    ),
  );
  exitOnSignals({ close: async (drainMs?: number) => void (await Promise.all(running.map((r) => r.close(drainMs)))) });
}
