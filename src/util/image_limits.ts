/** Largest input accepted before decoding (a guard against decompression bombs). */
export const MAX_INPUT_PIXELS = 40_000_000;
