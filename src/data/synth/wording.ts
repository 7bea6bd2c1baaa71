import type { Rng } from '../../util/rng.ts';

/**
 * Question wordings. Each family has wordings that training sets use and wordings kept for the
 * held-out split (`val-reworded`) that training never sees, so that accuracy on new wordings is
 * measured, not assumed. A template's {slots} are filled by the generator.
 */
export interface Wordings {
  train: readonly string[];
  heldOut: readonly string[];
}

export type WordingSet = 'spec' | 'train' | 'held-out';

/** The wording of `set`: the spec's first template, or one drawn at random. */
export function pickTemplate(rng: Rng, w: Wordings, set: WordingSet): string {
  if (set === 'spec') return w.train[0]!;
  return rng.pick(set === 'train' ? w.train : w.heldOut);
}

export function fill(template: string, slots: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = slots[name];
    if (v === undefined) throw new Error(`wording '${template}' has no value for {${name}}`);
    return v;
  });
}

/** How a person types it: sometimes without the question mark, sometimes all lower case. */
export function surface(rng: Rng, question: string, set: WordingSet): string {
  if (set === 'spec') return question;
  let q = question;
  if (rng.next() < 0.25) q = q.replace(/[?.]$/, '');
  if (rng.next() < 0.25) q = q.toLowerCase();
  return q;
}

/** One of a word's synonyms: the spec's (the first), a trained one, or for held-out wordings any, unseen ones included. */
export function synonym(rng: Rng, w: Wordings, set: WordingSet): string {
  if (set === 'spec') return w.train[0]!;
  return rng.pick(set === 'train' ? w.train : [...w.train, ...w.heldOut]);
}
