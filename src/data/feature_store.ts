import fs from 'node:fs';
import { fromFloat16Row, toFloat16Array } from '../nn/float16.ts';
import type { ImageRegionModel } from '../vision/image_region_model.ts';
import type { RegionFeatures } from '../vision/pretrained_model.ts';
import { imagesFingerprint } from './image_store.ts';
import type { ImageRows } from './images.ts';
import { completeStore, mergePackedParts, openPackedStore, type BadImage, type PackedRows, type PackedStoreSpec, type RowFile, type StorePart } from './packed_store.ts';
import type { LoadedSplit } from './split.ts';

export type FeatureDtype = 'float32' | 'float16';

/** Region features [N, C] of every image of a split, float32 or float16 rows of a packed store, read as batches need them. */
export class FeatureTable implements ImageRows {
  private readonly rows = new Map<number, number>();
  readonly shape: number[];

  constructor(
    ids: number[],
    regions: number,
    width: number,
    private readonly dtype: FeatureDtype,
    private readonly file: RowFile,
  ) {
    ids.forEach((id, r) => this.rows.set(id, r));
    this.shape = [regions, width];
  }

  write(imageId: number, out: Float32Array, offset: number): void {
    const r = this.rows.get(imageId);
    if (r === undefined) throw new Error(`image ${imageId} is not in this split`);
    const bytes = this.file.read(r); // a fresh buffer: aligned for either view
    if (this.dtype === 'float32') out.set(new Float32Array(bytes.buffer, 0, bytes.byteLength / 4), offset);
    else {
      fromFloat16Row(bytes, out, offset);
    }
  }
}

export interface FeatureStoreOptions {
  cacheDir: string;
  dtype: FeatureDtype;
  /** the region grid and width the model was probed with; every image must give the same */
  grid: [number, number];
  width: number;
  skipBad: boolean;
  onProgress?: (done: number, total: number) => void;
  /** images per forward pass and per record of a partial store */
  chunk?: number;
  /**
   * Extract only part `index` (0-based) of `count` equal blocks of the split's images, into its own
   * store; a later open without `shard` joins the complete parts into the split's store.
   */
  shard?: { index: number; count: number };
}

/** What the store needs of an image model (the scale benchmark passes a random one). */
export type RegionExtractor<D> = Pick<ImageRegionModel<D>, 'record' | 'decode' | 'extract'>;

export interface FeatureStoreResult {
  table: FeatureTable;
  bad: BadImage[];
  from: 'store' | 'built';
}

/**
 * A split's region features from a pretrained image model, extracted once into the packed store
 * `cacheDir/SPLIT-features-MODEL-SHA.bin` (resumable, see openPackedStore) and reused by training and evaluation.
 */
export async function openFeatureStore<D>(split: LoadedSplit, model: RegionExtractor<D>, o: FeatureStoreOptions): Promise<FeatureStoreResult> {
  const regions = o.grid[0] * o.grid[1];
  const values = regions * o.width;
  const rowBytes = values * (o.dtype === 'float16' ? 2 : 4);
  const toBytes = (row: Float32Array): Uint8Array => {
    const typed = o.dtype === 'float16' ? toFloat16Array(row) : row;
    return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  };
  const makeRows = async (ids: number[]): Promise<(Uint8Array | Error)[]> => {
    const decoded = await Promise.all(ids.map((id) => model.decode(split.imagePath(id)).catch((err: Error) => err)));
    const good = decoded.filter((d): d is Awaited<D> => !(d instanceof Error));
    const features: RegionFeatures | undefined = good.length > 0 ? await model.extract(good) : undefined;
    if (features && features.rows[0]!.length !== values) {
      throw new Error(
        `image model '${model.record.model}' gave ${features.rows[0]!.length / features.width}×${features.width} features for ${split.imagePath(ids[0]!)}, not ${regions}×${o.width}: its processor must resize every image to one size`,
      );
    }
    let next = 0;
    return decoded.map((d) => (d instanceof Error ? d : toBytes(features!.rows[next++]!)));
  };
  const safeName = model.record.model.replace(/[^A-Za-z0-9._-]+/g, '_');
  const spec: PackedStoreSpec = {
    cacheDir: o.cacheDir,
    name: `${split.name}-features-${safeName}-${model.record.sha256.slice(0, 12)}-${o.dtype}`,
    fingerprint: `features v1 ${model.record.sha256} ${o.dtype} ${regions}x${o.width} ${imagesFingerprint(split)}`,
    ids: split.imageIds,
    rowBytes,
    makeRows,
    fileOf: (id) => split.imagePath(id),
    skipBad: o.skipBad,
    onProgress: o.onProgress,
    chunk: o.chunk ?? 16,
  };
  const rows = o.shard
    ? await openPackedStore({ ...spec, ...shardPart(spec, o.shard.index, o.shard.count) })
    : (completeStore(spec) ?? joinedShards(spec) ?? (await openPackedStore(spec)));
  return { table: new FeatureTable(rows.ids, regions, o.width, o.dtype, rows.rows), bad: rows.bad, from: rows.from };
}

/** Part `index` of `count`: the index-th of `count` equal blocks of the split's images, in the split's order. */
function shardPart(spec: PackedStoreSpec, index: number, count: number): StorePart {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) throw new Error(`shard ${index + 1}/${count}: needs 1 ≤ i ≤ n`);
  const size = Math.ceil(spec.ids.length / count);
  return {
    name: `${spec.name}.shard-${index + 1}-of-${count}`,
    fingerprint: `${spec.fingerprint} shard ${index + 1}/${count}`,
    ids: spec.ids.slice(index * size, (index + 1) * size),
  };
}

/** The split's store joined from complete shards on disk (any one count of them), if there are. */
function joinedShards(spec: PackedStoreSpec): PackedRows | undefined {
  const prefix = `${spec.name}.shard-`;
  const counts = new Set(
    (fs.existsSync(spec.cacheDir) ? fs.readdirSync(spec.cacheDir) : [])
      .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
      .map((f) => Number(/-of-(\d+)\.json$/.exec(f)?.[1]))
      .filter((n) => Number.isInteger(n) && n > 0),
  );
  for (const count of counts) {
    const joined = mergePackedParts(
      spec,
      Array.from({ length: count }, (_, i) => shardPart(spec, i, count)),
    );
    if (joined) return joined;
  }
  return undefined;
}
