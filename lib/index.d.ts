// Generated from src/library/index.ts by scripts/library-types.mjs (npm run types); do not edit.
/** Where tfjs computes: 'auto' picks the fastest that loads (a GPU, then native, then wasm). */
export type Backend = 'auto' | 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
/** An image: a file path, encoded bytes (PNG, JPEG, WebP, GIF, TIFF), or decoded pixels, row by row. */
export type ImageInput = string | Uint8Array | {
    data: Uint8Array | Uint8ClampedArray;
    width: number;
    height: number;
    channels: 1 | 2 | 3 | 4;
};
export interface LoadOptions {
    /** where answers are computed: onnxruntime (an exported copy of the network), tfjs, or 'auto' (onnx when it loads); default 'auto' */
    runtime?: 'auto' | 'onnx' | 'tfjs';
    /** the tfjs backend (for loading, and for answering with runtime 'tfjs'); default 'auto' */
    backend?: Backend;
    /** onnxruntime threads; default 1 */
    threads?: number;
}
/** One answer to one question. */
export interface VqaAnswer {
    /** best first; scores are probabilities (calibrated where the model was, `vqa calibrate`) */
    answers: {
        answer: string;
        score: number;
    }[];
    /** words of the question the model never saw in training: the answer may not be about what was asked */
    unknownWords: string[];
    /** the image is unlike the scenes the model was trained on: the answer is a guess */
    outOfDistribution: boolean;
    /** the image's distance from the training scenes, over the model's threshold (above 1: unfamiliar) */
    imageDistance: number;
    attention: {
        /** per glimpse, each token's weight in choosing where the image glimpses look (the word guide's glimpses; without one, the question attention's) */
        question: {
            token: string;
            weights: number[];
        }[];
        /** per glimpse of the image attention, a weight per region of a rows × columns grid */
        image: {
            grid: [number, number];
            weights: number[][];
        };
    };
}
/** A loaded VQA model. Free it with `dispose()`. */
export interface VqaPipeline {
    /** the model card's name */
    readonly name: string;
    /** every answer it can give */
    readonly answerVocabulary: readonly string[];
    /** what computes its answers, e.g. "onnxruntime 1.14.0 (cpu, 1 thread)" */
    readonly runtime: string;
    ask(image: ImageInput, question: string, options?: {
        topK?: number;
    }): Promise<VqaAnswer>;
    dispose(): void;
}
/**
 * Loads a model folder (`vqa train` writes one under RUN/model; `models/clevr-lite`,
 * `models/clevr-lite-words`, `models/sort-of-clevr` and `models/sort-of-clevr-random` ship with the package) and returns a
 * pipeline that answers questions about images: `const vqa = await loadModel('models/clevr-lite'); await vqa.ask('scene.png', 'How many cubes are there?')`.
 */
export declare function loadModel(dir: string, options?: LoadOptions): Promise<VqaPipeline>;
/** A loaded image classifier (`vqa classify train`). Free it with `dispose()`. */
export interface ClassifierPipeline {
    readonly classes: readonly string[];
    /** the k most likely classes, best first */
    classify(image: ImageInput, options?: {
        topK?: number;
    }): Promise<{
        label: string;
        score: number;
    }[]>;
    dispose(): void;
}
export declare function loadClassifier(dir: string, options?: {
    backend?: Backend;
}): Promise<ClassifierPipeline>;
/**
 * The official VQA accuracy of one answer against the human answers (ten in VQA v2): min(1, matches / 3)
 * averaged over the ten leave-one-out subsets, after the official normalisation of both sides.
 */
export declare function vqaAccuracy(answer: string, humanAnswers: string[]): number;
export interface ResultsScore {
    /** percent, over every question of the questions file */
    overall: number;
    count: number;
    perAnswerType: Record<string, number>;
    perQuestionType: Record<string, number>;
    /** per question id, percent rounded as the official code does */
    perQuestion: Record<string, number>;
    warnings: string[];
}
/** Scores a results file (`[{question_id, answer}]`) against VQA v2 question and annotation files, as the official evaluation does. */
export declare function scoreResults(questionsFile: string, annotationsFile: string, resultsFile: string): ResultsScore;
export interface GenerateOptions {
    /** images per split (defaults: the generator's own, e.g. Sort-of-CLEVR 10,000 / 1,000) */
    train?: number;
    val?: number;
    seed?: number;
    imageSize?: number;
    /** clevr-lite questions per image; default 10 */
    questionsPerImage?: number;
    /**
     * 'random' (the default): random looks, degradations and wordings; 'spec': the published scenes
     * and wording exactly; 'spec-pixels': the published scenes in random wordings
     */
    style?: 'random' | 'spec' | 'spec-pixels';
}
/** Writes a synthetic data set in the VQA v2 file format (what `vqa data synth` writes) into `out`. */
export declare function generateDataset(kind: 'sort-of-clevr' | 'clevr-lite' | 'shape-colours', out: string, options?: GenerateOptions): Promise<void>;
