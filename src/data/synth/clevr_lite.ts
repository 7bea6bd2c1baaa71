import type { Rng } from '../../util/rng.ts';
import { Canvas, type Rgb, type ShapeKind } from './raster.ts';
import { imageRng } from './seed.ts';
import type { GeneratedImage, GeneratedQuestion, Generator } from './types.ts';

// CLEVR-style 2D scenes: 3–10 non-overlapping objects with colour, shape, size and material,
// and questions from seven template families with answers balanced within each family.
const COLOURS: Record<string, Rgb> = {
  gray: [87, 87, 87],
  red: [173, 35, 35],
  blue: [42, 75, 215],
  green: [29, 105, 20],
  brown: [129, 74, 25],
  purple: [129, 38, 192],
  cyan: [41, 208, 208],
  yellow: [255, 238, 51],
};
const VALUES = {
  color: Object.keys(COLOURS),
  shape: ['circle', 'square', 'triangle'] as ShapeKind[],
  size: ['small', 'large'],
  material: ['solid', 'hollow'],
} as const;
type Attribute = keyof typeof VALUES;
const ATTRIBUTES = Object.keys(VALUES) as Attribute[];
const RELATIONS = ['left of', 'right of', 'above', 'below'] as const;
type Relation = (typeof RELATIONS)[number];

interface SceneObject {
  color: string;
  shape: ShapeKind;
  size: string;
  material: string;
  x: number;
  y: number;
  r: number;
}

type Filter = Partial<Record<Attribute, string>>;

const CLEVR_LITE_FAMILIES = ['exist', 'count', 'query attribute', 'compare attribute', 'compare count', 'spatial relation', 'two hop'] as const;
type Family = (typeof CLEVR_LITE_FAMILIES)[number];

const FAMILY_ANSWER_TYPE: Record<Family, GeneratedQuestion['answerType']> = {
  exist: 'yes/no',
  count: 'number',
  'query attribute': 'other',
  'compare attribute': 'yes/no',
  'compare count': 'yes/no',
  'spatial relation': 'yes/no',
  'two hop': 'other',
};

const matches = (o: SceneObject, f: Filter) => ATTRIBUTES.every((a) => f[a] === undefined || o[a] === f[a]);

/** "large red hollow circle", "small object", … */
function describe(f: Filter, plural = false): string {
  const words = [f.size, f.color, f.material].filter(Boolean);
  const noun = f.shape ?? 'object';
  return [...words, plural ? `${noun}s` : noun].join(' ');
}

function holds(rel: Relation, a: SceneObject, b: SceneObject): boolean {
  switch (rel) {
    case 'left of':
      return a.x < b.x;
    case 'right of':
      return a.x > b.x;
    case 'above':
      return a.y < b.y;
    case 'below':
      return a.y > b.y;
  }
}

function randomFilter(rng: Rng, maxAttributes: number): Filter {
  const chosen = rng.shuffle([...ATTRIBUTES]).slice(0, rng.int(1, maxAttributes + 1));
  return Object.fromEntries(chosen.map((a) => [a, rng.pick(VALUES[a])]));
}

/** The smallest random set of attributes (never `exclude`) that singles `o` out, or undefined. */
function uniqueFilter(rng: Rng, o: SceneObject, among: SceneObject[], exclude?: Attribute): Filter | undefined {
  const candidates = rng.shuffle(ATTRIBUTES.filter((a) => a !== exclude));
  for (let n = 0; n <= candidates.length; n++) {
    for (let start = 0; start + n <= candidates.length; start++) {
      const f: Filter = Object.fromEntries(candidates.slice(start, start + n).map((a) => [a, o[a]]));
      if (among.filter((x) => matches(x, f)).length === 1) return f;
    }
  }
  return undefined;
}

function placeScene(rng: Rng, size: number): SceneObject[] {
  const scale = size / 64;
  const count = rng.int(3, 11);
  const objects: SceneObject[] = [];
  for (let tries = 0; objects.length < count && tries < 500; tries++) {
    const objSize = rng.pick(VALUES.size);
    const r = (objSize === 'small' ? 4 : 6.5) * scale;
    const x = r + 1 + rng.next() * (size - 2 * r - 2);
    const y = r + 1 + rng.next() * (size - 2 * r - 2);
    if (objects.some((o) => Math.hypot(o.x - x, o.y - y) < o.r + r + 2 * scale)) continue;
    objects.push({ color: rng.pick(VALUES.color), shape: rng.pick(VALUES.shape), size: objSize, material: rng.pick(VALUES.material), x, y, r });
  }
  return objects;
}

type Candidate = Omit<GeneratedQuestion, 'questionType' | 'answerType'>;

