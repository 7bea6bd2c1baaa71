import path from 'node:path';
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
import { loadWordVectors } from '../language/word_vectors.ts';
import { loadPretrainedModels, probed, recordsOf, type PretrainedModels } from '../model/pretrained_encoders.ts';
import { openSplitInputs } from '../inputs/split_inputs.ts';
import type { ModelCard } from '../model/checkpoint.ts';
import { describeEncoders, stagesOn, type RunConfig, type TrainConfig } from '../config/config.ts';
import { VqaModel } from '../model/vqa_model.ts';
import { Adam, adamOptions, learningRate, type OptimizerSnapshot } from './adam.ts';
import { DataParallelRunner } from './data_parallel.ts';
import { LocalRunner, type MakeArrays, type StepRunner } from './runner.ts';
import { batchArrays, epochBatches, imageTensorBatches } from '../inputs/batches.ts';
import { degradeBatchImages } from '../inputs/degraded_images.ts';
import { ImageTable } from '../data/images.ts';
import { Progress } from '../util/progress.ts';
import { RunFolder } from './run_folder.ts';
import { runEpoch } from './epoch.ts';
import { versions } from '../versions.ts';

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
  const adam = new Adam(model.net.store.trainable(), adamOptions(t));
  if (optimizer) adam.restoreSnapshot(optimizer, 'checkpoint');
  return new LocalRunner(model, adam, makeArrays);
}

/** Where a run starts: a new model, or the model, optimizer and history of its last checkpoint. */
interface RunStart {
  model: VqaModel;
  pretrainedModels: PretrainedModels;
  optimizer?: OptimizerSnapshot;
  epochsDone: number;
  history: EpochMetrics[];
}

async function resumeRun(opts: TrainOptions, run: RunFolder): Promise<RunStart> {
  const { model, card } = VqaModel.load(run.checkpointDir);
  const pretrainedModels = await loadPretrainedModels(model.config.model, model.pretrained);
  // A resumed run takes its length and worker threads from the command line, all else from the checkpoint.
  model.config = { ...model.config, train: { ...model.config.train, epochs: opts.config.train.epochs, workers: opts.config.train.workers } };
  const { epochsDone, optimizer, history } = await run.resume<EpochMetrics>((dir) => model.save(dir, card));
  opts.log(`resuming ${opts.outDir} after epoch ${epochsDone}`);
  return { model, pretrainedModels, optimizer, epochsDone, history };
}

async function newRun(opts: TrainOptions, train: LoadedSplit): Promise<RunStart> {
  const pretrainedModels = await loadPretrainedModels(opts.config.model);
  const config = { ...opts.config, model: await probed(opts.config.model, pretrainedModels) };
  const questions = train.samples.map((s) => s.question);
  const lang = config.model.language;
  const table = lang.kind === 'transformer' && lang.wordVectors ? loadWordVectors(lang.wordVectors) : undefined;
  const tokenizer = pretrainedModels.text?.tokenizer ?? (table ? QuestionTokenizer.withWordVectors(questions, table.words) : QuestionTokenizer.build(questions));
  const answers = AnswerVocab.build(
    train.samples.map((s) => s.annotation!),
    config.train.answers,
  );
  return { model: new VqaModel(config, tokenizer.files, answers, recordsOf(pretrainedModels)), pretrainedModels, epochsDone: 0, history: [] };
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

/** Trains a model on a data set's train split, scoring the val split after every epoch. */
export async function train(opts: TrainOptions): Promise<{ model: VqaModel; history: EpochMetrics[] }> {
  const ds = loadDataset(opts.dataDir);
  const questionsOnly = loadSplit(ds, 'train', opts.subset);
  if (questionsOnly.samples.some((s) => !s.annotation)) throw new Error(`${opts.dataDir}: the train split needs annotations`);
  if (ds.manifest.splits.val) loadSplit(ds, 'val', opts.subset);

  const run = new RunFolder(opts.outDir);
  const repaired = run.open(opts.resume);
  if (repaired) opts.log(`warning: ${repaired}`);
  const { model, pretrainedModels, optimizer, epochsDone, history } = opts.resume ? await resumeRun(opts, run) : await newRun(opts, questionsOnly);
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

  const t = cfg.train;
  const pixels = t.degrade > 0 && trainImages instanceof ImageTable ? trainImages : undefined;
  if (t.degrade > 0 && !pixels) throw new Error(`train.degrade needs the training images' pixels; ${ds.dir} gave feature rows`);
  let epochNow = epochsDone; // the epoch whose batches makeArrays is reading, for the degradations' draws
  const makeArrays = (samples: Sample[]) => {
    const arrays = batchArrays(samples, trainImages, trainQuestions, model.answers);
    return pixels ? degradeBatchImages(arrays, samples, pixels, t.degrade, t.seed, epochNow) : arrays;
  };
  const runner = await startRunner(model, opts.backend, makeArrays, optimizer);
  try {
    for (let epoch = epochsDone; epoch < cfg.train.epochs; epoch++) {
      epochNow = epoch;
      const lr = learningRate(cfg.train, epoch);
      let batches = epochBatches(curriculumSamples(trainSplit.samples, cfg.train, epoch), cfg.train.batchSize, cfg.train.questionsPerImage, cfg.train.seed, epoch);
      if (cfg.train.maxStepsPerEpoch > 0) batches = batches.slice(0, cfg.train.maxStepsPerEpoch);
      const on = stagesOn(cfg, epoch); // validation and the saved model answer as this epoch trained
      model.net.setStagesOn(on);
      const step = async (samples: Sample[]) => {
        const { loss, predicted } = await runner.step(samples, lr, on);
        const answers = model.answers.answers;
        return {
          loss,
          scores: samples.map((s, i) =>
            vqaAccuracy(
              answers[predicted[i]!]!,
              s.annotation!.answers.map((a) => a.answer),
            ),
          ),
        };
      };
      const state = async () => {
        await runner.syncInto(model);
        return {
          weights: [...model.net.store.trainable()].map(([n, v]) => [n, v.dataSync()] as [string, ArrayLike<number>]),
          optimizer: Object.entries((await runner.optimizerState()).values),
        };
      };
      const metrics: EpochMetrics = { epoch, ...(await runEpoch(batches, lr, step, `epoch ${epoch + 1}/${cfg.train.epochs}`, 'q', state)) };
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
      run.appendMetrics(metrics);
      const card = modelCard(ds, trainSplit, val, model, opts, epoch + 1, metrics.val);
      await run.saveEpoch(epoch + 1, await runner.optimizerState(), model.net.store.trainable(), (dir, extra) => model.save(dir, card, extra));
      run.writeReport(
        card.name,
        history.map((m) => ({ ...m, val: m.val?.overall })),
      );
    }
  } finally {
    await runner.dispose();
  }
  const last = history.at(-1)?.val;
  if (last) opts.log(formatReport(last));
  for (const line of [...describeBad('train', trainBad), ...describeBad('val', valPrepared?.bad ?? [])]) opts.log(line);
  return { model, history };
}
