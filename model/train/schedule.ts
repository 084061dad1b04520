/**
 * Learning rate at optimizer step `step` (0-based), as transformers' get_cosine_schedule_with_warmup:
 * linear warmup from 0 over ceil(warmupRatio·total) steps, then a half cosine down to 0.
 */
export const cosineWithWarmup = (step: number, totalSteps: number, peak: number, warmupRatio: number): number => {
  const warmup = Math.ceil(warmupRatio * totalSteps)
  if (step < warmup) return (peak * step) / Math.max(1, warmup)
  const progress = (step - warmup) / Math.max(1, totalSteps - warmup)
  return peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)))
}
