/* Probes cuBLASLt's FP8 (E4M3 x E4M3) GEMM with outer-vector scales (one fp32 scale per weight row and one per token,
 * CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F) on the GPU machine: prints the header values CublasLtNative.cs hard-codes
 * for it, checks one product against a host reference, and times FP8 against bf16 for the 8B shape's GEMMs.
 *   gcc -O2 -I/usr/local/cuda/include cublaslt_fp8_probe.c -L/usr/local/cuda/lib64 -lcublasLt -lcudart -lm */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>
#include <cublasLt.h>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("CUDA %s at %d\n", cudaGetErrorString(e_), __LINE__); exit(1); } } while (0)

static float e4m3(uint8_t c) {
  int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
  float v = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + m / 8.0f, e - 7);
  return s ? -v : v;
}
static uint16_t bf16(float f) { uint32_t u; memcpy(&u, &f, 4); u += 0x7FFF + ((u >> 16) & 1); return (uint16_t)(u >> 16); }
static float unbf16(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static uint8_t rnd_code(void) { uint8_t c; do c = (uint8_t)(rand() & 0xFF); while ((c & 0x7F) == 0x7F || ((c >> 3) & 15) > 12); return c; }

static cublasLtHandle_t lt;
static void *ws; static const size_t WS = 32u << 20;

/* Y[m, n] = sx[m] * sw[n] * sum_k X[m, k] W[n, k], column-major view Yt[n, m] = op(W)[n, k] op(X)[k, m]. */
static int fp8_gemm(const void *x, const void *w, void *y, const float *sx, const float *sw, int m, int n, int k,
                    cudaDataType_t out, int fast, float *ms, int reps) {
  cublasLtMatmulDesc_t d; cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasOperation_t T = CUBLAS_OP_T, N = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &T, sizeof T);
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &N, sizeof N);
  int mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode);
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode);
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sw, sizeof sw);
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sx, sizeof sx);
  int8_t fa = (int8_t)fast;
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fa, sizeof fa);
  cublasLtMatrixLayoutCreate(&a, CUDA_R_8F_E4M3, k, n, k);
  cublasLtMatrixLayoutCreate(&b, CUDA_R_8F_E4M3, k, m, k);
  cublasLtMatrixLayoutCreate(&c, out, n, m, n);
  cublasLtMatmulPreference_t p; cublasLtMatmulPreferenceCreate(&p);
  cublasLtMatmulPreferenceSetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &WS, sizeof WS);
  cublasLtMatmulHeuristicResult_t r; int got = 0;
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt, d, a, b, c, c, p, 1, &r, &got);
  int rc = 0;
  if (st != CUBLAS_STATUS_SUCCESS || got == 0) { rc = 1000 + (int)st; goto done; }
  float alpha = 1, beta = 0;
  st = cublasLtMatmul(lt, d, &alpha, w, a, x, b, &beta, y, c, y, c, &r.algo, ws, WS, 0);
  if (st != CUBLAS_STATUS_SUCCESS) { rc = 2000 + (int)st; goto done; }
  if (reps > 0) {
    cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
    cudaEventRecord(e0, 0);
    for (int i = 0; i < reps; i++) cublasLtMatmul(lt, d, &alpha, w, a, x, b, &beta, y, c, y, c, &r.algo, ws, WS, 0);
    cudaEventRecord(e1, 0); cudaEventSynchronize(e1); cudaEventElapsedTime(ms, e0, e1); *ms /= reps;
  }
  CK(cudaDeviceSynchronize());
done:
  cublasLtMatmulPreferenceDestroy(p); cublasLtMatrixLayoutDestroy(a); cublasLtMatrixLayoutDestroy(b);
  cublasLtMatrixLayoutDestroy(c); cublasLtMatmulDescDestroy(d);
  return rc;
}

