// Builds the optional native kernels (native/vqa_blas.c) at `npm install`/`npm ci`. Needs only a C
// compiler and Node's own headers: the BLAS is found at run time. Never fails the install: when the
// build is not possible it prints one line saying why, and vqa runs on its wasm kernels alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'build', 'vqa_blas.node');

function nodeHeaders() {
  const candidates = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
}

function build() {
  fs.rmSync(out, { force: true }); // a stale build must not outlive a failed or skipped one
  if (process.env.VQA_NATIVE === '0') return 'skipped (VQA_NATIVE=0)';
  const headers = nodeHeaders();
  if (!headers) return "skipped: Node's headers (node_api.h) are not installed";
  const cc = process.env.CC ?? 'cc';
  const flags = ['-O3', '-shared', '-fPIC', '-std=c11', `-I${headers}`, path.join(here, 'vqa_blas.c'), '-o', out];
  if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
  else flags.push('-ldl');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync(cc, flags, { encoding: 'utf8' });
  if (r.error) return `skipped: no C compiler (${cc}: ${r.error.message})`;
  if (r.status !== 0) return `skipped: ${cc} failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  return `built ${path.relative(process.cwd(), out)}`;
}

console.log(`vqa native kernels: ${build()}`);
