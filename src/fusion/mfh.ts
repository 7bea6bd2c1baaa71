import { l2Normalize } from '../nn/functions.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import { Mfb, type MfbShape } from './mfb.ts';

/**
 * MFH with p = 2 cascaded MFB blocks (Yu et al., TNNLS 2018): block 2 multiplies its own
 * projections with block 1's expanded, dropped-out product; the output is [z₁; z₂].
 */
export class Mfh {
  private readonly block1: Mfb;
  private readonly block2: Mfb;

  constructor(store: ParamStore, name: string, xDim: number, yDim: number, shape: MfbShape) {
    this.block1 = new Mfb(store, `${name}.block1`, xDim, yDim, shape);
    this.block2 = new Mfb(store, `${name}.block2`, xDim, yDim, shape);
  }

  get outDim(): number {
    return 2 * this.block1.shape.o;
  }

  forward<T>(o: Ops<T>, x: T, y: T): T {
    const [b1, b2] = [this.block1, this.block2];
    const e1 = b1.expand(o, b1.projectX.forward(o, x), b1.projectY.forward(o, y));
    const e2 = b2.expand(o, o.mul(b2.projectX.forward(o, x), b2.projectY.forward(o, y)), e1);
    return o.concat([l2Normalize(o, b1.pool(o, e1), [-1]), l2Normalize(o, b2.pool(o, e2), [-1])], -1);
  }
}
