import { fork } from 'node:child_process';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { readModelInfo, type ModelCard } from '../src/model/checkpoint.ts';
import { regionGrid } from '../src/config/config.ts';
import { InputPreparer } from '../src/infer/prepare.ts';
import { TfjsPredictor } from '../src/infer/predictor.ts';
import { answerPrepared } from '../src/infer/answer.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { createApp } from '../src/server/app.ts';
import { inProcessEngine, workerEngine, type AnswerEngine } from '../src/server/engine.ts';
import { loadVqaModel, startServer, type ModelLoader, type RunningServer } from '../src/server/serve.ts';
import { tempDir, tinyConfig, useWasm } from './helpers.ts';

let app: ReturnType<typeof createApp>['app'];
let engine: AnswerEngine;
let png: Buffer;
let modelDir: string;
let model: VqaModel;
let preparer: InputPreparer;
const config = tinyConfig();

beforeAll(async () => {
  await useWasm();
  const tokenizer = QuestionTokenizer.build(['what color is the circle', 'how many squares are there']).files;
  model = new VqaModel(config, tokenizer, new AnswerVocab(['red', 'blue', 'green', '1', '2', 'yes', 'no']));
  modelDir = path.join(tempDir('srv'), 'model');
  await model.save(modelDir, { name: 'test-model', epochs: 1 } as ModelCard);
  engine = inProcessEngine(new TfjsPredictor(model), { maxBatch: 4, maxWaitMs: 2 });
  preparer = new InputPreparer(config.model, tokenizer, {});
  ({ app } = createApp({ kind: 'vqa', card: readModelInfo(modelDir).card, preparer, engine }, { maxBodyBytes: 64 * 1024, maxPixels: 1_000_000, rateLimitPerMinute: 0 }));
  png = await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 0.5 } } })
    .png()
    .toBuffer();
});

afterAll(() => engine.close());

/** Serves the in-process test model (the engine stays open when the server closes). */
const inProcess: ModelLoader = async () => ({
  served: { kind: 'vqa', card: readModelInfo(modelDir).card, preparer, engine },
  whenReady: Promise.resolve('in process'),
  closeModel: async () => {},
  loading: 'in process',
});

describe('batched answers', () => {
  it('encodes an image once for all its questions in a batch and answers each as if alone', async () => {
    const other = await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 10, g: 10, b: 200 } } })
      .png()
      .toBuffer();
    const asked = await Promise.all([
      preparer.prepare(png, 'what color is the circle', 3),
      preparer.prepare(other, 'what color is the circle', 3),
      preparer.prepare(png, 'how many squares are there', 3),
    ]);
    expect(asked[0]!.imageKey).toBe(asked[2]!.imageKey);
    expect(asked[0]!.imageKey).not.toBe(asked[1]!.imageKey);
    const together = await answerPrepared(new TfjsPredictor(model), asked);
    for (let i = 0; i < asked.length; i++) {
      const [alone] = await answerPrepared(new TfjsPredictor(model), [asked[i]!]);
      expect(together[i]!.answers.map((a) => a.answer)).toEqual(alone!.answers.map((a) => a.answer));
      together[i]!.answers.forEach((a, j) => expect(a.score).toBeCloseTo(alone!.answers[j]!.score, 5));
    }
  });
});

