import { imageAttentionMaps, inputShapes, regionGrid } from '../config/config.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import { OnnxGraph } from '../nn/onnx_graph.ts';

/** Names of the exported graph's inputs and outputs. */
export const ONNX_INPUTS = { images: 'images', imageIndex: 'image_index', tokens: 'tokens', mask: 'mask' } as const;
export const ONNX_OUTPUTS = { probabilities: 'probabilities', questionAttention: 'question_attention', imageAttention: 'image_attention' } as const;

/**
 * The trained network in inference mode as an ONNX model (opset 17), batch size free:
 * inputs images [I, H, W, 3] pixels or [I, N, C] features, image_index [B] int32, tokens [B, T]
 * int32 ids or [B, T, C] states with T = maxTokens, mask [B, T]; outputs the answer
 * probabilities [B, A] and both attention maps. Batch norm is folded into the convolutions.
 */
export function vqaModelToOnnx(model: VqaModel): Uint8Array {
  const cfg = model.config.model;
  const { imageShape, textWidth } = inputShapes(cfg);
  const t = cfg.language.maxTokens;
  const g = new OnnxGraph();
  const inputs = {
    images: g.input(ONNX_INPUTS.images, 'float32', ['images', ...imageShape]),
    imageIndex: g.input(ONNX_INPUTS.imageIndex, 'int32', ['batch']),
    tokens: textWidth === 0 ? g.input(ONNX_INPUTS.tokens, 'int32', ['batch', t]) : g.input(ONNX_INPUTS.tokens, 'float32', ['batch', t, textWidth]),
    mask: g.input(ONNX_INPUTS.mask, 'float32', ['batch', t]),
  };
  const out = model.net.toOnnx(g, inputs);
  const [h, w] = regionGrid(cfg);
  g.output(ONNX_OUTPUTS.probabilities, g.op('Softmax', [out.logits], { axis: { int: -1 } }), 'float32', ['batch', model.answers.size]);
  g.output(ONNX_OUTPUTS.questionAttention, out.questionAttention, 'float32', ['batch', cfg.questionAttention.glimpses, t]);
  g.output(ONNX_OUTPUTS.imageAttention, out.imageAttention, 'float32', ['batch', imageAttentionMaps(cfg), h * w]);
  return g.encode(JSON.stringify({ answers: model.answers.answers }));
}
