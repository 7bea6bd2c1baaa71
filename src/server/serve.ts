import type { Server } from 'node:http';
import type { BackendName } from '../backend/select.ts';
import { InputPreparer } from '../infer/prepare.ts';
import { readModelInfo } from '../model/checkpoint.ts';
import { createApp, type ServerOptions } from './app.ts';
import { workerEngine, type AnswerEngine } from './engine.ts';

export interface ServeOptions {
  modelDir: string;
  port: number;
  host: string;
  backend: BackendName;
  workers: number;
  maxBatch: number;
  maxWaitMs: number;
  http?: Partial<ServerOptions>;
  log?: (line: string) => void;
}

export interface RunningServer {
  server: Server;
  engine: AnswerEngine;
  url: string;
  /** stops accepting, lets requests in flight finish (up to `drainMs`), then stops the workers */
  close(drainMs?: number): Promise<void>;
}

/** Listens at once (answering /readyz with 503) while the inference workers load the model. */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const log = o.log ?? ((l: string) => console.log(l));
  const info = readModelInfo(o.modelDir);
  const engine = workerEngine({ modelDir: info.dir, workers: o.workers, maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs, backend: o.backend, onBatch: (n) => metrics.batchSize.observe(n) });
  const { app, metrics } = createApp(info, await InputPreparer.forModel(info.config.model, info.tokenizer, info.pretrained), engine, o.http);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(o.port, o.host, () => resolve(s));
    s.on('error', reject);
  });
  const address = server.address();
  const url = `http://${o.host}:${typeof address === 'object' && address ? address.port : o.port}/`;
  log(`serving ${info.card.name} on ${url} (loading the model in ${o.workers} worker${o.workers === 1 ? '' : 's'})`);
  engine.whenReady().then(
    (backend) => log(`model loaded on ${backend}: ready`),
    (err: Error) => log(`error: the model could not be loaded: ${err.message}`),
  );
  const close = async (drainMs = 10_000) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.closeAllConnections();
        resolve();
      }, drainMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    await engine.close();
  };
  return { server, engine, url, close };
}

/** SIGTERM and SIGINT drain the requests in flight, then exit. */
export function exitOnSignals(running: RunningServer, log: (l: string) => void = console.log): void {
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      log(`${signal}: finishing requests in flight`);
      running.close().then(() => process.exit(0));
    });
  }
}
