import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend/tf.ts';
import { hasStagedModules, parseRunConfig, stagesOn, type RunConfig } from '../config/config.ts';
import { readTokenizerFiles, type TokenizerFiles } from '../language/tokenizer_files.ts';
import type { PretrainedRecords } from './pretrained_encoders.ts';
import { toFloat16Array } from '../nn/float16.ts';
import { readJsonFile } from '../util/json_file.ts';
import { makeDirectory } from '../util/make_dir.ts';
import { CHECKSUMS_FILE, checksumsFor, verifyChecksums } from './checksums.ts';

export interface ModelCard {
  name: string;
  created: string;
  /** `dir` relative to where training ran, so that a released card names no local paths */
  data: { name: string; dir: string; generator?: Record<string, unknown>; trainQuestions: number; valQuestions: number };
  accuracy?: unknown;
  /** training batches its batch-norm statistics were re-estimated over after training (vqa recalibrate) */
  recalibratedOver?: number;
  /** what `vqa calibrate` fitted: the scores' temperature, val ECE (0–1) before and after, the familiarity check's images and val flag rate */
  calibration?: {
    temperature: number;
    eceBefore: number;
    eceAfter: number;
    fitImages: number;
    thresholdImages: number;
    valFlagged: number;
    /** the unfamiliar scenes that fitted the familiarity check's discriminant, and the share of others it flagged (absent: none were drawn) */
    unfamiliarImages?: number;
    unfamiliarFlagged?: number;
    /** the temperature of a question with a word training never saw, × `temperature`, fitted on val questions with one word swapped for an unseen neighbour, and their ECE before and after (absent: not fitted) */
    unseenWordScale?: number;
    unseenWordQuestions?: number;
    unseenWordEceBefore?: number;
    unseenWordEceAfter?: number;
  };
  epochs: number;
  parameters: number;
  backend: string;
  versions: Record<string, string>;
}

/** What a model folder says about the model, without its weights. */
export interface ModelInfo {
  dir: string;
  config: RunConfig;
  answers: string[];
  tokenizer: TokenizerFiles;
  /** the pretrained model folders it needs (pretrained.json), if any */
  pretrained: PretrainedRecords;
  card: ModelCard;
}

export interface CheckpointContents extends ModelInfo {
  weights: Record<string, tf.Tensor>;
}

/**
 * Writes `files` into `dir` as one step, with checksums.json (their sha256) beside them: a
 * temporary folder `dir.tmp` is filled, the old folder moved to `dir.old`, the new one renamed
 * into place, then `dir.old` removed. A failed write (a full disk, say) removes the partial
 * `dir.tmp`, keeps the previous folder and names the path. `recoverInterruptedWrite` repairs what
 * a kill at any point of this leaves.
 */
export function writeFolderAtomically(dir: string, files: Record<string, string | Uint8Array>): void {
  const tmp = `${dir}.tmp`;
  const old = `${dir}.old`;
  recoverInterruptedWrite(dir);
  try {
    makeDirectory(tmp);
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), content);
    fs.writeFileSync(path.join(tmp, CHECKSUMS_FILE), checksumsFor(files));
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`${tmp}: could not write (${(err as Error).message}); ${fs.existsSync(dir) ? `the previous ${path.basename(dir)}/ is kept` : 'nothing was saved'}`);
  }
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

/**
 * Puts `dir` back in a complete state after a kill during `writeFolderAtomically`: a partial
 * `dir.tmp` is removed; if only `dir.old` is left (killed between the renames) it is put back; a
 * `dir.old` beside a complete `dir` (killed while removing it) is removed.
 */
export function recoverInterruptedWrite(dir: string): void {
  const old = `${dir}.old`;
  fs.rmSync(`${dir}.tmp`, { recursive: true, force: true });
  if (!fs.existsSync(old)) return;
  if (fs.existsSync(dir)) fs.rmSync(old, { recursive: true, force: true });
  else fs.renameSync(old, dir);
}

export async function encodeTensors(named: [string, tf.Tensor][]): Promise<{ bin: Uint8Array; specs: string }> {
  const { data, specs } = await tf.io.encodeWeights(named.map(([name, tensor]) => ({ name, tensor })));
  return { bin: new Uint8Array(data), specs: JSON.stringify(specs) };
}

/** float32 tensors stored as float16, with the quantization entry tfjs's decodeWeights reads back. */
export async function encodeTensorsFloat16(named: [string, tf.Tensor][]): Promise<{ bin: Uint8Array; specs: string }> {
  const parts: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const [name, tensor] of named) {
    if (tensor.dtype !== 'float32') throw new Error(`float16 export: '${name}' is ${tensor.dtype}`);
    const half = toFloat16Array((await tensor.data()) as Float32Array);
    parts.push(new Uint8Array(half.buffer));
    specs.push({ name, shape: tensor.shape, dtype: 'float32', quantization: { dtype: 'float16' } });
  }
  return { bin: Buffer.concat(parts), specs: JSON.stringify(specs) };
}

