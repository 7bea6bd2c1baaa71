import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend/tf.ts';
import type { BackendInfo } from '../backend/select.ts';
import { Rng } from '../util/rng.ts';
import { inference, training } from '../nn/eager_ops.ts';
import { decodeTensors, encodeTensors, writeFolderAtomically } from '../model/checkpoint.ts';
import { verifyChecksums } from '../model/checksums.ts';
import { Adam } from '../train/adam.ts';
import { runEpoch, type StepOutcome } from '../train/epoch.ts';
import type { EpochStats } from '../train/epoch_metrics.ts';
import { RunFolder } from '../train/run_folder.ts';
import { applyGradients, gradientsOf } from '../train/step.ts';
import { readJsonFile } from '../util/json_file.ts';
import { versions } from '../versions.ts';
import { augmentImages, type Augmentation } from './augment.ts';
import { epochLearningRate, parseClassifierConfig, type ClassifierConfig } from './config.ts';
import { openClassifierSplit, type ClassifierSplit } from './splits.ts';
import { backboneFile, loadBackbone, openBackboneSplit, savedBackboneShape, type LoadedBackbone } from './backbone.ts';
import { ClassifierNet } from './net.ts';

/** One line of a classifier run's metrics.jsonl. */
export interface ClassifierEpoch extends EpochStats {
  valAccuracy: number;
}

/** The rows' inputs as one batch: pixels [B, H, W, 3] (augmented when asked) or backbone features [B, N, C]. */
function inputTensor(split: ClassifierSplit, rows: number[], augment?: { a: Augmentation; rng: Rng }): tf.Tensor {
  const per = split.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(rows.length * per);
  rows.forEach((r, i) => split.write(r, values, i * per));
  if (augment) augmentImages(values, rows.length, split.shape[0]!, augment.a, augment.rng);
  return tf.tensor(values, [rows.length, ...split.shape]);
}

/** A split as the classifier reads it: pixels, or the backbone's features. */
function openSplit(dir: string, split: string, cfg: ClassifierConfig, backbone: LoadedBackbone | undefined, classes?: string[]): Promise<ClassifierSplit> {
  return backbone ? openBackboneSplit(dir, split, backbone, classes) : openClassifierSplit(dir, split, cfg.model.imageSize, classes);
}

/** Top-1 accuracy (%) of a classifier on a split. */
async function classifierAccuracy(net: ClassifierNet, split: ClassifierSplit, batchSize = net.cfg.train.batchSize): Promise<number> {
  const labels = split.labels;
  let correct = 0;
  for (let i = 0; i < labels.length; i += batchSize) {
    const rows = labels.slice(i, i + batchSize).map((_, j) => i + j);
    const pred = tf.tidy(() => tf.argMax(net.forward(inference, inputTensor(split, rows)), 1));
    const p = await pred.data();
    pred.dispose();
    rows.forEach((r, j) => (correct += p[j] === labels[r] ? 1 : 0));
  }
  return (100 * correct) / labels.length;
}

/**
 * Trains an image classifier on DIR/train, scoring DIR/val after each epoch, with the training
 * loop and run folder of VQA training: RUN/metrics.jsonl, RUN/checkpoint (with the optimizer, for
 * `resume`), RUN/model and RUN/report.html.
 */
