import { tf } from '../backend/tf.ts';
import type { Dataset } from '../data/manifest.ts';
import type { Sample } from '../data/split.ts';
import { vqaAccuracy } from '../eval/accuracy.ts';
import { expectedCalibrationError } from '../eval/calibration.ts';
import { buildBatch, disposeBatch, inOrderBatches } from '../inputs/batches.ts';
import { openSplitInputs, type SplitInputs } from '../inputs/split_inputs.ts';
import { inference } from '../nn/eager_ops.ts';
import { loadPretrainedModels } from '../model/pretrained_encoders.ts';
import type { ModelCard } from '../model/checkpoint.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import { QuestionTokenizer } from '../language/tokenizer.ts';
import { trainedWords } from '../language/tokenizer_files.ts';
import { loadWordVectors } from '../language/word_vectors.ts';
import { Rng } from '../util/rng.ts';
import { firstOfEachImage, fitFamiliarity, setScalar } from './fit_familiarity.ts';
import { swapOneWord, untrainedNeighbours } from './unseen_words.ts';

export type CalibrationReport = NonNullable<ModelCard['calibration']>;

/**
 * Fits what a model says about its own answers (model/familiarity.ts): the familiarity checks on
 * training images (train/fit_familiarity.ts), then the temperature that minimises the val split's
 * negative log-likelihood, then the same for val questions with a word swapped for one training
 * never saw (train/unseen_words.ts), kept as a multiple of the first.
 */
export async function calibrateModel(model: VqaModel, ds: Dataset, log: (line: string) => void = () => {}): Promise<CalibrationReport> {
  const pretrainedModels = await loadPretrainedModels(model.config.model, model.pretrained);
  const fam = model.net.familiarity;
  setScalar(fam.temperature, 1);
  setScalar(fam.unseenWordScale, 1);

  const train = await openSplitInputs(model, pretrainedModels, ds, 'train', { skipBad: false });
  const familiarity = await fitFamiliarity(model, ds, train, log);

  const val = await openSplitInputs(model, pretrainedModels, ds, 'val', { skipBad: false });
  // both sets of logits at temperature 1
  const scored = logitsOf(model, val.split.samples, val);
  const swapped = withUnseenWords(model, val.split.samples);
  const scoredSwapped = swapped.length > 0 ? logitsOf(model, swapped, val) : undefined;
  const eceBefore = ece(scored, 1);
  const temperature = bestTemperature(scored);
  setScalar(fam.temperature, temperature);
  const eceAfter = ece(scored, temperature);
  const unseen = scoredSwapped && unseenWordFit(scoredSwapped, temperature);
  if (unseen) setScalar(fam.unseenWordScale, unseen.unseenWordScale);
  const valDistances = distances(model, firstOfEachImage(val.split.samples), val);
  const valFlagged = valDistances.filter((d) => d > 1).length / valDistances.length;
  log(
    `calibration: temperature ${temperature.toFixed(3)}, val ECE ${(100 * eceBefore).toFixed(2)}% → ${(100 * eceAfter).toFixed(2)}%; ${(100 * valFlagged).toFixed(1)}% of val images flagged`,
  );
  if (unseen)
    log(
      `questions with a word training never saw (${unseen.unseenWordQuestions} val questions, one word swapped for an unseen neighbour): temperature ×${unseen.unseenWordScale.toFixed(3)}, ECE ${(100 * unseen.unseenWordEceBefore).toFixed(2)}% → ${(100 * unseen.unseenWordEceAfter).toFixed(2)}%`,
    );
  return {
    temperature,
    eceBefore,
    eceAfter,
    ...familiarity,
    valFlagged,
    ...unseen,
  };
}

/** Nearest untrained neighbours drawn for each trained word. */
const NEIGHBOURS = 10;

/**
 * Val's questions with one trained word swapped for an unseen neighbour, when the model's own
 * tokenizer records its trained words (a pretrained text model's does not: none then).
 */
