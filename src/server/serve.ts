import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { BackendName } from '../backend/select.ts';
import type { RuntimeName } from '../infer/predictor.ts';
import { InputPreparer } from '../infer/prepare.ts';
import { readModelInfo } from '../model/checkpoint.ts';
import { createApp, type ServedModel, type ServerOptions } from './app.ts';
import { gracefulDrain } from './drain.ts';
import { workerEngine } from './engine.ts';

export interface ServeOptions {
  modelDir: string;
  port: number;
  host: string;
  backend: BackendName;
  /** where the network runs: 'auto' (default) takes onnxruntime when it loads, else tfjs on `backend` */
  runtime?: RuntimeName;
  workers: number;
  /** onnxruntime threads per worker (default 1: at batch sizes a server sees, a second thread costs more than it gives) */
  threads?: number;
  maxBatch: number;
  maxWaitMs: number;
  http?: Partial<ServerOptions>;
  /** how long a client may take for its headers (from connecting) and for its whole request; 10 s and 30 s */
  clientTimeouts?: { headersMs: number; requestMs: number };
  log?: (line: string) => void;
}

export interface RunningServer {
  server: Server;
  served: ServedModel;
  /** settles with the backend line once the model is loaded */
  whenReady: Promise<string>;
  url: string;
  /** stops accepting, lets requests in flight finish (up to `drainMs`), then stops the workers */
  close(drainMs?: number): Promise<void>;
}

const CLIENT_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000 };

/** A served model once its loading has started: `whenReady` settles with the backend line when it can answer. */
export interface LoadedModel {
  served: ServedModel;
  whenReady: Promise<string>;
  closeModel(): Promise<void>;
  /** how it is being loaded, for the log */
  loading: string;
}

/** Starts loading the model a server answers with; `onBatch` reports each forward pass's batch size. */
export type ModelLoader = (o: ServeOptions, log: (line: string) => void, onBatch: (size: number) => void) => Promise<LoadedModel>;

/**
 * Listens at once (answering /readyz with 503) while the model loads: by default a VQA model
 * folder, in inference worker processes.
 */
export async function startServer(o: ServeOptions, load: ModelLoader = loadVqaModel): Promise<RunningServer> {
  const log = o.log ?? ((l: string) => console.log(l));
  const { served, whenReady, closeModel, loading } = await load(o, log, (n) => metrics.batchSize.observe(n));
  const { app, metrics } = createApp(served, o.http);
  // Not express's app.listen: express 5 calls its callback on a failed listen too, so a busy port
  // would look like a server that listens.
  // A client has this long to send its headers, and then its whole body: a stalled or trickling
  // request must not hold a connection for Node's default five minutes. Node checks these every
  // connectionsCheckingInterval (30 s by default, which let a slow client keep 28 s and 58 s).
  const { headersMs, requestMs } = o.clientTimeouts ?? CLIENT_TIMEOUTS;
  const server = createServer({ headersTimeout: headersMs, requestTimeout: requestMs, connectionsCheckingInterval: Math.min(1000, headersMs / 4) }, app);
  closeSilentConnections(server, headersMs);
  server.on('checkExpectation', refuseExpectation);
  const drain = gracefulDrain(server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await closeModel();
    const { code, message } = err as NodeJS.ErrnoException;
    const why = code === 'EADDRINUSE' ? 'the address is in use (another server? choose another with --port)' : message;
    throw new Error(`cannot listen on ${o.host}:${o.port}: ${why}`);
  }
  const address = server.address();
  const url = `http://${o.host}:${typeof address === 'object' && address ? address.port : o.port}/`;
  log(`serving ${served.card.name} on ${url} (${loading})`);
  whenReady.then(
    (backend) => log(`model loaded on ${backend}: ready`),
    (err: Error) => log(`error: the model could not be loaded: ${err.message}`),
  );
  const close = async (drainMs = 10_000) => {
    await drain(drainMs);
    await closeModel();
  };
  return { server, served, whenReady, url, close };
}

/**
 * Node's headers timeout starts at a request's first byte: a connection that never sends one would
 * stay open for ever. It gets the same time to start as to finish its headers.
 */
function closeSilentConnections(server: Server, ms: number): void {
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.once('data', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
}

/**
 * A request with an Expect header other than 100-continue gets 417 in the server's JSON error
 * shape (Node's own answer is plain text).
 */
function refuseExpectation(req: IncomingMessage, res: ServerResponse): void {
  const expect = String(req.headers.expect).slice(0, 40);
  res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
  res.end(JSON.stringify({ error: { code: 'expectation_failed', message: `Expect: ${expect} is not supported (only 100-continue)` } }));
}

/** A VQA model folder in inference worker processes, loading there while the server already listens. */
export const loadVqaModel: ModelLoader = async (o, log, onBatch) => {
  const info = readModelInfo(o.modelDir);
  const engine = workerEngine({
    modelDir: info.dir,
    workers: o.workers,
    maxBatch: o.maxBatch,
    maxWaitMs: o.maxWaitMs,
    backend: o.backend,
    runtime: o.runtime ?? 'auto',
    threads: o.threads ?? 1,
    onBatch,
    log,
  });
  const served: ServedModel = { kind: 'vqa', card: info.card, preparer: await InputPreparer.forModel(info.config.model, info.tokenizer, info.pretrained), engine };
  return { served, whenReady: engine.whenReady(), closeModel: () => engine.close(), loading: `loading the model in ${o.workers} worker${o.workers === 1 ? '' : 's'}` };
};

/** SIGTERM and SIGINT drain the requests in flight, then exit. */
export function exitOnSignals(running: Pick<RunningServer, 'close'>, log: (l: string) => void = console.log): void {
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      log(`${signal}: finishing requests in flight`);
      running.close().then(
        () => process.exit(0),
        (err: Error) => {
          log(`error while closing: ${err.message}`);
          process.exit(1);
        },
      );
    });
  }
}
