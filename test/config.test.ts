// The model config: the current form, and configs of the form before modules (config_legacy.ts).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseClassifierConfig } from '../src/classify/config.ts';
import { parseRunConfig } from '../src/config/config.ts';

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('configs of the form before modules', () => {
  it.each([
    ['test/fixtures/legacy-configs/sort-of-clevr.json', 'models/sort-of-clevr/config.json'],
    ['test/fixtures/legacy-configs/clevr-lite.json', 'models/clevr-lite/config.json'],
    ['test/fixtures/legacy-configs/clevr-lite-recipe.json', 'models/clevr-lite.config.json'],
  ])('%s (a bundled model as it was saved) reads as %s', (legacy, current) => {
    const fromLegacy = parseRunConfig(readJson(legacy), legacy);
    expect(fromLegacy).toEqual(parseRunConfig(readJson(current), current));
    expect(readJson(current).model.modules).toBeDefined(); // the bundled one is in the current form
  });

  it('stage places and the glimpse pair with the relational module, as they were', () => {
    const cfg = parseRunConfig({ model: { imageAttention: { query: 'word-embeddings', positions: 5, pair: {} }, relational: { staged: false } } }, 'old.json');
    expect(cfg.model.modules).toEqual([
      { kind: 'word-guide', weights: 'embeddings', perGlimpse: false, slope: 0 },
      { kind: 'relational', hidden: 128, width: 64, staged: false, distanceScore: false, guideInContext: false, sumNorm: 'none' },
      { kind: 'places', scale: 5, staged: false },
      { kind: 'glimpse-pair', k: 5, o: 64, scale: 30, staged: false },
    ]);
  });

  it.each([
    [{ imageAttention: { hops: 2 } }, 'old.json: model.imageAttention.hops: 2: attention hops were used by no recipe and were removed; set it to 1 or remove it'],
    [{ imageAttention: { logitScale: 10 } }, 'old.json: model.imageAttention.logitScale: 10:'],
    [{ vision: { positionEmbedding: true } }, 'old.json: model.vision.positionEmbedding: true:'],
    [{ language: { positionStd: 1 } }, 'old.json: model.language.positionStd: 1: the initial position spread is fixed at 0.02'],
    [{ language: { ffnMultiplier: 1 } }, "old.json: model.language.ffnMultiplier: 1: the transformer's feed-forward width is fixed at 2·d"],
    [{ relational: { distance: true } }, 'old.json: model.relational.distance: true:'],
    [{ imageAttention: { fusion: 'product' } }, "old.json: model.imageAttention.fusion: 'product': the image attention is scored by MFB only now"],
    [{ questionAttention: { hidden: 128 }, imageAttention: { hidden: 64 } }, 'old.json: model.imageAttention.hidden: 64 differs from questionAttention.hidden (128)'],
    [{ imageAttention: { norm: 'none' } }, "old.json: model.imageAttention.signedSqrt: true with norm 'none'"],
    [{ imageAttention: { guideSlope: 2 } }, 'old.json: model.imageAttention.guidePerGlimpse: needs an image attention guided by the words'],
    [{ attention: {}, questionAttention: {} }, 'old.json: model.questionAttention: a config has either the old fields'],
  ])('refuse what the current form cannot express, naming the field: %j', (model, message) => {
    expect(() => parseRunConfig({ model }, 'old.json')).toThrow(message);
  });

  it('read a removed field at its neutral value, in either form', () => {
    expect(parseRunConfig({ model: { language: { ffnMultiplier: 2, positionStd: 0.02 }, attention: { hidden: 8 } } }, 'c.json').model.attention.hidden).toBe(8);
  });
});