static int bf16_gemm(const void *x, const void *w, void *y, int m, int n, int k, float *ms, int reps) {
  cublasLtMatmulDesc_t d; cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasOperation_t T = CUBLAS_OP_T, N = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &T, sizeof T);
  cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &N, sizeof N);
  cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, k, n, k);
  cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, k, m, k);
  cublasLtMatrixLayoutCreate(&c, CUDA_R_16BF, n, m, n);
  cublasLtMatmulPreference_t p; cublasLtMatmulPreferenceCreate(&p);
  cublasLtMatmulPreferenceSetAttribute(p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &WS, sizeof WS);
  cublasLtMatmulHeuristicResult_t r; int got = 0;
  int rc = 0;
  if (cublasLtMatmulAlgoGetHeuristic(lt, d, a, b, c, c, p, 1, &r, &got) != CUBLAS_STATUS_SUCCESS || got == 0) { rc = 1; goto done; }
  float alpha = 1, beta = 0;
  cublasLtMatmul(lt, d, &alpha, w, a, x, b, &beta, y, c, y, c, &r.algo, ws, WS, 0);
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  cudaEventRecord(e0, 0);
  for (int i = 0; i < reps; i++) cublasLtMatmul(lt, d, &alpha, w, a, x, b, &beta, y, c, y, c, &r.algo, ws, WS, 0);
  cudaEventRecord(e1, 0); cudaEventSynchronize(e1); cudaEventElapsedTime(ms, e0, e1); *ms /= reps;
done:
  cublasLtMatmulPreferenceDestroy(p); cublasLtMatrixLayoutDestroy(a); cublasLtMatrixLayoutDestroy(b);
  cublasLtMatrixLayoutDestroy(c); cublasLtMatmulDescDestroy(d);
  return rc;
}

