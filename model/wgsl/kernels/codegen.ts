/** 0 … n−1: the kernels' WGSL generators unroll loops over it. */
export const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
