import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend/tf.ts';
import type { BackendInfo } from '../backend/select.ts';
import { AnswerVocab } from '../data/answers.ts';
import { loadDataset, type Dataset } from '../data/manifest.ts';
import { loadSplit, type LoadedSplit, type Sample } from '../data/split.ts';
import { describeBad } from '../data/prepare.ts';
import { formatReport, vqaAccuracy, type AccuracyReport } from '../eval/accuracy.ts';
import type { EpochMetrics } from './epoch_metrics.ts';
import { predictAnswers, scorePredictions } from '../eval/evaluate.ts';
import { QuestionTokenizer } from '../language/tokenizer.ts';
import { vocabularySize } from '../language/tokenizer_files.ts';
import { loadPretrainedModels, probed, recordsOf, type PretrainedModels } from '../model/pretrained_encoders.ts';
import { openSplitInputs } from '../inputs/split_inputs.ts';
import { decodeTensors, encodeTensors, recoverInterruptedWrite, type ModelCard } from '../model/checkpoint.ts';
import { describeEncoders, stagesOn, type RunConfig, type TrainConfig } from '../config/config.ts';
import { VqaModel } from '../model/vqa_model.ts';
import { Adam, learningRate, type OptimizerSnapshot } from './adam.ts';
import { DataParallelRunner } from './data_parallel.ts';
import { LocalRunner, type MakeArrays, type StepRunner } from './runner.ts';
import { batchArrays, epochBatches, imageTensorBatches } from '../inputs/batches.ts';
import { Progress } from '../util/progress.ts';
import { writeReport } from './report.ts';
import { versions } from '../versions.ts';
import { readJsonFile } from '../util/json_file.ts';

export interface TrainOptions {
  dataDir: string;
  outDir: string;
  config: RunConfig;
  backend: BackendInfo;
  resume: boolean;
  log: (line: string) => void;
  /** keep the first N images (by id) of each split and all their questions */
  subset?: number;
  /** skip unreadable images (listed at the end) instead of stopping */
  skipBad?: boolean;
}

interface TrainState {
  epochsDone: number;
}

function modelCard(ds: Dataset, train: LoadedSplit, val: LoadedSplit | undefined, model: VqaModel, opts: TrainOptions, epochs: number, accuracy?: AccuracyReport): ModelCard {
  return {
    name: `${ds.manifest.name}-${model.config.model.fusion.kind}${model.config.model.blind ? '-blind' : ''}`,
    created: new Date().toISOString(),
    data: {
      name: ds.manifest.name,
      dir: path.relative(process.cwd(), path.resolve(opts.dataDir)) || '.',
      generator: ds.manifest.generator,
      trainQuestions: train.samples.length,
      valQuestions: val?.samples.length ?? 0,
    },
    accuracy,
    epochs,
    parameters: model.net.store.countTrainable(),
    backend: `${opts.backend.name} (${opts.backend.device})`,
    versions: versions(),
  };
}

/** One thread, or `train.workers` data-parallel worker threads. */
async function startRunner(model: VqaModel, backend: BackendInfo, makeArrays: MakeArrays, optimizer?: OptimizerSnapshot): Promise<StepRunner> {
  const t = model.config.train;
  if (t.workers > 1) return DataParallelRunner.start(model, t.workers, backend.name, makeArrays, optimizer);
  const adam = new Adam(model.net.store.trainable(), { betas: t.betas, eps: t.adamEps, clipNorm: t.clipNorm });
  if (optimizer) adam.restoreSnapshot(optimizer, 'checkpoint');
  return new LocalRunner(model, adam, makeArrays);
}

async function encodeSnapshot(model: VqaModel, snapshot: OptimizerSnapshot) {
  const params = model.net.store.trainable();
  const tensors = Object.entries(snapshot.values).map(([k, v]) => [k, tf.tensor(v, params.get(k.slice(2))!.shape)] as [string, tf.Tensor]);
  try {
    return await encodeTensors(tensors);
  } finally {
    tf.dispose(tensors.map(([, t]) => t));
  }
}

/** Where a run starts: a new model, or the model, optimizer and history of its last checkpoint. */
interface RunStart {
  model: VqaModel;
  pretrainedModels: PretrainedModels;
  optimizer?: OptimizerSnapshot;
  epochsDone: number;
  history: EpochMetrics[];
}

