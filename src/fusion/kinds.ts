/** The fusions a config can name; see src/fusion/index.ts. */
export const FUSION_KINDS = ['mfb', 'mfh', 'concat', 'product', 'bilinear', 'lowrank'] as const;
export type FusionKind = (typeof FUSION_KINDS)[number];
