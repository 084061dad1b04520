/**
 * Kafka's default partitioner (murmur2 of the key bytes, made positive, modulo the partition
 * count), so a key lands on the same partition number in-process and on a broker.
 */
export const murmur2 = (data: Uint8Array): number => {
  const seed = 0x9747b28c
  const m = 0x5bd1e995
  const r = 24
  const length = data.length
  let h = seed ^ length
  const length4 = length >> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k = (data[i4]! & 0xff) + ((data[i4 + 1]! & 0xff) << 8) + ((data[i4 + 2]! & 0xff) << 16) + ((data[i4 + 3]! & 0xff) << 24)
    k = Math.imul(k, m)
    k ^= k >>> r
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const left = length % 4
  const base = length - left
  if (left >= 3) h ^= (data[base + 2]! & 0xff) << 16
  if (left >= 2) h ^= (data[base + 1]! & 0xff) << 8
  if (left >= 1) {
    h ^= data[base]! & 0xff
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

const encoder = new TextEncoder()

export const partitionOf = (key: string, partitions: number): number =>
  partitions <= 1 ? 0 : (murmur2(encoder.encode(key)) & 0x7fffffff) % partitions
