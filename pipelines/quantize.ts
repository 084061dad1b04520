/** `fleuve nf4-quantize`: a checkpoint's projection weights to NF4 (QLoRA), the rest copied. */
export { DEFAULT_INCLUDE, QuantizeError, quantizeCheckpoint } from "../model/index.ts"