/** One random question of a family, or undefined when the scene cannot support it. */
function ask(rng: Rng, family: Family, scene: SceneObject[]): Candidate | undefined {
  switch (family) {
    case 'exist': {
      const f = randomFilter(rng, 3);
      return { question: `Is there a ${describe(f)}?`, answer: scene.some((o) => matches(o, f)) ? 'yes' : 'no' };
    }
    case 'count': {
      const f = randomFilter(rng, 2);
      return { question: `How many ${describe(f, true)} are there?`, answer: String(scene.filter((o) => matches(o, f)).length) };
    }
    case 'query attribute': {
      const o = rng.pick(scene);
      const attr = rng.pick(ATTRIBUTES);
      const f = uniqueFilter(rng, o, scene, attr);
      if (!f) return undefined;
      return { question: `What ${attr === 'color' ? 'color' : attr} is the ${describe(f)}?`, answer: o[attr] };
    }
    case 'compare attribute': {
      const [a, b] = rng.shuffle([...scene]);
      const attr = rng.pick(ATTRIBUTES);
      const fa = uniqueFilter(rng, a!, scene, attr);
      const fb = uniqueFilter(rng, b!, scene, attr);
      if (!fa || !fb) return undefined;
      return { question: `Does the ${describe(fa)} have the same ${attr} as the ${describe(fb)}?`, answer: a![attr] === b![attr] ? 'yes' : 'no' };
    }
    case 'compare count': {
      const [attrA, attrB] = rng.shuffle([...ATTRIBUTES]);
      const fa: Filter = { [attrA!]: rng.pick(VALUES[attrA!]) };
      const fb: Filter = { [attrB!]: rng.pick(VALUES[attrB!]) };
      const na = scene.filter((o) => matches(o, fa)).length;
      const nb = scene.filter((o) => matches(o, fb)).length;
      return { question: `Are there more ${describe(fa, true)} than ${describe(fb, true)}?`, answer: na > nb ? 'yes' : 'no' };
    }
    case 'spatial relation': {
      const [a, b] = rng.shuffle([...scene]);
      const rel = rng.pick(RELATIONS);
      const fa = uniqueFilter(rng, a!, scene);
      const fb = uniqueFilter(rng, b!, scene);
      if (!fa || !fb) return undefined;
      return { question: `Is the ${describe(fa)} ${rel} the ${describe(fb)}?`, answer: holds(rel, a!, b!) ? 'yes' : 'no' };
    }
    case 'two hop': {
      const anchor = rng.pick(scene);
      const fAnchor = uniqueFilter(rng, anchor, scene);
      const rel = rng.pick(RELATIONS);
      const related = scene.filter((o) => o !== anchor && holds(rel, o, anchor));
      if (!fAnchor || related.length === 0) return undefined;
      const target = rng.pick(related);
      const attr = rng.pick(ATTRIBUTES);
      const f = uniqueFilter(rng, target, related, attr);
      if (!f) return undefined;
      return { question: `What ${attr} is the ${describe(f)} ${rel} the ${describe(fAnchor)}?`, answer: target[attr] };
    }
  }
}

/** Answer counts per family, so each new question aims at that family's least used answer. */
class Balancer {
  private readonly counts = new Map<Family, Map<string, number>>();

  target(rng: Rng, family: Family, answers: readonly string[]): string {
    const seen = this.counts.get(family) ?? new Map<string, number>();
    const least = Math.min(...answers.map((a) => seen.get(a) ?? 0));
    return rng.pick(answers.filter((a) => (seen.get(a) ?? 0) === least));
  }

  record(family: Family, answer: string): void {
    const seen = this.counts.get(family) ?? new Map<string, number>();
    seen.set(answer, (seen.get(answer) ?? 0) + 1);
    this.counts.set(family, seen);
  }
}

const YES_NO = ['yes', 'no'];
function answerSpace(family: Family, attrValues: readonly string[]): readonly string[] {
  if (family === 'count') return ['0', '1', '2', '3', '4'];
  if (family === 'query attribute' || family === 'two hop') return attrValues;
  return YES_NO;
}
const ALL_ATTRIBUTE_VALUES = ATTRIBUTES.flatMap((a) => VALUES[a]);

export function clevrLite(seed: number, imageSize: number, questionsPerImage: number): Generator {
  // Balancing state is per split, reset when the split changes; images are generated in index order.
  const balancers = new Map<string, Balancer>();
  return {
    kind: 'clevr-lite',
    questionGroups: Object.fromEntries(CLEVR_LITE_FAMILIES.map((f) => [f, [f]])),
    generate(index: number, split: string): GeneratedImage {
      const rng = imageRng(seed, split, index);
      const balancer = balancers.get(split) ?? new Balancer();
      balancers.set(split, balancer);
      const scene = placeScene(rng, imageSize);
      const canvas = new Canvas(imageSize, [200, 200, 200]);
      for (const o of scene) canvas.draw(o.shape, o.x, o.y, o.r, COLOURS[o.color]!, o.material === 'hollow' ? Math.max(1.5, o.r * 0.4) : 0);
      const questions: GeneratedQuestion[] = [];
      const asked = new Set<string>();
      for (let tries = 0; questions.length < questionsPerImage && tries < questionsPerImage * 20; tries++) {
        const family = CLEVR_LITE_FAMILIES[(index * questionsPerImage + questions.length) % CLEVR_LITE_FAMILIES.length]!;
        const wanted = balancer.target(rng, family, answerSpace(family, ALL_ATTRIBUTE_VALUES));
        let chosen: Candidate | undefined;
        for (let attempt = 0; attempt < 30 && chosen?.answer !== wanted; attempt++) {
          const c = ask(rng, family, scene);
          if (c && !asked.has(c.question) && (chosen === undefined || c.answer === wanted)) chosen = c;
        }
        if (!chosen) continue;
        asked.add(chosen.question);
        balancer.record(family, chosen.answer);
        questions.push({ ...chosen, questionType: family, answerType: FAMILY_ANSWER_TYPE[family] });
      }
      return { pixels: canvas.pixels, questions };
    },
  };
}
