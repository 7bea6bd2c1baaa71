import type { WordVectors } from '../language/word_vectors.ts';
import type { Rng } from '../util/rng.ts';

/**
 * Questions with a word training never saw, made from val for `vqa calibrate` (docs/experiments.md
 * §28.1): one trained word of a val question swapped for one of its nearest neighbours in the
 * shipped GloVe table that training never saw. How sure answers to such questions should be is then
 * measured on val itself, without any held-out wording.
 */

/** For each trained word the table has: its `k` nearest untrained words (cosine), alphabetic words only. */
export function untrainedNeighbours(table: WordVectors, trained: ReadonlySet<string>, k: number): Map<string, string[]> {
  const { words, width, values } = table;
  const norms = Float32Array.from(words, (_, i) => Math.hypot(...values.subarray(i * width, (i + 1) * width)) || 1);
  const candidates = words.flatMap((w, i) => (trained.has(w) || !/^[a-z]+$/.test(w) ? [] : [i]));
  const out = new Map<string, string[]>();
  words.forEach((word, r) => {
    if (!trained.has(word)) return;
    const row = values.subarray(r * width, (r + 1) * width);
    const best: [number, number][] = []; // [similarity, index], most similar first
    for (const i of candidates) {
      let dot = 0;
      for (let j = 0; j < width; j++) dot += row[j]! * values[i * width + j]!;
      const sim = dot / (norms[r]! * norms[i]!);
      if (best.length === k && sim <= best[k - 1]![0]) continue;
      const at = best.findIndex(([s]) => s < sim);
      best.splice(at < 0 ? best.length : at, 0, [sim, i]);
      if (best.length > k) best.pop();
    }
    out.set(
      word,
      best.map(([, i]) => words[i]!),
    );
  });
  return out;
}

/** The question with one of its words that has neighbours swapped for one of them (both drawn from `rng`); undefined when none has. */
export function swapOneWord(question: string, neighbours: ReadonlyMap<string, readonly string[]>, rng: Rng): string | undefined {
  const spans = [...question.matchAll(/[a-z0-9']+/gi)].filter((m) => neighbours.has(m[0].toLowerCase()));
  if (spans.length === 0) return undefined;
  const m = rng.pick(spans);
  const swapIn = rng.pick(neighbours.get(m[0].toLowerCase())!);
  return question.slice(0, m.index) + swapIn + question.slice(m.index! + m[0].length);
}
