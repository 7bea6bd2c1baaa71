import path from 'node:path';
import { describeBackend, selectBackend } from '../backend/select.ts';
import { classifierPredictor } from '../classify/predict.ts';
import { classifierFolder, openClassifier } from '../classify/train.ts';
import type { ServedModel } from '../server/app.ts';
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
    const { net, classes, backbone } = await openClassifier(classifierDir);
    const card = { name: `${net.cfg.model.head}-classifier`, ...(readJsonFile(path.join(classifierDir, 'model-card.json')) as object) };
    const served: ServedModel = { kind: 'classifier', card, classifier: classifierPredictor(net, classes, backbone) };
    return { served, whenReady: Promise.resolve(backend), closeModel: async () => net.dispose(), loading: `image classifier, ${classes.length} classes` };
  };
}
