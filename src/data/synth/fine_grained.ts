import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Canvas, type Rgb } from './raster.ts';
import { imageRng } from './seed.ts';
import { makeDirectory } from '../../util/make_dir.ts';

// A fine-grained image-folder set: every image holds two circles, one striped and one solid, in two
// of six colours. The class is which colour is striped and which is solid, so both classes of a
// colour pair contain the same colours and the same textures: only their co-occurrence tells them apart.
const COLOURS: [string, Rgb][] = [
  ['red', [200, 40, 40]],
  ['green', [40, 160, 60]],
  ['blue', [40, 70, 200]],
  ['yellow', [220, 200, 40]],
  ['purple', [140, 60, 180]],
  ['orange', [230, 130, 30]],
];

interface FineGrainedClass {
  name: string;
  striped: number;
  solid: number;
}

function fineGrainedClasses(): FineGrainedClass[] {
  const classes: FineGrainedClass[] = [];
  for (let a = 0; a < COLOURS.length; a++) {
    for (let b = 0; b < COLOURS.length; b++) {
      if (a !== b) classes.push({ name: `striped-${COLOURS[a]![0]}-solid-${COLOURS[b]![0]}`, striped: a, solid: b });
    }
  }
  return classes;
}

function drawStriped(canvas: Canvas, cx: number, cy: number, r: number, colour: Rgb): void {
  canvas.draw('circle', cx, cy, r, colour);
  for (let y = Math.floor(cy - r); y <= cy + r; y++) {
    if (y < 0 || y >= canvas.size || Math.floor(y / 2) % 2 === 0) continue;
    for (let x = Math.floor(cx - r); x <= cx + r; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      if (x >= 0 && x < canvas.size && dx * dx + dy * dy <= r * r) canvas.pixels.set([245, 245, 245], (y * canvas.size + x) * 3);
    }
  }
}

function renderFineGrained(cls: FineGrainedClass, seed: number, split: string, index: number, size: number): Uint8Array {
  const rng = imageRng(seed, `${split}:${cls.name}`, index);
  const canvas = new Canvas(size, [120, 120, 120]);
  const r = size * (0.16 + 0.05 * rng.next());
  const leftStriped = rng.next() < 0.5;
  const place = (left: boolean) => [(left ? 0.28 : 0.72) * size + (rng.next() - 0.5) * size * 0.1, size * (0.3 + 0.4 * rng.next())] as const;
  const [sx, sy] = place(leftStriped);
  const [px, py] = place(!leftStriped);
  drawStriped(canvas, sx, sy, r, COLOURS[cls.striped]![1]);
  canvas.draw('circle', px, py, r, COLOURS[cls.solid]![1]);
  return canvas.pixels;
}

/** Writes DIR/{train,val}/<class>/<n>.png, deterministic from the seed. */
export async function writeFineGrained(
  outDir: string,
  perClass: { train: number; val: number },
  seed: number,
  size: number,
  onProgress: (done: number, total: number) => void = () => {},
): Promise<void> {
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0) throw new Error(`${outDir}: exists and is not empty`);
  const tmp = `${outDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const classes = fineGrainedClasses();
  const total = classes.length * (perClass.train + perClass.val);
  let done = 0;
  for (const split of ['train', 'val'] as const) {
    for (const cls of classes) {
      const dir = path.join(tmp, split, cls.name);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < perClass[split]; i++) {
        const png = await sharp(renderFineGrained(cls, seed, split, i, size), { raw: { width: size, height: size, channels: 3 } })
          .png()
          .toBuffer();
        fs.writeFileSync(path.join(dir, `${i}.png`), png);
        onProgress(++done, total);
      }
    }
  }
  makeDirectory(path.dirname(path.resolve(outDir)));
  if (fs.existsSync(outDir)) fs.rmdirSync(outDir);
  fs.renameSync(tmp, outDir);
}
