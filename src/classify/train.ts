import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend/tf.ts';
import type { BackendInfo } from '../backend/select.ts';
import { openImageStoreWithProgress } from '../data/prepare.ts';
import type { ImageTable } from '../data/images.ts';
import { Rng } from '../util/rng.ts';
import { inference, training } from '../nn/eager_ops.ts';
import { decodeTensors, encodeTensors, writeFolderAtomically } from '../model/checkpoint.ts';
import { Adam } from '../train/adam.ts';
import { Progress } from '../util/progress.ts';
import { writeReport } from '../train/report.ts';
import { readJsonFile } from '../util/json_file.ts';
import { versions } from '../versions.ts';
import { parseClassifierConfig, type ClassifierConfig } from './config.ts';
import { asLoadedSplit, readImageFolder, type ImageFolderSplit } from './image_folder.ts';
import { ClassifierNet } from './net.ts';

export interface ClassifierEpoch {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valAccuracy: number;
  samplesPerSecond: number;
  seconds: number;
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

/** Trains an image classifier on DIR/train, scoring DIR/val after each epoch; writes RUN/model. */
export async function trainClassifier(o: {
  dataDir: string;
  outDir: string;
  config: ClassifierConfig;
  backend: BackendInfo;
  log: (l: string) => void;
}): Promise<{ net: ClassifierNet; history: ClassifierEpoch[]; classes: string[] }> {
  const train = readImageFolder(o.dataDir, 'train');
  const val = readImageFolder(o.dataDir, 'val', train.classes);
  const cfg = o.config;
  const net = new ClassifierNet(cfg, train.classes.length);
  o.log(
    `classifier: ${cfg.model.head} head, ${net.store.countTrainable().toLocaleString('en')} parameters, ${train.classes.length} classes, ${train.files.length} train / ${val.files.length} val images`,
  );
  const trainTable = await loadTable(o.dataDir, 'train', train, cfg.model.imageSize);
  const valTable = await loadTable(o.dataDir, 'val', val, cfg.model.imageSize);
  const adam = new Adam(net.store.trainable(), { betas: [0.9, 0.99], eps: 1e-9, clipNorm: 10 });
  const named = net.store.trainable();
  const nameOf = new Map([...named].map(([n, v]) => [v.name, n]));
  fs.mkdirSync(o.outDir, { recursive: true });
  const history: ClassifierEpoch[] = [];
  try {
    for (let epoch = 0; epoch < cfg.train.epochs; epoch++) {
      const order = new Rng(cfg.train.seed * 7919 + epoch).shuffle(train.labels.map((_, i) => i));
      const progress = new Progress(`epoch ${epoch + 1}/${cfg.train.epochs}`, order.length, 'images');
      const started = Date.now();
      let lossSum = 0;
      let correct = 0;
      for (let i = 0; i < order.length; i += cfg.train.batchSize) {
        const rows = order.slice(i, i + cfg.train.batchSize);
        const images = imagesTensor(trainTable, rows);
        const labels = tf.oneHot(
          tf.tensor1d(
            rows.map((r) => train.labels[r]!),
            'int32',
          ),
          train.classes.length,
        );
        let predicted: tf.Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const logits = net.forward(training, images) as tf.Tensor2D;
          predicted = tf.keep(tf.argMax(logits, 1));
          return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        }, [...named.values()]);
        const byName = Object.fromEntries(Object.entries(grads).map(([k, g]) => [nameOf.get(k)!, g]));
        const norm = adam.apply(byName, cfg.train.lr);
        const [l, p] = await Promise.all([value.data(), predicted!.data()]);
        tf.dispose([images, labels, value, norm, predicted!, ...Object.values(grads)]);
        lossSum += l[0]! * rows.length;
        rows.forEach((r, j) => (correct += p[j] === train.labels[r] ? 1 : 0));
        progress.update(Math.min(i + rows.length, order.length), `loss ${(lossSum / Math.min(i + rows.length, order.length)).toFixed(4)}`);
      }
      const seconds = (Date.now() - started) / 1000;
      const m: ClassifierEpoch = {
        epoch,
        loss: lossSum / order.length,
        trainAccuracy: (100 * correct) / order.length,
        valAccuracy: await classifierAccuracy(net, valTable, val.labels),
        samplesPerSecond: order.length / seconds,
        seconds,
      };
      history.push(m);
      o.log(`epoch ${epoch + 1}: loss ${m.loss.toFixed(4)}, train acc ${m.trainAccuracy.toFixed(2)}, val acc ${m.valAccuracy.toFixed(2)} (${seconds.toFixed(0)} s)`);
      fs.appendFileSync(path.join(o.outDir, 'metrics.jsonl'), `${JSON.stringify(m)}\n`);
      await saveClassifier(path.join(o.outDir, 'model'), net, train.classes, { valAccuracy: m.valAccuracy, epochs: epoch + 1, backend: o.backend.name });
      writeReport(
        path.join(o.outDir, 'report.html'),
        `${cfg.model.head} classifier`,
        history.map((h) => ({ ...h, lr: cfg.train.lr, val: { overall: h.valAccuracy, count: val.labels.length, perAnswerType: {}, perQuestionType: {}, perGroup: {} } })),
      );
    }
  } finally {
    adam.dispose();
  }
  return { net, history, classes: train.classes };
}

async function saveClassifier(dir: string, net: ClassifierNet, classes: string[], card: Record<string, unknown>): Promise<void> {
  const weights = await encodeTensors(net.store.entries());
  writeFolderAtomically(dir, {
    'classifier-config.json': `${JSON.stringify(net.cfg, null, 2)}\n`,
    'classes.json': JSON.stringify(classes),
    'weights.bin': weights.bin,
    'weights.json': weights.specs,
    'model-card.json': `${JSON.stringify({ kind: 'classifier', head: net.cfg.model.head, parameters: net.store.countTrainable(), created: new Date().toISOString(), versions: versions(), ...card }, null, 2)}\n`,
  });
}

/** The classifier model folder in `dirOrRun` (itself or its model/), if it holds one. */
export function classifierFolder(dirOrRun: string): string | undefined {
  return [dirOrRun, path.join(dirOrRun, 'model')].find((d) => fs.existsSync(path.join(d, 'classifier-config.json')));
}

export function loadClassifier(dirOrRun: string): { net: ClassifierNet; classes: string[] } {
  const dir = classifierFolder(dirOrRun);
  if (!dir) throw new Error(`${dirOrRun}: not a classifier model folder (no classifier-config.json)`);
  const cfgFile = path.join(dir, 'classifier-config.json');
  const cfg = parseClassifierConfig(readJsonFile(cfgFile), cfgFile);
  const classes = readJsonFile(path.join(dir, 'classes.json')) as string[];
  const net = new ClassifierNet(cfg, classes.length);
  const weights = decodeTensors(dir, 'weights');
  try {
    net.store.assign(weights, dir);
  } finally {
    tf.dispose(Object.values(weights));
  }
  return { net, classes };
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
