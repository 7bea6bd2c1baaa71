// The ONNX forms of the building blocks in src/model/ops.ts, formula for formula.
import type { OnnxGraph, Value } from './onnx_graph.ts';

/** Σ over `axes`. */
function reduceSum(g: OnnxGraph, x: Value, axes: number[], keepDims: boolean): Value {
  return g.op('ReduceSum', [x, g.int64s(axes)], { keepdims: { int: keepDims ? 1 : 0 } });
}

/** sign(z)·√|z| as √relu(z) − √relu(−z), as in ops.ts. */
export function signedSqrt(g: OnnxGraph, z: Value): Value {
  return g.op('Sub', [g.op('Sqrt', [g.op('Relu', [z])]), g.op('Sqrt', [g.op('Relu', [g.op('Neg', [z])])])]);
}

/** z / √(Σ_axes z² + ε²). */
export function l2Normalize(g: OnnxGraph, z: Value, axes: number[], eps = 1e-12): Value {
  const sumSquares = g.op('ReduceSumSquare', [z], { axes: { ints: axes }, keepdims: { int: 1 } });
  return g.op('Div', [z, g.op('Sqrt', [g.op('Add', [sumSquares, g.scalar(eps * eps)])])]);
}

/** (x − mean) / √(variance + ε) over the last axis, as in ops.ts. */
export function standardize(g: OnnxGraph, x: Value, eps = 1e-5): Value {
  const centred = g.op('Sub', [x, g.op('ReduceMean', [x], { axes: { ints: [-1] }, keepdims: { int: 1 } })]);
  const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes: { ints: [-1] }, keepdims: { int: 1 } });
  return g.op('Div', [centred, g.op('Sqrt', [g.op('Add', [variance, g.scalar(eps)])])]);
}

/** Softmax over `axis` in which mask = 0 entries get no weight (mask broadcasts to logits). */
export function maskedSoftmax(g: OnnxGraph, logits: Value, mask: Value, axis: number): Value {
  const masked = g.op('Add', [logits, g.op('Mul', [g.op('Sub', [g.scalar(1), mask]), g.scalar(-1e9)])]);
  const shifted = g.op('Sub', [masked, g.op('ReduceMax', [masked], { axes: { ints: [axis] }, keepdims: { int: 1 } })]);
  const e = g.op('Mul', [g.op('Exp', [shifted]), mask]);
  return g.op('Div', [e, g.op('Add', [reduceSum(g, e, [axis], true), g.scalar(1e-12)])]);
}

/** [.., k·o] → [.., o] summing each group of k (`rank` is the rank of e). */
export function sumPool(g: OnnxGraph, e: Value, rank: number, k: number, o: number): Value {
  return reduceSum(g, g.reshape(e, [...Array<number>(rank - 1).fill(0), o, k]), [rank], false);
}

/** Σ_n weights[b,g,n] · features[b,n,:] per glimpse, concatenated: [B, G·D]. */
export function attend(g: OnnxGraph, features: Value, weights: Value): Value {
  return g.reshape(g.op('MatMul', [weights, features]), [0, -1]);
}
