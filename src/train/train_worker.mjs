// Worker-thread entry: registers the TypeScript loader, then runs the training worker.
import { register } from 'tsx/esm/api';

register();
await import('./train_worker.ts');
