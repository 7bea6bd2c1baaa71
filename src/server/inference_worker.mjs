// Inference worker process entry: registers the TypeScript loader, then runs the inference worker.
import { register } from 'tsx/esm/api';

register();
await import('./inference_worker.ts');
