import type { Rng } from '../../util/rng.ts';
import { antialiased, background, objectColour, objectScale } from './look.ts';
import { Canvas, type Rgb, type ShapeKind } from './raster.ts';
import { imageRng } from './seed.ts';
import type { GeneratedImage, GeneratedQuestion, Generator, SceneStyle } from './types.ts';
import { fill, pickTemplate, surface, synonym, type Wordings, type WordingSet } from './wording.ts';

// CLEVR-style 2D scenes: 3–10 non-overlapping objects with colour, shape, size and material,
// and questions from seven template families with answers balanced within each family. SPEC_STYLE
// draws the original scenes and wording; other styles vary the drawing and the words.
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

/** Words for attribute values and relations; the first is the spec's. */
const WORDS: Record<string, Wordings> = {
  small: { train: ['small', 'little'], heldOut: ['tiny'] },
  large: { train: ['large', 'big'], heldOut: ['huge'] },
  gray: { train: ['gray', 'grey'], heldOut: [] },
  solid: { train: ['solid', 'filled'], heldOut: [] },
  hollow: { train: ['hollow', 'outlined'], heldOut: ['empty'] },
  object: { train: ['object', 'thing', 'item'], heldOut: ['shape'] },
  color: { train: ['color', 'colour'], heldOut: ['hue'] },
  'left of': { train: ['left of', 'to the left of'], heldOut: ['on the left side of'] },
  'right of': { train: ['right of', 'to the right of'], heldOut: ['on the right side of'] },
  above: { train: ['above', 'over'], heldOut: ['higher than'] },
  below: { train: ['below', 'under', 'beneath'], heldOut: ['lower than'] },
};

/** Question wordings per family; the first is the spec's. */
export const CLEVR_LITE_WORDINGS: Record<Family, Wordings> = {
  exist: {
    train: [
      'Is there a {d}?',
      'Are there any {ds}?',
      'Does the image contain a {d}?',
      'Is a {d} present?',
      'Can you see a {d}?',
      'Is there at least one {d}?',
      'Do you see any {ds}?',
      'Does the scene include a {d}?',
      'Is there any {d} in the scene?',
      'Are any {ds} in the image?',
      'In the image, is there a {d}?',
    ],
    heldOut: ['Does a {d} appear in the picture?', 'Is any {d} visible?'],
  },
  count: {
    train: [
      'How many {ds} are there?',
      'What number of {ds} are there?',
      'Count the {ds}.',
      'How many {ds} are in the image?',
      'How many {ds} can you see?',
      'What is the number of {ds}?',
      'How many {ds} does the scene contain?',
      'How many {ds} does the image have?',
      'Give the number of {ds}.',
      'In the image, how many {ds} are there?',
    ],
    heldOut: ['How many {ds} does the picture show?', 'Tell me how many {ds} there are.'],
  },
  'query attribute': {
    train: [
      'What {a} is the {d}?',
      'What is the {a} of the {d}?',
      'Which {a} does the {d} have?',
      'The {d} is what {a}?',
      'Tell me the {a} of the {d}.',
      'What {a} is the {d} in the image?',
      'What {a} would you say the {d} is?',
      'In the image, what {a} is the {d}?',
      'Name the {a} of the {d}.',
      'Which {a} is the {d}?',
    ],
    heldOut: ['Can you tell me the {a} of the {d}?', 'What {a} does the {d} have?'],
  },
  'compare attribute': {
    train: [
      'Does the {d} have the same {a} as the {e}?',
      'Is the {d} the same {a} as the {e}?',
      'Do the {d} and the {e} have the same {a}?',
      'Are the {d} and the {e} the same {a}?',
      'Is the {a} of the {d} the same as that of the {e}?',
      'Do the {d} and the {e} share the same {a}?',
      'Is the {d} of the same {a} as the {e}?',
      'Is the {a} of the {d} and the {e} the same?',
      'Does the {e} have the same {a} as the {d}?',
      'Are the {d} and the {e} alike in {a}?',
    ],
    heldOut: ['Are the {d} and the {e} of equal {a}?', 'Does the {d} match the {e} in {a}?'],
  },
  'compare count': {
    train: [
      'Are there more {ds} than {es}?',
      'Is the number of {ds} greater than the number of {es}?',
      'Do {ds} outnumber {es}?',
      'Are {ds} more numerous than {es}?',
      'Are there more {ds} than there are {es}?',
      'Is the count of {ds} larger than the count of {es}?',
      'Does the scene contain more {ds} than {es}?',
      'Are {ds} more common than {es}?',
      'Is the count of {es} smaller than the count of {ds}?',
      'Are there fewer {es} than {ds}?',
    ],
    heldOut: ['Does the image have more {ds} than {es}?', 'Are the {ds} more in number than the {es}?'],
  },
  'spatial relation': {
    train: [
      'Is the {d} {r} the {e}?',
      'Is the {d} located {r} the {e}?',
      'Does the {d} lie {r} the {e}?',
      'Is it true that the {d} is {r} the {e}?',
      'Is the {d} positioned {r} the {e}?',
      'Would you say the {d} is {r} the {e}?',
      'Is the {d} sitting {r} the {e}?',
      'Is the {d} {r} the {e} in the image?',
      'Looking at the {e}, is the {d} {r} it?',
      'Does the scene have the {d} {r} the {e}?',
    ],
    heldOut: ['Is the {d} placed {r} the {e}?', 'Can the {d} be found {r} the {e}?'],
  },
  'two hop': {
    train: [
      'What {a} is the {d} {r} the {e}?',
      'What is the {a} of the {d} {r} the {e}?',
      'The {d} {r} the {e} is what {a}?',
      'Which {a} does the {d} {r} the {e} have?',
      'Tell me the {a} of the {d} that is {r} the {e}.',
      'What {a} is the {d} that is {r} the {e}?',
      'Which {a} is the {d} {r} the {e}?',
      'Name the {a} of the {d} {r} the {e}.',
      'The {d} that is {r} the {e} has what {a}?',
      'In the image, what {a} is the {d} {r} the {e}?',
    ],
    heldOut: ['There is a {d} {r} the {e}; what {a} is it?', 'Can you tell me the {a} of the {d} {r} the {e}?'],
  },
};

