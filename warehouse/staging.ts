let counter = 0

/**
 * A fresh temp table name for one staged write. Stages run their partitions concurrently on one
 * connection, so two batches must never share a staging table.
 */
export const stagingName = (prefix: string) => `${prefix}_${process.pid}_${++counter}`
