import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend/tf.ts';
import { decodeTensors, encodeTensors, recoverInterruptedWrite } from '../model/checkpoint.ts';
import { verifyChecksums } from '../model/checksums.ts';
import { readJsonFile } from '../util/json_file.ts';
import { makeDirectory } from '../util/make_dir.ts';
import type { OptimizerSnapshot } from './adam.ts';
import type { EpochStats } from './epoch_metrics.ts';
import { writeReport, type ReportRow } from './report.ts';

/** Writes a model folder (its weights and whatever else its kind keeps), with `extra` files beside them. */
export type WriteModel = (dir: string, extra?: Record<string, string | Uint8Array>) => Promise<void>;

interface TrainState {
  epochsDone: number;
}

/**
 * The files of a training run, whatever the model: metrics.jsonl (a line per epoch), checkpoint/
 * (the model with its optimizer state, for --resume), checkpoint.previous/ (the one before it),
 * model/ (the model alone) and report.html. Both folders are written atomically after every epoch,
 * with checksums; a kill at any point loses at most the epoch in progress, and a checkpoint found
 * corrupt on resume is set aside for the previous one.
 */
export class RunFolder {
  readonly checkpointDir: string;
  readonly previousDir: string;
  readonly modelDir: string;
  readonly metricsFile: string;

  constructor(readonly outDir: string) {
    this.checkpointDir = path.join(outDir, 'checkpoint');
    this.previousDir = path.join(outDir, 'checkpoint.previous');
    this.modelDir = path.join(outDir, 'model');
    this.metricsFile = path.join(outDir, 'metrics.jsonl');
  }

  /**
   * Repairs what a kill during a save left; a new run refuses a folder that holds one already. On
   * resume, a checkpoint that fails its checksums or holds a weight that is not finite is moved to
   * checkpoint.corrupt/ and the previous one takes its place; what was done is returned for the log.
   */
  open(resume: boolean): string | undefined {
    recoverInterruptedWrite(this.checkpointDir);
    recoverInterruptedWrite(this.modelDir);
    const held = fs.existsSync(this.checkpointDir) || fs.existsSync(this.previousDir);
    if (resume && !held) throw new Error(`${this.outDir}: nothing to resume (no checkpoint/ folder)`);
    if (!resume && held) throw new Error(`${this.outDir}: already holds a training run (use --resume to continue it, or another --out)`);
    makeDirectory(this.outDir);
    if (!resume) fs.writeFileSync(this.metricsFile, '');
    return resume ? this.takeSoundCheckpoint() : undefined;
  }

  private takeSoundCheckpoint(): string | undefined {
    const newest = fs.existsSync(this.checkpointDir) ? checkpointFault(this.checkpointDir) : `${this.checkpointDir}: missing`;
    if (newest === undefined) return undefined;
    const previous = fs.existsSync(this.previousDir) ? checkpointFault(this.previousDir) : 'there is no checkpoint.previous/';
    if (previous !== undefined) throw new Error(`${this.outDir}: no sound checkpoint to resume from: ${newest}; ${previous}`);
    const corrupt = path.join(this.outDir, 'checkpoint.corrupt');
    fs.rmSync(corrupt, { recursive: true, force: true });
    if (fs.existsSync(this.checkpointDir)) fs.renameSync(this.checkpointDir, corrupt);
    fs.renameSync(this.previousDir, this.checkpointDir);
    return `${newest}; resuming from the previous checkpoint instead (the corrupt one is kept as ${corrupt})`;
  }