/** How the generator words things for one question: the wording set and its draws. */
class Speaker {
  constructor(
    private readonly rng: Rng,
    readonly set: WordingSet,
  ) {}

  word(w: string): string {
    const choices = WORDS[w];
    return choices ? synonym(this.rng, choices, this.set) : w;
  }

  /** "large red hollow circle", "small object", … */
  describe(f: Filter, plural = false): string {
    const words = [f.size, f.color, f.material].filter((w): w is string => Boolean(w)).map((w) => this.word(w));
    const noun = f.shape ?? this.word('object');
    return [...words, plural ? `${noun}s` : noun].join(' ');
  }

  say(family: Family, slots: Record<string, string>): string {
    const text = fill(pickTemplate(this.rng, CLEVR_LITE_WORDINGS[family], this.set), slots);
    return this.set === 'spec' ? text : surface(this.rng, text.replace(/\b([Aa]) (?=[aeiou])/g, '$1n '), this.set);
  }
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

/** Objects of radius 4 or 6.5 (at 64 px) × `sizeScale`, at least 2 px apart, or when `overlap` only a radius apart. */
function placeScene(rng: Rng, size: number, sizeScale: number, overlap: boolean): SceneObject[] {
  const scale = size / 64;
  const count = rng.int(3, 11);
  const objects: SceneObject[] = [];
  for (let tries = 0; objects.length < count && tries < 500; tries++) {
    const objSize = rng.pick(VALUES.size);
    const r = (objSize === 'small' ? 4 : 6.5) * scale * sizeScale;
    const x = r + 1 + rng.next() * (size - 2 * r - 2);
    const y = r + 1 + rng.next() * (size - 2 * r - 2);
    if (objects.some((o) => Math.hypot(o.x - x, o.y - y) < (overlap ? Math.max(o.r, r) : o.r + r + 2 * scale))) continue;
    objects.push({ color: rng.pick(VALUES.color), shape: rng.pick(VALUES.shape), size: objSize, material: rng.pick(VALUES.material), x, y, r });
  }
  return objects;
}

type Candidate = Omit<GeneratedQuestion, 'questionType' | 'answerType'>;

/** One random question of a family, or undefined when the scene cannot support it. */
function ask(rng: Rng, family: Family, scene: SceneObject[], set: WordingSet, countAll = false): Candidate | undefined {
  const w = new Speaker(rng, set);
  const attrWord = (attr: Attribute) => (attr === 'color' ? w.word('color') : attr);
  switch (family) {
    case 'exist': {
      const f = randomFilter(rng, 3);
      return { question: w.say(family, { d: w.describe(f), ds: w.describe(f, true) }), answer: scene.some((o) => matches(o, f)) ? 'yes' : 'no' };
    }
    case 'count': {
      const f = countAll ? {} : randomFilter(rng, 2);
      return { question: w.say(family, { ds: w.describe(f, true) }), answer: String(scene.filter((o) => matches(o, f)).length) };
    }
    case 'query attribute': {
      const o = rng.pick(scene);
      const attr = rng.pick(ATTRIBUTES);
      const f = uniqueFilter(rng, o, scene, attr);
      if (!f) return undefined;
      return { question: w.say(family, { a: attrWord(attr), d: w.describe(f) }), answer: o[attr] };
    }
    case 'compare attribute': {
      const [a, b] = rng.shuffle([...scene]);
      const attr = rng.pick(ATTRIBUTES);
      const fa = uniqueFilter(rng, a!, scene, attr);
      const fb = uniqueFilter(rng, b!, scene, attr);
      if (!fa || !fb) return undefined;
      return { question: w.say(family, { d: w.describe(fa), a: attrWord(attr), e: w.describe(fb) }), answer: a![attr] === b![attr] ? 'yes' : 'no' };
    }
    case 'compare count': {
      const [attrA, attrB] = rng.shuffle([...ATTRIBUTES]);
      const fa: Filter = { [attrA!]: rng.pick(VALUES[attrA!]) };
      const fb: Filter = { [attrB!]: rng.pick(VALUES[attrB!]) };
      const na = scene.filter((o) => matches(o, fa)).length;
      const nb = scene.filter((o) => matches(o, fb)).length;
      return { question: w.say(family, { ds: w.describe(fa, true), es: w.describe(fb, true) }), answer: na > nb ? 'yes' : 'no' };
    }
    case 'spatial relation': {
      const [a, b] = rng.shuffle([...scene]);
      const rel = rng.pick(RELATIONS);
      const fa = uniqueFilter(rng, a!, scene);
      const fb = uniqueFilter(rng, b!, scene);
      if (!fa || !fb) return undefined;
      return { question: w.say(family, { d: w.describe(fa), r: w.word(rel), e: w.describe(fb) }), answer: holds(rel, a!, b!) ? 'yes' : 'no' };
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
      return { question: w.say(family, { a: attrWord(attr), d: w.describe(f), r: w.word(rel), e: w.describe(fAnchor) }), answer: target[attr] };
    }
  }
}

/** Share of count questions that count every object ("How many objects are there?" is the first thing
 * people ask; the spec never asks it). Their answers (3–10) are not balanced. */
const COUNT_ALL = 0.15;

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

export function clevrLite(seed: number, imageSize: number, questionsPerImage: number, style: SceneStyle): Generator {
  // Balancing state is per split, reset when the split changes; images are generated in index order.
  const balancers = new Map<string, Balancer>();
  return {
    kind: 'clevr-lite',
    questionGroups: Object.fromEntries(CLEVR_LITE_FAMILIES.map((f) => [f, [f]])),
    // radius 4 or 6.5 at 64 px: the vocabulary's one radius is their mean
    vocabulary: { shapes: VALUES.shape, outlines: true, palette: Object.values(COLOURS), radius: 5.25 / 64 },
    generate(index: number, split: string): GeneratedImage {
      const rng = imageRng(seed, split, index);
      const balancer = balancers.get(split) ?? new Balancer();
      balancers.set(split, balancer);
      // The drawing draws from its own stream, so a look changes how a scene looks, not what is in it;
      // one size scale for the whole scene keeps small and large apart.
      const drawRng = rng.fork(1);
      const scene = placeScene(rng, imageSize, objectScale(drawRng, style.look), drawRng.next() < style.overlap);
      const colours = scene.map((o) => objectColour(drawRng, style.look, COLOURS[o.color]!));
      const canvas = new Canvas(imageSize, background(drawRng, style.look, [200, 200, 200], colours));
      const aa = antialiased(drawRng, style.look);
      scene.forEach((o, i) => canvas.draw(o.shape, o.x, o.y, o.r, colours[i]!, o.material === 'hollow' ? Math.max(1.5, o.r * 0.4) : 0, aa));
      const questions: GeneratedQuestion[] = [];
      const asked = new Set<string>();
      for (let tries = 0; questions.length < questionsPerImage && tries < questionsPerImage * 20; tries++) {
        const family = CLEVR_LITE_FAMILIES[(index * questionsPerImage + questions.length) % CLEVR_LITE_FAMILIES.length]!;
        let chosen: Candidate | undefined;
        if (family === 'count' && style.wordings !== 'spec' && rng.next() < COUNT_ALL) {
          chosen = ask(rng, family, scene, style.wordings, true);
          if (!chosen || asked.has(chosen.question)) continue;
        } else {
          const wanted = balancer.target(rng, family, answerSpace(family, ALL_ATTRIBUTE_VALUES));
          for (let attempt = 0; attempt < 30 && chosen?.answer !== wanted; attempt++) {
            const c = ask(rng, family, scene, style.wordings);
            if (c && !asked.has(c.question) && (chosen === undefined || c.answer === wanted)) chosen = c;
          }
          if (!chosen) continue;
          balancer.record(family, chosen.answer);
        }
        asked.add(chosen.question);
        questions.push({ ...chosen, questionType: family, answerType: FAMILY_ANSWER_TYPE[family] });
      }
      return { pixels: canvas.pixels, questions, degradation: style.degradation(drawRng) };
    },
  };
}