async function resumeRun(opts: TrainOptions, checkpointDir: string, metricsFile: string): Promise<RunStart> {
  if (!fs.existsSync(checkpointDir)) throw new Error(`${opts.outDir}: nothing to resume (no checkpoint/ folder)`);
  const { model, card } = VqaModel.load(checkpointDir);
  const pretrainedModels = await loadPretrainedModels(model.config.model, model.pretrained);
  // A resumed run takes its length and worker threads from the command line, all else from the checkpoint.
  model.config = { ...model.config, train: { ...model.config.train, epochs: opts.config.train.epochs, workers: opts.config.train.workers } };
  const { epochsDone } = readJsonFile(path.join(checkpointDir, 'train-state.json')) as TrainState;
  const opt = decodeTensors(checkpointDir, 'optimizer');
  const values: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(opt)) values[k] = t.dataSync() as Float32Array;
  tf.dispose(Object.values(opt));
  const optimizer = { step: readJsonFile(path.join(checkpointDir, 'optimizer-step.json')) as number, values };
  // metrics.jsonl is written before the checkpoint: a kill in between leaves lines for epochs the
  // checkpoint does not hold, which are dropped here so that they are not written twice.
  const history: EpochMetrics[] = [];
  if (fs.existsSync(metricsFile)) {
    for (const line of fs.readFileSync(metricsFile, 'utf8').split('\n').filter(Boolean)) {
      const m = JSON.parse(line) as EpochMetrics;
      if (m.epoch < epochsDone && !history.some((h) => h.epoch === m.epoch)) history.push(m);
    }
  }
  fs.writeFileSync(metricsFile, history.map((m) => `${JSON.stringify(m)}\n`).join(''));
  // The model folder is written after the checkpoint: a kill in between leaves it an epoch behind.
  const modelDir = path.join(opts.outDir, 'model');
  const modelEpochs = fs.existsSync(path.join(modelDir, 'model-card.json')) ? (readJsonFile(path.join(modelDir, 'model-card.json')) as ModelCard).epochs : -1;
  if (modelEpochs !== card.epochs) await model.save(modelDir, card);
  opts.log(`resuming ${opts.outDir} after epoch ${epochsDone}`);
  return { model, pretrainedModels, optimizer, epochsDone, history };
}

async function newRun(opts: TrainOptions, train: LoadedSplit, metricsFile: string): Promise<RunStart> {
  const pretrainedModels = await loadPretrainedModels(opts.config.model);
  const config = { ...opts.config, model: await probed(opts.config.model, pretrainedModels) };
  const tokenizer = (pretrainedModels.text?.tokenizer ?? QuestionTokenizer.build(train.samples.map((s) => s.question))).files;
  const answers = AnswerVocab.build(
    train.samples.map((s) => s.annotation!),
    config.train.answers,
  );
  fs.writeFileSync(metricsFile, '');
  return { model: new VqaModel(config, tokenizer, answers, recordsOf(pretrainedModels)), pretrainedModels, epochsDone: 0, history: [] };
}

/** The questions an epoch trains on: during the curriculum's epochs, those of its question types only. */
function curriculumSamples(samples: Sample[], train: TrainConfig, epoch: number): Sample[] {
  const c = train.curriculum;
  if (!c || epoch >= c.epochs) return samples;
  const types = new Set(c.questionTypes);
  const kept = samples.filter((s) => types.has(s.annotation!.question_type));
  if (kept.length === 0) throw new Error(`train.curriculum.questionTypes: no training question is of type ${c.questionTypes.join(', ')}`);
  return kept;
}

/** One pass over the batches: loss and running accuracy, with a progress line. */
async function runEpoch(runner: StepRunner, model: VqaModel, batches: Sample[][], lr: number, stages: boolean, label: string): Promise<Omit<EpochMetrics, 'epoch' | 'val'>> {
  const total = batches.reduce((n, b) => n + b.length, 0);
  const progress = new Progress(label, total, 'q');
  const started = Date.now();
  let seen = 0;
  let lossSum = 0;
  let accSum = 0;
  for (const samples of batches) {
    const result = await runner.step(samples, lr, stages);
    if (!Number.isFinite(result.loss)) throw new Error(`loss became ${result.loss} in ${label}; the last checkpoint is kept`);
    samples.forEach((s, i) => {
      accSum += vqaAccuracy(
        model.answers.answers[result.predicted[i]!]!,
        s.annotation!.answers.map((a) => a.answer),
      );
    });
    lossSum += result.loss * samples.length;
    seen += samples.length;
    progress.update(seen, `loss ${(lossSum / seen).toFixed(4)} · acc ${((100 * accSum) / seen).toFixed(1)}% · lr ${lr.toExponential(1)}`);
  }
  const seconds = (Date.now() - started) / 1000;
  return { lr, loss: lossSum / seen, trainAccuracy: (100 * accSum) / seen, samplesPerSecond: seen / seconds, seconds };
}

/** The checkpoint (with optimizer state, for --resume) and the model folder, both written atomically. */
async function saveEpoch(model: VqaModel, runner: StepRunner, outDir: string, card: ModelCard, epochsDone: number): Promise<void> {
  const snapshot = await runner.optimizerState();
  const opt = await encodeSnapshot(model, snapshot);
  await model.save(path.join(outDir, 'checkpoint'), card, {
    'optimizer.bin': opt.bin,
    'optimizer.json': opt.specs,
    'optimizer-step.json': JSON.stringify(snapshot.step),
    'train-state.json': JSON.stringify({ epochsDone } satisfies TrainState),
  });
  await model.save(path.join(outDir, 'model'), card);
}

