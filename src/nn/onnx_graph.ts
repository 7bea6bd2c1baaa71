// A small builder for ONNX graphs: the trained network is written out as one, node by node, so
// that onnxruntime can run it (see src/infer/onnx_predictor.ts) or other tools can read it.
import onnxProto, { type onnx } from 'onnx-proto';
import { tf } from '../backend/tf.ts';
import { toFloat16Array } from './float16.ts';

const proto = onnxProto.onnx;
const DataType = proto.TensorProto.DataType;
const AttrType = proto.AttributeProto.AttributeType;

/** The operator set the graph is written for (LayerNormalization needs 17). */
const ONNX_OPSET = 17;

/** A tensor in the graph, by name. */
export type Value = string;

export type ElementType = 'float32' | 'int32';

/** A node attribute: an int, a list of ints, a float or a string. */
export type Attr = { int: number } | { ints: number[] } | { float: number } | { string: string };

const ELEMENT: Record<ElementType, number> = { float32: DataType.FLOAT, int32: DataType.INT32 };

function attribute(name: string, a: Attr): onnx.IAttributeProto {
  if ('int' in a) return { name, type: AttrType.INT, i: a.int };
  if ('ints' in a) return { name, type: AttrType.INTS, ints: a.ints };
  if ('string' in a) return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.string) };
  return { name, type: AttrType.FLOAT, f: a.float };
}

function valueInfo(name: string, type: ElementType, dims: (number | string)[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: ELEMENT[type], shape: { dim } } } };
}

/** Parameters smaller than this stay float32 in a float16 graph: the Cast would cost more than the bytes saved. */
export const FLOAT16_MIN_VALUES = 64;

export class OnnxGraph {
  /**
   * `float16Weights`: parameters are stored as float16 initializers, each cast to float32 where it
   * is read (onnxruntime folds the casts when it loads the graph), which halves the file.
   */
  constructor(private readonly float16Weights = false) {}

  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  /** constants that every node reading the same values shares, by type and values */
  private readonly sharedConstants = new Map<string, Value>();

  /** A fresh name with the given stem. */
  private fresh(stem: string): string {
    let name = stem;
    for (let i = 1; this.names.has(name); i++) name = `${stem}_${i}`;
    this.names.add(name);
    return name;
  }

  input(name: string, type: ElementType, dims: (number | string)[]): Value {
    this.names.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Exposes `value` as a graph output called `name`. */
  output(name: string, value: Value, type: ElementType, dims: (number | string)[]): void {
    this.names.add(name);
    this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `output_${name}` });
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A float32 constant. */
  floats(stem: string, values: Float32Array, dims: number[]): Value {
    const name = this.fresh(stem);
    const data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: data });
    return name;
  }

  /** The constant stored under `key`, made by `make` the first time it is asked for. */
  private shared(key: string, make: () => Value): Value {
    let name = this.sharedConstants.get(key);
    if (!name) {
      name = make();
      this.sharedConstants.set(key, name);
    }
    return name;
  }

  /** An int64 vector constant (shapes, axes, permutations), shared by every node that uses the same values. */
  int64s(values: number[]): Value {
    return this.shared(`int64:${values.join(',')}`, () => {
      const name = this.fresh('ints');
      this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, int64Data: values });
      return name;
    });
  }

  /** An int32 scalar (for integer ids), shared by every node that uses the same value. */
  int32Scalar(value: number): Value {
    return this.shared(`int32:${value}`, () => {
      const name = this.fresh('int');
      this.initializers.push({ name, dims: [], dataType: DataType.INT32, int32Data: [value] });
      return name;
    });
  }

  /** A float32 scalar, shared by every node that uses the same value. */
  scalar(value: number): Value {
    return this.shared(`float:${value}`, () => this.floats('scalar', Float32Array.of(value), []));
  }

  /** A tensor's current values as a constant (read once, when the graph is written). */
  tensor(stem: string, t: tf.Tensor): Value {
    const values = t.dataSync() as Float32Array;
    if (!this.float16Weights || values.length < FLOAT16_MIN_VALUES) return this.floats(stem, values, t.shape);
    const name = this.fresh(stem);
    const half = toFloat16Array(values);
    this.initializers.push({ name, dims: t.shape, dataType: DataType.FLOAT16, rawData: new Uint8Array(half.buffer) });
    return this.op('Cast', [name], { to: { int: DataType.FLOAT } });
  }

  /** Adds one node with one output. */
  op(opType: string, inputs: Value[], attrs: Record<string, Attr> = {}): Value {
    return this.opN(opType, inputs, 1, attrs)[0]!;
  }

  /** Adds one node with `count` outputs. */
  opN(opType: string, inputs: Value[], count: number, attrs: Record<string, Attr> = {}): Value[] {
    const output = Array.from({ length: count }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({ opType, input: inputs, output, name: this.fresh(`${opType}_node`), attribute: Object.entries(attrs).map(([n, a]) => attribute(n, a)) });
    return output;
  }

  reshape(x: Value, shape: number[]): Value {
    return this.op('Reshape', [x, this.int64s(shape)]);
  }

  transpose(x: Value, perm: number[]): Value {
    return this.op('Transpose', [x], { perm: { ints: perm } });
  }

  unsqueeze(x: Value, axes: number[]): Value {
    return this.op('Unsqueeze', [x, this.int64s(axes)]);
  }

  /** The serialised ModelProto. */
  encode(docString: string): Uint8Array {
    const graph: onnx.IGraphProto = { name: 'vqa', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
    const model = proto.ModelProto.create({ irVersion: 8, producerName: 'vqa', docString, opsetImport: [{ domain: '', version: ONNX_OPSET }], graph });
    return proto.ModelProto.encode(model).finish();
  }
}
