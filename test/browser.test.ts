import fs from 'node:fs';
import path from 'node:path';
import npmChromium from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import type { ModelCard } from '../src/model/checkpoint.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { startServer, type RunningServer } from '../src/server/serve.ts';
import { selectBackend } from '../src/backend/select.ts';
import { parseClassifierConfig } from '../src/classify/config.ts';
import { trainClassifier } from '../src/classify/train.ts';
import { modelLoaderFor } from '../src/cli/served_models.ts';
import { writeFineGrained } from '../src/data/synth/fine_grained.ts';
import { tempDir, tinyConfig, useWasm } from './helpers.ts';

// End to end in a headless Chromium: upload an image, ask, and see the answers and the attention
// heat map. The browser comes from npm (@sparticuz/chromium, a compressed build inside the package,
// unpacked to the temporary folder), or CHROMIUM_PATH names another. The screenshot is left in
// test-output/browser.png.
const CHROMIUM_PATH = process.env.CHROMIUM_PATH;
let running: RunningServer;
let browser: Browser;

beforeAll(async () => {
  if (CHROMIUM_PATH && !fs.existsSync(CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${CHROMIUM_PATH} not found`);
  await useWasm();
  const model = new VqaModel(
    tinyConfig(),
    QuestionTokenizer.build(['what color is the large circle', 'how many objects']).files,
    new AnswerVocab(['red', 'blue', 'yes', 'no', '2']),
  );
  const dir = path.join(tempDir('browser'), 'model');
  await model.save(dir, { name: 'browser-test-model', epochs: 1, data: { name: 'clevr-lite' } } as ModelCard);
  model.dispose();
  running = await startServer({
    modelDir: dir,
    port: 0,
    host: '127.0.0.1',
    backend: 'wasm',
    workers: 1,
    maxBatch: 4,
    maxWaitMs: 5,
    http: { rateLimitPerMinute: 0, otherModels: [{ name: 'other-model', url: 'http://127.0.0.1:9/' }] },
    log: () => {},
  });
  await running.whenReady;
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  browser = CHROMIUM_PATH
    ? await chromium.launch({ executablePath: CHROMIUM_PATH, args })
    : await chromium.launch({ executablePath: await npmChromium.executablePath(), args: [...npmChromium.args, ...args] });
});

afterAll(async () => {
  await browser?.close();
  await running?.close(1000);
});

describe('the web page', () => {
  it('uploads an image, asks a question, and shows answers with scores and a heat map per glimpse', async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(running.url);
    await page.waitForSelector('#examples button img');
    expect(await page.locator('#examples button').count()).toBeGreaterThan(0);
    await page.waitForSelector('#model a');
    expect(await page.textContent('#model')).toBe('Model: browser-test-model · switch to other-model');
    expect(await page.getAttribute('#model a', 'href')).toBe('http://127.0.0.1:9/');
    await page.setInputFiles('#file', path.resolve('src/server/public/examples/clevr-lite-val-1.png'));
    await page.fill('#question', 'What color is the large circle?');
    await page.click('#submit');
    await page.waitForSelector('body[data-answered="yes"]', { timeout: 20_000 });
    const answers = await page.locator('#answers li').allTextContents();
    expect(answers).toHaveLength(5);
    expect(answers[0]).toMatch(/%$/);
    expect(await page.locator('#glimpses canvas').count()).toBe(2);
    // The glimpse darkens what it weighed little: its most weighed region is brighter than its least.
    const contrast = await page.evaluate(() => {
      const canvas = document.querySelector('#glimpses canvas') as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let [min, max] = [Infinity, -Infinity];
      for (let y = 0; y < canvas.height; y += 4) {
        for (let x = 0; x < canvas.width; x += 4) {
          const i = 4 * (y * canvas.width + x);
          const brightness = data[i]! + data[i + 1]! + data[i + 2]!;
          [min, max] = [Math.min(min, brightness), Math.max(max, brightness)];
        }
      }
      return max - min;
    });
    expect(contrast).toBeGreaterThan(200);
    // one line of words per glimpse, each shaded by that glimpse's weights
    expect(await page.locator('#tokens .glimpse-words').count()).toBe(2);
    for (const line of [0, 1]) {
      expect(await page.locator(`#tokens .glimpse-words >> nth=${line} >> .token`).allTextContents()).toEqual(['what', 'color', 'is', 'the', 'large', 'circle']);
    }
    expect(await page.locator('#warnings li').count()).toBe(0);
    fs.mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/browser.png', fullPage: true });
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);

    // A word the model never saw is named above the answers.
    await page.fill('#question', 'What color is the large zebra?');
    await page.click('#submit');
    await page.waitForSelector('#warnings li');
    expect(await page.textContent('#warnings')).toMatch(/never saw these words in training: zebra\./);

    // Word pieces (a model that spells unknown words) are shown as the word typed, not as "a ##r ##e".
    const staged = {
      answers: [{ answer: 'red', score: 0.9 }],
      unknown_words: [],
      out_of_distribution: false,
      image_distance: 0.2,
      attention: {
        question: [
          { token: 'what', weights: [0.1, 0.9] },
          { token: 'a', weights: [0.2, 0.05] },
          { token: '##r', weights: [0.3, 0.05] },
          { token: '##e', weights: [0.1, 0] },
        ],
        image: { grid: [2, 2], weights: [[0.1, 0.2, 0.3, 0.4]] },
      },
    };
    await page.route('**/v1/answer', (route) => route.fulfill({ json: staged }));
    await page.click('#submit');
    await page.waitForSelector('body[data-answered="yes"]');
    expect(await page.locator('#tokens .glimpse-words >> nth=0 >> .token').allTextContents()).toEqual(['what', 'are']);
    expect(await page.getAttribute('#tokens .glimpse-words >> nth=0 >> .token >> nth=1', 'title')).toBe('0.60');
    expect(await page.getAttribute('#tokens .glimpse-words >> nth=1 >> .token >> nth=1', 'title')).toBe('0.10');
    await page.unroute('**/v1/answer');

    // An example can be picked from the keyboard, and a bad request shows the server's message
    // with the previous answers gone.
    await page.setInputFiles('#file', []);
    await page.focus('#examples button >> nth=1');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#examples button[aria-pressed="true"]');
    await page.fill('#question', '   ');
    await page.click('#submit');
    await page.waitForFunction(() => document.getElementById('error')!.textContent !== '');
    expect(await page.textContent('#error')).toMatch(/question/);
    expect(await page.isHidden('#result')).toBe(true);

    // Nothing runs off the side: four glimpses fit at 1,100 px and at a phone's 390 px.
    for (const width of [1100, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.evaluate(() => {
        const g = document.getElementById('glimpses')!;
        g.append(...Array.from({ length: 4 - g.children.length }, () => g.firstElementChild!.cloneNode(true)));
        document.getElementById('result')!.hidden = false;
      });
      const overflow = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        glimpses: Math.max(...[...document.querySelectorAll('#glimpses figure')].map((f) => f.getBoundingClientRect().right)) - document.documentElement.clientWidth,
      }));
      expect(overflow.page, `${width} px`).toBeLessThanOrEqual(0);
      expect(overflow.glimpses, `${width} px`).toBeLessThanOrEqual(0);
    }
  });

  it("serving a classifier shows the classifier's own page: upload an image, see its classes with scores", async () => {
    const data = path.join(tempDir('browser-fg'), 'd');
    await writeFineGrained(data, { train: 2, val: 1 }, 5, 24);
    const out = path.join(tempDir('browser-fg-run'), 'run');
    const config = parseClassifierConfig({ model: { imageSize: 24, channels: [8], strides: [2], head: 'average' }, train: { epochs: 1 } }, 'test');
    (await trainClassifier({ dataDir: data, outDir: out, config, backend: await selectBackend('wasm'), log: () => {} })).net.dispose();
    const served = await startServer(
      { modelDir: out, port: 0, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 5, http: { rateLimitPerMinute: 0 }, log: () => {} },
      modelLoaderFor(out),
    );
    try {
      await served.whenReady;
      const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
      const consoleErrors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text());
      });
      await page.goto(served.url);
      expect(page.url()).toBe(`${served.url}classify/`);
      await page.waitForFunction(() => document.getElementById('model')!.textContent !== '');
      expect(await page.textContent('#model')).toMatch(/^Model: /);
      const classDir = fs.readdirSync(path.join(data, 'val'))[0]!;
      await page.setInputFiles('#file', path.join(data, 'val', classDir, '0.png'));
      await page.click('#submit');
      await page.waitForSelector('body[data-classified="yes"]', { timeout: 20_000 });
      const classes = await page.locator('#classes li').allTextContents();
      expect(classes).toHaveLength(5);
      expect(classes[0]).toMatch(/^ \S+ \d+\.\d%$/);
      expect(await page.locator('#preview').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(24);
      fs.mkdirSync('test-output', { recursive: true });
      await page.screenshot({ path: 'test-output/classify.png', fullPage: true });
      expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
    } finally {
      await served.close(1000);
    }
  });
});