describe('the recipes the repository ships', () => {
  // `vqa classify` reads the image-classification recipes (Fashion-MNIST, fine-grained); `vqa train` the rest
  const isClassifier = (file: string) => /^configs\/(fashion-mnist|fine-grained)/.test(file);
  const recipes = [
    ...fs.readdirSync('configs').map((f) => `configs/${f}`),
    ...fs
      .readdirSync('models')
      .filter((f) => f.endsWith('.config.json'))
      .map((f) => `models/${f}`),
  ];
  it.each(recipes.filter((f) => !isClassifier(f)))('%s reads, and its schedule happens inside its epochs', (file) => {
    const { train } = parseRunConfig(readJson(file), file);
    for (const at of train.decayEpochs) expect(at, 'a halving after the last epoch').toBeLessThan(train.epochs);
    if (train.curriculum) expect(train.curriculum.epochs, 'a first phase as long as the run').toBeLessThan(train.epochs);
  });
  it.each(recipes.filter(isClassifier))('%s reads as a classifier recipe', (file) => {
    expect(parseClassifierConfig(readJson(file), file).train.epochs).toBeGreaterThan(0);
  });
});

describe('the current form', () => {
  it('lists each module once', () => {
    expect(() => parseRunConfig({ model: { modules: [{ kind: 'places' }, { kind: 'places' }] } }, 'c.json')).toThrow("c.json: model.modules lists 'places' twice");
    expect(() => parseRunConfig({ model: { vision: { kind: 'pretrained', model: 'x' }, modules: [{ kind: 'background-channels' }] } }, 'c.json')).toThrow(
      "c.json: the background-channels module changes the pixels the CNN reads; model.vision is 'pretrained'",
    );
    expect(() => parseRunConfig({ model: { modules: [{ kind: 'nope' }] } }, 'c.json')).toThrow(/c\.json: invalid config\n {2}model\.modules\.0\.kind/);
  });

  it('has a small core: the canonical model in 18 fields besides the encoder kinds, what the recipes add in modules', () => {
    const { modules, ...core } = parseRunConfig({}, 'defaults').model;
    const paths = (v: unknown, at: string): string[] =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).flatMap(([k, x]) => paths(x, at ? `${at}.${k}` : k)) : [at];
    expect(modules).toEqual([]);
    expect(paths(core, '').filter((p) => p !== 'vision.kind' && p !== 'language.kind')).toEqual([
      'imageSize',
      'd',
      'vision.channels',
      'vision.strides',
      'language.maxTokens',
      'language.layers',
      'language.heads',
      'language.embeddingStd',
      'attention.hidden',
      'attention.glimpses',
      'attention.k',
      'attention.o',
      'attention.norm',
      'fusion.kind',
      'fusion.k',
      'fusion.o',
      'dropout',
      'blind',
    ]);
  });
});

describe('model.vision.init', () => {
  it("'fan-in-uniform' draws the convolutions in ±1/√fan_in, √6 below He's std; absent is He", async () => {
    const { ParamStore } = await import('../src/nn/params.ts');
    const { ConvTrunk } = await import('../src/vision/conv_trunk.ts');
    const weights = (init?: 'he' | 'fan-in-uniform') => {
      const store = new ParamStore(1);
      new ConvTrunk(store, 'v', [32, 32], [2, 2], { init });
      const w = Array.from(store.get('v.conv1.w').dataSync());
      store.dispose();
      return w;
    };
    const std = (w: number[]) => Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
    const fanIn = 3 * 3 * 32;
    const small = weights('fan-in-uniform');
    expect(Math.max(...small.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
    expect(std(small)).toBeCloseTo(1 / Math.sqrt(3 * fanIn), 3);
    expect(std(weights())).toBeCloseTo(Math.sqrt(2 / fanIn), 2);
    expect(parseRunConfig({ model: { vision: { kind: 'cnn', init: 'fan-in-uniform' } } }, 'c').model.vision).toMatchObject({ init: 'fan-in-uniform' });
    expect(() => parseRunConfig({ model: { vision: { kind: 'cnn', init: 'xavier' } } }, 'c.json')).toThrow(/c\.json: invalid config/);
  });
});
