import { deviceLossBehind, deviceReplacements, reopenWebgpu } from "../tfjs/backend.ts"
import { describeLoss, GpuDeviceLost } from "../tfjs/device-loss.ts"
import { attachLora, loadAdapter, type LoraConfig } from "../qwen3/lora.ts"
import { type LoadedModel, loadModelDir } from "../qwen3/checkpoint.ts"

/**
 * Where a model is loaded from, so that it can be loaded again after the GPU device is lost: a
 * checkpoint folder, optionally a PEFT adapter on it, or fresh LoRA pairs drawn from a seed (a
 * training run, whose checkpoints then restore the trained values).
 */
export interface ModelSource {
  readonly dir: string
  /** Every weight a variable (full fine-tuning). */
  readonly trainable?: boolean
  /** A PEFT adapter folder loaded onto the checkpoint. */
  readonly adapter?: string
  /** New LoRA pairs attached with this seed (attachLora). */
  readonly freshLora?: { readonly config: LoraConfig; readonly seed: number }
}

export interface RecoveryOptions {
  /** Device losses recovered from over the handle's life before giving up; default 3. */
  readonly maxRecoveries?: number
  /** Told of each loss and what is done about it; default: a line on stderr (never silent). */
  readonly onLoss?: (line: string) => void
}

const describeSource = (s: ModelSource): string =>
  [s.dir, s.adapter ? `adapter ${s.adapter}` : "", s.freshLora ? `fresh LoRA pairs (seed ${s.freshLora.seed})` : ""].filter((x) => x).join(" + ")

const loadSource = (s: ModelSource): LoadedModel => {
  const loaded = loadModelDir(s.dir, s.trainable ? { trainable: true } : {})
  if (s.adapter) loadAdapter(loaded.model, s.adapter)
  if (s.freshLora) attachLora(loaded.model, s.freshLora.config, s.freshLora.seed)
  return loaded
}

/**
 * A loaded model that survives losing the GPU device. `run` does GPU work on it; when the work
 * fails because the device was lost, the device is reopened (model/tfjs/backend.ts reopenWebgpu), the
 * model loaded again from its source, and the work run again from its start. Work given to `run`
 * must therefore be safe to repeat: score items, generate a batch, or train from the last
 * checkpoint (train() resumes from it by itself). Errors other than a loss pass through untouched.
 */
export class ModelHandle {
  private recoveries = 0

  private constructor(
    readonly source: ModelSource,
    private loaded: LoadedModel,
    /** deviceReplacements() when `loaded` was made. */
    private loadedAt: number,
    private readonly options: RecoveryOptions
  ) {}

  /** Loads the model from its source. */
  static load(source: ModelSource, options: RecoveryOptions = {}): ModelHandle {
    return new ModelHandle(source, loadSource(source), deviceReplacements(), options)
  }

  /**
   * Wraps a model already in memory, which `source` loads again equal to it: a trained adapter
   * that is still attached and was saved to `source.adapter`, say.
   */
  static adopt(loaded: LoadedModel, source: ModelSource, options: RecoveryOptions = {}): ModelHandle {
    return new ModelHandle(source, loaded, deviceReplacements(), options)
  }

  /** The model, loaded again first when the device it was on has been replaced. */
  get current(): LoadedModel {
    if (this.loadedAt !== deviceReplacements()) {
      // Its tensors belong to the lost device's backend, already removed: freeing them may fail.
      try {
        this.loaded.model.dispose()
      } catch {
        // nothing of it can be used or freed any more
      }
      this.loaded = loadSource(this.source)
      this.loadedAt = deviceReplacements()
    }
    return this.loaded
  }

  /** Device losses recovered from so far. */
  get recovered(): number {
    return this.recoveries
  }

  /**
   * Runs `work` on the model; a device loss during it reopens the device, reloads the model and
   * runs `work` again, up to maxRecoveries over the handle's life (then GpuDeviceLost).
   */
  async run<A>(what: string, work: (loaded: LoadedModel) => Promise<A>): Promise<A> {
    const max = this.options.maxRecoveries ?? 3
    for (;;) {
      const loaded = this.current
      let failure: unknown
      try {
        return await work(loaded)
      } catch (e) {
        failure = e
      }
      const lost = await deviceLossBehind(failure)
      if (!lost) throw failure
      if (this.recoveries >= max) throw new GpuDeviceLost(lost, what, `${max} losses were already recovered from: giving up`)
      this.recoveries++
      const tell = this.options.onLoss ?? ((line: string) => process.stderr.write(`fleuve: ${line}\n`))
      tell(`${describeLoss(lost, what)}; reopening the device and reloading ${describeSource(this.source)}, then starting ${what} again (recovery ${this.recoveries} of at most ${max})`)
      try {
        await reopenWebgpu()
      } catch (e) {
        throw new GpuDeviceLost(lost, what, e instanceof Error ? e.message : String(e))
      }
    }
  }

  dispose(): void {
    this.loaded.model.dispose()
  }
}
