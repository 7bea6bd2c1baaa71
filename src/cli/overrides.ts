/** A config file's contents ({model, train}) before validation. */
export interface RawConfig {
  model?: Record<string, unknown>;
  train?: Record<string, unknown>;
}

const given = (fields: Record<string, unknown> = {}) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

/**
 * Command-line flags laid over a config file's sections, field by field; a flag left out
 * (undefined) keeps the file's value. The result is validated afterwards like any config.
 */
export function applyOverrides(raw: RawConfig, flags: RawConfig): RawConfig {
  return { ...raw, model: { ...raw.model, ...given(flags.model) }, train: { ...raw.train, ...given(flags.train) } };
}
