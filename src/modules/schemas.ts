// The add-on modules a config can list under model.modules, each defined in its own file.
import { z } from 'zod';
import { BackgroundChannelsSchema } from './background_channels.ts';
import { GlimpsePairSchema } from './glimpse_pair.ts';
import { PlacesSchema } from './places.ts';
import { RelationalSchema } from './relational.ts';
import { WhiteBackgroundSchema } from './white_background.ts';
import { WordGuideSchema } from './word_guide.ts';

/**
 * The question vector pools the token embeddings, its glimpse weights still computed from the word
 * states. After a first phase on one kind of question the states of words that phase never needed
 * ("left", "above") are a few percent of the residual stream, so the question vector barely tells
 * "left of" from "right of"; the embeddings keep every word distinct (docs/experiments.md §10).
 * No parameters of its own.
 */
export const EmbeddingQuestionSchema = z.object({ kind: z.literal('embedding-question') }).strict();

export const MODULE_SCHEMAS = [
  WordGuideSchema,
  EmbeddingQuestionSchema,
  RelationalSchema,
  PlacesSchema,
  GlimpsePairSchema,
  BackgroundChannelsSchema,
  WhiteBackgroundSchema,
] as const;

export type ModuleConfig = z.infer<(typeof MODULE_SCHEMAS)[number]>;
