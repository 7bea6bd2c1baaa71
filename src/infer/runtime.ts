import type { VqaModel } from '../model/vqa_model.ts';
import { loadOnnxRuntime, OnnxPredictor } from './onnx_predictor.ts';
import { TfjsPredictor, type Predictor, type RuntimeName } from './predictor.ts';

/**
 * The predictor for a loaded model: `onnx` exports it to onnxruntime (an error if onnxruntime-node
 * cannot load), `tfjs` keeps it on the tfjs backend, `auto` takes onnx when it loads and says why
 * not otherwise. `threads` is onnxruntime's intra-op thread count. The predictor owns the model: an
 * onnx one frees the tfjs copy once it is exported.
 */
export async function createPredictor(model: VqaModel, runtime: RuntimeName, threads: number): Promise<{ predictor: Predictor; note?: string }> {
  if (runtime === 'tfjs') return { predictor: new TfjsPredictor(model) };
  const ort = await loadOnnxRuntime();
  if (typeof ort === 'string') {
    if (runtime === 'onnx') throw new Error(ort);
    return { predictor: new TfjsPredictor(model), note: `${ort}: answering on tfjs` };
  }
  const predictor = await OnnxPredictor.create(ort, model, threads);
  model.dispose();
  return { predictor };
}
