import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { FUSION_KINDS, type FusionKind } from '../fusion/kinds.ts';
import { ablate, formatAblation } from '../ablate/ablate.ts';
import { parseClassifierConfig, POOLING_HEADS } from '../classify/config.ts';
import { evalClassifier, trainClassifier } from '../classify/train.ts';
import { defaultEvalSplit } from '../classify/splits.ts';
import { writeFineGrained } from '../data/synth/fine_grained.ts';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, importFashionMnist } from '../data/fashion_mnist.ts';
import { Progress } from '../util/progress.ts';
import { BACKEND_NAMES, describeBackend, selectBackend, type BackendName } from '../backend/select.ts';
import { checkDataset } from '../data/check.ts';
import { ALLOW_OUTSIDE_PATHS, loadDataset } from '../data/manifest.ts';
import { formatReport } from '../eval/accuracy.ts';
import { predictAnswers, scorePredictions } from '../eval/evaluate.ts';
import { scoreResultsFile } from '../eval/score_files.ts';
import { answerBatch } from '../infer/answer.ts';
import { RUNTIME_NAMES } from '../infer/predictor.ts';
import { createPredictor } from '../infer/runtime.ts';
import { vqaModelToOnnx } from '../export/export_model.ts';
import { ConfigFieldError, parseRunConfig } from '../config/config.ts';
import { VqaModel } from '../model/vqa_model.ts';
import { exitOnSignals, startServer } from '../server/serve.ts';
import { modelLoaderFor } from './served_models.ts';
import { applyOverrides, type RawConfig } from './overrides.ts';
import { train } from '../train/train.ts';
import { calibrateModel } from '../train/calibrate.ts';
import { flagRate, formatRobustness, scoreVariant, VARIANTS, type GeneratorSpec } from '../eval/robustness.ts';
import { recalibrateModel } from '../train/recalibrate.ts';
import { cacheDirOf, describeBad, progressReporter } from '../data/prepare.ts';
import { loadSplit } from '../data/split.ts';
import { openFeatureStore } from '../data/feature_store.ts';
import { BadInputError, InputPreparer } from '../infer/prepare.ts';
import { openSplitInputs } from '../inputs/split_inputs.ts';
import { loadPretrainedModels, probed } from '../model/pretrained_encoders.ts';
import { runDemo } from './demo.ts';
import { SYNTH_DEFAULTS, synthesize, type SynthKind } from './synth.ts';
import { readJsonFile } from '../util/json_file.ts';
import { versions } from '../versions.ts';

function int(name: string, min = 0) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

const backendOption = () => new Option('--backend <name>', 'compute backend').choices(BACKEND_NAMES).default('auto');
const runtimeOption = () =>
  new Option(
    '--runtime <name>',
    'where answers are computed: onnxruntime (an exported copy of the model, on the CPU), tfjs (on --backend), or auto: onnx when onnxruntime-node loads',
  )
    .choices(RUNTIME_NAMES)
    .default('auto');
const pretrainedDirOption = () =>
  new Option('--pretrained-dir <dir>', 'folder that holds pretrained model folders such as Xenova/resnet-50 (default: $VQA_PRETRAINED_DIR, else ./pretrained)');

async function startBackend(name: BackendName): Promise<void> {
  const info = await selectBackend(name);
  console.error(describeBackend(info));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readConfigFile(file: string | undefined): RawConfig {
  if (!file) return {};
  const raw = readJsonFile(file);
  if (!isObject(raw)) throw new Error(`${file}: a config must be a JSON object {"model": {…}, "train": {…}}`);
  for (const section of ['model', 'train']) {
    if (raw[section] !== undefined && !isObject(raw[section])) throw new Error(`${file}: field '${section}' must be an object`);
  }
  return raw as RawConfig;
}

/** Runs `work`, prefixing a config field error (found once the model is built) with the file it came from. */
async function namingConfigSource<T>(source: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof ConfigFieldError) throw new Error(`${source}: ${e.message}`);
    throw e;
  }
}

const program = new Command('vqa')
  .description('Visual question answering with MFB co-attention (TensorFlow.js)')
  .version(versions().vqa!, '-V, --version', 'print the version of vqa')
  .option('--allow-outside-paths', "read files that a data set's dataset.json names outside its folder")
  .showHelpAfterError();
