import type { Position } from "../schemas/common.ts"

/**
 * A record in flight. `key` decides the partition (per-key ordering, on every runtime);
 * `position` says where it came from, for errors, dead letters and commits.
 */
export interface Envelope<A> {
  readonly key: string
  readonly value: A
  readonly position: Position
}

export const envelope = <A>(key: string, value: A, position: Position): Envelope<A> => ({ key, value, position })