describe('POST /v1/answer', () => {
  it('answers JSON with a base64 image: top-k answers, scores and attention', async () => {
    const res = await request(app)
      .post('/v1/answer')
      .send({ image: png.toString('base64'), question: 'What color is the circle?', top_k: 3 });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe('test-model');
    expect(res.body.answers).toHaveLength(3);
    const scores = res.body.answers.map((a: { score: number }) => a.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(res.body.attention.question.map((t: { token: string }) => t.token)).toEqual(['what', 'color', 'is', 'the', 'circle']);
    for (const t of res.body.attention.question) expect(t.weights).toHaveLength(2);
    const [g] = regionGrid(config.model);
    expect(res.body.attention.image.grid).toEqual([g, g]);
    expect(res.body.attention.image.weights).toHaveLength(2);
    const glimpse = res.body.attention.image.weights[0] as number[];
    expect(glimpse).toHaveLength(g * g);
    expect(glimpse.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  });

  it('answers a data URL, a multipart upload and the Hugging Face task format alike', async () => {
    const dataUrl = await request(app)
      .post('/v1/answer')
      .send({ image: `data:image/png;base64,${png.toString('base64')}`, question: 'how many squares' });
    const multipart = await request(app).post('/v1/answer').field('question', 'how many squares').attach('image', png, 'x.png');
    const hf = await request(app)
      .post('/v1/visual-question-answering')
      .send({ inputs: { image: png.toString('base64'), question: 'how many squares' }, parameters: { top_k: 5 } });
    expect([dataUrl.status, multipart.status, hf.status]).toEqual([200, 200, 200]);
    expect(multipart.body.answers).toEqual(dataUrl.body.answers);
    // the task's bare list carries the answer's flags on each entry
    expect(hf.body).toEqual(dataUrl.body.answers.map((a: object) => ({ ...a, unknown_words: [], out_of_distribution: false })));
    expect(dataUrl.body).toMatchObject({ unknown_words: [], out_of_distribution: false });
  });

  it('handles greyscale, palette and RGBA images', async () => {
    const grey = await sharp({ create: { width: 9, height: 9, channels: 3, background: '#777' } })
      .greyscale()
      .png()
      .toBuffer();
    const palette = await sharp({ create: { width: 9, height: 9, channels: 3, background: '#a30' } })
      .png({ palette: true })
      .toBuffer();
    for (const img of [grey, palette, png]) {
      const res = await request(app)
        .post('/v1/answer')
        .send({ image: img.toString('base64'), question: 'what color' });
      expect(res.status).toBe(200);
    }
  });

  const big = () =>
    sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
  const bad: [string, () => Promise<request.Response> | request.Test, number, string][] = [
    [
      'not an image',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: Buffer.from('hello').toString('base64'), question: 'q?' }),
      400,
      'bad_image',
    ],
    [
      'a truncated image',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: png.subarray(0, 60).toString('base64'), question: 'q?' }),
      400,
      'bad_image',
    ],
    [
      'an image over the pixel limit',
      async () =>
        request(app)
          .post('/v1/answer')
          .send({ image: (await big()).toString('base64'), question: 'q?' }),
      413,
      'image_too_large',
    ],
    ['an image URL', () => request(app).post('/v1/answer').send({ image: 'http://127.0.0.1/x.png', question: 'q?' }), 400, 'bad_image'],
    [
      'an empty question',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: png.toString('base64'), question: '   ' }),
      400,
      'bad_question',
    ],
    [
      'a question that is not a string',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: png.toString('base64'), question: 42 }),
      400,
      'bad_question',
    ],
    [
      'an overlong question',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: png.toString('base64'), question: 'why '.repeat(100) }),
      400,
      'bad_question',
    ],
    [
      'a bad top_k',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: png.toString('base64'), question: 'q?', top_k: 0 }),
      400,
      'bad_top_k',
    ],
    [
      'an unknown field',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: png.toString('base64'), question: 'q?', colour: 'red' }),
      400,
      'unknown_field',
    ],
    [
      'a question with no known word',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: png.toString('base64'), question: '!!! 🙂' }),
      400,
      'no_known_words',
    ],
    [
      'a body nested deeper than 32 levels',
      () =>
        request(app)
          .post('/v1/answer')
          .set('content-type', 'application/json')
          .send(`{"image": ${'['.repeat(20000)}${']'.repeat(20000)}}`),
      400,
      'bad_json',
    ],
    ['no image', () => request(app).post('/v1/answer').send({ question: 'q?' }), 400, 'bad_image'],
    ['a JSON array', () => request(app).post('/v1/answer').send([1, 2]), 400, 'bad_request'],
    ['broken JSON', () => request(app).post('/v1/answer').set('content-type', 'application/json').send('{"image": '), 400, 'bad_json'],
    ['a wrong content type', () => request(app).post('/v1/answer').set('content-type', 'text/plain').send('hello'), 415, 'unsupported_media_type'],
    [
      'an oversized body',
      () =>
        request(app)
          .post('/v1/answer')
          .send({ image: 'A'.repeat(100 * 1024), question: 'q?' }),
      413,
      'too_large',
    ],
    [
      'an oversized upload',
      () =>
        request(app)
          .post('/v1/answer')
          .field('question', 'q')
          .attach('image', Buffer.alloc(100 * 1024), 'x.png'),
      413,
      'too_large',
    ],
    ['a malformed HF request', () => request(app).post('/v1/visual-question-answering').send({ inputs: 'x' }), 400, 'bad_request'],
    [
      'an HF request with a parameter it does not take',
      () =>
        request(app)
          .post('/v1/visual-question-answering')
          .send({ inputs: { image: png.toString('base64'), question: 'what color?' }, parameters: { topk: 2 } }),
      400,
      'unknown_field',
    ],
  ];
  for (const [what, send, status, code] of bad) {
    it(`rejects ${what} with ${status} ${code}`, async () => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message).toMatch(/\w/);
    });
  }

  it("offers the example images of the served model's data set, and none for another", async () => {
    expect((await request(app).get('/v1/examples')).body).toEqual([]); // a model trained on a set that ships no examples
    const cases: [object, string][] = [
      [{ name: 'sort-of-clevr' }, 'sort-of-clevr-val-'],
      [{ name: 'clevr-lite' }, 'clevr-lite-val-'],
      // a set drawn in the randomised style shows its own scenes, not the published ones
      [{ name: 'sort-of-clevr', generator: { kind: 'sort-of-clevr', style: 'random' } }, 'sort-of-clevr-random-val-'],
    ];
    for (const [data, prefix] of cases) {
      const { app: own } = createApp({ kind: 'vqa', card: { name: 'm', data } as ModelCard, preparer, engine }, { rateLimitPerMinute: 0 });
      const names = (await request(own).get('/v1/examples')).body as string[];
      expect(names.length).toBeGreaterThan(0);
      expect(
        names.every((f) => f.startsWith(prefix)),
        names.join(', '),
      ).toBe(true);
    }
  });

  it('lists its model first, then the other models the page can switch to', async () => {
    expect((await request(app).get('/v1/models')).body).toEqual([{ name: 'test-model', url: null }]);
    const others = [{ name: 'sort-of-clevr-model', url: 'http://127.0.0.1:3001/' }];
    const { app: withOthers } = createApp({ kind: 'vqa', card: { name: 'm' } as ModelCard, preparer, engine }, { rateLimitPerMinute: 0, otherModels: others });
    expect((await request(withOthers).get('/v1/models')).body).toEqual([{ name: 'm', url: null }, ...others]);
  });

  it('lists at most five unknown fields, however many a body has', async () => {
    const body = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`field${i}`, 1]));
    const res = await request(app)
      .post('/v1/answer')
      .send({ ...body, image: png.toString('base64'), question: 'q?' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('unknown field(s): "field0", "field1", "field2", "field3", "field4" and 2995 more (expected image, question, top_k)');
  });

  it('parses bodies nested within the limit as before; a string holding brackets is not nesting', async () => {
    const res = await request(app)
      .post('/v1/answer')
      .send({ image: png.toString('base64'), question: `what color is the circle ${'['.repeat(50)}` });
    expect(res.status).toBe(200);
  });

  it('survives 1,000 malformed requests with no 5xx, then still answers, with no tensors left behind', async () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const junk = () => Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
    const values = [null, 0, -1, 1e308, true, 'x', '', [], {}, [png.toString('base64')], { a: 1 }, 'data:,', 'data:image/png;base64,@@@'];
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const before = tf.memory().numTensors;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const kind = i % 5;
      let res: request.Response;
      if (kind === 0) res = await request(app).post('/v1/answer').set('content-type', 'application/json').send(junk().toString('latin1'));
      else if (kind === 1)
        res = await request(app)
          .post('/v1/answer')
          .send({ image: pick(values), question: pick([...values, 'what?']), top_k: pick(values) });
      else if (kind === 2)
        res = await request(app)
          .post('/v1/answer')
          .send({ image: junk().toString('base64'), question: 'what color?' });
      else if (kind === 3) res = await request(app).post('/v1/answer').set('content-type', 'multipart/form-data; boundary=xyz').send(junk().toString('latin1'));
      else
        res = await request(app)
          .post('/v1/visual-question-answering')
          .send({ inputs: pick(values), parameters: pick(values) });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
    const ok = await request(app)
      .post('/v1/answer')
      .send({ image: png.toString('base64'), question: 'what color?' });
    expect(ok.status).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('requests that used to stall the server', () => {
  it('refuses JSON in any charset but UTF-8 before parsing it (the nesting guard reads UTF-8 bytes)', async () => {
    const nested = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    for (const charset of ['utf-7', 'utf-16le', 'UTF-16', 'latin1', 'utf8']) {
      const res = await request(app).post('/v1/answer').set('content-type', `application/json; charset=${charset}`).send(nested);
      expect(res.status, charset).toBe(415);
      expect(res.body.error.code).toBe('unsupported_charset');
    }
    for (const charset of ['utf-8', 'UTF-8', '"utf-8"']) {
      const res = await request(app)
        .post('/v1/answer')
        .set('content-type', `application/json; charset=${charset}`)
        .send(JSON.stringify({ image: png.toString('base64'), question: 'what color?' }));
      expect(res.status, charset).toBe(200);
    }
  });

  it('no such request, nor a seeded fuzz of bad ones, holds the event loop: no /healthz poll meanwhile waits on it (a CPU-held stall under 250 ms; the 100 ms target is a benchmark)', async () => {
    const server = await startServer(
      { modelDir, port: 0, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 2, http: { rateLimitPerMinute: 0 }, log: () => {} },
      inProcess,
    );
    const base = server.url.replace(/\/$/, '');
    await request(base).get('/healthz'); // the first request's warm-up (the client's code loading) is not the server's
    // Each poll's wait, and how much of it this process spent on the CPU: a loop held by a request
    // burns CPU for as long as it holds it, while a wait for a busy machine's cores does not. The
    // stall is the smaller of the two (on an idle machine they are the same).
    const latencies: number[] = [];
    const stalls: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const started = performance.now();
        const cpu = process.cpuUsage();
        const res = await request(base).get('/healthz');
        expect(res.status).toBe(200);
        const wall = performance.now() - started;
        const used = process.cpuUsage(cpu);
        latencies.push(wall);
        stalls.push(Math.min(wall, (used.user + used.system) / 1000));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // The hostile requests come from another process: building them must not count against the server.
    const client = fork(path.join(import.meta.dirname, '..', 'bench', 'hostile_client.mjs'), [base, '300', '7'], { silent: true });
    let out = '';
    client.stdout!.on('data', (d: Buffer) => (out += d));
    await new Promise((resolve) => client.on('exit', resolve));
    polling = false;
    await poller;
    await server.close(1000);
    const statuses = JSON.parse(out) as Record<string, number>;
    expect(Object.keys(statuses).filter((s) => s === 'error' || Number(s) >= 500)).toEqual([]); // no 5xx, no dropped connection
    expect(Object.values(statuses).reduce((a, b) => a + b, 0)).toBe(4 + 1 + 2 + 2000 + 1 + 300);
    console.log(
      `healthz polls: ${latencies.length}, longest wait ${Math.max(...latencies).toFixed(1)} ms, longest stall ${Math.max(...stalls).toFixed(1)} ms; statuses ${out.trim()}`,
    );
    expect(latencies.length).toBeGreaterThan(20);
    // The 100 ms target is measured by `npm run bench -- stall`; beside other test files on two cores
    // a poll's process time alone reaches ~90 ms, so the test holds the line at 250 (the stalls it
    // guards against were 850 ms to 6.3 s).
    expect(Math.max(...stalls)).toBeLessThan(250);
  });

  it('counts requests under route templates and two fixed labels, however many paths are asked for', async () => {
    const { app: fresh } = createApp({ kind: 'vqa', card: { name: 'm' } as ModelCard, preparer, engine }, { rateLimitPerMinute: 0 });
    for (let i = 0; i < 300; i++) {
      await request(fresh).get(`/x${i}/../app.js`);
      await request(fresh).get(`/missing-${i}`);
    }
    const text = (await request(fresh).get('/metrics')).text;
    const routes = new Set([...text.matchAll(/vqa_http_requests_total\{route="([^"]*)"/g)].map((m) => m[1]));
    expect([...routes].sort()).toEqual(['static', 'unmatched']);
    expect(text.length).toBeLessThan(100 * 1024);
  });
});

describe('other routes', () => {
  it('serves health, readiness, the model card, metrics, the page and a JSON 404', async () => {
    expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(app).get('/readyz')).status).toBe(200);
    expect((await request(app).get('/v1/model')).body.name).toBe('test-model');
    const metrics = await request(app).get('/metrics');
    expect(metrics.text).toMatch(/vqa_http_requests_total\{route="\/v1\/answer",method="POST",status="200"\} \d+/);
    expect(metrics.text).toMatch(/vqa_process_resident_memory_bytes/);
    const page = await request(app).get('/');
    expect(page.text).toContain('<form');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    const missing = await request(app).get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const bare = await request(app).post('/').send({ inputs: {} });
    expect([bare.status, bare.body.error.message]).toEqual([404, expect.stringContaining('POST /v1/visual-question-answering')]);
  });
});

describe('vqa serve with inference workers', () => {
  let running: RunningServer;

  afterAll(() => running?.close(1000));

  it('is not ready until the worker has loaded the model; health answers while batches run; it drains on close', async () => {
    running = await startServer({ modelDir, port: 0, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 5, http: { rateLimitPerMinute: 0 }, log: () => {} });
    const base = running.url.replace(/\/$/, '');
    expect(running.served.kind === 'vqa' && running.served.engine.ready).toBe(false);
    expect((await request(base).get('/readyz')).status).toBe(503);
    // A stalled or trickling client may hold a connection 10 s for its headers and 30 s for its body.
    expect([running.server.headersTimeout, running.server.requestTimeout]).toEqual([10_000, 30_000]);
    await running.whenReady;
    expect((await request(base).get('/readyz')).status).toBe(200);

    const order: string[] = [];
    const answers = Array.from({ length: 12 }, () =>
      request(base)
        .post('/v1/answer')
        .send({ image: png.toString('base64'), question: 'what color is the circle' })
        .then((r) => {
          order.push('answer');
          return r;
        }),
    );
    await new Promise((r) => setTimeout(r, 5));
    const health = await request(base).get('/healthz');
    order.push('health');
    expect(health.status).toBe(200);
    const results = await Promise.all(answers);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(order.indexOf('health')).toBeLessThan(order.length - 1); // health did not wait for all answers
    const metrics = (await request(base).get('/metrics')).text;
    expect(Number(/^vqa_inference_workers_resident_memory_bytes (\d+)$/m.exec(metrics)![1])).toBeGreaterThan(20 * 2 ** 20);
    const batches = Number(/vqa_batch_size_count (\d+)/.exec(metrics)![1]);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(12); // requests that arrived together shared forward passes

    const inFlight = request(base)
      .post('/v1/answer')
      .send({ image: png.toString('base64'), question: 'how many squares' });
    const pending = inFlight.then((r) => r.status);
    await new Promise((r) => setTimeout(r, 20));
    await running.close(5000);
    expect(await pending).toBe(200);
    await expect(request(base).get('/healthz')).rejects.toThrow();
  });

  it('replaces an inference worker that dies: the questions it held get 503 worker_restarting, later ones are answered', async () => {
    const lines: string[] = [];
    running = await startServer({
      modelDir,
      port: 0,
      host: '127.0.0.1',
      backend: 'wasm',
      workers: 1,
      maxBatch: 4,
      maxWaitMs: 5,
      http: { rateLimitPerMinute: 0 },
      log: (l) => lines.push(l),
    });
    await running.whenReady;
    const base = running.url.replace(/\/$/, '');
    const body = { image: png.toString('base64'), question: 'what color is the circle' };
    const before = await request(base).post('/v1/answer').send(body);
    expect(before.status).toBe(200);
    const engine = running.served.kind === 'vqa' ? (running.served.engine as ReturnType<typeof workerEngine>) : undefined;
    const [pid] = engine!.workerPids();
    process.kill(pid!, 'SIGKILL');
    const during = await request(base).post('/v1/answer').send(body);
    expect(during.status).toBe(503);
    expect(during.body.error.code).toBe('worker_restarting');
    // while the new worker loads, new questions and /readyz say restarting, not "still loading"
    for (let waited = 0; engine!.ready; waited += 5) {
      expect(waited).toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 5));
    }
    const [asked, readiness] = await Promise.all([request(base).post('/v1/answer').send(body), request(base).get('/readyz')]);
    expect([asked.status, asked.body.error.code, readiness.status, readiness.body.error.code]).toEqual([503, 'worker_restarting', 503, 'worker_restarting']);
    for (let waited = 0; !(engine!.ready && engine!.workerPids()[0] !== pid); waited += 20) {
      expect(waited).toBeLessThan(20_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = await request(base).post('/v1/answer').send(body);
    expect(after.status).toBe(200);
    expect(after.body.answers).toEqual(before.body.answers);
    expect(lines.some((l) => l.includes(`inference worker ${pid} stopped (signal SIGKILL); starting another`))).toBe(true);
    await running.close(1000);
  });

  it('refuses a port another server holds, naming it, and closes the model it had started loading', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    let pids: (number | undefined)[] = [];
    let closed = false;
    const load: ModelLoader = async (o, log, onBatch) => {
      const loaded = await loadVqaModel(o, log, onBatch);
      pids = loaded.served.kind === 'vqa' ? (loaded.served.engine as ReturnType<typeof workerEngine>).workerPids() : [];
      const closeModel = async () => {
        await loaded.closeModel();
        closed = true;
      };
      return { ...loaded, closeModel };
    };
    try {
      const options = { modelDir, port, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 5, http: {}, log: () => {} } as const;
      await expect(startServer(options, load)).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: the address is in use (another server? choose another with --port)`);
    } finally {
      holder.close();
    }
    expect(closed).toBe(true);
    expect(pids).toHaveLength(1);
    for (let waited = 0; isAlive(pids[0]!); waited += 20) {
      expect(waited).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('closing (what SIGTERM does) drains under keep-alive load: answers in flight finish, each connection closes after its answer, no reset, exit at once', async () => {
    const server = await startServer(
      { modelDir, port: 0, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 2, http: { rateLimitPerMinute: 0 }, log: () => {} },
      inProcess,
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const body = JSON.stringify({ image: png.toString('base64'), question: 'what color is the circle' });
    const seen = { answered: 0, closing: 0, refused: 0, other: [] as string[] };
    const ask = () =>
      new Promise<boolean>((resolve) => {
        const req = httpRequest(`${server.url}v1/answer`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) seen.answered++;
            else seen.other.push(`status ${res.statusCode}`);
            if (res.headers.connection === 'close') seen.closing++;
            resolve(true);
          });
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          // a new connection once the server stopped listening is refused, as it should be
          if (err.code === 'ECONNREFUSED') seen.refused++;
          else seen.other.push(err.code ?? err.message);
          resolve(false);
        });
        req.end(body);
      });
    const loops = Array.from({ length: 8 }, async () => {
      while (await ask());
    });
    for (let waited = 0; seen.answered < 16; waited += 10) {
      expect(waited).toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, 10));
    }
    const started = Date.now();
    await server.close(10_000);
    const drained = Date.now() - started;
    await Promise.all(loops);
    agent.destroy();
    expect(seen.other).toEqual([]); // no reset, no hang-up, no error status
    expect(seen.closing).toBeGreaterThan(0); // the answers written while draining said Connection: close
    expect(seen.closing).toBeLessThanOrEqual(8 * 2); // and each connection took at most its request in flight and one more
    expect(seen.refused).toBe(8);
    expect(drained).toBeLessThan(2000); // the window is 10 s; without the fix keep-alive clients keep it busy to the end
  });

  it('closes a client that sends nothing, trickles its headers or its body, within the timeouts; a busy keep-alive connection stays', async () => {
    const clientTimeouts = { headersMs: 400, requestMs: 800 };
    const server = await startServer(
      { modelDir, port: 0, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 2, http: { rateLimitPerMinute: 0 }, clientTimeouts, log: () => {} },
      inProcess,
    );
    const port = (server.server.address() as AddressInfo).port;
    /** ms until the server closes a raw connection that writes `chunks` one every 100 ms (-1: still open after 3 s) */
    const closedAfter = (chunks: string[]) =>
      new Promise<number>((resolve) => {
        const started = Date.now();
        const socket = connect(port, '127.0.0.1');
        const writer = setInterval(() => {
          const chunk = chunks.shift();
          if (chunk !== undefined && !socket.destroyed) socket.write(chunk);
        }, 100);
        const giveUp = setTimeout(() => {
          socket.destroy();
          resolve(-1);
        }, 3000);
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(writer);
          clearTimeout(giveUp);
          resolve(Date.now() - started);
        });
        socket.resume();
      });
    const body = JSON.stringify({ image: png.toString('base64'), question: 'what color is the circle' });
    const [silent, slowHeaders, slowBody] = await Promise.all([
      closedAfter([]),
      closedAfter(['POST /v1/answer HTTP/1.1\r\n', 'Host: x\r\n', ...Array<string>(40).fill('X-Slow: 1\r\n')]),
      closedAfter([
        `POST /v1/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
        ...Array.from({ length: 40 }, (_, i) => body.slice(i * 10, i * 10 + 10)),
      ]),
    ]);
    expect(silent).toBeGreaterThanOrEqual(350);
    expect(silent).toBeLessThan(1500);
    expect(slowHeaders).toBeGreaterThanOrEqual(350);
    expect(slowHeaders).toBeLessThan(1500);
    expect(slowBody).toBeGreaterThanOrEqual(750);
    expect(slowBody).toBeLessThan(2000);
    // one keep-alive connection, asked every 300 ms for longer than both timeouts: never cut
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${server.url}v1/answer`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          sockets.add(res.socket);
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(sockets.size).toBe(1);
    agent.destroy();
    const expectation = await new Promise<[number, string]>((resolve, reject) => {
      const req = httpRequest(`${server.url}healthz`, { headers: { expect: 'foo' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve([res.statusCode!, text]));
      });
      req.on('error', reject);
      req.end();
    });
    expect([expectation[0], JSON.parse(expectation[1]).error.code]).toEqual([417, 'expectation_failed']);
    await server.close(1000);
  });

  it('a worker closed while it loads the model hears the close and exits by itself (not killed)', async () => {
    const engine = workerEngine({ modelDir, workers: 1, maxBatch: 4, maxWaitMs: 5, backend: 'wasm', runtime: 'auto', threads: 1 });
    await engine.close();
    await expect(engine.whenReady()).rejects.toThrow('the process ended (exit code 0) before the model was loaded');
    expect(engine.ready).toBe(false);
  });

  it('answers on onnxruntime by default, as the tfjs runtime does (1e-5), and says which it runs', async () => {
    const body = { image: png.toString('base64'), question: 'how many squares are there', top_k: 7 };
    const scores = (r: request.Response) => Object.fromEntries((r.body.answers as { answer: string; score: number }[]).map((a) => [a.answer, a.score]));
    const expected = scores(await request(app).post('/v1/answer').send(body)); // in process, tfjs
    for (const [runtime, says] of [
      [undefined, /^onnxruntime 1\.\d+\.\d+ \(cpu, 1 thread\)$/],
      ['tfjs', /^backend wasm/],
    ] as const) {
      running = await startServer({
        modelDir,
        port: 0,
        host: '127.0.0.1',
        backend: 'wasm',
        runtime,
        workers: 1,
        maxBatch: 4,
        maxWaitMs: 5,
        http: { rateLimitPerMinute: 0 },
        log: () => {},
      });
      expect(await running.whenReady).toMatch(says);
      const res = await request(running.url.replace(/\/$/, '')).post('/v1/answer').send(body);
      expect(res.status).toBe(200);
      const got = scores(res);
      expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
      for (const [answer, score] of Object.entries(expected)) expect(Math.abs(got[answer]! - score)).toBeLessThan(1e-5);
      await running.close(1000);
    }
  });
});

/** Whether a process of this id exists (signal 0 only checks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