// --pretrained-dir is read where model folders are looked up, as VQA_PRETRAINED_DIR; likewise
// --allow-outside-paths where manifests are read (worker threads see it too).
/**
 * Commander checks required options before unknown ones, so a mistyped `--img` was reported as a
 * missing `--image`. Required options are checked here instead, after the unknown-option check.
 */
function checkRequiredAfterUnknown(root: Command): void {
  const required = new Map<Command, Option[]>();
  const walk = (cmd: Command) => {
    const mandatory = cmd.options.filter((opt) => opt.mandatory);
    for (const opt of mandatory) opt.mandatory = false;
    required.set(cmd, mandatory);
    cmd.commands.forEach(walk);
  };
  walk(root);
  root.hook('preAction', (_root, action) => {
    const missing = (required.get(action) ?? []).find((opt) => action.getOptionValue(opt.attributeName()) === undefined);
    if (missing) action.error(`error: required option '${missing.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
  });
}

program.hook('preAction', (_program, action) => {
  const dir = action.opts().pretrainedDir as string | undefined;
  if (dir) process.env.VQA_PRETRAINED_DIR = path.resolve(dir);
  if (program.opts().allowOutsidePaths) process.env[ALLOW_OUTSIDE_PATHS] = '1';
});

const data = program.command('data').description('generate and validate data sets');
data
  .command('synth')
  .description('generate a synthetic VQA set in the VQA v2 file formats')
  .addOption(
    new Option('--kind <kind>', 'generator (fine-grained: an image-folder classification set)')
      .choices(['clevr-lite', 'sort-of-clevr', 'shape-colours', 'fine-grained'])
      .makeOptionMandatory(),
  )
  .requiredOption('--out <dir>', 'output folder')
  .option('--train <n>', 'training images (fine-grained: per class)', int('--train', 1))
  .option('--val <n>', 'validation images (fine-grained: per class)', int('--val', 1))
  .option('--seed <n>', 'random seed', int('--seed'), 1)
  .option('--image-size <px>', 'image width and height', int('--image-size', 16))
  .option('--questions-per-image <n>', 'clevr-lite questions per image', int('--questions-per-image', 1), 10)
  .option('--spec-exact', "the generator's original scenes and wording, pixel for pixel (default: random looks, degradations and wordings, and a val-reworded split)")
  .addOption(new Option('--spec-pixels', "the generator's original scenes pixel for pixel, asked in random wordings (and a val-reworded split)").conflicts('specExact'))
  .action(async (o) => {
    if (o.kind === 'fine-grained') {
      const progress = new Progress('generating fine-grained', 1, 'images');
      await writeFineGrained(o.out, { train: o.train ?? 100, val: o.val ?? 30 }, o.seed, o.imageSize ?? 32, (d, t) => progress.update(d, `of ${t}`));
      console.log(`wrote ${o.out}`);
      return;
    }
    const kind = o.kind as SynthKind;
    await synthesize({
      kind,
      out: o.out,
      train: o.train ?? SYNTH_DEFAULTS[kind].train,
      val: o.val ?? SYNTH_DEFAULTS[kind].val,
      seed: o.seed,
      imageSize: o.imageSize,
      questionsPerImage: o.questionsPerImage,
      style: o.specExact ? 'spec' : o.specPixels ? 'spec-pixels' : 'random',
    });
    console.log(`wrote ${o.out}`);
  });
data
  .command('check')
  .description('validate a data set folder')
  .argument('<dir>')
  .action(async (dir: string) => {
    const report = await checkDataset(dir);
    for (const line of report.summary) console.log(line);
    for (const p of report.problems) console.error(`problem: ${p}`);
    if (report.problems.length > 0) {
      console.error(`${report.problems.length} problem(s) found`);
      process.exitCode = 1;
    } else console.log('ok');
  });

const features = program.command('features').description("a pretrained image model's region features of a split, in the packed feature store");
features
  .command('extract')
  .description("extract a split's features now (training would do it first); --shard i/n does one of n parts, so that processes or machines can share the work")
  .requiredOption('--data <dir>', 'data set folder')
  .requiredOption('--config <file>', 'the run config whose model.vision names the pretrained image model')
  .option('--split <name>', 'split', 'train')
  .option('--shard <i/n>', 'extract only part i of n (1 ≤ i ≤ n); a later run joins the n parts', (v) => {
    const m = /^(\d+)\/(\d+)$/.exec(v);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new InvalidArgumentError('--shard must be i/n with 1 ≤ i ≤ n, e.g. 2/3');
    return { index: Number(m[1]) - 1, count: Number(m[2]) };
  })
  .option('--skip-bad', 'skip images that cannot be read (listed) instead of stopping')
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    const config = parseRunConfig(readConfigFile(o.config), o.config);
    if (config.model.vision.kind !== 'pretrained') throw new Error(`${o.config}: model.vision is not a pretrained image model: there are no features to extract`);
    const pretrainedModels = await loadPretrainedModels(config.model);
    const vision = (await probed(config.model, pretrainedModels)).vision;
    if (vision.kind !== 'pretrained' || !vision.grid || !vision.width) throw new Error(`${o.config}: the image model could not be probed`);
    const ds = loadDataset(o.data);
    const split = loadSplit(ds, o.split);
    const part = o.shard ? `part ${o.shard.index + 1}/${o.shard.count} of ` : '';
    const result = await openFeatureStore(split, pretrainedModels.image!, {
      cacheDir: cacheDirOf(ds),
      dtype: vision.storeDtype,
      grid: vision.grid,
      width: vision.width,
      skipBad: Boolean(o.skipBad),
      onProgress: progressReporter(`extracting ${part}${o.split} features`),
      shard: o.shard,
    });
    console.log(
      `${part}the ${o.split} features of ${split.imageIds.length} images: ${result.from === 'store' ? 'already extracted' : 'extracted'}${result.bad.length ? `, ${result.bad.length} unreadable` : ''}`,
    );
  });

program
  .command('train')
  .description('train a model; writes RUN/model, RUN/checkpoint, metrics.jsonl and report.html')
  .requiredOption('--data <dir>', 'data set folder')
  .requiredOption('--out <dir>', 'run folder')
  .option('--config <file>', 'JSON config ({"model": {…}, "train": {…}})')
  .option('--epochs <n>', 'number of epochs', int('--epochs', 1))
  .addOption(new Option('--fusion <kind>', 'fusion of image and question').choices(FUSION_KINDS))
  .option('--blind', 'question-only model (the image is ignored)')
  .option('--workers <n>', 'data-parallel training threads', int('--workers', 1))
  .option('--max-steps-per-epoch <n>', 'cut each epoch short (smoke tests)', int('--max-steps-per-epoch', 1))
  .option('--resume', 'continue the run in --out from its last checkpoint')
  .option('--subset <n>', 'first N images by id of each split, and all their questions', int('--subset', 1))
  .option('--skip-bad', 'skip unreadable images (listed at the end) instead of stopping')
  .addOption(backendOption())
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    const raw = readConfigFile(o.config);
    const config = parseRunConfig(
      applyOverrides(raw, {
        model: { fusion: o.fusion ? { ...(raw.model?.fusion as object | undefined), kind: o.fusion } : undefined, blind: o.blind },
        train: { epochs: o.epochs, maxStepsPerEpoch: o.maxStepsPerEpoch, workers: o.workers },
      }),
      o.config ?? 'command line',
    );
    loadDataset(o.data);
    const backend = await selectBackend(o.backend);
    console.error(describeBackend(backend));
    // a resumed run takes its config from the checkpoint, so that is the file a config error is in
    const source = o.resume ? path.join(o.out, 'checkpoint', 'config.json') : (o.config ?? 'command line');
    const { model } = await namingConfigSource(source, () =>
      train({
        dataDir: o.data,
        outDir: o.out,
        config,
        backend,
        resume: Boolean(o.resume),
        subset: o.subset,
        skipBad: Boolean(o.skipBad),
        log: (l) => console.log(l),
      }),
    );
    model.dispose();
  });

const classify = program.command('classify').description('image classification with bilinear CNN heads');
classify
  .command('train')
  .description('train a classifier on an image-folder set (DIR/train/<class>/…, DIR/val/<class>/…) or the Fashion-MNIST IDX files')
  .requiredOption('--data <dir>', `image-folder data set, or the folder of Fashion-MNIST's IDX files (${FASHION_MNIST_DIR})`)
  .requiredOption('--out <dir>', 'run folder')
  .option('--config <file>', 'JSON classifier config ({"model": {…}, "train": {…}})')
  .addOption(new Option('--head <head>', 'pooling head').choices(POOLING_HEADS))
  .option('--epochs <n>', 'epochs', int('--epochs', 1))
  .option('--resume', 'continue the run in --out from its last checkpoint')
  .addOption(backendOption())
  .action(async (o) => {
    const config = parseClassifierConfig(applyOverrides(readConfigFile(o.config), { model: { head: o.head }, train: { epochs: o.epochs } }), o.config ?? 'command line');
    const backend = await selectBackend(o.backend);
    console.error(describeBackend(backend));
    const { net } = await trainClassifier({ dataDir: o.data, outDir: o.out, config, backend, resume: Boolean(o.resume), log: (l) => console.log(l) });
    net.dispose();
  });
classify
  .command('import-fashion-mnist')
  .description("write Fashion-MNIST (the IDX files of Debian's dataset-fashion-mnist) as an image-folder set: train, val (held out of train) and test")
  .requiredOption('--out <dir>', 'output folder')
  .option('--source <dir>', 'folder of the *-ubyte.gz IDX files', FASHION_MNIST_DIR)
  .option(
    '--val-fraction <f>',
    'share of the training images held out for validation',
    (v) => {
      const f = Number(v);
      if (!(f >= 0 && f < 1)) throw new InvalidArgumentError('--val-fraction must be in [0, 1)');
      return f;
    },
    0.1,
  )
  .option('--seed <n>', 'random seed of the held-out split', int('--seed'), 1)
  .action(async (o) => {
    const progress = new Progress('importing Fashion-MNIST', 70_000, 'images');
    const counts = await importFashionMnist({ source: o.source, out: o.out, valFraction: o.valFraction, seed: o.seed, onProgress: (d, t) => progress.update(d, `of ${t}`) });
    console.log(`wrote ${o.out}: ${counts.train} train, ${counts.val} val, ${counts.test} test images in ${FASHION_MNIST_CLASSES.length} classes`);
  });
classify
  .command('eval')
  .description('top-1 accuracy of a classifier on a split')
  .requiredOption('--model <dir>', 'classifier model or run folder')
  .requiredOption('--data <dir>', `image-folder data set, or the folder of Fashion-MNIST's IDX files (${FASHION_MNIST_DIR})`)
  .option('--split <name>', 'split (default: test for the IDX files, val for an image folder)')
  .addOption(backendOption())
  .action(async (o) => {
    await startBackend(o.backend);
    const split = o.split ?? defaultEvalSplit(o.data);
    const { accuracy, count } = await evalClassifier(o.model, o.data, split);
    console.log(`top-1 accuracy ${accuracy.toFixed(2)}% on the ${count} ${split} images`);
  });

program
  .command('ablate')
  .description('train each fusion with the same encoders, data, budget and seed, and print one table')
  .requiredOption('--data <dir>', 'data set folder')
  .requiredOption('--out <dir>', 'folder for the runs, ablation.json and ablation.html')
  .option('--config <file>', 'JSON config shared by all runs')
  .option('--fusions <list>', 'comma-separated fusions', FUSION_KINDS.join(','))
  .option('--epochs <n>', 'epochs for each run', int('--epochs', 1))
  .option('--max-steps-per-epoch <n>', 'cut each epoch short', int('--max-steps-per-epoch', 1))
  .option('--subset <n>', 'first N images by id of each split', int('--subset', 1))
  .addOption(backendOption())
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    const fusions = String(o.fusions)
      .split(',')
      .map((f) => f.trim());
    const unknown = fusions.filter((f) => !(FUSION_KINDS as readonly string[]).includes(f));
    if (unknown.length) throw new Error(`--fusions: unknown ${unknown.join(', ')} (choose from ${FUSION_KINDS.join(', ')})`);
    const config = parseRunConfig(applyOverrides(readConfigFile(o.config), { train: { epochs: o.epochs, maxStepsPerEpoch: o.maxStepsPerEpoch } }), o.config ?? 'command line');
    loadDataset(o.data);
    const backend = await selectBackend(o.backend);
    console.error(describeBackend(backend));
    const rows = await namingConfigSource(o.config ?? 'command line', () =>
      ablate({
        dataDir: o.data,
        outDir: o.out,
        config,
        fusions: fusions as FusionKind[],
        backend,
        subset: o.subset,
        log: (l) => console.error(l),
      }),
    );
    console.log(formatAblation(rows));
  });

program
  .command('eval')
  .description('score a model on a split, or any results file, with the official VQA accuracy')
  .option('--model <dir>', 'model or run folder (with --data)')
  .option('--data <dir>', 'data set folder (with --model)')
  .option('--split <name>', 'split', 'val')
  .option('--questions <file>', 'official questions file (with --annotations and --results)')
  .option('--annotations <file>', 'official annotations file')
  .option('--results <file>', 'results file to score, or to write when scoring a model')
  .option('--legacy', 'the pre-2021 evaluation rules that openvqa and other ports still report')
  .option('--subset <n>', 'first N images by id and all their questions', int('--subset', 1))
  .option('--skip-bad', 'skip unreadable images (listed) instead of stopping')
  .option('--json', 'print the report as JSON')
  .addOption(backendOption())
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    const rules = o.legacy ? 'legacy' : 'official';
    if (o.questions || o.annotations) {
      if (!o.questions || !o.annotations || !o.results) throw new Error('scoring a results file needs --questions, --annotations and --results');
      const { report, perQuestion, warnings } = scoreResultsFile(o.questions, o.annotations, o.results, rules);
      for (const w of warnings) console.error(`warning: ${w}`);
      console.log(
        o.json
          ? JSON.stringify({ overall: report.overall, perAnswerType: report.perAnswerType, perQuestionType: report.perQuestionType, perQuestion }, null, 2)
          : formatReport(report),
      );
      return;
    }
    if (!o.model || !o.data) throw new Error('give --model and --data to score a model, or --questions, --annotations and --results to score a results file');
    const { model } = VqaModel.load(o.model);
    await startBackend(o.backend);
    const ds = loadDataset(o.data);
    const pretrainedModels = await loadPretrainedModels(model.config.model, model.pretrained);
    const inputs = await openSplitInputs(model, pretrainedModels, ds, o.split, { subset: o.subset, skipBad: Boolean(o.skipBad) });
    for (const line of describeBad(o.split, inputs.bad)) console.error(line);
    const { split } = inputs;
    const preds = await predictAnswers(model, split.samples, inputs, 128);
    model.dispose();
    if (o.results) fs.writeFileSync(o.results, JSON.stringify([...preds].map(([question_id, answer]) => ({ question_id, answer }))));
    if (split.samples.some((s) => !s.annotation)) {
      console.log(`split '${o.split}' has no annotations: predictions written${o.results ? ` to ${o.results}` : ' nowhere (use --results)'}`);
      return;
    }
    const report = scorePredictions(split.samples, preds, ds.manifest.questionGroups, rules);
    console.log(o.json ? JSON.stringify(report, null, 2) : formatReport(report));
  });

