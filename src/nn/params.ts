import { tf } from '../backend/tf.ts';

/** How a parameter starts: drawn, constant, or given values (in row-major order). */
export type Init = 'glorot' | 'he' | 'fan-in-uniform' | 'zeros' | 'ones' | { normal: number } | { values: Float32Array };

/** A 31-bit FNV-1a hash of the run's seed and a parameter's name: its initialisation seed. */
function nameSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 1) & 0x7fffffff;
}

/**
 * Owns every variable of a model under a stable name. Each is drawn from a seed of its own name,
 * so that adding or removing a module leaves every other parameter's first value as it was.
 */
export class ParamStore {
  private readonly vars = new Map<string, tf.Variable>();
  /** parameters set after training (a checkpoint saved before they existed loads with their first values) */
  private readonly fitted = new Set<string>();
  /** frozen values the model rebuilds from files the package ships: not written to its folder */
  private readonly derived = new Set<string>();

  constructor(private readonly seed: number) {}

  /**
   * `false`, `{ fitted: true }` or `{ derived: true }`: not trained by gradients (fitted: set after
   * training; derived: rebuilt from shipped files, see the fields above).
   */
  add(name: string, shape: number[], init: Init, kind: boolean | { fitted: true } | { derived: true } = true): tf.Variable {
    if (this.vars.has(name)) throw new Error(`parameter '${name}' is defined twice`);
    const trainable = kind === true;
    if (typeof kind === 'object') ('fitted' in kind ? this.fitted : this.derived).add(name);
    const value = tf.tidy(() => initialValue(shape, init, nameSeed(this.seed, name)));
    const v = tf.variable(value, trainable, `${name}#${this.seed}-${Math.random().toString(36).slice(2)}`);
    value.dispose();
    this.vars.set(name, v);
    return v;
  }

  /** Each variable's name in the store. */
  names(): Map<tf.Variable, string> {
    return new Map([...this.vars].map(([name, v]) => [v, name]));
  }

  trainable(): Map<string, tf.Variable> {
    return new Map([...this.vars].filter(([, v]) => v.trainable));
  }

  entries(): [string, tf.Variable][] {
    return [...this.vars];
  }

  /** The model's own state, what a model folder stores and training workers exchange: all but the derived parameters. */
  state(): [string, tf.Variable][] {
    return [...this.vars].filter(([name]) => !this.derived.has(name));
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter named '${name}'`);
    return v;
  }

  countTrainable(): number {
    let n = 0;
    for (const v of this.trainable().values()) n += v.size;
    return n;
  }

  /**
   * Copies named values in; every parameter but the fitted and derived ones must be present, each
   * with the same shape (a folder saved before a parameter was derived still carries its values).
   */
  assign(values: Record<string, tf.Tensor>, source: string): void {
    for (const [name, v] of this.vars) {
      const t = values[name];
      if (!t && (this.fitted.has(name) || this.derived.has(name))) continue;
      if (!t) throw new Error(`${source}: parameter '${name}' is missing`);
      if (t.shape.join(',') !== v.shape.join(',')) {
        throw new Error(`${source}: parameter '${name}' has shape [${t.shape}] but the model expects [${v.shape}]`);
      }
      v.assign(t);
    }
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

function fans(shape: number[]): [number, number] {
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  if (shape.length === 4) {
    const receptive = shape[0]! * shape[1]!;
    return [receptive * shape[2]!, receptive * shape[3]!];
  }
  const n = shape.reduce((a, b) => a * b, 1);
  return [n, n];
}

function initialValue(shape: number[], init: Init, seed: number): tf.Tensor {
  if (init === 'zeros') return tf.zeros(shape);
  if (init === 'ones') return tf.ones(shape);
  if (init === 'glorot') {
    const [fanIn, fanOut] = fans(shape);
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return tf.randomUniform(shape, -limit, limit, 'float32', seed);
  }
  if (init === 'he') {
    const [fanIn] = fans(shape);
    return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed);
  }
  if (init === 'fan-in-uniform') {
    const limit = 1 / Math.sqrt(fans(shape)[0]);
    return tf.randomUniform(shape, -limit, limit, 'float32', seed);
  }
  if ('values' in init) return tf.tensor(init.values, shape, 'float32');
  return tf.randomNormal(shape, 0, init.normal, 'float32', seed);
}
