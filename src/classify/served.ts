import { tf } from '../backend/tf.ts';
import { decodeImage, normalizePixels } from '../data/images.ts';
import { BadInputError, checkImageSize } from '../infer/prepare.ts';
import type { ServedClassifier } from '../server/app.ts';
import type { ClassifierNet } from './net.ts';

/**
 * A trained image classifier behind POST /v1/classify. It runs on the calling thread: the network
 * is small (one image takes milliseconds), unlike the VQA model, which runs in worker processes.
 */
export function servedClassifier(net: ClassifierNet, classes: string[]): ServedClassifier {
  const size = net.cfg.model.imageSize;
  return {
    async classify(image, topK, maxPixels) {
      await checkImageSize(image, maxPixels);
      const bytes = await decodeImage(image, size).catch((err: Error) => {
        throw new BadInputError('bad_image', `the image could not be decoded (${err.message})`);
      });
      const pixels = new Float32Array(bytes.length);
      normalizePixels(bytes, pixels, 0);
      const k = Math.min(topK, classes.length);
      const [values, indices] = tf.tidy(() => {
        const probs = tf.softmax(net.forward(tf.tensor4d(pixels, [1, size, size, 3]), false));
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
