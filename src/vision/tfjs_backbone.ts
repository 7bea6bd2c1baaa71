import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend/tf.ts';
import { checkRecord, type FolderRecord } from '../pretrained/folder.ts';
import { decodeRgb } from '../util/decode_rgb.ts';
import type { RegionFeatures } from './pretrained_model.ts';

/** What a tfjs backbone is cut and fed with (config model.vision of a pretrained tfjs folder). */
export interface TfjsBackboneSpec {
  /** the folder: an id under the pretrained-models folder, or an absolute path */
  model: string;
  /** the layer (layers model) or node (graph model) whose [B, h, w, C] output gives the regions; default: a layers model's last 4-D layer */
  layer?: string;
  /** the pixel values the model was trained on, black to white */
  inputRange: [number, number];
}

/** A tfjs model.json as tfjs-converter, `model.save` and Teachable Machine write it (the fields read here). */
interface ModelJson {
  format?: string;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** True when `dir` holds a tfjs model (a model.json), not an ONNX folder. */
export function isTfjsFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'model.json'));
}

/**
 * A frozen CNN from a tfjs model folder (layers or graph model), cut at a named layer or node: its
 * feature map [B, h, w, C] is the image's h·w regions of width C, as the ONNX models' are. It runs
 * on the process's tfjs backend; images are resized to the model's input size (squashed, as a
 * Keras application's preprocessing does).
 */
export class TfjsBackbone {
  private constructor(
    readonly record: FolderRecord,
    private readonly run: (x: tf.Tensor4D) => tf.Tensor,
    private readonly size: [number, number],
    private readonly range: [number, number],
  ) {}

  static async load(dir: string, spec: TfjsBackboneSpec, recorded?: FolderRecord): Promise<TfjsBackbone> {
    const file = path.join(dir, 'model.json');
    let json: ModelJson;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelJson;
    } catch (err) {
      throw new Error(`${file}: not a tfjs model.json (${(err as Error).message})`);
    }
    if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new Error(`${file}: not a tfjs model.json (needs modelTopology and weightsManifest)`);
    const shardFiles = json.weightsManifest.flatMap((g) => g.paths.map((p) => path.join(dir, p)));
    const missing = shardFiles.filter((f) => !fs.existsSync(f));
    if (missing.length > 0) throw new Error(`${file}: weight file(s) ${missing.map((f) => path.basename(f)).join(', ')} missing from ${dir}`);
    const shards = shardFiles.map((f) => fs.readFileSync(f));
    const record = tfjsRecord(spec, fs.readFileSync(file), shards);
    checkRecord('vision', record, recorded, dir);
    const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
    shards.reduce((offset, s) => (weightData.set(s, offset), offset + s.length), 0);
    const artifacts: tf.io.ModelArtifacts = {
      modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weightData.buffer,
      format: json.format,
    };
    const graph = json.format === 'graph-model';
    return graph ? TfjsBackbone.fromGraph(dir, artifacts, spec, record) : TfjsBackbone.fromLayers(dir, artifacts, spec, record);
  }

  private static async fromLayers(dir: string, artifacts: tf.io.ModelArtifacts, spec: TfjsBackboneSpec, record: FolderRecord): Promise<TfjsBackbone> {
    const full = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const fourD = full.layers.filter((l) => (l.outputShape as number[]).length === 4);
    const name = spec.layer ?? fourD.at(-1)?.name;
    const layer = full.layers.find((l) => l.name === name);
    if (!layer) {
      const known = fourD.slice(-5).map((l) => l.name);
      throw new Error(`${dir}: the layers model has no layer '${name}'${known.length ? ` (its last 4-D layers: ${known.join(', ')})` : ' and no 4-D layer'}`);
    }
    if ((layer.outputShape as number[]).length !== 4) throw new Error(`${dir}: layer '${name}' gives [${String(layer.outputShape)}]; regions need a 4-D [B, h, w, C] output`);
    const cut = tf.model({ inputs: full.inputs, outputs: layer.output as tf.SymbolicTensor });
    return new TfjsBackbone(record, (x) => cut.predict(x) as tf.Tensor, inputSize(full.inputs[0]!.shape, dir), spec.inputRange);
  }

  private static async fromGraph(dir: string, artifacts: tf.io.ModelArtifacts, spec: TfjsBackboneSpec, record: FolderRecord): Promise<TfjsBackbone> {
    if (!spec.layer) throw new Error(`${dir}: a graph model needs model.vision.layer, the node whose output gives the regions`);
    const graph = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    const node = spec.layer;
    const shape = graph.inputs[0]?.shape;
    if (!shape) throw new Error(`${dir}: the graph model has no input`);
    return new TfjsBackbone(
      record,
      (x) => {
        try {
          return graph.execute(x, node) as tf.Tensor;
        } catch (err) {
          throw new Error(`${dir}: node '${node}' could not be computed (${(err as Error).message})`);
        }
      },
      inputSize(shape, dir),
      spec.inputRange,
    );
  }

  /** Decodes a file or buffer the way every image is read (EXIF rotation, alpha on white, sRGB), at the model's input size, as its input values. */
  async decode(input: string | Buffer): Promise<Float32Array> {
    const [h, w] = this.size;
    const data = await decodeRgb(input, w, h);
    const [lo, hi] = this.range;
    return Float32Array.from(data, (v) => lo + ((hi - lo) * v) / 255);
  }

  /** The region grid and feature width, from one blank image. */
  async probe(): Promise<{ grid: [number, number]; width: number }> {
    const { grid, width } = await this.extract([new Float32Array(this.size[0] * this.size[1] * 3).fill(this.range[1])]);
    return { grid, width };
  }

  /** Region features of several decoded images in one forward pass: rows of [h·w, C], region-major. */
  async extract(images: Float32Array[]): Promise<RegionFeatures> {
    const [h, w] = this.size;
    const out = tf.tidy(() => {
      const x = tf.tensor4d(concat(images), [images.length, h, w, 3]);
      return this.run(x);
    });
    try {
      if (out.shape.length !== 4) throw new Error(`${this.record.model}: '${this.record.file}' gives [${out.shape.join(', ')}]; regions need [B, h, w, C]`);
      const [b, gh, gw, c] = out.shape as [number, number, number, number];
      const data = (await out.data()) as Float32Array;
      const per = gh * gw * c;
      return { rows: Array.from({ length: b }, (_, i) => data.slice(i * per, (i + 1) * per)), grid: [gh, gw], width: c };
    } finally {
      out.dispose();
    }
  }
}

/** The folder's record: model.json, its weights and the cut point, so that a store of another cut is not reused. */
function tfjsRecord(spec: TfjsBackboneSpec, modelJson: Buffer, shards: Buffer[]): FolderRecord {
  const h = createHash('sha256').update(modelJson);
  for (const s of shards) h.update(s);
  const cut = spec.layer ?? 'last 4-D layer';
  h.update(`\ncut at ${cut}; input ${spec.inputRange.join('..')}`);
  return { model: spec.model, file: `model.json#${cut}`, sha256: h.digest('hex') };
}

function inputSize(shape: (number | null)[] | number[], dir: string): [number, number] {
  const [, h, w, c] = shape;
  if (shape.length !== 4 || !h || !w || c !== 3) throw new Error(`${dir}: the model's input is [${shape.join(', ')}]; a backbone needs a fixed [B, h, w, 3] image input`);
  return [h, w];
}

function concat(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  rows.reduce((offset, r) => (out.set(r, offset), offset + r.length), 0);
  return out;
}
