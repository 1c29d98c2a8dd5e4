/*
 * C = op(A)·op(B) in single precision, WebAssembly SIMD, no libc: a register-blocked GEMM (B packed in panels,
 * A read in place, a 4×8 microkernel) for the tfjs wasm backend's MatMul, operating on tfjs's heap as kernels.c does (imported
 * memory, no data segment, a stack the loader mallocs).
 *
 * Built twice (build-gemm.mjs): plain SIMD (mul + add) and with relaxed SIMD's madd (an FMA where the CPU has
 * one). GEMM_FMA selects which.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
typedef v128_t f4;

#ifdef GEMM_FMA
/* clang 14's prototype name for relaxed madd: a·b + c (build-gemm.mjs rewrites its opcode to the standard one). */
#define MADD(a, b, c) __builtin_wasm_fma_f32x4((a), (b), (c))
#else
#define MADD(a, b, c) wasm_f32x4_add((c), wasm_f32x4_mul((a), (b)))
#endif

#define MR 4
#define NR 8
#define KC 256
#define MC 96

/* Rows [k0, k0+kc) of B [K, N] (or, transposed, stored [N, K]) into panels of 8 columns, each [kc][8];
 * columns past N are zero. `colsum` (or null): each column's sum over these rows is added to it — a linear
 * layer's bias gradient, read while B (its dy) is packed anyway. */
static void pack_b(const float *b, float *bp, int K, int N, int transB, int k0, int kc, float *colsum) {
  int panels = (N + NR - 1) / NR;
  for (int p = 0; p < panels; p++) {
    float *dst = bp + (long)p * kc * NR;
    int j0 = p * NR, w = N - j0 < NR ? N - j0 : NR;
    if (!transB && w == NR) {
      if (colsum) {
        f4 s0 = wasm_v128_load(colsum + j0), s1 = wasm_v128_load(colsum + j0 + 4);
        for (int k = 0; k < kc; k++) {
          const float *src = b + (long)(k0 + k) * N + j0;
          f4 v0 = wasm_v128_load(src), v1 = wasm_v128_load(src + 4);
          wasm_v128_store(dst + k * NR, v0);
          wasm_v128_store(dst + k * NR + 4, v1);
          s0 = wasm_f32x4_add(s0, v0);
          s1 = wasm_f32x4_add(s1, v1);
        }
        wasm_v128_store(colsum + j0, s0);
        wasm_v128_store(colsum + j0 + 4, s1);
        continue;
      }
      for (int k = 0; k < kc; k++) {
        const float *src = b + (long)(k0 + k) * N + j0;
        wasm_v128_store(dst + k * NR, wasm_v128_load(src));
        wasm_v128_store(dst + k * NR + 4, wasm_v128_load(src + 4));
      }
      continue;
    }
    for (int k = 0; k < kc; k++)
      for (int j = 0; j < NR; j++) {
        float v = j < w ? (transB ? b[(long)(j0 + j) * K + k0 + k] : b[(long)(k0 + k) * N + j0 + j]) : 0.0f;
        dst[k * NR + j] = v;
        if (colsum && j < w) colsum[j0 + j] += v;
      }
  }
}

