import { createHash } from "node:crypto"
import type { QAItem } from "../../../schemas/qa-item.ts"

const rank = (itemId: string, candidateId: string) => createHash("sha256").update(`shots1\0${itemId}\0${candidateId}`).digest("hex")

/**
 * The k exemplars of one item: the pool items with the smallest sha256(item id, candidate id).
 * Seeded by the item id alone, so an item's exemplars never depend on the other test items, and
 * a pool change only moves the items whose top k it touches. Returned in rank order.
 */
export const selectExemplars = <A extends { readonly item: QAItem }>(itemId: string, pool: ReadonlyArray<A>, k: number): ReadonlyArray<A> => {
  if (k <= 0) return []
  return pool
    .filter((p) => p.item.id !== itemId)
    .map((p) => ({ p, r: rank(itemId, p.item.id) }))
    .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
    .slice(0, k)
    .map(({ p }) => p)
}
