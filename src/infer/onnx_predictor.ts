import { createRequire } from 'node:module';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { ONNX_INPUTS, ONNX_OUTPUTS, vqaModelToOnnx } from '../export/export_model.ts';
import type { ModelConfig } from '../config/config.ts';
import type { Prediction, VqaModel } from '../model/vqa_model.ts';
import type { BatchArrays } from '../inputs/batches.ts';
import { topIndices, type Predictor } from './predictor.ts';

type OnnxRuntime = typeof import('onnxruntime-node');

/** onnxruntime-node, or why it could not be loaded (a native module: absent or broken on some platforms). */
export async function loadOnnxRuntime(): Promise<OnnxRuntime | string> {
  try {
    const mod = (await import('onnxruntime-node')) as OnnxRuntime & { default?: OnnxRuntime };
    return mod.default ?? mod;
  } catch (err) {
    return `onnxruntime-node could not be loaded (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Rows of a [B, G, W] output as [b][g][w]. */
function rows3(t: OrtTensor, b: number): number[][] {
  const [, glimpses, width] = t.dims as [number, number, number];
  const data = t.data as Float32Array;
  return Array.from({ length: glimpses }, (_, gl) => Array.from(data.subarray((b * glimpses + gl) * width, (b * glimpses + gl + 1) * width)));
}

/**
 * The trained network exported to ONNX (src/export) and run by onnxruntime's CPU kernels: one
 * session call per batch instead of some 300 tfjs kernels, which is what single questions wait on.
 */
export class OnnxPredictor implements Predictor {
  readonly config: ModelConfig;

  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: InferenceSession,
    private readonly answers: string[],
    config: ModelConfig,
    readonly runtime: string,
    readonly unseenWordScale: number,
  ) {
    this.config = config;
  }

  /** Exports `model` (or takes its exported `graph`) and opens it in onnxruntime with `threads` intra-op threads. */
  static async create(ort: OnnxRuntime, model: VqaModel, threads: number, graph = vqaModelToOnnx(model)): Promise<OnnxPredictor> {
    const session = await ort.InferenceSession.create(graph, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const { version } = createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string };
    const runtime = `onnxruntime ${version} (cpu, ${threads} thread${threads === 1 ? '' : 's'})`;
    return new OnnxPredictor(ort, session, model.answers.answers, model.config.model, runtime, model.unseenWordScale());
  }

  async predict(a: BatchArrays, topK: number): Promise<Prediction[]> {
    const { Tensor } = this.ort;
    const feeds = {
      [ONNX_INPUTS.images]: new Tensor('float32', a.imageValues, [a.images, ...a.imageShape]),
      [ONNX_INPUTS.imageIndex]: new Tensor('int32', a.imageIndex, [a.batch]),
      [ONNX_INPUTS.tokens]:
        a.textWidth === 0 ? new Tensor('int32', a.text as Int32Array, [a.batch, a.maxTokens]) : new Tensor('float32', a.text as Float32Array, [a.batch, a.maxTokens, a.textWidth]),
      [ONNX_INPUTS.mask]: new Tensor('float32', a.mask, [a.batch, a.maxTokens]),
    };
    const out = await this.session.run(feeds);
    const probs = out[ONNX_OUTPUTS.probabilities]!.data as Float32Array;
    const width = this.answers.length;
    const k = Math.min(topK, width);
    return Array.from({ length: a.batch }, (_, b) => ({
      answers: topIndices(probs, b, width, k).map((j) => ({ answer: this.answers[j]!, score: probs[b * width + j]! })),
      questionAttention: rows3(out[ONNX_OUTPUTS.questionAttention]!, b),
      imageAttention: rows3(out[ONNX_OUTPUTS.imageAttention]!, b),
      imageDistance: (out[ONNX_OUTPUTS.imageDistance]!.data as Float32Array)[b]!,
    }));
  }

  /** onnxruntime-node 1.14 has no release(): the session is freed when it is garbage-collected. */
  dispose(): void {}
}
