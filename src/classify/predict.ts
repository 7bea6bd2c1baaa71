import { tf } from '../backend/tf.ts';
import { decodeNormalized } from '../data/images.ts';
import { BadInputError, checkImageSize } from '../infer/prepare.ts';
import { inference } from '../nn/eager_ops.ts';
import type { LoadedBackbone } from './backbone.ts';
import type { ClassifierNet } from './net.ts';
import { decoderMessage } from '../util/decoder_message.ts';

/** Classes for an encoded image (PNG, JPEG, …), best first. */
export interface ImageClassifier {
  classify(image: Buffer, topK: number, maxPixels: number): Promise<{ label: string; score: number }[]>;
  tensorCount(): number;
}

/**
 * A trained image classifier answering images (POST /v1/classify, the library). It runs on the
 * calling thread: the network is small (one image takes milliseconds), unlike the VQA model, which
 * the server runs in worker processes.
 */
export function classifierPredictor(net: ClassifierNet, classes: string[], backbone?: LoadedBackbone): ImageClassifier {
  const size = net.cfg.model.imageSize;
  /** the network's input for one encoded image: its pixels, or its backbone features */
  const input = async (image: Buffer): Promise<{ values: Float32Array; shape: number[] }> => {
    const decoded = await (backbone ? backbone.model.decode(image) : decodeNormalized(image, size)).catch((err: Error) => {
      throw new BadInputError('bad_image', `the image could not be decoded (${decoderMessage(err)})`);
    });
    if (!backbone) return { values: decoded as Float32Array, shape: [1, size, size, 3] };
    const features = await backbone.model.extract([decoded]);
    return { values: features.rows[0]!, shape: [1, features.grid[0] * features.grid[1], features.width] };
  };
  return {
    async classify(image, topK, maxPixels) {
      await checkImageSize(image, maxPixels);
      const { values: x, shape } = await input(image);
      const k = Math.min(topK, classes.length);
      const [values, indices] = tf.tidy(() => {
        const probs = tf.softmax(net.forward(inference, tf.tensor(x, shape)));
        const top = tf.topk(probs, k);
        return [top.values, top.indices];
      });
      try {
        const [v, i] = await Promise.all([values.data(), indices.data()]);
        return Array.from(v, (score, j) => ({ label: classes[i[j]!]!, score }));
      } finally {
        tf.dispose([values, indices]);
      }
    },
    tensorCount: () => tf.memory().numTensors,
  };
}
