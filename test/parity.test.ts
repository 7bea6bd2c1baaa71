import { beforeAll, describe, expect, it } from 'vitest';
import { runParity } from '../bench/parity.ts';
import { tf } from '../src/backend/tf.ts';
import { useWasm } from './helpers.ts';

beforeAll(useWasm);

describe('wasm parity with cpu', () => {
  it('agrees on every training operation and on whole-network gradients, leaving no tensors', async () => {
    await runParity('wasm');
    const before = tf.memory().numTensors;
    const results = await runParity('wasm');
    expect(tf.memory().numTensors).toBe(before);
    for (const r of results) expect(r.relativeError, `${r.name}: ${r.relativeError}`).toBeLessThanOrEqual(r.tolerance);
    expect(results.length).toBeGreaterThan(10);
  });
});
