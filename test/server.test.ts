import sharp from 'sharp';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { WordTokenizer } from '../src/language/tokenizer.ts';
import { gridSize } from '../src/model/config.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { createApp, DEFAULT_LIMITS } from '../src/server/app.ts';
import type { ModelCard } from '../src/model/checkpoint.ts';
import { tinyConfig, useWasm } from './helpers.ts';

let app: ReturnType<typeof createApp>;
let png: Buffer;
const config = tinyConfig();

beforeAll(async () => {
  await useWasm();
  const tokenizer = WordTokenizer.build(['what color is the circle', 'how many squares are there']);
  const answers = new AnswerVocab(['red', 'blue', 'green', '1', '2', 'yes', 'no']);
  const model = new VqaModel(config, tokenizer, answers);
  const card = { name: 'test-model' } as ModelCard;
  app = createApp(model, card, { ...DEFAULT_LIMITS, maxBodyBytes: 64 * 1024 });
  png = await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 0.5 } } }).png().toBuffer();
});

describe('POST /v1/answer', () => {
  it('answers JSON with a base64 image: top-k answers, scores and attention', async () => {
    const res = await request(app).post('/v1/answer').send({ image: png.toString('base64'), question: 'What color is the circle?', top_k: 3 });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe('test-model');
    expect(res.body.answers).toHaveLength(3);
    const scores = res.body.answers.map((a: { score: number }) => a.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(res.body.attention.question.map((t: { token: string }) => t.token)).toEqual(['what', 'color', 'is', 'the', 'circle']);
    for (const t of res.body.attention.question) expect(t.weights).toHaveLength(2);
    const g = gridSize(config.model);
    expect(res.body.attention.image.grid).toEqual([g, g]);
    expect(res.body.attention.image.weights).toHaveLength(2);
    const glimpse = res.body.attention.image.weights[0] as number[];
    expect(glimpse).toHaveLength(g * g);
    expect(glimpse.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  });

  it('answers a data URL and a multipart upload alike', async () => {
    const dataUrl = await request(app).post('/v1/answer').send({ image: `data:image/png;base64,${png.toString('base64')}`, question: 'how many squares' });
    const multipart = await request(app).post('/v1/answer').field('question', 'how many squares').attach('image', png, 'x.png');
    expect(dataUrl.status).toBe(200);
    expect(multipart.status).toBe(200);
    expect(multipart.body.answers).toEqual(dataUrl.body.answers);
  });

  const bad: [string, () => request.Test, number, string][] = [
    ['not an image', () => request(app).post('/v1/answer').send({ image: Buffer.from('hello').toString('base64'), question: 'q?' }), 400, 'bad_image'],
    ['a truncated image', () => request(app).post('/v1/answer').send({ image: png.subarray(0, 60).toString('base64'), question: 'q?' }), 400, 'bad_image'],
    ['an empty question', () => request(app).post('/v1/answer').send({ image: png.toString('base64'), question: '   ' }), 400, 'bad_question'],
    ['a question that is not a string', () => request(app).post('/v1/answer').send({ image: png.toString('base64'), question: 42 }), 400, 'bad_question'],
    ['an overlong question', () => request(app).post('/v1/answer').send({ image: png.toString('base64'), question: 'why '.repeat(100) }), 400, 'bad_question'],
    ['a bad top_k', () => request(app).post('/v1/answer').send({ image: png.toString('base64'), question: 'q?', top_k: 0 }), 400, 'bad_top_k'],
    ['no image', () => request(app).post('/v1/answer').send({ question: 'q?' }), 400, 'bad_image'],
    ['broken JSON', () => request(app).post('/v1/answer').set('content-type', 'application/json').send('{"image": '), 400, 'bad_json'],
    ['an oversized body', () => request(app).post('/v1/answer').send({ image: 'A'.repeat(100 * 1024), question: 'q?' }), 413, 'too_large'],
    ['an oversized upload', () => request(app).post('/v1/answer').field('question', 'q').attach('image', Buffer.alloc(100 * 1024), 'x.png'), 413, 'too_large'],
  ];
  for (const [what, send, status, code] of bad) {
    it(`rejects ${what} with ${status} ${code}`, async () => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(typeof res.body.error.message).toBe('string');
    });
  }

  it('still answers after bad requests, with no tensors left behind', async () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await request(app).post('/v1/answer').send({ image: 'AAAA', question: 'q?' });
    const ok = await request(app).post('/v1/answer').send({ image: png.toString('base64'), question: 'q?' });
    expect(ok.status).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('other routes', () => {
  it('serves health, the model card and a JSON 404', async () => {
    expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(app).get('/v1/model')).body.name).toBe('test-model');
    const missing = await request(app).get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('serves the web page', async () => {
    const res = await request(app).get('/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<form');
  });
});
