/**
 * The tokenizer alone, for code that must not load the rest of the model library (tfjs, WebGPU):
 * the corpus chain's worker threads import this instead of model/index.ts.
 */
export { deferredTokenizer, loadTokenizer, type TextTokenizer } from "./formats/tokenizer/tokenizer.ts"
