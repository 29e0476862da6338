/*
 * What a fused expert-dispatch kernel could gain on this CPU: one expert's rows gathered straight
 * into a GEMM's packed panel (no GatherV2 copy), then a 12 x 32 AVX-512 microkernel, one thread.
 * Compared with oneDNN's MatMul on the same shapes (onednn_matmuls.py beside it) in
 * docs/benchmarks/compare.md, "Issue 16, eighth pass".
 *
 *   gcc -O3 -march=x86-64-v3 -o gathered_gemm gathered_gemm.c
 *   ./gathered_gemm 205 412 76     # rows K N: one value expert's segment at 47M
 *
 * Prints the time per call, the GFLOP/s, and the largest difference from a float64 reference.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MR = 12, NR = 32, TOKENS = 512 };

/* rows[r] (MR row pointers, NULL for a pad row) = Ap[K][MR] x Bp[K][NR], the first ncols columns. */
__attribute__((target("avx512f"))) static void microkernel(int k, const float *ap, const float *bp, float **rows, int ncols) {
  __m512 c[MR][2];
  for (int r = 0; r < MR; r++) {
    c[r][0] = _mm512_setzero_ps();
    c[r][1] = _mm512_setzero_ps();
  }
  for (int i = 0; i < k; i++) {
    __m512 b0 = _mm512_load_ps(bp + i * NR), b1 = _mm512_load_ps(bp + i * NR + 16);
    const float *a = ap + i * MR;
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      __m512 av = _mm512_set1_ps(a[r]);
      c[r][0] = _mm512_fmadd_ps(av, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(av, b1, c[r][1]);
    }
  }
  __mmask16 m0 = ncols >= 16 ? 0xFFFF : (__mmask16)((1u << ncols) - 1);
  __mmask16 m1 = ncols >= 32 ? 0xFFFF : ncols <= 16 ? 0 : (__mmask16)((1u << (ncols - 16)) - 1);
  for (int r = 0; r < MR; r++) {
    if (rows[r]) {
      _mm512_mask_storeu_ps(rows[r], m0, c[r][0]);
      _mm512_mask_storeu_ps(rows[r] + 16, m1, c[r][1]);
    }
  }
}

/* out[p] = x[rows[p]] @ w for the P pairs of one expert; w is K x N, row-major. */
static void gathered_matmul(int pairs, const int *rows, const float *x, int k, const float *w, int n, float *out, float *ap, float *bp) {
  int panels = (n + NR - 1) / NR;
  for (int j = 0; j < panels; j++) {
    for (int i = 0; i < k; i++) {
      for (int c = 0; c < NR; c++) {
        int col = j * NR + c;
        bp[((size_t)j * k + i) * NR + c] = col < n ? w[(size_t)i * n + col] : 0;
      }
    }
  }
  for (int m0 = 0; m0 < pairs; m0 += MR) {
    float *outRows[MR];
    for (int r = 0; r < MR; r++) {
      int p = m0 + r;
      const float *xr = p < pairs ? x + (size_t)rows[p] * k : NULL; /* the gather, done while packing */
      for (int i = 0; i < k; i++) {
        ap[i * MR + r] = xr ? xr[i] : 0;
      }
      outRows[r] = p < pairs ? out + (size_t)p * n : NULL;
    }
    for (int j = 0; j < panels; j++) {
      float *panelRows[MR];
      for (int r = 0; r < MR; r++) {
        panelRows[r] = outRows[r] ? outRows[r] + j * NR : NULL;
      }
      microkernel(k, ap, bp + (size_t)j * k * NR, panelRows, n - j * NR);
    }
  }
}

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s ROWS K N\n", argv[0]);
    return 2;
  }
  int pairs = atoi(argv[1]), k = atoi(argv[2]), n = atoi(argv[3]);
  if (pairs < 1 || k < 1 || n < 1) {
    fprintf(stderr, "ROWS, K and N must be positive: %s %s %s\n", argv[1], argv[2], argv[3]);
    return 2;
  }
  float *x = aligned_alloc(64, sizeof(float) * TOKENS * k), *w = aligned_alloc(64, sizeof(float) * k * n);
  float *out = aligned_alloc(64, sizeof(float) * pairs * n), *ap = aligned_alloc(64, sizeof(float) * k * MR);
  float *bp = aligned_alloc(64, sizeof(float) * k * (n + NR));
  int *rows = malloc(sizeof(int) * pairs);
  srand(1);
  for (int i = 0; i < TOKENS * k; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
  for (int i = 0; i < k * n; i++) w[i] = rand() / (float)RAND_MAX - 0.5f;
  for (int p = 0; p < pairs; p++) rows[p] = rand() % TOKENS;
  gathered_matmul(pairs, rows, x, k, w, n, out, ap, bp);
  double worst = 0;
  for (int p = 0; p < pairs; p++) {
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int i = 0; i < k; i++) s += (double)x[(size_t)rows[p] * k + i] * w[(size_t)i * n + j];
      double d = s - out[(size_t)p * n + j];
      worst = d < 0 ? (-d > worst ? -d : worst) : (d > worst ? d : worst);
    }
  }
  int calls = 2000;
  double start = seconds();
  for (int c = 0; c < calls; c++) gathered_matmul(pairs, rows, x, k, w, n, out, ap, bp);
  double t = (seconds() - start) / calls;
  printf("rows %d, K %d, N %d: %.1f us, %.1f GFLOP/s, largest difference from float64 %.1e\n", pairs, k, n, t * 1e6, 2.0 * pairs * k * n / t / 1e9, worst);
  return 0;
}
