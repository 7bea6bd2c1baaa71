import fs from 'node:fs';
import os from 'node:os';
import { tf } from './tf.ts';
import { blasThreadsFromEnv, enableNativeKernels } from './native_kernels.ts';
import { registerWasmTrainingKernels } from './wasm_kernels.ts';

export const BACKEND_NAMES = ['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type ConcreteBackend = Exclude<BackendName, 'auto'>;

export interface BackendInfo {
  name: ConcreteBackend;
  /** the name tfjs knows the backend by */
  tfName: string;
  threads: number;
  device: string;
  /** wasm only: the native BLAS kernels in use, or why there are none */
  native?: string;
}

const AUTO_ORDER: ConcreteBackend[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

type Loader = () => Promise<BackendInfo>;

/** Imports an optional package; each import is a literal so that bundlers can follow it. */
async function importOptional(pkg: string, load: () => Promise<unknown>, hint: string): Promise<unknown> {
  try {
    return await load();
  } catch (err) {
    throw new Error(`${pkg} is not usable (${(err as Error).message.split('\n')[0]}). ${hint}`);
  }
}

async function activate(tfName: string): Promise<void> {
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Error(`tfjs could not initialise the '${tfName}' backend`);
  await tf.ready();
}

const loaders: Record<ConcreteBackend, Loader> = {
  'tensorflow-gpu': async () => {
    await importOptional(
      '@tensorflow/tfjs-node-gpu',
      () => import('@tensorflow/tfjs-node-gpu'),
      'It needs libtensorflow 2.9.1 with CUDA 11.2 and cuDNN 8.1, downloaded when the package installs.',
    );
    await activate('tensorflow');
    return { name: 'tensorflow-gpu', tfName: 'tensorflow', threads: os.cpus().length, device: 'CUDA GPU (libtensorflow)' };
  },
  webgpu: async () => {
    const dawn = (await importOptional('webgpu', () => import('webgpu'), 'Install the optional "webgpu" package (Dawn).')) as {
      create: (flags: string[]) => { requestAdapter: () => Promise<unknown> };
      globals: Record<string, unknown>;
    };
    const gpu = dawn.create([]);
    const adapter = (await gpu.requestAdapter()) as { info?: { vendor?: string; architecture?: string; description?: string } } | null;
    if (!adapter) throw new Error('webgpu: Dawn found no GPU adapter on this machine');
    Object.assign(globalThis, dawn.globals);
    const g = globalThis as { navigator?: object };
    g.navigator ??= {};
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    // The tfjs webgpu backend registers itself at import time only when navigator.gpu exists.
    await importOptional('@tensorflow/tfjs-backend-webgpu', () => import('@tensorflow/tfjs-backend-webgpu'), 'Install the optional "@tensorflow/tfjs-backend-webgpu".');
    await activate('webgpu');
    const info = adapter.info ?? {};
    const device = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
    return { name: 'webgpu', tfName: 'webgpu', threads: 1, device };
  },
  tensorflow: async () => {
    await importOptional('@tensorflow/tfjs-node', () => import('@tensorflow/tfjs-node'), 'It needs libtensorflow 2.9.1, downloaded when the package installs.');
    await activate('tensorflow');
    return { name: 'tensorflow', tfName: 'tensorflow', threads: os.cpus().length, device: 'CPU (libtensorflow)' };
  },
  wasm: async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    registerWasmTrainingKernels();
    await activate('wasm');
    const native = enableNativeKernels();
    return { name: 'wasm', tfName: 'wasm', threads: wasm.getThreadsCount(), device: `CPU (${os.cpus()[0]?.model.trim() ?? 'unknown'})`, native };
  },
  cpu: async () => {
    await activate('cpu');
    return { name: 'cpu', tfName: 'cpu', threads: 1, device: 'CPU (plain JavaScript)' };
  },
};

let current: BackendInfo | undefined;

/**
 * On Linux a GPU shows up as a device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg under WSL);
 * without one, probing Dawn finds nothing and only prints Vulkan warnings, so `auto` skips it.
 */
function gpuDevicePresent(): boolean {
  if (process.platform !== 'linux') return true;
  const list = (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  return list('/dev/dri').some((f) => f.startsWith('renderD')) || list('/dev').some((f) => /^nvidia\d+$/.test(f) || f === 'dxg');
}

/** Starts the requested backend; `auto` takes the first that works, in the order of BACKEND_NAMES (README, "Using it"). */
export async function selectBackend(requested: BackendName): Promise<BackendInfo> {
  if (current && (requested === 'auto' || requested === current.name)) return current;
  blasThreadsFromEnv(); // a malformed OPENBLAS_NUM_THREADS is the user's error, not a reason for `auto` to pass over wasm
  if (requested !== 'auto') {
    current = await loaders[requested]();
    return current;
  }
  const reasons: string[] = [];
  for (const name of AUTO_ORDER) {
    if (name === 'webgpu' && !gpuDevicePresent()) {
      reasons.push('webgpu: no GPU device on this machine');
      continue;
    }
    try {
      current = await loaders[name]();
      return current;
    } catch (err) {
      reasons.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no backend could start:\n  ${reasons.join('\n  ')}`);
}

export function describeBackend(info: BackendInfo): string {
  const native = info.native === undefined ? '' : `; native kernels: ${info.native}`;
  return `backend ${info.name} (tfjs '${info.tfName}'), ${info.threads} thread${info.threads === 1 ? '' : 's'}, device: ${info.device}${native}`;
}
