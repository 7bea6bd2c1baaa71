import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend/tf.ts';
import type { BackendInfo } from '../backend/select.ts';
import { openImageStoreWithProgress } from '../data/prepare.ts';
import type { ImageTable } from '../data/images.ts';
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
import { parseClassifierConfig, type ClassifierConfig } from './config.ts';
import { asLoadedSplit, readImageFolder, type ImageFolderSplit } from './image_folder.ts';
import { ClassifierNet } from './net.ts';

/** One line of a classifier run's metrics.jsonl. */
export interface ClassifierEpoch extends EpochStats {
  valAccuracy: number;
}

function imagesTensor(table: ImageTable, rows: number[]): tf.Tensor4D {
  const px = table.pixelsPerImage;
  const pixels = new Float32Array(rows.length * px);
  rows.forEach((r, i) => table.write(r, pixels, i * px));
  return tf.tensor4d(pixels, [rows.length, table.size, table.size, 3]);
}

async function loadTable(dir: string, name: string, split: ImageFolderSplit, size: number): Promise<ImageTable> {
  return (await openImageStoreWithProgress(asLoadedSplit(name, split), path.join(dir, '.vqa-cache'), size, false)).table;
}

/** Top-1 accuracy (%) of a classifier on a split. */
async function classifierAccuracy(net: ClassifierNet, table: ImageTable, labels: number[], batchSize = 128): Promise<number> {
  let correct = 0;
  for (let i = 0; i < labels.length; i += batchSize) {
    const rows = labels.slice(i, i + batchSize).map((_, j) => i + j);
    const pred = tf.tidy(() => tf.argMax(net.forward(inference, imagesTensor(table, rows)), 1));
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
  const train = readImageFolder(o.dataDir, 'train', resumed?.classes);
  const val = readImageFolder(o.dataDir, 'val', train.classes);
  // a resumed run takes its length from the command line, all else from the checkpoint
  const cfg = resumed ? { ...resumed.net.cfg, train: { ...resumed.net.cfg.train, epochs: o.config.train.epochs } } : o.config;
  const net = resumed?.net ?? new ClassifierNet(cfg, train.classes.length);
  const adam = new Adam(net.store.trainable(), { betas: [0.9, 0.99], eps: 1e-9, clipNorm: 10 });
  try {
    const card = (epochs: number, valAccuracy: number) => ({ valAccuracy, epochs, backend: o.backend.name });
    const start = resumed ? await run.resume<ClassifierEpoch>((dir) => saveClassifier(dir, net, train.classes, card(resumed.card.epochs, resumed.card.valAccuracy))) : undefined;
    if (start) {
      adam.restoreSnapshot(start.optimizer, run.checkpointDir);
      o.log(`resuming ${o.outDir} after epoch ${start.epochsDone}`);
    }
    const history: ClassifierEpoch[] = start?.history ?? [];
    o.log(
      `classifier: ${cfg.model.head} head, ${net.store.countTrainable().toLocaleString('en')} parameters, ${train.classes.length} classes, ${train.files.length} train / ${val.files.length} val images`,
    );
    const trainTable = await loadTable(o.dataDir, 'train', train, cfg.model.imageSize);
    const valTable = await loadTable(o.dataDir, 'val', val, cfg.model.imageSize);
    const step = async (rows: number[]): Promise<StepOutcome> => {
      const images = imagesTensor(trainTable, rows);
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
        const { loss, predicted } = await applyGradients(adam, g, cfg.train.lr);
        return { loss, scores: rows.map((r, j) => (predicted[j] === train.labels[r] ? 1 : 0)) };
      } finally {
        tf.dispose([images, labels]);
      }
    };
    for (let epoch = start?.epochsDone ?? 0; epoch < cfg.train.epochs; epoch++) {
      const order = new Rng(cfg.train.seed * 7919 + epoch).shuffle(train.labels.map((_, i) => i));
      const batches = Array.from({ length: Math.ceil(order.length / cfg.train.batchSize) }, (_, b) => order.slice(b * cfg.train.batchSize, (b + 1) * cfg.train.batchSize));
      const state = async () => ({
        weights: [...net.store.trainable()].map(([n, v]) => [n, v.dataSync()] as [string, ArrayLike<number>]),
        optimizer: Object.entries((await adam.snapshot()).values),
      });
      const stats = await runEpoch(batches, cfg.train.lr, step, `epoch ${epoch + 1}/${cfg.train.epochs}`, 'images', state);
      const m: ClassifierEpoch = { epoch, ...stats, valAccuracy: await classifierAccuracy(net, valTable, val.labels) };
      history.push(m);
      o.log(`epoch ${epoch + 1}: loss ${m.loss.toFixed(4)}, train acc ${m.trainAccuracy.toFixed(2)}, val acc ${m.valAccuracy.toFixed(2)} (${m.seconds.toFixed(0)} s)`);
      run.appendMetrics(m);
      await run.saveEpoch(epoch + 1, await adam.snapshot(), net.store.trainable(), (dir, extra) => saveClassifier(dir, net, train.classes, card(epoch + 1, m.valAccuracy), extra));
      run.writeReport(
        `${cfg.model.head} classifier`,
        history.map((h) => ({ ...h, val: h.valAccuracy })),
      );
    }
    return { net, history, classes: train.classes };
  } finally {
    adam.dispose();
  }
}

/** What a classifier's model-card.json says of its training. */
interface ClassifierCard {
  valAccuracy: number;
  epochs: number;
  backend: string;
}

async function saveClassifier(dir: string, net: ClassifierNet, classes: string[], card: ClassifierCard, extra: Record<string, string | Uint8Array> = {}): Promise<void> {
  const weights = await encodeTensors(net.store.entries());
  writeFolderAtomically(dir, {
    'classifier-config.json': `${JSON.stringify(net.cfg, null, 2)}\n`,
    'classes.json': JSON.stringify(classes),
    'weights.bin': weights.bin,
    'weights.json': weights.specs,
    'model-card.json': `${JSON.stringify({ kind: 'classifier', head: net.cfg.model.head, parameters: net.store.countTrainable(), created: new Date().toISOString(), versions: versions(), ...card }, null, 2)}\n`,
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
  const net = new ClassifierNet(cfg, classes.length);
  const weights = decodeTensors(dir, 'weights');
  try {
    net.store.assign(weights, dir);
  } finally {
    tf.dispose(Object.values(weights));
  }
  return { net, classes, card };
}

export async function evalClassifier(modelDir: string, dataDir: string, split: string): Promise<{ accuracy: number; count: number }> {
  const { net, classes } = loadClassifier(modelDir);
  try {
    const s = readImageFolder(dataDir, split, classes);
    const table = await loadTable(dataDir, split, s, net.cfg.model.imageSize);
    return { accuracy: await classifierAccuracy(net, table, s.labels), count: s.labels.length };
  } finally {
    net.dispose();
  }
}
