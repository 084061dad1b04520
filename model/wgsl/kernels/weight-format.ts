/** How a matmul's weight B is stored: its element format and its layout (both matmul kernels read them). */
export type WeightFormat = "f16" | "nf4"
/** "nk" = [N,K] (C = A·Bᵀ, default), "kn" = [K,N] (C = A·B). */
export type WeightLayout = "nk" | "kn"