program
  .command('ask')
  .description('answer one question about one image')
  .requiredOption('--model <dir>', 'model or run folder')
  .requiredOption('--image <file>', 'image file')
  .requiredOption('--question <text>', 'the question')
  .option('--top-k <n>', 'answers to show', int('--top-k', 1), 5)
  .option('--json', 'print the full answer with attention as JSON')
  .addOption(backendOption())
  .addOption(runtimeOption())
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    if (!fs.existsSync(o.image)) throw new Error(`image not found: ${o.image}`);
    const { model } = VqaModel.load(o.model);
    await startBackend(o.backend);
    const preparer = await InputPreparer.forModel(model.config.model, model.tokenizer, model.pretrained);
    const { predictor, note } = await createPredictor(model, o.runtime, 1);
    console.error(`answering on ${predictor.runtime}${note ? ` (${note})` : ''}`);
    const [answer] = await answerBatch(predictor, preparer, [{ image: fs.readFileSync(o.image), question: o.question, topK: o.topK }]).catch((err: Error) => {
      // the server's messages say "the image"; here the user named a file
      throw err instanceof BadInputError && err.code.includes('image') ? new Error(`${o.image}: ${err.message}`) : err;
    });
    if (o.json) console.log(JSON.stringify(answer, null, 2));
    else {
      for (const a of answer!.answers) console.log(`${(100 * a.score).toFixed(1).padStart(5)}%  ${a.answer}`);
      if (answer!.unknown_words.length > 0)
        console.log(`note: the model never saw the word(s) ${answer!.unknown_words.map((w) => `'${w}'`).join(', ')}; the answer may be about something else`);
      if (answer!.out_of_distribution)
        console.log(`note: the image is unlike the scenes the model was trained on (distance ${answer!.image_distance.toFixed(2)} > 1); the answer is a guess`);
    }
    predictor.dispose();
  });