/** Trains a model on a data set's train split, scoring the val split after every epoch. */
export async function train(opts: TrainOptions): Promise<{ model: VqaModel; history: EpochMetrics[] }> {
  const ds = loadDataset(opts.dataDir);
  const questionsOnly = loadSplit(ds, 'train', opts.subset);
  if (questionsOnly.samples.some((s) => !s.annotation)) throw new Error(`${opts.dataDir}: the train split needs annotations`);
  if (ds.manifest.splits.val) loadSplit(ds, 'val', opts.subset);

  const checkpointDir = path.join(opts.outDir, 'checkpoint');
  recoverInterruptedWrite(checkpointDir);
  recoverInterruptedWrite(path.join(opts.outDir, 'model'));
  if (!opts.resume && fs.existsSync(checkpointDir)) {
    throw new Error(`${opts.outDir}: already holds a training run (use --resume to continue it, or another --out)`);
  }
  fs.mkdirSync(opts.outDir, { recursive: true });
  const metricsFile = path.join(opts.outDir, 'metrics.jsonl');
  const { model, pretrainedModels, optimizer, epochsDone, history } = opts.resume
    ? await resumeRun(opts, checkpointDir, metricsFile)
    : await newRun(opts, questionsOnly, metricsFile);
  const cfg = model.config;
  opts.log(
    `model: ${model.net.store.countTrainable().toLocaleString('en')} parameters, ${model.answers.size} answers, ${vocabularySize(model.tokenizer)} tokens; fusion ${cfg.model.fusion.kind}${cfg.model.blind ? ' (blind: question only)' : ''}`,
  );
  opts.log(`encoders: ${describeEncoders(cfg.model)}`);
  const prepare = { subset: opts.subset, skipBad: Boolean(opts.skipBad) };
  const { split: trainSplit, images: trainImages, questions: trainQuestions, bad: trainBad } = await openSplitInputs(model, pretrainedModels, ds, 'train', prepare);
  const valPrepared = ds.manifest.splits.val ? await openSplitInputs(model, pretrainedModels, ds, 'val', prepare) : undefined;
  const val = valPrepared?.split;
  opts.log(`data: ${trainSplit.samples.length} train questions on ${trainSplit.imageIds.length} images, ${val?.samples.length ?? 0} val questions`);

  const makeArrays = (samples: Sample[]) => batchArrays(samples, trainImages, trainQuestions, model.answers);
  const runner = await startRunner(model, opts.backend, makeArrays, optimizer);
  try {
    for (let epoch = epochsDone; epoch < cfg.train.epochs; epoch++) {
      const lr = learningRate(cfg.train.lr, epoch, cfg.train.warmupEpochs, cfg.train.decayEpochs, cfg.train.decayFactor);
      let batches = epochBatches(curriculumSamples(trainSplit.samples, cfg.train, epoch), cfg.train.batchSize, cfg.train.questionsPerImage, cfg.train.seed, epoch);
      if (cfg.train.maxStepsPerEpoch > 0) batches = batches.slice(0, cfg.train.maxStepsPerEpoch);
      const on = stagesOn(cfg, epoch); // validation and the saved model answer as this epoch trained
      model.net.setStagesOn(on);
      const metrics: EpochMetrics = { epoch, ...(await runEpoch(runner, model, batches, lr, on, `epoch ${epoch + 1}/${cfg.train.epochs}`)) };
      await runner.syncInto(model);
      if (cfg.train.batchNormRecalibration > 0) model.net.recalibrateBatchNorm(imageTensorBatches(batches.slice(0, cfg.train.batchNormRecalibration), trainImages));
      const timing = `(${metrics.seconds.toFixed(0)} s, ${metrics.samplesPerSecond.toFixed(1)} q/s)`;
      if (val && valPrepared) {
        const evalProgress = new Progress('validating', val.samples.length, 'q');
        const preds = await predictAnswers(model, val.samples, valPrepared, 128, (d) => evalProgress.update(d));
        metrics.val = scorePredictions(val.samples, preds, ds.manifest.questionGroups);
        opts.log(`epoch ${epoch + 1}: loss ${metrics.loss.toFixed(4)}, train acc ${metrics.trainAccuracy.toFixed(2)}, val acc ${metrics.val.overall.toFixed(2)} ${timing}`);
      } else {
        opts.log(`epoch ${epoch + 1}: loss ${metrics.loss.toFixed(4)}, train acc ${metrics.trainAccuracy.toFixed(2)} ${timing}`);
      }
      history.push(metrics);
      fs.appendFileSync(metricsFile, `${JSON.stringify(metrics)}\n`);
      const card = modelCard(ds, trainSplit, val, model, opts, epoch + 1, metrics.val);
      await saveEpoch(model, runner, opts.outDir, card, epoch + 1);
      writeReport(path.join(opts.outDir, 'report.html'), card.name, history);
    }
  } finally {
    await runner.dispose();
  }
  const last = history.at(-1)?.val;
  if (last) opts.log(formatReport(last));
  for (const line of [...describeBad('train', trainBad), ...describeBad('val', valPrepared?.bad ?? [])]) opts.log(line);
  return { model, history };
}
