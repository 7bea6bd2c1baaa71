// Training kernels that tfjs-backend-wasm 4.22 lacks, composed from kernels it has.
// Each runs its intermediates inside tf.tidy so only the output survives the call.
import { paddingOf, type Pad } from './conv_padding.ts';
import { tf } from './tf.ts';

interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  filterShape: [number, number, number, number];
}

/**
 * dW[i,j,c,o] = Σ_{b,y,x} xPadded[b, y·s+i, x·s+j, c] · dy[b,y,x,o]:
 * a convolution of x (batch and channel axes swapped) by dy used as a filter, dilated by the stride.
 */
function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: BackpropFilterAttrs): tf.Tensor4D {
  if (attrs.dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
  const [kh, kw] = attrs.filterShape;
  const [sh, sw] = typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : attrs.strides;
  return tf.tidy(() => {
    const [padH, padW] = paddingOf(attrs.pad, x.shape[1], x.shape[2], kh, kw, sh, sw);
    const xp = tf.pad(x, [[0, 0], padH, padW, [0, 0]]);
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, Hp, Wp, B]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, B, Cout]
    const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [sh, sw]); // [Cin, >=kh, >=kw, Cout]
    const cropped = tf.slice(full, [0, 0, 0, 0], [full.shape[0], kh, kw, full.shape[3]]);
    return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** out[s, ...] = Σ_{i: ids[i] = s} x[i, ...], as a one-hot matrix product; ids outside [0, S) are dropped. */
export function unsortedSegmentSum(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const rows = x.shape[0] ?? 1;
    const flat = tf.cast(tf.reshape(x, [rows, -1]), 'float32');
    const oneHot = tf.cast(tf.oneHot(tf.reshape(tf.cast(segmentIds, 'int32'), [-1]) as tf.Tensor1D, numSegments), 'float32'); // [N, S]
    const summed = tf.matMul(tf.transpose(oneHot), flat); // [S, rest]
    return tf.cast(tf.reshape(summed, [numSegments, ...x.shape.slice(1)]), x.dtype);
  });
}

let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => conv2dBackpropFilter(inputs.x as tf.Tensor4D, inputs.dy as tf.Tensor4D, attrs as unknown as BackpropFilterAttrs),
  });
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => unsortedSegmentSum(inputs.x as tf.Tensor, inputs.segmentIds as tf.Tensor, (attrs as { numSegments: number }).numSegments),
  });
}