export async function trainClassifier(o: {
  dataDir: string;
  outDir: string;
  config: ClassifierConfig;
  backend: BackendInfo;
  resume?: boolean;
  log: (l: string) => void;
}): Promise<{ net: ClassifierNet; history: ClassifierEpoch[]; classes: string[] }> {
  const run = new RunFolder(o.outDir);
  const repaired = run.open(Boolean(o.resume));
  if (repaired) o.log(`warning: ${repaired}`);
  const resumed = o.resume ? loadClassifier(run.checkpointDir) : undefined;
  // a resumed run takes its length from the command line, all else from the checkpoint
  const cfg = resumed ? { ...resumed.net.cfg, train: { ...resumed.net.cfg.train, epochs: o.config.train.epochs } } : o.config;
  const spec = cfg.model.backbone;
  const backbone = spec ? await loadBackbone(spec, resumed ? classifierFolder(run.checkpointDir) : undefined) : undefined;
  const train = await openSplit(o.dataDir, 'train', cfg, backbone, resumed?.classes);
  const val = await openSplit(o.dataDir, 'val', cfg, backbone, train.classes);
  const net = resumed?.net ?? new ClassifierNet(cfg, train.classes.length, backbone && { regions: backbone.grid[0] * backbone.grid[1], width: backbone.width });
  const adam = new Adam(net.store.trainable(), { betas: [0.9, 0.99], eps: 1e-9, clipNorm: 10 });
  try {
    const card = (epochs: number, valAccuracy: number) => ({ valAccuracy, epochs, backend: o.backend.name });
    const start = resumed
      ? await run.resume<ClassifierEpoch>((dir) => saveClassifier(dir, net, train.classes, card(resumed.card.epochs, resumed.card.valAccuracy), backbone))
      : undefined;
    if (start) {
      adam.restoreSnapshot(start.optimizer, run.checkpointDir);
      o.log(`resuming ${o.outDir} after epoch ${start.epochsDone}`);
    }
    const history: ClassifierEpoch[] = start?.history ?? [];
    o.log(
      `classifier: ${cfg.model.head} head, ${net.store.countTrainable().toLocaleString('en')} parameters, ${train.classes.length} classes, ${train.labels.length} train / ${val.labels.length} val images`,
    );
    const augment = cfg.train.augment;
    const augmenting = augment.shift > 0 || augment.flip || augment.erase > 0;
    let augmentRng = new Rng(0);
    let lr = cfg.train.lr;
    const step = async (rows: number[]): Promise<StepOutcome> => {
      const images = inputTensor(train, rows, augmenting ? { a: augment, rng: augmentRng } : undefined);
      const labels = tf.oneHot(
        tf.tensor1d(
          rows.map((r) => train.labels[r]!),
          'int32',
        ),
        train.classes.length,
      );
      try {
        const g = gradientsOf(net.store, () => {
          const logits = net.forward(training, images);
          const crossEntropy = tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
          const regularizer = net.regularizer();
          return { logits, loss: regularizer ? tf.add(crossEntropy, regularizer) : crossEntropy };
        });
        const { loss, predicted } = await applyGradients(adam, g, lr);
        return { loss, scores: rows.map((r, j) => (predicted[j] === train.labels[r] ? 1 : 0)) };
      } finally {
        tf.dispose([images, labels]);
      }
    };
    for (let epoch = start?.epochsDone ?? 0; epoch < cfg.train.epochs; epoch++) {
      const order = new Rng(cfg.train.seed * 7919 + epoch).shuffle(train.labels.map((_, i) => i));
      // seeded per epoch, so a resumed run draws the same augmentations as an uninterrupted one
      augmentRng = new Rng(cfg.train.seed * 104729 + epoch);
      lr = epochLearningRate(cfg.train, epoch);
      const batches = Array.from({ length: Math.ceil(order.length / cfg.train.batchSize) }, (_, b) => order.slice(b * cfg.train.batchSize, (b + 1) * cfg.train.batchSize));
      const state = async () => ({
        weights: [...net.store.trainable()].map(([n, v]) => [n, v.dataSync()] as [string, ArrayLike<number>]),
        optimizer: Object.entries((await adam.snapshot()).values),
      });
      const stats = await runEpoch(batches, lr, step, `epoch ${epoch + 1}/${cfg.train.epochs}`, 'images', state);
      const m: ClassifierEpoch = { epoch, ...stats, valAccuracy: await classifierAccuracy(net, val) };
      history.push(m);
      o.log(`epoch ${epoch + 1}: loss ${m.loss.toFixed(4)}, train acc ${m.trainAccuracy.toFixed(2)}, val acc ${m.valAccuracy.toFixed(2)} (${m.seconds.toFixed(0)} s)`);
      run.appendMetrics(m);
      await run.saveEpoch(epoch + 1, await adam.snapshot(), net.store.trainable(), (dir, extra) =>
        saveClassifier(dir, net, train.classes, card(epoch + 1, m.valAccuracy), backbone, extra),
      );
      run.writeReport(
        `${cfg.model.head} classifier`,
        history.map((h) => ({ ...h, val: h.valAccuracy })),
      );
    }
    return { net, history, classes: train.classes };
  } catch (err) {
    throw outOfMemoryHint(err as Error, cfg);
  } finally {
    adam.dispose();
  }
}

