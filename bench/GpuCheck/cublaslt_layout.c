/* Prints the cublasLt.h values that src/PagedAttention.Kernels/Cuda/Interop/CublasLtNative.cs hard-codes, so that a
 * run on the GPU machine (which has the CUDA headers) checks them:  gcc -I/usr/local/cuda/include cublaslt_layout.c */
#include <stddef.h>
#include <stdio.h>
#include <cublasLt.h>

int main(void) {
  printf("LAYOUT sizeof(cublasLtMatmulAlgo_t)=%zu (expect 64)\n", sizeof(cublasLtMatmulAlgo_t));
  printf("LAYOUT sizeof(cublasLtMatmulHeuristicResult_t)=%zu (expect 96) workspaceSize@%zu (64) state@%zu (72) wavesCount@%zu (76) reserved@%zu (80)\n",
         sizeof(cublasLtMatmulHeuristicResult_t), offsetof(cublasLtMatmulHeuristicResult_t, workspaceSize),
         offsetof(cublasLtMatmulHeuristicResult_t, state), offsetof(cublasLtMatmulHeuristicResult_t, wavesCount),
         offsetof(cublasLtMatmulHeuristicResult_t, reserved));
  printf("ENUM TRANSA=%d (3) TRANSB=%d (4) LAYOUT_COLS=%d (3) PREF_MAX_WORKSPACE_BYTES=%d (1) COMPUTE_32F=%d (68) R_16BF=%d (14) R_32F=%d (0) NOT_SUPPORTED=%d (15) INVALID_VALUE=%d (7)\n",
         CUBLASLT_MATMUL_DESC_TRANSA, CUBLASLT_MATMUL_DESC_TRANSB, CUBLASLT_MATRIX_LAYOUT_COLS, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
         CUBLAS_COMPUTE_32F, CUDA_R_16BF, CUDA_R_32F, CUBLAS_STATUS_NOT_SUPPORTED, CUBLAS_STATUS_INVALID_VALUE);
  return 0;
}