  /**
   * Where the checkpoint left off: its epochs, optimizer state and the metrics of those epochs.
   * metrics.jsonl is written before the checkpoint, so a kill in between leaves lines for epochs
   * the checkpoint does not hold: they are dropped here so that they are not written twice. The
   * model folder is written after the checkpoint: if it is an epoch behind, `writeModel` brings it up.
   */
  async resume<M extends EpochStats>(writeModel: WriteModel): Promise<{ epochsDone: number; optimizer: OptimizerSnapshot; history: M[] }> {
    const { epochsDone } = readJsonFile(path.join(this.checkpointDir, 'train-state.json')) as TrainState;
    const opt = decodeTensors(this.checkpointDir, 'optimizer');
    const values: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(opt)) values[k] = t.dataSync() as Float32Array;
    tf.dispose(Object.values(opt));
    const optimizer = { step: readJsonFile(path.join(this.checkpointDir, 'optimizer-step.json')) as number, values };
    const history: M[] = [];
    if (fs.existsSync(this.metricsFile)) {
      for (const m of readMetricsLines<M>(this.metricsFile)) if (m.epoch < epochsDone && !history.some((h) => h.epoch === m.epoch)) history.push(m);
    }
    fs.writeFileSync(this.metricsFile, history.map(metricsLine).join(''));
    const cardFile = path.join(this.modelDir, 'model-card.json');
    const modelEpochs = fs.existsSync(cardFile) ? (readJsonFile(cardFile) as { epochs?: number }).epochs : undefined;
    if (modelEpochs !== epochsDone) await writeModel(this.modelDir);
    return { epochsDone, optimizer, history };
  }

  /**
   * The checkpoint (the model, its optimizer state for `trainable`, the epochs done) and the model
   * folder, each written atomically; the checkpoint it replaces becomes checkpoint.previous/. A kill
   * between that move and the new checkpoint's rename leaves only checkpoint.previous/, which
   * resume takes.
   */
  async saveEpoch(epochsDone: number, optimizer: OptimizerSnapshot, trainable: Map<string, tf.Variable>, writeModel: WriteModel): Promise<void> {
    const tensors = Object.entries(optimizer.values).map(([k, v]) => [k, tf.tensor(v, trainable.get(k.slice(2))!.shape)] as [string, tf.Tensor]);
    const opt = await encodeTensors(tensors).finally(() => tf.dispose(tensors.map(([, t]) => t)));
    if (fs.existsSync(this.checkpointDir)) {
      fs.rmSync(this.previousDir, { recursive: true, force: true });
      fs.renameSync(this.checkpointDir, this.previousDir);
    }
    await writeModel(this.checkpointDir, {
      'optimizer.bin': opt.bin,
      'optimizer.json': opt.specs,
      'optimizer-step.json': JSON.stringify(optimizer.step),
      'train-state.json': JSON.stringify({ epochsDone } satisfies TrainState),
    });
    await writeModel(this.modelDir);
  }

  /** Appends an epoch's line to metrics.jsonl (before the checkpoint is written). */
  appendMetrics(m: EpochStats): void {
    fs.appendFileSync(this.metricsFile, metricsLine(m));
  }

  writeReport(name: string, rows: ReportRow[]): void {
    writeReport(path.join(this.outDir, 'report.html'), name, rows);
  }
}

/** Why a checkpoint folder cannot be resumed from (a checksum, or a weight that is not finite), or undefined when it can. */
function checkpointFault(dir: string): string | undefined {
  try {
    verifyChecksums(dir);
    for (const base of ['weights', 'optimizer']) tf.dispose(Object.values(decodeTensors(dir, base)));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** An epoch's line of metrics.jsonl, numbered from 1 as the console counts (in memory epochs count from 0). */
function metricsLine(m: EpochStats): string {
  return `${JSON.stringify({ ...m, epoch: m.epoch + 1 })}\n`;
}

/**
 * The lines of metrics.jsonl, their epochs counted from 0 again. Runs written before the file
 * counted from 1 start at epoch 0 and are read as they are. A last line cut short (a kill while it
 * was appended) is dropped, as the checkpoint does not hold its epoch; a bad line before the last
 * names the file and line.
 */
function readMetricsLines<M extends EpochStats>(file: string): M[] {
  const parsed = parseMetricsLines<M>(file);
  const fromZero = parsed.some((m) => m.epoch === 0);
  return fromZero ? parsed : parsed.map((m) => ({ ...m, epoch: m.epoch - 1 }));
}

function parseMetricsLines<M>(file: string): M[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: M[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as M);
    } catch (err) {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!isLast) throw new Error(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
  });
  return out;
}
