import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import multer from 'multer';
import type { ImageClassifier } from '../classify/predict.ts';
import { MAX_INPUT_PIXELS } from '../util/image_limits.ts';
import { BadInputError, type InputPreparer } from '../infer/prepare.ts';
import type { AnswerEngine } from './engine.ts';
import { ServerMetrics } from './metrics.ts';

export interface ServerOptions {
  /** largest JSON body or uploaded file, in bytes */
  maxBodyBytes: number;
  /** largest image, in pixels, checked from the header before decoding */
  maxPixels: number;
  maxQuestionChars: number;
  maxTopK: number;
  /** requests per minute per client address; 0 turns the limit off */
  rateLimitPerMinute: number;
  /** a request not answered within this time gets a 503 */
  requestTimeoutMs: number;
  /** other servers' models the page offers a switch to (name and page address) */
  otherModels: { name: string; url: string }[];
}

const DEFAULT_OPTIONS: ServerOptions = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: MAX_INPUT_PIXELS,
  maxQuestionChars: 300,
  maxTopK: 20,
  rateLimitPerMinute: 600,
  requestTimeoutMs: 30_000,
  otherModels: [],
};

const PUBLIC = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
/** An image classifier behind POST /v1/classify. */
export type ServedClassifier = ImageClassifier;

/** The model a server serves: a VQA model (answers) or an image classifier (classes). */
export type ServedModel =
  { kind: 'vqa'; card: { name: string }; preparer: InputPreparer; engine: AnswerEngine } | { kind: 'classifier'; card: { name: string }; classifier: ServedClassifier };

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

interface ParsedRequest {
  image: Buffer;
  question: string;
  topK: number;
}

/** The most unknown field names an error lists: a body of many keys must not get a larger reply. */
const LISTED_UNKNOWN_FIELDS = 5;

/** `within`: the object's own field name ('parameters'), which prefixes the names in the message. */
function rejectUnknownFields(body: Record<string, unknown>, expected: string[], within = ''): void {
  const unknown = Object.keys(body).filter((k) => !expected.includes(k));
  if (!unknown.length) return;
  const prefix = within ? `${within}.` : '';
  const named = unknown.slice(0, LISTED_UNKNOWN_FIELDS).map((k) => JSON.stringify(prefix + (k.length > 40 ? `${k.slice(0, 40)}…` : k)));
  const more = unknown.length > LISTED_UNKNOWN_FIELDS ? ` and ${unknown.length - LISTED_UNKNOWN_FIELDS} more` : '';
  throw new BadInputError('unknown_field', `unknown field(s): ${named.join(', ')}${more} (expected ${expected.join(', ')})`);
}

/** What a 404 lists, so that a client pointed at the wrong URL sees where to go. */
function routesOf(kind: ServedModel['kind']): string {
  const own = kind === 'vqa' ? 'POST /v1/answer, POST /v1/visual-question-answering (the Hugging Face task)' : 'POST /v1/classify';
  return `${own}, GET /v1/model, GET /v1/models, GET /v1/examples, GET /healthz, GET /readyz, GET /metrics and the page at ${kind === 'vqa' ? '/' : '/classify/'}`;
}

/** Deepest nesting of arrays and objects a JSON body may have (a valid request needs 3). */
const MAX_JSON_DEPTH = 32;

/**
 * Refuses a body nested deeper than MAX_JSON_DEPTH before JSON.parse sees it: parsing megabytes of
 * nested brackets blocks the event loop for seconds, while this scan is linear and cheap.
 */
