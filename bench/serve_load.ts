// Load test of `vqa serve` on loopback: bounded in requests and time, it reports answers/s,
// latency percentiles, 5xx count, /healthz latency while the model is busy, and the tensor count
// and RSS of the server and of its inference workers (from /metrics) before and after.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../src/server/serve.ts';
import type { BackendName } from '../src/backend/select.ts';
import type { RuntimeName } from '../src/infer/predictor.ts';

export interface LoadOptions {
  modelDir: string;
  image: string;
  question: string;
  requests: number;
  concurrency: number;
  maxSeconds: number;
  workers: number;
  maxBatch: number;
  backend: BackendName;
  runtime: RuntimeName;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;
}

async function gauges(base: string): Promise<{ tensors: number; rssMb: number; workersRssMb: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { tensors: read('vqa_tensors'), rssMb: read('vqa_process_resident_memory_bytes') / 2 ** 20, workersRssMb: read('vqa_inference_workers_resident_memory_bytes') / 2 ** 20 };
}

export async function loadTest(o: LoadOptions): Promise<void> {
  const running = await startServer({
    modelDir: o.modelDir,
    port: 0,
    host: '127.0.0.1',
    backend: o.backend,
    runtime: o.runtime,
    workers: o.workers,
    maxBatch: o.maxBatch,
    maxWaitMs: 5,
    http: { rateLimitPerMinute: 0 },
    log: () => {},
  });
  const backend = await running.whenReady;
  const base = running.url.replace(/\/$/, '');
  const body = JSON.stringify({ image: fs.readFileSync(o.image).toString('base64'), question: o.question, top_k: 3 });
  const ask = () => fetch(`${base}/v1/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  for (let i = 0; i < 5; i++) await (await ask()).arrayBuffer(); // warm-up
  const before = await gauges(base);

  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const deadline = Date.now() + o.maxSeconds * 1000;
  let sent = 0;
  const started = performance.now();
  const client = async () => {
    while (sent < o.requests && Date.now() < deadline) {
      sent++;
      const t0 = performance.now();
      const res = await ask();
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  const health: number[] = [];
  let loading = true;
  const prober = (async () => {
    while (loading) {
      const t0 = performance.now();
      await (await fetch(`${base}/healthz`)).arrayBuffer();
      health.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await Promise.all(Array.from({ length: o.concurrency }, client));
  const seconds = (performance.now() - started) / 1000;
  loading = false;
  await prober;
  const after = await gauges(base);
  await running.close();

  latencies.sort((a, b) => a - b);
  health.sort((a, b) => a - b);
  const fivexx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
  console.log(`vqa bench serve · ${backend} · ${o.workers} worker(s), batches of at most ${o.maxBatch} · ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`);
  console.log(`model ${path.resolve(o.modelDir)} · ${latencies.length} requests, ${o.concurrency} at a time, in ${seconds.toFixed(1)} s`);
  console.log(
    `answers/s ${(latencies.length / seconds).toFixed(1)} · latency p50 ${percentile(latencies, 50).toFixed(1)} ms · p99 ${percentile(latencies, 99).toFixed(1)} ms · statuses ${JSON.stringify(Object.fromEntries(statuses))} · 5xx ${fivexx}`,
  );
  console.log(`/healthz while busy: p50 ${percentile(health, 50).toFixed(1)} ms · max ${health.at(-1)?.toFixed(1)} ms over ${health.length} probes`);
  console.log(
    `tensors in the workers: ${before.tensors} before, ${after.tensors} after · RSS of the server ${before.rssMb.toFixed(0)} MB before, ${after.rssMb.toFixed(0)} MB after; of its workers ${before.workersRssMb.toFixed(0)} MB before, ${after.workersRssMb.toFixed(0)} MB after`,
  );
}