program
  .command('export')
  .description('copy a trained model to a release folder, optionally with float16 weights (half the size) and an ONNX copy of the network')
  .requiredOption('--model <dir>', 'model or run folder')
  .requiredOption('--out <dir>', 'release folder')
  .option('--float16', 'store the weights as float16')
  .option('--onnx', 'also write model.onnx: the network in inference mode (opset 17), for onnxruntime and other ONNX tools (float16 weights with --float16)')
  .addOption(backendOption())
  .action(async (o) => {
    await startBackend(o.backend);
    const { model, card } = VqaModel.load(o.model);
    await model.save(o.out, card, o.onnx ? { 'model.onnx': vqaModelToOnnx(model, Boolean(o.float16)) } : {}, Boolean(o.float16));
    model.dispose();
    console.log(`wrote ${o.out}`);
  });

program
  .command('robustness')
  .description(
    "answer the val scenes of the model's generator drawn and worded in other ways (clean, anti-aliased, JPEG, resized, other backgrounds, shades, noise, sizes, overlaps, fewer objects, held-out wordings) and print one table; with --photos or --other-scenes, the share of those images flagged out of distribution",
  )
  .requiredOption('--model <dir>', 'model or run folder of a generated data set (clevr-lite, sort-of-clevr)')
  .option('--images <n>', 'val scenes per variant', int('--images', 1), 300)
  .option('--variants <list>', 'comma-separated variant names (default: all)')
  .option('--photos <dir>', 'a folder of real photographs to flag')
  .option('--other-scenes <dir>', 'a folder of scenes from another generator to flag')
  .option('--json', 'print the results as JSON')
  .addOption(backendOption())
  .addOption(runtimeOption())
  .action(async (o) => {
    const { model, card } = VqaModel.load(o.model);
    const g = card.data.generator as Partial<GeneratorSpec> | undefined;
    if (!g || (g.kind !== 'clevr-lite' && g.kind !== 'sort-of-clevr'))
      throw new Error(`${o.model}: the model card names no clevr-lite or sort-of-clevr generator (data.generator)`);
    const spec: GeneratorSpec = { kind: g.kind, seed: g.seed ?? 1, imageSize: g.imageSize ?? model.config.model.imageSize, questionsPerImage: g.questionsPerImage ?? 10 };
    const wanted = o.variants
      ? String(o.variants)
          .split(',')
          .map((v) => v.trim())
      : VARIANTS.map((v) => v.name);
    const unknown = wanted.filter((w) => !VARIANTS.some((v) => v.name === w));
    if (unknown.length) throw new Error(`--variants: unknown ${unknown.join(', ')} (choose from ${VARIANTS.map((v) => v.name).join(', ')})`);
    await startBackend(o.backend);
    const preparer = await InputPreparer.forModel(model.config.model, model.tokenizer, model.pretrained);
    const { predictor } = await createPredictor(model, o.runtime, 1);
    console.error(`answering on ${predictor.runtime}: ${o.images} val scenes of ${spec.kind} per variant`);
    const results = [];
    for (const variant of VARIANTS.filter((v) => wanted.includes(v.name))) {
      const r = await scoreVariant(predictor, preparer, spec, variant, o.images);
      console.error(`${r.name}: ${r.overall.toFixed(1)}`);
      results.push(r);
    }
    const flags: Record<string, Awaited<ReturnType<typeof flagRate>>> = {};
    for (const [name, dir] of [
      ['photos', o.photos as string | undefined],
      ['other scenes', o.otherScenes as string | undefined],
    ] as const) {
      if (dir) flags[name] = await flagRate(predictor, preparer, dir, spec.kind === 'sort-of-clevr' ? 'What is the shape of the red object?' : 'Is there a red circle?');
    }
    if (o.json) console.log(JSON.stringify({ model: card.name, generator: spec, images: o.images, variants: results, flags }, null, 2));
    else {
      console.log(formatRobustness(results));
      for (const [name, f] of Object.entries(flags))
        console.log(`\n${name}: ${f.flagged.toFixed(1)}% of ${f.images} images flagged out of distribution${f.missed.length ? ` (not: ${f.missed.join(', ')})` : ''}`);
    }
    predictor.dispose();
  });

