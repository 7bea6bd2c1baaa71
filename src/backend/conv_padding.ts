// Convolution padding as tfjs (and TensorFlow) computes it; shared by the kernels the project
// registers and by the ONNX export of the convolutions.

export type Pad = 'valid' | 'same' | number | number[][];

/** [before, after] padding along one axis for 'same': the odd pixel goes after. */
export function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** [[top, bottom], [left, right]] for any tfjs padding attribute. */
export function paddingOf(pad: Pad, h: number, w: number, kh: number, kw: number, sh: number, sw: number): [[number, number], [number, number]] {
  if (pad === 'valid')
    return [
      [0, 0],
      [0, 0],
    ];
  if (pad === 'same') return [samePadding(h, kh, sh), samePadding(w, kw, sw)];
  if (typeof pad === 'number')
    return [
      [pad, pad],
      [pad, pad],
    ];
  const [, ph, pw] = pad as [number[], [number, number], [number, number]];
  return [ph, pw];
}
