// The event-loop stall benchmark (issue 34): `vqa serve` on the bundled model, /healthz polled
// every 10 ms while another process sends the requests that once held the loop (deep JSON in
// UTF-7, UTF-16 and UTF-8, 2,000 static paths, /metrics) and a seeded fuzz of bad requests. It
// prints the polls' waits (max, p99) against the 100 ms target, the statuses, and the server's RSS.
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../src/server/serve.ts';

export async function stallBench(o: { modelDir: string; fuzz: number }): Promise<void> {
  const running = await startServer({
    modelDir: o.modelDir,
    port: 0,
    host: '127.0.0.1',
    backend: 'wasm',
    workers: 1,
    maxBatch: 8,
    maxWaitMs: 5,
    http: { rateLimitPerMinute: 0 },
    log: () => {},
  });
  await running.whenReady;
  const base = running.url.replace(/\/$/, '');
  await fetch(`${base}/healthz`);
  const waits: number[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const started = performance.now();
      await (await fetch(`${base}/healthz`)).text();
      waits.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const rssBefore = process.memoryUsage().rss;
  const client = fork(path.join(import.meta.dirname, 'hostile_client.mjs'), [base, String(o.fuzz), '7'], { silent: true });
  let out = '';
  client.stdout!.on('data', (d: Buffer) => (out += d));
  const started = performance.now();
  await new Promise((resolve) => client.on('exit', resolve));
  const seconds = (performance.now() - started) / 1000;
  polling = false;
  await poller;
  const rssAfter = process.memoryUsage().rss;
  await running.close(2000);
  const sorted = [...waits].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
  const statuses = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  const fiveHundreds = Object.entries(statuses).filter(([s]) => s === 'error' || Number(s) >= 500);
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}; server: ${o.modelDir}, 1 inference worker (wasm)`);
  console.log(
    `${requests} hostile requests in ${seconds.toFixed(1)} s (statuses ${JSON.stringify(statuses)}), ${fiveHundreds.length === 0 ? 'no 5xx or dropped connection' : `5xx/errors: ${JSON.stringify(fiveHundreds)}`}`,
  );
  console.log(
    `/healthz meanwhile: ${waits.length} polls, wait max ${sorted.at(-1)!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, median ${sorted[sorted.length >> 1]!.toFixed(1)} ms (target: every poll ≤ 100 ms)`,
  );
  console.log(`server process RSS: ${(rssBefore / 2 ** 20).toFixed(0)} MB before, ${(rssAfter / 2 ** 20).toFixed(0)} MB after`);
}