function withUnseenWords(model: VqaModel, samples: Sample[]): Sample[] {
  const trained = trainedWords(model.tokenizer);
  if (!trained) return [];
  const neighbours = untrainedNeighbours(loadWordVectors('glove-6b-100d'), trained, NEIGHBOURS);
  const tokenizer = new QuestionTokenizer(model.tokenizer);
  const rng = new Rng(0x756e7365);
  return samples.flatMap((s) => {
    const question = swapOneWord(s.question, neighbours, rng);
    // a swapped-in word the model spells in pieces may make the question longer than it reads
    return question && tokenizer.count(question) <= model.config.model.language.maxTokens ? [{ ...s, question }] : [];
  });
}

/** The temperature that fits the swapped questions, as a multiple of val's, and their ECE at each. */
function unseenWordFit(scored: ScoredLogits, temperature: number) {
  const unseenTemperature = bestTemperature(scored);
  return {
    unseenWordScale: unseenTemperature / temperature,
    unseenWordQuestions: scored.logits.length,
    unseenWordEceBefore: ece(scored, temperature),
    unseenWordEceAfter: ece(scored, unseenTemperature),
  };
}

/** Each image's distance through the network's own forward (one question per image). */
function distances(model: VqaModel, samples: Sample[], inputs: SplitInputs): number[] {
  const out: number[] = [];
  for (const batch of inOrderBatches(samples, 64)) {
    const b = buildBatch(batch, inputs.images, inputs.questions);
    try {
      const d = tf.tidy(() => model.net.forward(inference, b.inputs).imageDistance);
      out.push(...(d.dataSync() as Float32Array));
      d.dispose();
    } finally {
      disposeBatch(b);
    }
  }
  return out;
}

interface ScoredLogits {
  logits: Float32Array[];
  /** per question: each answer's VQA accuracy (the answers the model knows) */
  accuracies: Float32Array[];
}

/** The logits of `samples` (questions about the split's images) and each answer's VQA accuracy. */
function logitsOf(model: VqaModel, samples: Sample[], inputs: SplitInputs): ScoredLogits {
  const logits: Float32Array[] = [];
  const accuracies: Float32Array[] = [];
  const vocab = model.answers.answers;
  for (const batch of inOrderBatches(samples, 128)) {
    const b = buildBatch(batch, inputs.images, inputs.questions);
    try {
      const l = tf.tidy(() => model.net.forward(inference, b.inputs).logits);
      const rows = l.arraySync() as number[][];
      l.dispose();
      rows.forEach((row, i) => {
        const given = batch[i]!.annotation?.answers.map((a) => a.answer);
        if (!given) return;
        logits.push(Float32Array.from(row));
        accuracies.push(Float32Array.from(vocab, (a) => vqaAccuracy(a, given)));
      });
    } finally {
      disposeBatch(b);
    }
  }
  return { logits, accuracies };
}

function softmax(row: Float32Array, temperature: number): Float64Array {
  const max = row.reduce((m, v) => Math.max(m, v), -Infinity);
  const e = Float64Array.from(row, (v) => Math.exp((v - max) / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function ece(s: ScoredLogits, temperature: number): number {
  return expectedCalibrationError(
    s.logits.map((row, i) => {
      const p = softmax(row, temperature);
      let top = 0;
      for (let j = 1; j < p.length; j++) if (p[j]! > p[top]!) top = j;
      return { confidence: p[top]!, accuracy: s.accuracies[i]![top]! };
    }),
  );
}

/** Negative log-likelihood of the soft VQA targets (accuracies normalised per question). */
function nll(s: ScoredLogits, temperature: number): number {
  let total = 0;
  s.logits.forEach((row, i) => {
    const p = softmax(row, temperature);
    const acc = s.accuracies[i]!;
    const mass = acc.reduce((a, b) => a + b, 0);
    if (mass === 0) return;
    for (let j = 0; j < p.length; j++) if (acc[j]! > 0) total -= (acc[j]! / mass) * Math.log(Math.max(p[j]!, 1e-12));
  });
  return total / s.logits.length;
}

/** Golden-section search for the temperature in [0.05, 20] (log scale) with the least NLL. */
function bestTemperature(s: ScoredLogits): number {
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 40; i++) {
    const a = hi - phi * (hi - lo);
    const b = lo + phi * (hi - lo);
    if (nll(s, Math.exp(a)) < nll(s, Math.exp(b))) hi = b;
    else lo = a;
  }
  return Math.exp((lo + hi) / 2);
}
