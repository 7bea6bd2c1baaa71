import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Versions recorded in model cards and benchmark output. */
export function versions(): Record<string, string> {
  const pkg = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
  return { vqa: (require('../package.json') as { version: string }).version, tfjs: pkg('@tensorflow/tfjs-core'), node: process.versions.node };
}
