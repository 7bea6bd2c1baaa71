// The library's entry (package.json "exports"): the package runs its TypeScript source directly,
// with no build step, so src/library/index.ts is imported through tsx's scoped loader, which leaves the
// importing program's own module loading alone.
import { tsImport } from 'tsx/esm/api';

const api = await tsImport('../src/library/index.ts', import.meta.url);

export const { loadModel, loadClassifier, vqaAccuracy, scoreResults, generateDataset } = api;
