import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import { answerBatch, BadInputError } from '../infer/answer.ts';
import type { ModelCard } from '../model/checkpoint.ts';
import type { VqaModel } from '../model/vqa_model.ts';

export interface ServerLimits {
  /** largest JSON body or uploaded file, in bytes */
  maxBodyBytes: number;
  maxQuestionChars: number;
  maxTopK: number;
}

export const DEFAULT_LIMITS: ServerLimits = { maxBodyBytes: 10 * 1024 * 1024, maxQuestionChars: 300, maxTopK: 20 };

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Validates the answer request fields, whichever encoding they came in. */
function parseAnswerRequest(body: Record<string, unknown>, file: Buffer | undefined, limits: ServerLimits) {
  const { question, image, top_k: topKRaw } = body;
  if (typeof question !== 'string') throw new BadInputError('bad_question', "field 'question' must be a string");
  if (question.trim() === '') throw new BadInputError('bad_question', "field 'question' is empty");
  if (question.length > limits.maxQuestionChars) throw new BadInputError('bad_question', `field 'question' is longer than ${limits.maxQuestionChars} characters`);
  let topK = 5;
  if (topKRaw !== undefined) {
    topK = typeof topKRaw === 'string' ? Number(topKRaw) : (topKRaw as number);
    if (!Number.isInteger(topK) || topK < 1 || topK > limits.maxTopK) throw new BadInputError('bad_top_k', `field 'top_k' must be an integer from 1 to ${limits.maxTopK}`);
  }
  let bytes = file;
  if (!bytes) {
    if (typeof image !== 'string' || image === '') throw new BadInputError('bad_image', "field 'image' must be a base64 string or data URL (or upload a file named 'image')");
    const b64 = image.startsWith('data:') ? image.slice(image.indexOf(',') + 1) : image;
    if (!/^[A-Za-z0-9+/=\s]+$/.test(b64)) throw new BadInputError('bad_image', "field 'image' is not valid base64");
    bytes = Buffer.from(b64, 'base64');
  }
  if (bytes.length === 0) throw new BadInputError('bad_image', 'the image is empty');
  return { image: bytes, question, topK };
}

export function createApp(model: VqaModel, card: ModelCard, limits: ServerLimits = DEFAULT_LIMITS): express.Express {
  const app = express();
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: limits.maxBodyBytes, files: 1, fields: 10 } });
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/v1/model', (_req, res) => {
    res.json(card);
  });
  app.post(
    '/v1/answer',
    (req: Request, res: Response, next: NextFunction) => {
      if (req.is('multipart/form-data')) upload.single('image')(req, res, next);
      else express.json({ limit: limits.maxBodyBytes })(req, res, next);
    },
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const started = performance.now();
        if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) {
          throw new BadInputError('bad_request', 'send JSON {"image", "question", "top_k"} or multipart form data');
        }
        const parsed = parseAnswerRequest(req.body as Record<string, unknown>, req.file?.buffer, limits);
        const [answer] = await answerBatch(model, [parsed]);
        res.json({ ...answer, model: card.name, timing_ms: { total: Math.round(performance.now() - started) } });
      } catch (err) {
        next(err);
      }
    },
  );
  app.use('/', express.static(path.join(path.dirname(fileURLToPath(import.meta.url)), 'public')));
  app.use((_req: Request, res: Response) => fail(res, 404, 'not_found', 'no such route'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof BadInputError) return fail(res, 400, err.code, err.message);
    const e = err as { type?: string; status?: number; code?: string; message?: string };
    if (e.type === 'entity.too.large' || e.code === 'LIMIT_FILE_SIZE') {
      return fail(res, 413, 'too_large', `the request is larger than the limit of ${limits.maxBodyBytes} bytes`);
    }
    if (e.type === 'entity.parse.failed') return fail(res, 400, 'bad_json', 'the body is not valid JSON');
    if (typeof e.code === 'string' && e.code.startsWith('LIMIT_')) return fail(res, 400, 'bad_upload', e.message ?? 'bad upload');
    if (e.status && e.status >= 400 && e.status < 500) return fail(res, e.status, 'bad_request', e.message ?? 'bad request');
    console.error(err);
    return fail(res, 500, 'internal', 'internal error');
  });
  return app;
}
