import { imageAttentionMaps, inputShapes, regionGrid } from '../config/config.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import { OnnxGraph } from '../nn/onnx_graph.ts';
import { OnnxRecorder } from '../nn/onnx_recorder.ts';

/** Names of the exported graph's inputs and outputs. */
export const ONNX_INPUTS = { images: 'images', imageIndex: 'image_index', tokens: 'tokens', mask: 'mask' } as const;
export const ONNX_OUTPUTS = {
  probabilities: 'probabilities',
  questionAttention: 'question_attention',
  imageAttention: 'image_attention',
  imageDistance: 'image_distance',
} as const;

/**
 * The trained network in inference mode as an ONNX model (opset 17), batch size free, recorded by
 * running its forward on the ONNX recorder: inputs images [I, H, W, 3] pixels or [I, N, C]
 * features, image_index [B] int32, tokens [B, T] int32 ids or [B, T, C] states with T = maxTokens,
 * mask [B, T]; outputs the answer probabilities [B, A] and both attention maps. Each parameter is
 * one initializer (float16 with `float16`, cast where it is read); onnxruntime folds what is
 * constant (the casts, the batch norms into the convolutions) when it loads the graph.
 */
export function vqaModelToOnnx(model: VqaModel, float16 = false): Uint8Array {
  const cfg = model.config.model;
  const { imageShape, textWidth } = inputShapes(cfg);
  const t = cfg.language.maxTokens;
  const g = new OnnxGraph(float16);
  const o = new OnnxRecorder(g, model.net.store.names());
  const inputs = {
    images: o.value(g.input(ONNX_INPUTS.images, 'float32', ['images', ...imageShape]), imageShape.length + 1),
    imageIndex: o.value(g.input(ONNX_INPUTS.imageIndex, 'int32', ['batch']), 1),
    tokens: textWidth === 0 ? o.value(g.input(ONNX_INPUTS.tokens, 'int32', ['batch', t]), 2) : o.value(g.input(ONNX_INPUTS.tokens, 'float32', ['batch', t, textWidth]), 3),
    mask: o.value(g.input(ONNX_INPUTS.mask, 'float32', ['batch', t]), 2),
  };
  const out = model.net.forward(o, inputs);
  const [h, w] = regionGrid(cfg);
  g.output(ONNX_OUTPUTS.probabilities, o.softmax(out.logits).name, 'float32', ['batch', model.answers.size]);
  g.output(ONNX_OUTPUTS.questionAttention, out.questionAttention.name, 'float32', ['batch', cfg.attention.glimpses, t]);
  g.output(ONNX_OUTPUTS.imageAttention, out.imageAttention.name, 'float32', ['batch', imageAttentionMaps(cfg), h * w]);
  g.output(ONNX_OUTPUTS.imageDistance, out.imageDistance.name, 'float32', ['batch']);
  return g.encode(JSON.stringify({ answers: model.answers.answers }));
}
