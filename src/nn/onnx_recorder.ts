// Ops that write ONNX nodes instead of computing: running a forward with them records the network
// in inference mode as a graph for onnxruntime (see src/export/export_model.ts).
import type { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from './onnx_graph.ts';
import type { BatchNormVariables, Operand, Ops } from './ops.ts';

/** A value of the graph and its rank (the recorder needs no other part of its shape). */
export interface Sym {
  readonly name: Value;
  readonly rank: number;
  /** an image [N, H, W, C] that the graph holds as NCHW: its name there (see conv2d) */
  readonly nchw?: Value;
}

/**
 * An image the graph holds as NCHW, as ONNX convolves: the NHWC value the layers see is a
 * Transpose written only when an operation other than a convolution, batch norm or ReLU reads it.
 */
function channelsFirst(g: OnnxGraph, nchw: Value): Sym {
  let nhwc: Value | undefined;
  return {
    nchw,
    rank: 4,
    get name() {
      nhwc ??= g.transpose(nchw, [0, 2, 3, 1]);
      return nhwc;
    },
  };
}

export class OnnxRecorder implements Ops<Sym> {
  readonly training = false;
  private readonly params = new Map<tf.Variable, Sym>();

  /** `names`: each parameter's name in the store, which its initializer takes */
  constructor(
    readonly g: OnnxGraph,
    private readonly names: Map<tf.Variable, string>,
  ) {}

  /** A graph input (or any value already in the graph) of the given rank. */
  value(name: Value, rank: number): Sym {
    return { name, rank };
  }

  /** Each variable becomes one initializer, however many layers or hops read it. */
  param(v: tf.Variable): Sym {
    let sym = this.params.get(v);
    if (!sym) {
      const name = this.names.get(v);
      if (!name) throw new Error(`a variable read by the network is not in its parameter store (shape [${v.shape}])`);
      sym = { name: this.g.tensor(name, v), rank: v.rank };
      this.params.set(v, sym);
    }
    return sym;
  }
  constant(values: Float32Array, shape: number[]): Sym {
    return { name: this.g.floats('constant', values, shape), rank: shape.length };
  }
  rank(x: Sym): number {
    return x.rank;
  }
  size(): undefined {
    return undefined;
  }

  private operand(x: Operand<Sym>): Sym {
    return typeof x === 'number' ? { name: this.g.scalar(x), rank: 0 } : x;
  }
  /** An elementwise node: its rank is the larger of its inputs'. */
  private elementwise(opType: string, inputs: Operand<Sym>[]): Sym {
    const syms = inputs.map((x) => this.operand(x));
    return {
      name: this.g.op(
        opType,
        syms.map((s) => s.name),
      ),
      rank: Math.max(...syms.map((s) => s.rank)),
    };
  }
  private unary(opType: string, x: Sym): Sym {
    return { name: this.g.op(opType, [x.name]), rank: x.rank };
  }

  add(a: Sym, b: Operand<Sym>): Sym {
    return this.elementwise('Add', [a, b]);
  }
  sub(a: Operand<Sym>, b: Operand<Sym>): Sym {
    return this.elementwise('Sub', [a, b]);
  }
  mul(a: Sym, b: Operand<Sym>): Sym {
    return this.elementwise('Mul', [a, b]);
  }
  div(a: Sym, b: Operand<Sym>): Sym {
    return this.elementwise('Div', [a, b]);
  }
  maximum(a: Sym, b: number): Sym {
    return this.elementwise('Max', [a, b]);
  }
  relu(x: Sym): Sym {
    return x.nchw ? channelsFirst(this.g, this.g.op('Relu', [x.nchw])) : this.unary('Relu', x);
  }
  sqrt(x: Sym): Sym {
    return this.unary('Sqrt', x);
  }
  exp(x: Sym): Sym {
    return this.unary('Exp', x);
  }
  square(x: Sym): Sym {
    return this.elementwise('Mul', [x, x]);
  }
  /** √relu(z) − √relu(−z), as the eager form computes it. */
  signedSqrt(x: Sym): Sym {
    return this.sub(this.sqrt(this.relu(x)), this.sqrt(this.relu(this.unary('Neg', x))));
  }

  matMul(a: Sym, b: Sym): Sym {
    return this.elementwise('MatMul', [a, b]);
  }
  reshape(x: Sym, shape: number[]): Sym {
    return { name: this.g.reshape(x.name, shape), rank: shape.length };
  }
  transpose(x: Sym, perm: number[]): Sym {
    return { name: this.g.transpose(x.name, perm), rank: x.rank };
  }
  expandDims(x: Sym, axis: number): Sym {
    return { name: this.g.unsqueeze(x.name, [axis]), rank: x.rank + 1 };
  }
  concat(xs: Sym[], axis: number): Sym {
    return xs.length === 1
      ? xs[0]!
      : {
          name: this.g.op(
            'Concat',
            xs.map((x) => x.name),
            { axis: { int: axis } },
          ),
          rank: xs[0]!.rank,
        };
  }
  slice(x: Sym, axis: number, start: number, size: number): Sym {
    const g = this.g;
    return { name: g.op('Slice', [x.name, g.int64s([start]), g.int64s([start + size]), g.int64s([axis])]), rank: x.rank };
  }
  tile(x: Sym, reps: number[]): Sym {
    return { name: this.g.op('Tile', [x.name, this.g.int64s(reps)]), rank: x.rank };
  }
  sum(x: Sym, axes: number[], keepDims: boolean): Sym {
    const name = this.g.op('ReduceSum', [x.name, this.g.int64s(axes)], { keepdims: { int: keepDims ? 1 : 0 } });
    return { name, rank: keepDims ? x.rank : x.rank - axes.length };
  }
  /** ReduceMean and ReduceMax take their axes as an attribute up to opset 17. */
  mean(x: Sym, axes: number[], keepDims: boolean): Sym {
    const name = this.g.op('ReduceMean', [x.name], { axes: { ints: axes }, keepdims: { int: keepDims ? 1 : 0 } });
    return { name, rank: keepDims ? x.rank : x.rank - axes.length };
  }
  max(x: Sym, axis: number, keepDims: boolean): Sym {
    const name = this.g.op('ReduceMax', [x.name], { axes: { ints: [axis] }, keepdims: { int: keepDims ? 1 : 0 } });
    return { name, rank: keepDims ? x.rank : x.rank - 1 };
  }
  softmax(x: Sym): Sym {
    return { name: this.g.op('Softmax', [x.name], { axis: { int: -1 } }), rank: x.rank };
  }

  gather(table: Sym, ids: Sym): Sym {
    return { name: this.g.op('Gather', [table.name, ids.name], { axis: { int: 0 } }), rank: table.rank - 1 + ids.rank };
  }
  gatherRows(x: Sym, index: Sym): Sym {
    return this.gather(x, index);
  }
  capIds(ids: Sym, last: number): Sym {
    return { name: this.g.op('Min', [ids.name, this.g.int32Scalar(last)]), rank: ids.rank };
  }
  /**
   * ONNX convolves NCHW images with [C′, C, k, k] kernels: the image stays NCHW from the first
   * convolution through its batch norms and ReLUs to the next (channelsFirst), and the kernel is
   * transposed in the graph, which onnxruntime folds once, at load. SAME_UPPER is TensorFlow's 'same'.
   */
  conv2d(x: Sym, w: Sym, stride: number): Sym {
    const g = this.g;
    const kernel = g.transpose(w.name, [3, 2, 0, 1]);
    const attrs = { auto_pad: { string: 'SAME_UPPER' }, strides: { ints: [stride, stride] } };
    return channelsFirst(g, g.op('Conv', [x.nchw ?? g.transpose(x.name, [0, 3, 1, 2]), kernel], attrs));
  }
  maxPool2x2(): Sym {
    throw new Error("max pooling is not exported to ONNX: only the image classifier's trunk pools, and classifiers are not exported");
  }
  /** A BatchNormalization node after the convolution it normalises, which onnxruntime folds into the convolution at load. */
  batchNorm(x: Sym, bn: BatchNormVariables): Sym {
    if (!x.nchw) throw new Error('the ONNX recorder writes a batch norm only after a convolution');
    const inputs = [x.nchw, ...[bn.gamma, bn.beta, bn.runningMean, bn.runningVar].map((v) => this.param(v).name)];
    return channelsFirst(this.g, this.g.op('BatchNormalization', inputs, { epsilon: { float: bn.eps } }));
  }
  standardize(x: Sym, eps: number): Sym {
    const centred = this.sub(x, this.mean(x, [-1], true));
    return this.div(centred, this.sqrt(this.add(this.mean(this.square(centred), [-1], true), eps)));
  }
  dropout(x: Sym): Sym {
    return x;
  }
}
