import { FingerprintSet } from "../../lib/fingerprint-set.ts"

/**
 * The ids a run saw (or processed): how many distinct, and the ids themselves where a later step
 * asks about them. By default every id is kept (a Set). With `watch`, only the watched ids are
 * (an incremental run watches the documents of earlier runs: retiring the unseen ones and the
 * manifest's superseded ones ask only about those), and the others are counted by a 64-bit
 * fingerprint (lib/fingerprint-set.ts): ~24 bytes an id instead of its string and a Set entry
 * (issue 23, memory). Two distinct ids would be counted once only if their fingerprints collide.
 */
export class IdTally implements Iterable<string> {
  private readonly ids = new Set<string>()
  private readonly fingerprints: FingerprintSet | undefined
  private distinct = 0

  constructor(private readonly watch?: (id: string) => boolean) {
    this.fingerprints = watch === undefined ? undefined : new FingerprintSet()
  }

  add(id: string) {
    if (this.fingerprints === undefined) {
      this.ids.add(id)
      return
    }
    if (!this.fingerprints.add(id)) this.distinct++
    if (this.watch!(id)) this.ids.add(id)
  }

  /** Exact for a kept id (all of them without `watch`, the watched ones with it); false for others. */
  has(id: string): boolean {
    return this.ids.has(id)
  }

  /** How many distinct ids were added. */
  get size(): number {
    return this.fingerprints === undefined ? this.ids.size : this.distinct
  }

  /** The kept ids, in the order first added. */
  [Symbol.iterator](): Iterator<string> {
    return this.ids[Symbol.iterator]()
  }
}
