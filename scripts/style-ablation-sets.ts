// Writes a Sort-of-CLEVR set that changes one part of the random style and keeps the rest of the
// spec, for the proxy of docs/experiments.md §14: `node --import tsx scripts/style-ablation-sets.ts
// PART OUT [TRAIN] [VAL]`, PART one of spec, look, background, shade, size, degrade, layout, random,
// words (the spec's scenes asked in the trained wordings, with a val-reworded split in held-out ones).
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

const [part = '', out, train = '3000', val = '200'] = process.argv.slice(2);
const style = STYLES[part];
if (!style || !out) {
  console.error(`usage: style-ablation-sets.ts PART OUT [TRAIN] [VAL]; PART is one of ${Object.keys(STYLES).join(', ')}`);
  process.exit(2);
}
const splits: SplitSize[] = [
  { name: 'train', images: Number(train) },
  { name: 'val', images: Number(val) },
];
if (style.wordings !== 'spec') splits.push({ name: 'val-reworded', images: Number(val), scenes: 'val', generator: sortOfClevr(1, 75, { ...style, wordings: 'held-out' }) });
await writeSynthetic(sortOfClevr(1, 75, style), out, splits, { kind: 'sort-of-clevr', seed: 1, imageSize: 75, style: `ablation-${part}` });
console.log(`wrote ${out}`);