function checkJsonDepth(_req: unknown, _res: unknown, buf: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) throw new BadInputError('bad_json', `the body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/** Validates the fields of a request, whichever encoding they came in; a classify request has no question. */
function parseFields(body: Record<string, unknown>, file: Buffer | undefined, o: ServerOptions, withQuestion = true): ParsedRequest {
  const expected = withQuestion ? ['image', 'question', 'top_k'] : ['image', 'top_k'];
  rejectUnknownFields(body, expected);
  const { question = '', image, top_k: topKRaw } = body;
  if (withQuestion) {
    if (typeof question !== 'string') throw new BadInputError('bad_question', "field 'question' must be a string");
    if (question.trim() === '') throw new BadInputError('bad_question', "field 'question' is empty");
    if (question.length > o.maxQuestionChars) throw new BadInputError('bad_question', `field 'question' is longer than ${o.maxQuestionChars} characters`);
  }
  let topK = 5;
  if (topKRaw !== undefined) {
    topK = typeof topKRaw === 'string' && /^\d+$/.test(topKRaw) ? Number(topKRaw) : (topKRaw as number);
    if (!Number.isInteger(topK) || topK < 1 || topK > o.maxTopK) throw new BadInputError('bad_top_k', `field 'top_k' must be an integer from 1 to ${o.maxTopK}`);
  }
  let bytes = file;
  if (!bytes) {
    if (typeof image !== 'string' || image === '') throw new BadInputError('bad_image', "field 'image' must be a base64 string or data URL (or upload a file named 'image')");
    if (/^https?:/i.test(image)) throw new BadInputError('bad_image', 'image URLs are not fetched: send the image itself');
    const b64 = image.startsWith('data:') ? image.slice(image.indexOf(',') + 1) : image;
    if (!/^[A-Za-z0-9+/=\s]+$/.test(b64)) throw new BadInputError('bad_image', "field 'image' is not valid base64");
    bytes = Buffer.from(b64, 'base64');
  }
  if (bytes.length === 0) throw new BadInputError('bad_image', 'the image is empty');
  return { image: bytes, question: question as string, topK };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BadInputError('timeout', `no answer within ${ms} ms; try again`, 503)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface App {
  app: express.Express;
  metrics: ServerMetrics;
}

export function createApp(served: ServedModel, options: Partial<ServerOptions> = {}): App {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const app = express();
  const ready = () => served.kind === 'classifier' || served.engine.ready;
  const metrics = new ServerMetrics(() =>
    served.kind === 'vqa' ? served.engine : { queueDepth: () => 0, tensorCount: () => served.classifier.tensorCount(), workerRssBytes: () => 0 },
  );
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: o.maxBodyBytes, files: 1, fields: 5, fieldSize: 64 * 1024 } });
  app.disable('x-powered-by');
  app.use(helmet({ contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:', 'blob:'] } } }));
  app.use((req, res, next) => {
    const end = metrics.latency.startTimer();
    res.on('finish', () => {
      // Route templates and two fixed labels: raw paths (any static file, any URL) would grow the series without bound.
      const route = (req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : 'static');
      metrics.requests.inc({ route, method: req.method, status: String(res.statusCode) });
      end({ route });
    });
    next();
  });

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', (_req, res) => {
    if (ready()) return void res.json({ status: 'ready' });
    const e = notReady(served.kind === 'vqa' && served.engine.restarting);
    fail(res, e.status, e.code, e.message);
  });
  app.get('/v1/model', (_req, res) => void res.json(served.card));
  // This server's model first (url null: this page), then the others the page can switch to.
  app.get('/v1/models', (_req, res) => void res.json([{ name: served.card.name, url: null }, ...o.otherModels]));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // The example images of the served model's data set: files named "<data set>-val-N.png", with
  // "-random" after the set's name for a set drawn in the randomised style.
  app.get('/v1/examples', (_req, res) => {
    const dir = path.join(PUBLIC, 'examples');
    const all = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => /\.(png|jpe?g)$/i.test(f))
          .sort()
      : [];
    const data = (served.card as { data?: { name?: string; generator?: { style?: string } } }).data;
    // only the served model's own data set: another set's scenes would be questions it cannot answer
    const prefix = data?.name && `${data.name}${data.generator?.style === 'random' ? '-random' : ''}-val-`;
    res.json(all.filter((f) => prefix && f.startsWith(prefix)));
  });

  const limiter =
    o.rateLimitPerMinute > 0
      ? rateLimit({
          windowMs: 60_000,
          limit: o.rateLimitPerMinute,
          standardHeaders: 'draft-8',
          legacyHeaders: false,
          handler: (_req, res) => fail(res, 429, 'rate_limited', `more than ${o.rateLimitPerMinute} requests a minute`),
        })
      : (_req: Request, _res: Response, next: NextFunction) => next();
  const jsonBody = express.json({ limit: o.maxBodyBytes, verify: checkJsonDepth });
  const body = (req: Request, res: Response, next: NextFunction) => {
    if (req.is('multipart/form-data')) {
      // Any failure while reading multipart data is the client's: a 413 for size, else a 400.
      return upload.single('image')(req, res, (err?: unknown) => {
        if (!err) return next();
        const e = err as { code?: string; message?: string };
        if (e.code === 'LIMIT_FILE_SIZE' || e.code === 'LIMIT_FIELD_VALUE') return next(err);
        return next(new BadInputError('bad_upload', `malformed multipart data (${e.message ?? 'unreadable'})`));
      });
    }
    if (req.is('application/json')) {
      // The nesting guard scans bytes as UTF-8; another charset (UTF-7, UTF-16) would slip past it.
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
      if (charset && charset !== 'utf-8') return fail(res, 415, 'unsupported_charset', `JSON bodies must be UTF-8 (got charset=${charset.slice(0, 20)})`);
      return jsonBody(req, res, next);
    }
    return fail(res, 415, 'unsupported_media_type', 'send application/json or multipart/form-data');
  };
  const asObject = (req: Request): Record<string, unknown> => {
    if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) throw new BadInputError('bad_request', 'the body must be a JSON object');
    return req.body as Record<string, unknown>;
  };
  if (served.kind === 'vqa') addAnswerRoutes(app, served, o, limiter, body, asObject);
  else {
    app.post('/v1/classify', limiter, body, async (req: Request, res: Response, next: NextFunction) => {
      try {
        const started = performance.now();
        const fields = parseFields(asObject(req), req.file?.buffer, o, false);
        const classes = await withTimeout(served.classifier.classify(fields.image, fields.topK, o.maxPixels), o.requestTimeoutMs);
        res.json({ classes, model: served.card.name, timing_ms: { total: Math.round(performance.now() - started) } });
      } catch (err) {
        next(err);
      }
    });
  }
  // each kind of model has its own page: the VQA page at /, the classifier's at /classify/
  if (served.kind === 'classifier') app.get('/', (_req: Request, res: Response) => res.redirect(302, '/classify/'));
  else
    app.use('/classify', (_req: Request, res: Response) => fail(res, 404, 'not_found', 'this server answers questions about images; the classifier page comes with a classifier'));
  app.use('/', express.static(PUBLIC));
  app.use((_req: Request, res: Response) => fail(res, 404, 'not_found', `no such route; this server has ${routesOf(served.kind)}`));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof BadInputError) return fail(res, err.status, err.code, err.message);
    const e = err as { type?: string; status?: number; code?: string; message?: string };
    if (e.type === 'entity.too.large' || e.code === 'LIMIT_FILE_SIZE' || e.code === 'LIMIT_FIELD_VALUE') {
      return fail(res, 413, 'too_large', `the request is larger than the limit of ${o.maxBodyBytes} bytes`);
    }
    if (e.type === 'entity.parse.failed') return fail(res, 400, 'bad_json', 'the body is not valid JSON');
    if (typeof e.code === 'string' && e.code.startsWith('LIMIT_')) return fail(res, 400, 'bad_upload', e.message ?? 'bad upload');
    if (e.status && e.status >= 400 && e.status < 500) return fail(res, e.status, 'bad_request', e.message ?? 'bad request');
    console.error(err);
    return fail(res, 500, 'internal', 'internal error');
  });
  return { app, metrics };
}

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/** Why the model cannot answer yet: still loading, or its inference workers being replaced after a crash. */
function notReady(restarting: boolean): BadInputError {
  return restarting
    ? new BadInputError('worker_restarting', 'the inference worker stopped and is being restarted; try again in a few seconds', 503)
    : new BadInputError('not_ready', 'the model is still loading', 503);
}

/** POST /v1/answer and the Hugging Face visual-question-answering task route. */
function addAnswerRoutes(
  app: express.Express,
  served: Extract<ServedModel, { kind: 'vqa' }>,
  o: ServerOptions,
  limiter: Middleware,
  body: Middleware,
  asObject: (req: Request) => Record<string, unknown>,
): void {
  const answer = async (fields: ParsedRequest) => {
    if (!served.engine.ready) throw notReady(served.engine.restarting);
    const started = performance.now();
    const prepared = await served.preparer.prepare(fields.image, fields.question, fields.topK, o.maxPixels);
    const result = await withTimeout(served.engine.answer(prepared), o.requestTimeoutMs);
    return { result, ms: Math.round(performance.now() - started) };
  };

  app.post('/v1/answer', limiter, body, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const { result, ms } = await answer(parseFields(asObject(req), req.file?.buffer, o));
      res.json({ ...result, model: served.card.name, timing_ms: { total: ms } });
    } catch (err) {
      next(err);
    }
  });
  // The Hugging Face visual-question-answering task's request and response shapes.
  app.post('/v1/visual-question-answering', limiter, body, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const { inputs, parameters, ...rest } = asObject(req);
      rejectUnknownFields(rest, ['inputs', 'parameters']);
      if (!inputs || typeof inputs !== 'object' || Array.isArray(inputs)) throw new BadInputError('bad_request', "field 'inputs' must be an object {image, question}");
      const params = (parameters ?? {}) as Record<string, unknown>;
      if (typeof params !== 'object' || Array.isArray(params)) throw new BadInputError('bad_request', "field 'parameters' must be an object");
      rejectUnknownFields(params, ['top_k'], 'parameters');
      const { result } = await answer(parseFields({ ...(inputs as object), ...(params.top_k !== undefined ? { top_k: params.top_k } : {}) }, undefined, o));
      // Each answer carries the flags too: the task's shape is a bare list.
      res.json(result.answers.map((a) => ({ ...a, unknown_words: result.unknown_words, out_of_distribution: result.out_of_distribution })));
    } catch (err) {
      next(err);
    }
  });
}
