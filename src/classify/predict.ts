import { tf } from '../backend/tf.ts';
import { decodeNormalized } from '../data/images.ts';
import { BadInputError, checkImageSize } from '../infer/prepare.ts';
import { inference } from '../nn/eager_ops.ts';
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
export function classifierPredictor(net: ClassifierNet, classes: string[]): ImageClassifier {
  const size = net.cfg.model.imageSize;
  return {
    async classify(image, topK, maxPixels) {
      await checkImageSize(image, maxPixels);
      const pixels = await decodeNormalized(image, size).catch((err: Error) => {
        throw new BadInputError('bad_image', `the image could not be decoded (${decoderMessage(err)})`);
      });
      const k = Math.min(topK, classes.length);
      const [values, indices] = tf.tidy(() => {
        const probs = tf.softmax(net.forward(inference, tf.tensor4d(pixels, [1, size, size, 3])));
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