#define DECL(r) f4 c##r##0 = wasm_f32x4_const_splat(0.0f), c##r##1 = wasm_f32x4_const_splat(0.0f);
#define STEP(r)                                                                                                   \
  {                                                                                                               \
    f4 a_ = wasm_v128_load32_splat(a##r);                                                                         \
    a##r += ks;                                                                                                   \
    c##r##0 = MADD(a_, b0, c##r##0);                                                                              \
    c##r##1 = MADD(a_, b1, c##r##1);                                                                              \
  }
#define STORE(r)                                                                                                  \
  if (r < rows) {                                                                                                 \
    float *p_ = c + (long)r * ldc;                                                                                \
    if (acc) {                                                                                                    \
      c##r##0 = wasm_f32x4_add(c##r##0, wasm_v128_load(p_));                                                      \
      c##r##1 = wasm_f32x4_add(c##r##1, wasm_v128_load(p_ + 4));                                                  \
    } else if (bias) {                                                                                            \
      c##r##0 = wasm_f32x4_add(c##r##0, bias0);                                                                   \
      c##r##1 = wasm_f32x4_add(c##r##1, bias1);                                                                   \
    }                                                                                                             \
    if (mul) {                                                                                                    \
      c##r##0 = wasm_f32x4_mul(c##r##0, wasm_v128_load(mul + (long)r * ldc));                                     \
      c##r##1 = wasm_f32x4_mul(c##r##1, wasm_v128_load(mul + (long)r * ldc + 4));                                 \
    }                                                                                                             \
    wasm_v128_store(p_, c##r##0);                                                                                 \
    wasm_v128_store(p_ + 4, c##r##1);                                                                             \
  }
#define ROWS(X) X(0) X(1) X(2) X(3)

/*
 * C[rows][8] (+)= A[rows][kc] · Bp[kc][8], A read in place: row r's k-th value at a + r·rs + k·ks (rs = K, ks = 1
 * untransposed; rs = 1, ks = M transposed). Rows past `rows` (≤ 4) re-read row 0 and are not stored. `bias` (or
 * null): 8 values added to each row on the first pass (acc = 0), so that x·W + b costs no pass of its own. `mul`
 * (or null, given on the last pass only): the tile of an [M, N] matrix (row stride ldc) that the result is
 * multiplied by element-wise, as a backward pass multiplies dy·Wᵀ by an activation's derivative.
 */
static inline __attribute__((always_inline)) void micro(int kc, const float *a, int rs, int ks, const float *restrict b,
                                                        float *c, int ldc, int rows, int acc, const float *bias,
                                                        const float *mul) {
  const float *a0 = a, *a1 = rows > 1 ? a + rs : a, *a2 = rows > 2 ? a + 2 * rs : a, *a3 = rows > 3 ? a + 3 * rs : a;
  ROWS(DECL)
  for (int k = 0; k < kc; k++) {
    f4 b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    ROWS(STEP)
    b += NR;
  }
  f4 bias0 = wasm_f32x4_const_splat(0.0f), bias1 = bias0;
  if (bias) {
    bias0 = wasm_v128_load(bias);
    bias1 = wasm_v128_load(bias + 4);
  }
  ROWS(STORE)
}

/* The same for a panel narrower than 8 columns (N % 8 ≠ 0): through a temporary [4][8] tile. */
static void micro_edge(int kc, const float *a, int rs, int ks, const float *b, float *c, int ldc, int rows, int cols,
                       int acc, const float *bias, const float *mul) {
  float t[MR * NR] __attribute__((aligned(16)));
  micro(kc, a, rs, ks, b, t, NR, rows, 0, 0, 0);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++) {
      float v = (acc ? c[(long)r * ldc + j] : bias ? bias[j] : 0.0f) + t[r * NR + j];
      c[(long)r * ldc + j] = mul ? v * mul[(long)r * ldc + j] : v;
    }
}

/* A transposed (stored [K, M]), rows [i0, i0+mc) × k [k0, k0+kc), into panels [kc][4] of 4 rows (zero past
 * M): read in place, each k of a panel would be another page M floats on, and the TLB would thrash. */
static void pack_at(const float *a, float *ap, int M, int i0, int mc, int k0, int kc) {
  for (int r0 = 0; r0 < mc; r0 += MR) {
    float *dst = ap + (long)r0 * kc;
    int rows = mc - r0 < MR ? mc - r0 : MR;
    const float *src = a + (long)k0 * M + i0 + r0;
    if (rows == MR) {
      for (int k = 0; k < kc; k++) wasm_v128_store(dst + k * MR, wasm_v128_load(src + (long)k * M));
    } else {
      for (int k = 0; k < kc; k++)
        for (int r = 0; r < MR; r++) dst[k * MR + r] = r < rows ? src[(long)k * M + r] : 0.0f;
    }
  }
}

/*
 * The block loops: A read in place (rs, ks constant where inlined, so the microkernel's addressing folds) or,
 * with `apack`, transposed A packed block by block.
 */
static inline __attribute__((always_inline)) void blocks(const float *a, int rs, int ks, float *apack,
                                                         const float *b, int transB, float *bp, float *c, int M,
                                                         int K, int N, const float *bias, float *colsum,
                                                         const float *mul) {
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = K - k0 < KC ? K - k0 : KC;
    const float *mulLast = k0 + kc == K ? mul : 0;
    pack_b(b, bp, K, N, transB, k0, kc, colsum);
    for (int i0 = 0; i0 < M; i0 += MC) {
      int mc = M - i0 < MC ? M - i0 : MC;
      if (apack) pack_at(a, apack, M, i0, mc, k0, kc);
      for (int j0 = 0; j0 < N; j0 += NR) {
        const float *bpanel = bp + (long)(j0 / NR) * kc * NR;
        int cols = N - j0 < NR ? N - j0 : NR;
        for (int r0 = 0; r0 < mc; r0 += MR) {
          int rows = mc - r0 < MR ? mc - r0 : MR;
          const float *ap = apack ? apack + (long)r0 * kc : a + (long)(i0 + r0) * rs + (long)k0 * ks;
          float *cp = c + (long)(i0 + r0) * N + j0;
          const float *bj = bias ? bias + j0 : 0;
          const float *mt = mulLast ? mulLast + (long)(i0 + r0) * N + j0 : 0;
          if (cols == NR)
            micro(kc, ap, rs, ks, bpanel, cp, N, rows, k0 > 0, bj, mt);
          else
            micro_edge(kc, ap, rs, ks, bpanel, cp, N, rows, cols, k0 > 0, bj, mt);
        }
      }
    }
  }
}

/** Scratch floats gemm needs for these sizes. */
EXPORT(gemm_scratch) int gemm_scratch(int M, int K, int N) {
  (void)M;
  (void)K;
  return ((N + NR - 1) / NR) * NR * KC + MC * KC + 4;
}

/* gemm, plus a bias [N] added to every row of c, the column sums of op(b) over K written to colsum [N], and c
 * multiplied element-wise by mul [M, N] (each null for none). */
static void product(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB,
                    float *scratch, const float *bias, float *colsum, const float *mul) {
  if (colsum)
    for (int j = 0; j < N; j++) colsum[j] = 0.0f;
  if (K == 0) {
    for (long i = 0; i < (long)M * N; i++) c[i] = (bias ? bias[i % N] : 0.0f) * (mul ? mul[i] : 1.0f);
    return;
  }
  float *apack = scratch + ((N + NR - 1) / NR) * NR * KC;
  if (transA) /* packed panels: row r, k at r + 4k */
    blocks(a, 1, MR, apack, b, transB, scratch, c, M, K, N, bias, colsum, mul);
  else
    blocks(a, K, 1, 0, b, transB, scratch, c, M, K, N, bias, colsum, mul);
}

/**
 * c [M, N] = op(a) [M, K] · op(b) [K, N]; a is stored [K, M] when transA, b [N, K] when transB; `scratch` holds
 * gemm_scratch(M, K, N) floats (16-byte aligned).
 */
EXPORT(gemm)
void gemm(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB, float *scratch) {
  product(a, b, c, M, K, N, transA, transB, scratch, 0, 0, 0);
}

/**
 * A linear layer's products in one pass each: c = op(a)·op(b) + bias (forward, x·W + b), colsum = the sums of
 * op(b)'s columns (backward: xᵀ·dy and the bias gradient, dy's column sums, read while dy is packed), and
 * c = (op(a)·op(b)) ⊙ mul (backward: dy·Wᵀ times the activation's derivative). `bias` and `colsum` are heap offsets
 * of N floats, `mul` of M·N, each 0 for none.
 */
EXPORT(gemm_fused)
void gemm_fused(const float *a, const float *b, float *c, int M, int K, int N, int transA, int transB,
                const float *bias, float *colsum, const float *mul, float *scratch) {
  product(a, b, c, M, K, N, transA, transB, scratch, bias, colsum, mul);
}

/**
 * `batch` products: c[i] = op(a[i]) · op(b[i]), where a[i] starts strideA floats after a[i-1] (0: one a for all),
 * likewise b; c is [batch, M, N].
 */
EXPORT(gemm_batch)
void gemm_batch(const float *a, const float *b, float *c, int batch, int M, int K, int N, int transA, int transB,
                int strideA, int strideB, float *scratch) {
  for (int i = 0; i < batch; i++)
    gemm(a + (long)i * strideA, b + (long)i * strideB, c + (long)i * M * N, M, K, N, transA, transB, scratch);
}