/**
 * The wasm backend's heap is at most 4 GiB, and running out shows as "memory access out of
 * bounds"; the full bilinear head is what gets there ([batch, C²] features, C² × classes weights).
 */
export function outOfMemoryHint(err: Error, cfg: ClassifierConfig): Error {
  if (!/memory access out of bounds/i.test(err.message)) return err;
  return new Error(
    `the backend ran out of memory (${err.message}) with the ${cfg.model.head} head at batch ${cfg.train.batchSize}: lower train.batchSize${cfg.model.head === 'bilinear' ? ", or use the lowrank or compact head (the bilinear head's features are channels² per image)" : ''}`,
  );
}

/** What a classifier's model-card.json says of its training. */
interface ClassifierCard {
  valAccuracy: number;
  epochs: number;
  backend: string;
}

async function saveClassifier(
  dir: string,
  net: ClassifierNet,
  classes: string[],
  card: ClassifierCard,
  backbone: LoadedBackbone | undefined,
  extra: Record<string, string | Uint8Array> = {},
): Promise<void> {
  const weights = await encodeTensors(net.store.entries());
  writeFolderAtomically(dir, {
    'classifier-config.json': `${JSON.stringify(net.cfg, null, 2)}\n`,
    'classes.json': JSON.stringify(classes),
    'weights.bin': weights.bin,
    'weights.json': weights.specs,
    'model-card.json': `${JSON.stringify({ kind: 'classifier', head: net.cfg.model.head, parameters: net.store.countTrainable(), created: new Date().toISOString(), versions: versions(), ...card }, null, 2)}\n`,
    ...(backbone ? backboneFile(backbone) : {}),
    ...extra,
  });
}

/** The classifier model folder in `dirOrRun` (itself or its model/), if it holds one. */
export function classifierFolder(dirOrRun: string): string | undefined {
  return [dirOrRun, path.join(dirOrRun, 'model')].find((d) => fs.existsSync(path.join(d, 'classifier-config.json')));
}

export function loadClassifier(dirOrRun: string): { net: ClassifierNet; classes: string[]; card: ClassifierCard } {
  const dir = classifierFolder(dirOrRun);
  if (!dir) throw new Error(`${dirOrRun}: not a classifier model folder (no classifier-config.json)`);
  verifyChecksums(dir);
  const cfgFile = path.join(dir, 'classifier-config.json');
  const cfg = parseClassifierConfig(readJsonFile(cfgFile), cfgFile);
  const classes = readJsonFile(path.join(dir, 'classes.json')) as string[];
  const card = readJsonFile(path.join(dir, 'model-card.json')) as ClassifierCard;
  const net = new ClassifierNet(cfg, classes.length, cfg.model.backbone ? savedBackboneShape(dir) : undefined);
  const weights = decodeTensors(dir, 'weights');
  try {
    net.store.assign(weights, dir);
  } finally {
    tf.dispose(Object.values(weights));
  }
  return { net, classes, card };
}

/** A saved classifier with its backbone loaded (checked against the one it was trained with), when it has one: what serving needs. */
export async function openClassifier(dirOrRun: string): Promise<ReturnType<typeof loadClassifier> & { backbone?: LoadedBackbone }> {
  const loaded = loadClassifier(dirOrRun);
  const spec = loaded.net.cfg.model.backbone;
  return spec ? { ...loaded, backbone: await loadBackbone(spec, classifierFolder(dirOrRun)) } : loaded;
}

export async function evalClassifier(modelDir: string, dataDir: string, split: string): Promise<{ accuracy: number; count: number }> {
  const { net, classes, backbone } = await openClassifier(modelDir);
  try {
    const s = await openSplit(dataDir, split, net.cfg, backbone, classes);
    return { accuracy: await classifierAccuracy(net, s), count: s.labels.length };
  } finally {
    net.dispose();
  }
}
