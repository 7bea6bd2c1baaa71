// Configs written before model.modules (every bundled model and recipe until the fourteenth
// session) are read here into the current form; what the current form cannot express is refused
// naming the field to change. The experiment table (docs/experiments.md) keeps the results of the
// switches that were removed.

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

/** Fields of the old form that were removed, with the value they must have (or be absent) to be read. */
const REMOVED: [path: string, neutral: unknown, why: string][] = [
  ['vision.positionEmbedding', false, 'the position embedding was used by no recipe and was removed'],
  ['language.positionStd', 0.02, 'the initial position spread is fixed at 0.02'],
  ['language.ffnMultiplier', 2, "the transformer's feed-forward width is fixed at 2·d"],
  ['imageAttention.logitScale', 1, 'the attention logit scale was used by no recipe and was removed'],
  ['imageAttention.hops', 1, 'attention hops were used by no recipe and were removed'],
  ['relational.distance', false, 'the distance features were used by no recipe and were removed (relational.distanceScore stays)'],
];

function refuse(source: string, field: string, message: string): never {
  throw new Error(`${source}: model.${field}: ${message}`);
}

/** The value at a dotted path of `model`, and a function that deletes it. */
function at(model: Json, path: string): [unknown, () => void] {
  const [head, tail] = path.split('.') as [string, string];
  const parent = model[head];
  if (!isObject(parent) || !(tail in parent)) return [undefined, () => {}];
  return [parent[tail], () => delete parent[tail]];
}

/** The old image attention's fusion (`fusion: {kind, k, o}`, or `fusion: 'mfb'` with k and o beside it): MFB's k and o. */
function attentionMfb(ia: Json, source: string): { k?: unknown; o?: unknown } {
  const fusion = ia.fusion;
  const kind = typeof fusion === 'string' ? fusion : isObject(fusion) ? fusion.kind : undefined;
  if (kind !== undefined && kind !== 'mfb')
    refuse(
      source,
      'imageAttention.fusion',
      `'${String(kind)}': the image attention is scored by MFB only now; remove the field (docs/experiments.md keeps the other fusions' results)`,
    );
  const given = isObject(fusion) ? fusion : {};
  return { k: ia.k ?? given.k, o: ia.o ?? given.o };
}

/** The old form's attention norm and signed square root as one `attention.norm`. */
function attentionNorm(ia: Json, source: string): unknown {
  const norm = ia.norm ?? 'per-region';
  const sqrt = ia.signedSqrt ?? true;
  if ((norm === 'none') === Boolean(sqrt)) {
    refuse(
      source,
      'imageAttention.signedSqrt',
      `${String(sqrt)} with norm '${String(norm)}': attention.norm 'none' now leaves out both the signed square root and the L2 norm, the others keep both`,
    );
  }
  return norm;
}

/**
 * Reads the form before modules: questionAttention and imageAttention become `attention` (one
 * hidden width and glimpse count for both), the switches of the bundled recipes become modules.
 * A config in the current form passes through untouched.
 */
export function fromLegacyForm(raw: unknown, source: string): unknown {
  if (!isObject(raw) || !isObject(raw.model)) return raw;
  const model: Json = structuredClone(raw.model);
  for (const [path, neutral, why] of REMOVED) {
    const [value, remove] = at(model, path);
    if (value !== undefined && value !== neutral) refuse(source, path, `${JSON.stringify(value)}: ${why}; set it to ${JSON.stringify(neutral)} or remove it`);
    remove();
  }
  if (!['questionAttention', 'imageAttention', 'relational'].some((k) => k in model)) return { ...raw, model };
  if ('attention' in model || 'modules' in model)
    refuse(source, 'questionAttention', 'a config has either the old fields (questionAttention, imageAttention, relational) or attention and modules, not both');
  const qa = isObject(model.questionAttention) ? model.questionAttention : {};
  const ia = isObject(model.imageAttention) ? model.imageAttention : {};
  for (const field of ['hidden', 'glimpses'] as const) {
    const [q, i] = [qa[field] ?? (field === 'hidden' ? 256 : 2), ia[field] ?? (field === 'hidden' ? 256 : 2)];
    if (q !== i)
      refuse(source, `imageAttention.${field}`, `${String(i)} differs from questionAttention.${field} (${String(q)}); one attention.${field} now serves both: make them equal`);
  }
  const { k, o } = attentionMfb(ia, source);
  const attention = Object.fromEntries(Object.entries({ hidden: qa.hidden, glimpses: qa.glimpses, k, o, norm: attentionNorm(ia, source) }).filter(([, v]) => v !== undefined));

  const modules: Json[] = [];
  const query = ia.query ?? 'question';
  const slope = ia.guideSlope ?? 0;
  if (query !== 'question') modules.push({ kind: 'word-guide', weights: query === 'word-embeddings' ? 'embeddings' : 'states', perGlimpse: ia.guidePerGlimpse ?? false, slope });
  else if (ia.guidePerGlimpse || slope)
    refuse(source, 'imageAttention.guidePerGlimpse', "needs an image attention guided by the words (imageAttention.query other than 'question')");
  if (qa.values === 'word-embeddings') modules.push({ kind: 'embedding-question' });
  if (isObject(model.relational)) modules.push({ kind: 'relational', ...model.relational });
  const staged = isObject(model.relational) ? (model.relational.staged ?? true) : false;
  if (typeof ia.positions === 'number' && ia.positions > 0) modules.push({ kind: 'places', scale: ia.positions, staged });
  if (isObject(ia.pair)) modules.push({ kind: 'glimpse-pair', ...ia.pair, staged });
  const { questionAttention: _q, imageAttention: _i, relational: _r, ...rest } = model;
  return { ...raw, model: { ...rest, attention, modules } };
}
