import path from 'node:path';
import { describeBackend, selectBackend } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import type { ClassifierNet } from '../classify/net.ts';
import { classifierFolder, loadClassifier } from '../classify/train.ts';
import { decodeNormalized } from '../data/images.ts';
import { BadInputError, checkImageSize } from '../infer/prepare.ts';
import { inference } from '../nn/eager_ops.ts';
import type { ServedClassifier, ServedModel } from '../server/app.ts';
import { loadVqaModel, type ModelLoader } from '../server/serve.ts';
import { readJsonFile } from '../util/json_file.ts';

/** What serves a folder: a classifier (vqa classify train) on this thread, a VQA model in worker processes. */
export function modelLoaderFor(modelDir: string): ModelLoader {
  const classifierDir = classifierFolder(modelDir);
  return classifierDir ? classifierLoader(classifierDir) : loadVqaModel;
}

function classifierLoader(classifierDir: string): ModelLoader {
  return async (o) => {
    const backend = describeBackend(await selectBackend(o.backend));
    const { net, classes } = loadClassifier(classifierDir);
    const card = { name: `${net.cfg.model.head}-classifier`, ...(readJsonFile(path.join(classifierDir, 'model-card.json')) as object) };
    const served: ServedModel = { kind: 'classifier', card, classifier: servedClassifier(net, classes) };
    return { served, whenReady: Promise.resolve(backend), closeModel: async () => net.dispose(), loading: `image classifier, ${classes.length} classes` };
  };
}

/**
 * A trained image classifier behind POST /v1/classify. It runs on the calling thread: the network
 * is small (one image takes milliseconds), unlike the VQA model, which runs in worker processes.
 */
function servedClassifier(net: ClassifierNet, classes: string[]): ServedClassifier {
  const size = net.cfg.model.imageSize;
  return {
    async classify(image, topK, maxPixels) {
      await checkImageSize(image, maxPixels);
      const pixels = await decodeNormalized(image, size).catch((err: Error) => {
        throw new BadInputError('bad_image', `the image could not be decoded (${err.message})`);
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