/** Bytes that `specs` take in the binary file: 2 per value stored as float16, else 4. */
function specBytes(specs: tf.io.WeightsManifestEntry[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * (s.quantization?.dtype === 'float16' ? 2 : 4), 0);
}

/**
 * Parameter names of earlier checkpoints and what they are called now: the image attention's MFB
 * was `iatt.mfb…` (`iatt2.mfb…` for hop 2) before every region fusion became `iatt.fusion…`.
 * Optimizer slots carry the same names after their `m/` or `v/` prefix.
 */
const LEGACY_NAMES: [RegExp, string][] = [[/^((?:[mv]\/)?iatt\d*)\.mfb\./, '$1.fusion.']];

function currentName(name: string): string {
  return LEGACY_NAMES.reduce((n, [pattern, now]) => n.replace(pattern, now), name);
}

export function decodeTensors(dir: string, base: string): Record<string, tf.Tensor> {
  const binFile = path.join(dir, `${base}.bin`);
  const bin = fs.readFileSync(binFile);
  const specs = readJsonFile(path.join(dir, `${base}.json`)) as tf.io.WeightsManifestEntry[];
  const expected = specBytes(specs);
  if (bin.byteLength !== expected)
    throw new Error(`${binFile}: ${bin.byteLength} bytes, but ${base}.json describes ${expected} (a truncated copy, or files of two different models)`);
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const decoded = tf.io.decodeWeights(buffer, specs) as Record<string, tf.Tensor>;
  const bad = Object.entries(decoded).find(([, t]) => t.dtype === 'float32' && !(t.dataSync() as Float32Array).every(Number.isFinite));
  if (bad) {
    tf.dispose(Object.values(decoded));
    throw new Error(`${binFile}: tensor '${bad[0]}' holds values that are not finite (NaN or infinite): the file is corrupt`);
  }
  return Object.fromEntries(Object.entries(decoded).map(([name, t]) => [currentName(name), t]));
}

const REQUIRED = ['config.json', 'weights.bin', 'weights.json', 'answers.json', 'tokenizer.json', 'tokenizer_config.json', 'model-card.json'];

/**
 * Accepts a checkpoint folder or a training run folder holding one under model/. A folder a kill
 * left only as `.old` (between the two renames of `writeFolderAtomically`) is put back first.
 */
function resolveModelDir(dir: string): string {
  for (const candidate of [dir, path.join(dir, 'model')]) if (!fs.existsSync(candidate) && fs.existsSync(`${candidate}.old`)) recoverInterruptedWrite(candidate);
  if (fs.existsSync(path.join(dir, 'config.json'))) return dir;
  if (fs.existsSync(path.join(dir, 'model', 'config.json'))) return path.join(dir, 'model');
  if (!fs.existsSync(dir)) throw new Error(`model folder not found: ${dir}`);
  throw new Error(`${dir}: not a model folder (expected ${REQUIRED.join(', ')}, or a run folder with model/)`);
}

export function readCheckpoint(dirOrRun: string): CheckpointContents {
  const info = readModelInfo(dirOrRun);
  verifyChecksums(info.dir);
  const weights = decodeTensors(info.dir, 'weights');
  if (hasStagedModules(info.config.model) && !(STAGES_ON in weights)) weights[STAGES_ON] = tf.scalar(legacyStagesOn(info) ? 1 : 0);
  return { ...info, weights };
}

/** The weight that says whether a model's staged modules answer (VqaNet.stagesOn). */
const STAGES_ON = 'stages.on';

/**
 * Models saved before that weight existed: whether their staged modules answer follows from the
 * epochs they were trained, as it did then (on from the epoch after the curriculum).
 */
function legacyStagesOn(info: ModelInfo): boolean {
  const cardFile = path.join(info.dir, 'model-card.json');
  if (!Number.isInteger(info.card?.epochs) || info.card.epochs < 1)
    throw new Error(`${cardFile}: field 'epochs' must be a positive integer (the epochs trained): weights.bin has no '${STAGES_ON}', which this model's staged modules need`);
  return stagesOn(info.config, info.card.epochs - 1);
}

export function readModelInfo(dirOrRun: string): ModelInfo {
  const dir = resolveModelDir(dirOrRun);
  for (const f of REQUIRED) if (!fs.existsSync(path.join(dir, f))) throw new Error(`${path.join(dir, f)}: missing from the model folder`);
  const config = parseRunConfig(readJsonFile(path.join(dir, 'config.json')), path.join(dir, 'config.json'));
  const answers = readJsonFile(path.join(dir, 'answers.json'));
  if (!Array.isArray(answers) || answers.some((a) => typeof a !== 'string')) throw new Error(`${path.join(dir, 'answers.json')}: must be an array of strings`);
  const tokenizer = readTokenizerFiles(dir);
  const pretrainedFile = path.join(dir, 'pretrained.json');
  const pretrained = fs.existsSync(pretrainedFile) ? (readJsonFile(pretrainedFile) as PretrainedRecords) : {};
  const cardFile = path.join(dir, 'model-card.json');
  const card = readJsonFile(cardFile) as ModelCard;
  return { dir, config, answers, tokenizer, pretrained, card };
}
