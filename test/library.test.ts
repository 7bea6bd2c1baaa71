import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.ts';

const ROOT = path.resolve('.');

describe('the library, as a user installs it', () => {
  it('lib/index.d.ts is what src/library/index.ts declares', () => {
    const r = spawnSync(process.execPath, ['scripts/library-types.mjs', '--check'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it("from `npm pack` into another project: `import { loadModel } from 'vqa'` answers, typed", async () => {
    const project = tempDir('library');
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
    const installed = path.join(project, 'node_modules', 'vqa');
    fs.mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(project, tarball), '-C', installed, '--strip-components=1']);
    // the package's dependencies as npm would install them (the registry is not needed for this test)
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(installed, 'node_modules'));
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', type: 'module', private: true }));
    const example = path.join(installed, 'src', 'server', 'public', 'examples', 'sort-of-clevr-val-1.png');
    const { data, info } = await sharp(example).raw().toBuffer({ resolveWithObject: true });
    fs.writeFileSync(path.join(project, 'pixels.bin'), data);
    fs.writeFileSync(
      path.join(project, 'use.mjs'),
      `import fs from 'node:fs';
import { loadModel, vqaAccuracy, generateDataset } from 'vqa';
const vqa = await loadModel('node_modules/vqa/models/sort-of-clevr', { backend: 'wasm' });
const q = 'What is the shape of the red object?';
const byPath = await vqa.ask(${JSON.stringify(example)}, q, { topK: 2 });
const byBytes = await vqa.ask(fs.readFileSync(${JSON.stringify(example)}), q, { topK: 2 });
const byPixels = await vqa.ask({ data: fs.readFileSync('pixels.bin'), width: ${info.width}, height: ${info.height}, channels: ${info.channels} }, q, { topK: 2 });
const unknown = await vqa.ask(${JSON.stringify(example)}, 'What shape is the blorp?');
vqa.dispose();
await generateDataset('sort-of-clevr', 'set', { train: 2, val: 1 });
console.log(JSON.stringify({ name: vqa.name, runtime: vqa.runtime, byPath, byBytes, byPixels, unknown: unknown.unknownWords, accuracy: vqaAccuracy('two', ['2', '2', '2', '1', '1', '1', '1', '1', '1', '1']), generated: fs.existsSync('set/train/questions.json') }));
`,
    );
    const run = spawnSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr.slice(-1000)).toBe(0);
    const got = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(got.name).toBe('sort-of-clevr-mfb');
    expect(got.byPath.answers).toHaveLength(2);
    expect(['square', 'circle']).toContain(got.byPath.answers[0].answer);
    expect(got.byBytes.answers).toEqual(got.byPath.answers);
    expect(got.byPixels.answers[0].answer).toBe(got.byPath.answers[0].answer); // re-encoded from its own pixels
    expect(got.byPath.attention.image.weights.length).toBeGreaterThan(0);
    expect(got.unknown).toEqual(['blorp']);
    // "two" is normalised to "2": three of ten match; the ten leave-one-out subsets give 1 seven times and 2/3 three times
    expect(got.accuracy).toBeCloseTo(0.9, 10);
    expect(got.generated).toBe(true);

    // A TypeScript user gets the types: a correct call checks, a wrong one does not.
    fs.writeFileSync(
      path.join(project, 'use.ts'),
      `import { loadModel, type VqaAnswer } from 'vqa';
const vqa = await loadModel('m');
const a: VqaAnswer = await vqa.ask('x.png', 'what?', { topK: 3 });
const best: string = a.answers[0]!.answer;
// @ts-expect-error: an image is a path, bytes or pixels, not a number
await vqa.ask(42, 'what?');
export { best };
`,
    );
    const tsc = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        path.join(ROOT, 'node_modules/@types'),
        'use.ts',
      ],
      { cwd: project, encoding: 'utf8' },
    );
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  });
});