program
  .command('calibrate')
  .description(
    'fit what a trained model says about its answers: the temperature of its scores (val) and the familiarity check that flags images unlike its training scenes (train)',
  )
  .requiredOption('--model <dir>', 'model or run folder')
  .requiredOption('--data <dir>', 'the data set it was trained on')
  .requiredOption('--out <dir>', 'folder for the calibrated model')
  .option('--float16', 'store the weights as float16')
  .addOption(backendOption())
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    const { model, card } = VqaModel.load(o.model);
    await startBackend(o.backend);
    const report = await calibrateModel(model, loadDataset(o.data), (line) => console.log(line));
    await model.save(o.out, { ...card, calibration: report }, {}, Boolean(o.float16));
    model.dispose();
    console.log(`wrote ${o.out}`);
  });

program
  .command('recalibrate')
  .description("re-estimate a trained model's batch-norm statistics with its final weights over training batches (models trained before train.batchNormRecalibration)")
  .requiredOption('--model <dir>', 'model or run folder')
  .requiredOption('--data <dir>', 'the data set it was trained on')
  .requiredOption('--out <dir>', 'folder for the recalibrated model')
  .option('--batches <n>', 'training batches to average over', int('--batches', 1), 64)
  .option('--float16', 'store the weights as float16')
  .addOption(backendOption())
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    const { model, card } = VqaModel.load(o.model);
    await startBackend(o.backend);
    const ds = loadDataset(o.data);
    const used = await recalibrateModel(model, ds, o.batches);
    await model.save(o.out, { ...card, recalibratedOver: used }, {}, Boolean(o.float16));
    model.dispose();
    if (ds.manifest.splits.val) {
      // The card's accuracy is measured again, on the weights as saved (float16 rounds them).
      const { model: saved, card: savedCard } = VqaModel.load(o.out);
      const inputs = await openSplitInputs(saved, await loadPretrainedModels(saved.config.model, saved.pretrained), ds, 'val', { skipBad: false });
      const report = scorePredictions(inputs.split.samples, await predictAnswers(saved, inputs.split.samples, inputs, 128), ds.manifest.questionGroups);
      console.log(formatReport(report));
      const before = (card.accuracy as { overall?: unknown } | undefined)?.overall;
      console.log(`val accuracy: ${typeof before === 'number' ? `${before.toFixed(2)} before (the model card's), ` : ''}${report.overall.toFixed(2)} after`);
      await saved.save(o.out, { ...savedCard, accuracy: report }, {}, Boolean(o.float16));
      saved.dispose();
    }
    console.log(`wrote ${o.out}: batch-norm statistics from ${used} training batches`);
  });

