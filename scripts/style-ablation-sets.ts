// Writes a Sort-of-CLEVR or clevr-lite set that changes one part of the random style and keeps the
// rest of the spec, for the proxies of docs/experiments.md §14 and §22: `node --import tsx
// scripts/style-ablation-sets.ts PART OUT [TRAIN] [VAL] [KIND]`, PART one of spec, look, background,
// shade, size, degrade, layout, random, words (the spec's scenes asked in the trained wordings, with a
// val-reworded split in held-out ones); KIND sort-of-clevr (default) or clevr-lite.
import { clevrLite } from '../src/data/synth/clevr_lite.ts';
import { randomDegradation } from '../src/data/synth/degrade.ts';
import { RANDOM_LOOK, SPEC_LOOK } from '../src/data/synth/look.ts';
import { sortOfClevr } from '../src/data/synth/sort_of_clevr.ts';
import { RANDOM_STYLE, SPEC_STYLE, type SceneStyle } from '../src/data/synth/types.ts';
import { writeSynthetic, type SplitSize } from '../src/data/synth/write.ts';

const STYLES: Record<string, SceneStyle> = {
  spec: SPEC_STYLE,
  look: { ...SPEC_STYLE, look: RANDOM_LOOK },
  background: { ...SPEC_STYLE, look: { ...SPEC_LOOK, otherBackground: RANDOM_LOOK.otherBackground } },
  shade: { ...SPEC_STYLE, look: { ...SPEC_LOOK, shade: RANDOM_LOOK.shade, jitter: RANDOM_LOOK.jitter } },
  size: { ...SPEC_STYLE, look: { ...SPEC_LOOK, size: RANDOM_LOOK.size, antialias: RANDOM_LOOK.antialias } },
  degrade: { ...SPEC_STYLE, degradation: randomDegradation },
  layout: { ...SPEC_STYLE, fewerObjects: RANDOM_STYLE.fewerObjects, overlap: RANDOM_STYLE.overlap },
  random: RANDOM_STYLE,
  words: { ...SPEC_STYLE, wordings: 'train' },
};
const KINDS = {
  'sort-of-clevr': { imageSize: 75, generator: (style: SceneStyle) => sortOfClevr(1, 75, style) },
  'clevr-lite': { imageSize: 64, generator: (style: SceneStyle) => clevrLite(1, 64, 10, style) },
} as const;

const [part = '', out, train = '3000', val = '200', kindName = 'sort-of-clevr'] = process.argv.slice(2);
const style = STYLES[part];
const kind = KINDS[kindName as keyof typeof KINDS];
if (!style || !out || !kind) {
  console.error(`usage: style-ablation-sets.ts PART OUT [TRAIN] [VAL] [KIND]; PART is one of ${Object.keys(STYLES).join(', ')}; KIND one of ${Object.keys(KINDS).join(', ')}`);
  process.exit(2);
}
const splits: SplitSize[] = [
  { name: 'train', images: Number(train) },
  { name: 'val', images: Number(val) },
];
if (style.wordings !== 'spec') splits.push({ name: 'val-reworded', images: Number(val), scenes: 'val', generator: kind.generator({ ...style, wordings: 'held-out' }) });
await writeSynthetic(kind.generator(style), out, splits, { kind: kindName as keyof typeof KINDS, seed: 1, imageSize: kind.imageSize, style: `ablation-${part}` });
console.log(`wrote ${out}`);