int main(void) {
  printf("ENUM version=%zu A_SCALE_POINTER=%d (17) B_SCALE_POINTER=%d (18) FAST_ACCUM=%d (25) A_SCALE_MODE=%d (31) B_SCALE_MODE=%d (32) OUTER_VEC_32F=%d (3) R_8F_E4M3=%d (28)\n",
         cublasLtGetVersion(), CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
         CUBLASLT_MATMUL_DESC_FAST_ACCUM, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, CUBLASLT_MATMUL_DESC_B_SCALE_MODE,
         CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F, CUDA_R_8F_E4M3);
  cublasLtCreate(&lt);
  CK(cudaMalloc(&ws, WS));

  /* Correctness on one small shape, both output types and both accumulation modes. */
  {
    int m = 48, n = 320, k = 512;
    uint8_t *hx = malloc((size_t)m * k), *hw = malloc((size_t)n * k);
    float *sx = malloc(m * 4), *sw = malloc(n * 4);
    for (size_t i = 0; i < (size_t)m * k; i++) hx[i] = rnd_code();
    for (size_t i = 0; i < (size_t)n * k; i++) hw[i] = rnd_code();
    for (int i = 0; i < m; i++) sx[i] = 0.001f * (1 + i % 7);
    for (int i = 0; i < n; i++) sw[i] = 0.002f * (1 + i % 5);
    void *dx, *dw, *dy; float *dsx, *dsw;
    CK(cudaMalloc(&dx, (size_t)m * k)); CK(cudaMalloc(&dw, (size_t)n * k)); CK(cudaMalloc(&dy, (size_t)m * n * 4));
    CK(cudaMalloc((void **)&dsx, m * 4)); CK(cudaMalloc((void **)&dsw, n * 4));
    cudaMemcpy(dx, hx, (size_t)m * k, cudaMemcpyHostToDevice); cudaMemcpy(dw, hw, (size_t)n * k, cudaMemcpyHostToDevice);
    cudaMemcpy(dsx, sx, m * 4, cudaMemcpyHostToDevice); cudaMemcpy(dsw, sw, n * 4, cudaMemcpyHostToDevice);
    for (int out = 0; out < 2; out++)
      for (int fast = 0; fast < 2; fast++) {
        cudaDataType_t t = out ? CUDA_R_32F : CUDA_R_16BF;
        CK(cudaMemset(dy, 0, (size_t)m * n * 4));
        int rc = fp8_gemm(dx, dw, dy, dsx, dsw, m, n, k, t, fast, NULL, 0);
        if (rc) { printf("CHECK out=%s fast=%d: not supported (rc %d)\n", out ? "f32" : "bf16", fast, rc); continue; }
        void *hy = malloc((size_t)m * n * 4);
        cudaMemcpy(hy, dy, (size_t)m * n * (out ? 4 : 2), cudaMemcpyDeviceToHost);
        double maxrel = 0;
        for (int i = 0; i < m; i++)
          for (int j = 0; j < n; j++) {
            double ref = 0;
            for (int q = 0; q < k; q++) ref += (double)e4m3(hx[(size_t)i * k + q]) * e4m3(hw[(size_t)j * k + q]);
            ref *= (double)sx[i] * sw[j];
            double got = out ? ((float *)hy)[(size_t)i * n + j] : unbf16(((uint16_t *)hy)[(size_t)i * n + j]);
            double rel = fabs(got - ref) / (fabs(ref) + 1e-6);
            if (rel > maxrel) maxrel = rel;
          }
        printf("CHECK out=%s fast=%d: max relative error %.3g (bf16 output rounds at 3.9e-3)\n", out ? "f32" : "bf16", fast, maxrel);
        free(hy);
      }
    cudaFree(dx); cudaFree(dw); cudaFree(dy); cudaFree(dsx); cudaFree(dsw);
  }

  /* Timing: the 8B shape's GEMMs, FP8 (bf16 out, f32 out) against bf16, per M. */
  struct { const char *name; int n, k; } shapes[] = { {"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate_up", 28672, 4096}, {"down", 4096, 14336}, {"lm_head", 128256, 4096} };
  int ms_[] = { 1, 8, 32, 64, 128, 256, 512, 1024, 2048, 8192 };
  size_t maxx = (size_t)8192 * 14336, maxw = (size_t)128256 * 4096;
  void *x8, *w8, *x16, *w16, *y; float *sx, *sw;
  CK(cudaMalloc(&x8, maxx)); CK(cudaMalloc(&w8, maxw)); CK(cudaMalloc(&x16, maxx * 2)); CK(cudaMalloc(&w16, maxw * 2));
  CK(cudaMalloc(&y, (size_t)8192 * 128256 * 4)); CK(cudaMalloc((void **)&sx, 8192 * 4)); CK(cudaMalloc((void **)&sw, 128256 * 4));
  CK(cudaMemset(x8, 0x38, maxx)); CK(cudaMemset(w8, 0x30, maxw)); CK(cudaMemset(x16, 0x3c, maxx * 2)); CK(cudaMemset(w16, 0x3c, maxw * 2));
  CK(cudaMemset(sx, 0x3c, 8192 * 4)); CK(cudaMemset(sw, 0x3c, 128256 * 4));
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (size_t i = 0; i < sizeof ms_ / sizeof ms_[0]; i++) {
      int m = ms_[i], n = shapes[s].n, k = shapes[s].k;
      if (s == 4 && m > 1024) continue;
      float tb = 0, t8 = 0, t8f = 0, t8s = 0;
      bf16_gemm(x16, w16, y, m, n, k, &tb, 20);
      int r1 = fp8_gemm(x8, w8, y, sx, sw, m, n, k, CUDA_R_16BF, 0, &t8, 20);
      int r2 = fp8_gemm(x8, w8, y, sx, sw, m, n, k, CUDA_R_32F, 0, &t8f, 20);
      int r3 = fp8_gemm(x8, w8, y, sx, sw, m, n, k, CUDA_R_16BF, 1, &t8s, 20);
      double flop = 2.0 * m * n * k;
      printf("TIME %-7s m=%5d n=%6d k=%5d  bf16 %8.1f us (%5.0f TF/s)  fp8->bf16 %8.1f us (%5.0f TF/s) rc%d  fp8->f32 %8.1f us rc%d  fp8 fastacc %8.1f us rc%d  speedup %.2fx\n",
             shapes[s].name, m, n, k, tb * 1e3, flop / (tb * 1e-3) / 1e12, t8 * 1e3, flop / (t8 * 1e-3) / 1e12, r1, t8f * 1e3, r2,
             t8s * 1e3, r3, tb / t8);
    }
  return 0;
}