program
  .command('serve')
  .description('serve answers over HTTP, with inference in worker processes')
  .requiredOption('--model <dir>', 'model or run folder')
  .option('--port <n>', 'port', int('--port'), 3000)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--workers <n>', 'inference worker processes', int('--workers', 1), 1)
  .option('--threads <n>', 'onnxruntime threads per worker', int('--threads', 1), 1)
  .option('--max-batch <n>', 'questions per forward pass at most', int('--max-batch', 1), 8)
  .option('--max-wait-ms <n>', 'longest wait for a batch to fill', int('--max-wait-ms'), 5)
  .option('--max-body-mb <n>', 'largest request body or upload, in MB', int('--max-body-mb', 1), 10)
  .option('--rate-limit <n>', 'requests per minute per client (0 = off)', int('--rate-limit'), 600)
  .option('--timeout-ms <n>', 'answer within this time or return 503', int('--timeout-ms', 1), 30000)
  .addOption(backendOption())
  .addOption(runtimeOption())
  .addOption(pretrainedDirOption())
  .action(async (o) => {
    const running = await startServer(
      {
        modelDir: o.model,
        port: o.port,
        host: o.host,
        backend: o.backend,
        runtime: o.runtime,
        workers: o.workers,
        threads: o.threads,
        maxBatch: o.maxBatch,
        maxWaitMs: o.maxWaitMs,
        http: { maxBodyBytes: o.maxBodyMb * 1024 * 1024, rateLimitPerMinute: o.rateLimit, requestTimeoutMs: o.timeoutMs },
      },
      modelLoaderFor(o.model),
    );
    exitOnSignals(running);
  });

program
  .command('demo')
  .description(
    'serve the bundled models (clevr-lite on --port, sort-of-clevr on the next, each page linking to the other); without clevr-lite, generate its data and train it first',
  )
  .option('--port <n>', 'port', int('--port'), 3000)
  .addOption(backendOption())
  .action(async (o) => {
    await runDemo(path.resolve('.'), o.port, o.backend);
  });

checkRequiredAfterUnknown(program);

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
