/*
 * GPT Lab's decoder: one whole KV-cached decode step of a GPT in WebAssembly SIMD, no libc.
 *
 * Unlike kernels.c this module owns its memory (gptlab-decode.wasm exports it): the loader copies the weights
 * in once per model load (a few MB, milliseconds) and keeps the KV caches and scratch there too. A decode step
 * of a small model is a few microseconds of arithmetic per op, so what matters is one call per step with the
 * weights laid out contiguously: tfjs's heap would save the copy but not a call, and its tensors move (an
 * optimizer step gives new ones), which a copy with a version check handles more simply. Pointers here are
 * byte offsets into this module's own memory. Build: npm run build:kernels (kernels/c/build-decode.mjs).
 *
 * The arithmetic is gpt.ts's forward pass for both architectures (GPT-2: learned or sinusoidal positions,
 * LayerNorm with biases, GELU, tied head; modern: rotary, QK-norm, ReLU², untied head, no biases, soft-cap).
 * Linear weights are GPT-2's [in, out], so y = x·W reads each weight row contiguously, four rows of x at a time.
 */
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
typedef v128_t f4;

/* What the loader writes at the model's address, followed by nLayer Layer records (all 4-byte fields). */
typedef struct {
  int C, L, H, ctx, V, flags;
  float cap; /* logit soft-cap, 0 = off */
  const float *wte;  /* [V, C] */
  const float *pos;  /* [ctx, C] learned or sinusoidal positions, or 0 */
  const float *cos;  /* [ctx, hs] rotary tables, or 0 */
  const float *sin;
  const float *lnfg, *lnfb;
  const float *head; /* [C, V]: lm_head, or wteᵀ made by the loader */
} Model;

/* Biases are 0 in a model without them; the mixes are 0 in the first block and without the shortcuts. */
typedef struct {
  const float *ln1g, *ln1b, *attnW, *attnB, *projW, *projB, *ln2g, *ln2b, *fcW, *fcB, *fc2W, *fc2B;
  const float *x0mix; /* [2]: x ← λ₀·x + λ₁·x₀ (embedding shortcut) */
  const float *vmix;  /* [1]: v ← v + λ·(v₁ − v) (value residual) */
} Layer;

enum { QK_NORM = 1, ROTARY = 2, RELU2 = 4, VALUE_RESIDUAL = 8, EMBED_SHORTCUT = 16 };
enum { ACT_NONE = 0, ACT_GELU = 1, ACT_RELU2 = 2 };

static inline f4 splat(float x) { return wasm_f32x4_splat(x); }
static inline f4 ld(const float *p) { return wasm_v128_load(p); }
/* x[k] in all four lanes, loaded so (a broadcast load on x64). */
static inline f4 bcast(const float *p) { return wasm_v128_load32_splat(p); }
static inline void st(float *p, f4 v) { wasm_v128_store(p, v); }
static inline f4 add(f4 a, f4 b) { return wasm_f32x4_add(a, b); }
static inline f4 mul(f4 a, f4 b) { return wasm_f32x4_mul(a, b); }
static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

/* e^x, Cephes' single-precision polynomial (relative error ~2e-7), as kernels.c. */
static inline f4 vexp(f4 x) {
  x = wasm_f32x4_min(wasm_f32x4_max(x, splat(-87.3f)), splat(88.3f));
  f4 fx = wasm_f32x4_nearest(mul(x, splat(1.44269504088896341f)));
  x = wasm_f32x4_sub(x, mul(fx, splat(0.693359375f)));
  x = wasm_f32x4_sub(x, mul(fx, splat(-2.12194440e-4f)));
  f4 z = mul(x, x);
  f4 y = splat(1.9875691500e-4f);
  y = add(mul(y, x), splat(1.3981999507e-3f));
  y = add(mul(y, x), splat(8.3334519073e-3f));
  y = add(mul(y, x), splat(4.1665795894e-2f));
  y = add(mul(y, x), splat(1.6666665459e-1f));
  y = add(mul(y, x), splat(5.0000001201e-1f));
  y = add(add(mul(y, z), x), splat(1.0f));
  f4 pow2n = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(fx), wasm_i32x4_splat(127)), 23);
  return mul(y, pow2n);
}

/* tanh u = 1 − 2 / (e^{2u} + 1) (saturates correctly at ±∞). */
static inline f4 vtanh(f4 u) {
  f4 e = vexp(add(u, u));
  return wasm_f32x4_sub(splat(1.0f), wasm_f32x4_div(splat(2.0f), add(e, splat(1.0f))));
}

/* GPT-2's tanh GELU, ReLU², or nothing. */
static inline f4 activate(f4 v, int act) {
  if (act == ACT_GELU) {
    f4 u = mul(splat(0.7978845608028654f), add(v, mul(splat(0.044715f), mul(v, mul(v, v)))));
    return mul(mul(splat(0.5f), v), add(splat(1.0f), vtanh(u)));
  }
  if (act == ACT_RELU2) {
    f4 r = wasm_f32x4_max(v, splat(0.0f));
    return mul(r, r);
  }
  return v;
}

/* The epilogue of four outputs: + bias, activation, + what y held (the residual add). */
static inline void put(float *y, f4 v, const float *b, int act, int acc) {
  if (b) v = add(v, ld(b));
  v = activate(v, act);
  if (acc) v = add(v, ld(y));
  st(y, v);
}
static inline void put1(float *y, float v, const float *b, int act, int acc) {
  if (b) v += *b;
  v = wasm_f32x4_extract_lane(activate(splat(v), act), 0);
  if (acc) v += *y;
  *y = v;
}

/* One row of y [M] from x [K] and W [K, M], columns from j on: 32 at a time in registers, then 4, then 1. */
static void matmul_row(const float *x, int K, const float *W, int M, const float *b, float *y, int j, int act,
                       int acc) {
  for (; j + 32 <= M; j += 32) {
    f4 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const float *w = W + j;
    for (int k = 0; k < K; k++, w += M) {
      f4 s = bcast(x + k);
      a0 = add(a0, mul(s, ld(w)));
      a1 = add(a1, mul(s, ld(w + 4)));
      a2 = add(a2, mul(s, ld(w + 8)));
      a3 = add(a3, mul(s, ld(w + 12)));
      a4 = add(a4, mul(s, ld(w + 16)));
      a5 = add(a5, mul(s, ld(w + 20)));
      a6 = add(a6, mul(s, ld(w + 24)));
      a7 = add(a7, mul(s, ld(w + 28)));
    }
    const float *bj = b ? b + j : 0;
    put(y + j, a0, bj, act, acc);
    put(y + j + 4, a1, bj ? bj + 4 : 0, act, acc);
    put(y + j + 8, a2, bj ? bj + 8 : 0, act, acc);
    put(y + j + 12, a3, bj ? bj + 12 : 0, act, acc);
    put(y + j + 16, a4, bj ? bj + 16 : 0, act, acc);
    put(y + j + 20, a5, bj ? bj + 20 : 0, act, acc);
    put(y + j + 24, a6, bj ? bj + 24 : 0, act, acc);
    put(y + j + 28, a7, bj ? bj + 28 : 0, act, acc);
  }
  for (; j + 4 <= M; j += 4) {
    f4 a0 = splat(0);
    const float *w = W + j;
    for (int k = 0; k < K; k++, w += M) a0 = add(a0, mul(bcast(x + k), ld(w)));
    put(y + j, a0, b ? b + j : 0, act, acc);
  }
  for (; j < M; j++) {
    float s = 0;
    for (int k = 0; k < K; k++) s += x[k] * W[k * M + j];
    put1(y + j, s, b ? b + j : 0, act, acc);
  }
}

/*
 * y [N, M] (=, or += with acc) act(x [N, K] · W [K, M] + b). Four rows share each load of W (8 columns at a
 * time in 8 registers); the rows left over, and a lone row (a decode step of batch 1), take matmul_row.
 */
static void matmul(const float *x, int N, int K, const float *W, int M, const float *b, float *y, int act,
                   int acc) {
  int r = 0;
  for (; r + 4 <= N; r += 4) {
    const float *x0 = x + (size_t)r * K, *x1 = x0 + K, *x2 = x1 + K, *x3 = x2 + K;
    float *y0 = y + (size_t)r * M, *y1 = y0 + M, *y2 = y1 + M, *y3 = y2 + M;
    int j = 0;
    for (; j + 8 <= M; j += 8) {
      f4 a00 = splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
      const float *w = W + j;
      for (int k = 0; k < K; k++, w += M) {
        f4 w0 = ld(w), w1 = ld(w + 4);
        f4 s = bcast(x0 + k);
        a00 = add(a00, mul(s, w0));
        a01 = add(a01, mul(s, w1));
        s = bcast(x1 + k);
        a10 = add(a10, mul(s, w0));
        a11 = add(a11, mul(s, w1));
        s = bcast(x2 + k);
        a20 = add(a20, mul(s, w0));
        a21 = add(a21, mul(s, w1));
        s = bcast(x3 + k);
        a30 = add(a30, mul(s, w0));
        a31 = add(a31, mul(s, w1));
      }
      const float *b0 = b ? b + j : 0, *b1 = b ? b + j + 4 : 0;
      put(y0 + j, a00, b0, act, acc);
      put(y0 + j + 4, a01, b1, act, acc);
      put(y1 + j, a10, b0, act, acc);
      put(y1 + j + 4, a11, b1, act, acc);
      put(y2 + j, a20, b0, act, acc);
      put(y2 + j + 4, a21, b1, act, acc);
      put(y3 + j, a30, b0, act, acc);
      put(y3 + j + 4, a31, b1, act, acc);
    }
    if (j < M) {
      matmul_row(x0, K, W, M, b, y0, j, act, acc);
      matmul_row(x1, K, W, M, b, y1, j, act, acc);
      matmul_row(x2, K, W, M, b, y2, j, act, acc);
      matmul_row(x3, K, W, M, b, y3, j, act, acc);
    }
  }
  for (; r < N; r++) matmul_row(x + (size_t)r * K, K, W, M, b, y + (size_t)r * M, 0, act, acc);
}

static inline float sqrt1(float x) { return __builtin_sqrtf(x); }

/* LayerNorm of one row (eps 1e-5, as ops.ts), without a bias when b is 0. */
static void layernorm_row(const float *x, float *y, int C, const float *g, const float *b) {
  float mean = 0;
  for (int i = 0; i < C; i++) mean += x[i];
  mean /= (float)C;
  float var = 0;
  for (int i = 0; i < C; i++) {
    float d = x[i] - mean;
    var += d * d;
  }
  float r = 1.0f / sqrt1(var / (float)C + 1e-5f);
  for (int i = 0; i < C; i++) y[i] = (x[i] - mean) * r * g[i] + (b ? b[i] : 0.0f);
}

static float dot(const float *a, const float *b, int n) {
  f4 s0 = splat(0), s1 = s0;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = add(s0, mul(ld(a + i), ld(b + i)));
    s1 = add(s1, mul(ld(a + i + 4), ld(b + i + 4)));
  }
  for (; i + 4 <= n; i += 4) s0 = add(s0, mul(ld(a + i), ld(b + i)));
  float s = hsum(add(s0, s1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

/* y += p·x over n. */
static void axpy(float *y, float p, const float *x, int n) {
  f4 ps = splat(p);
  int i = 0;
  for (; i + 4 <= n; i += 4) st(y + i, add(ld(y + i), mul(ps, ld(x + i))));
  for (; i < n; i++) y[i] += p * x[i];
}

/* QK-norm: x / √(mean(x²) + 1e-6), as ops.ts's rmsNorm. */
static void rmsnorm(float *x, int n) {
  float s = dot(x, x, n);
  float r = 1.0f / sqrt1(s / (float)n + 1e-6f);
  for (int i = 0; i < n; i++) x[i] *= r;
}

/* Rotary embedding at one position: x·cos + [−x2, x1]·sin, with that position's rows of the tables. */
static void rotate(float *x, const float *cos, const float *sin, int hs) {
  int half = hs / 2;
  for (int i = 0; i < half; i++) {
    float x1 = x[i], x2 = x[half + i];
    x[i] = x1 * cos[i] - x2 * sin[i];
    x[half + i] = x2 * cos[half + i] + x1 * sin[half + i];
  }
}

/* Softmax of s [n] in place. */
static void softmax(float *s, int n) {
  float max = s[0];
  for (int t = 1; t < n; t++) max = s[t] > max ? s[t] : max;
  f4 m = splat(max), sum4 = splat(0);
  int t = 0;
  for (; t + 4 <= n; t += 4) {
    f4 e = vexp(wasm_f32x4_sub(ld(s + t), m));
    st(s + t, e);
    sum4 = add(sum4, e);
  }
  float sum = hsum(sum4);
  for (; t < n; t++) {
    float e = wasm_f32x4_extract_lane(vexp(splat(s[t] - max)), 0);
    s[t] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
  for (t = 0; t < n; t++) s[t] *= inv;
}

/*
 * Appends N tokens to rows of the cache and writes the next-token logits after nLast of them.
 *   kc, vc: keys and values, [L, R, H, ctx, hs] each; R rows in all.
 *   ids, rowOf, posOf [N]: each token, its row and its position in that row (a row's tokens in order).
 *   lastOf [nLast]: the tokens whose logits are wanted; logits [nLast, V].
 *   scratch: 12·N·C + ctx floats.
 */
EXPORT(decode_step)
void decode_step(const Model *m, float *kc, float *vc, int R, const int *ids, const int *rowOf, const int *posOf,
                 int N, const int *lastOf, int nLast, float *logits, float *scratch) {
  const Layer *layers = (const Layer *)(m + 1);
  const int C = m->C, H = m->H, ctx = m->ctx, V = m->V, hs = C / H;
  const int act = (m->flags & RELU2) ? ACT_RELU2 : ACT_GELU;
  const float scale = 1.0f / sqrt1((float)hs);
  float *x = scratch, *a = x + (size_t)N * C, *qkv = a + (size_t)N * C, *att = qkv + (size_t)3 * N * C;
  float *u = att + (size_t)N * C, *x0 = u + (size_t)4 * N * C, *v1 = x0 + (size_t)N * C;
  float *scores = v1 + (size_t)N * C;

  for (int n = 0; n < N; n++) {
    const float *e = m->wte + (size_t)ids[n] * C;
    const float *p = m->pos ? m->pos + (size_t)posOf[n] * C : 0;
    for (int i = 0; i < C; i++) x[n * C + i] = e[i] + (p ? p[i] : 0.0f);
  }

  if (m->flags & EMBED_SHORTCUT)
    for (size_t i = 0; i < (size_t)N * C; i++) x0[i] = x[i];

  for (int l = 0; l < m->L; l++) {
    const Layer *w = layers + l;
    float *K = kc + (size_t)l * R * H * ctx * hs, *Vc = vc + (size_t)l * R * H * ctx * hs;
    if (w->x0mix)
      for (size_t i = 0; i < (size_t)N * C; i++) x[i] = x[i] * w->x0mix[0] + x0[i] * w->x0mix[1];
    for (int n = 0; n < N; n++) layernorm_row(x + n * C, a + n * C, C, w->ln1g, w->ln1b);
    matmul(a, N, C, w->attnW, 3 * C, w->attnB, qkv, ACT_NONE, 0);
    if (m->flags & VALUE_RESIDUAL) {
      for (int n = 0; n < N; n++) {
        float *v = qkv + (size_t)n * 3 * C + 2 * C, *v0 = v1 + (size_t)n * C;
        if (l == 0)
          for (int i = 0; i < C; i++) v0[i] = v[i];
        else
          for (int i = 0; i < C; i++) v[i] = v[i] + (v0[i] - v[i]) * w->vmix[0];
      }
    }
    // Every new key and value into the cache first: a row's tokens in this step attend to each other.
    for (int n = 0; n < N; n++) {
      for (int h = 0; h < H; h++) {
        float *q = qkv + (size_t)n * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
        if (m->flags & QK_NORM) {
          rmsnorm(q, hs);
          rmsnorm(k, hs);
        }
        if (m->flags & ROTARY) {
          const float *cs = m->cos + (size_t)posOf[n] * hs, *sn = m->sin + (size_t)posOf[n] * hs;
          rotate(q, cs, sn, hs);
          rotate(k, cs, sn, hs);
        }
        size_t at = ((size_t)(rowOf[n] * H + h) * ctx + posOf[n]) * hs;
        for (int i = 0; i < hs; i++) {
          K[at + i] = k[i];
          Vc[at + i] = v[i];
        }
      }
    }
    // The last layer's output is read only at the tokens whose logits are wanted (its keys and values, in the
    // cache now, serve later steps): a prompt of P tokens runs the rest of that layer for one, not P.
    const int last = l == m->L - 1 && nLast < N;
    const int M = last ? nLast : N;
    if (last)
      for (int i = 0; i < nLast; i++)
        for (int c = 0; c < C; c++) x[(size_t)i * C + c] = x[(size_t)lastOf[i] * C + c]; /* lastOf[i] ≥ i */
    for (int n = 0; n < M; n++) {
      const int src = last ? lastOf[n] : n;
      const int Tk = posOf[src] + 1;
      for (int h = 0; h < H; h++) {
        const float *q = qkv + (size_t)src * 3 * C + h * hs;
        const float *Kh = K + (size_t)(rowOf[src] * H + h) * ctx * hs, *Vh = Vc + (size_t)(rowOf[src] * H + h) * ctx * hs;
        for (int t = 0; t < Tk; t++) scores[t] = dot(q, Kh + (size_t)t * hs, hs) * scale;
        softmax(scores, Tk);
        float *y = att + (size_t)n * C + h * hs;
        for (int i = 0; i < hs; i++) y[i] = 0;
        for (int t = 0; t < Tk; t++) axpy(y, scores[t], Vh + (size_t)t * hs, hs);
      }
    }
    matmul(att, M, C, w->projW, C, w->projB, x, ACT_NONE, 1);
    for (int n = 0; n < M; n++) layernorm_row(x + n * C, a + n * C, C, w->ln2g, w->ln2b);
    matmul(a, M, C, w->fcW, 4 * C, w->fcB, u, act, 0);
    matmul(u, M, 4 * C, w->fc2W, C, w->fc2B, x, ACT_NONE, 1);
  }

  // After the last layer x holds the wanted tokens first (compacted above), or all N of a step with nLast = N.
  for (int i = 0; i < nLast; i++) layernorm_row(x + (size_t)i * C, a + (size_t)i * C, C, m->lnfg, m->lnfb);
  matmul(a, nLast, C, m->head, V, 0, logits, ACT_NONE, 0);
  if (m->cap > 0) {
    const int n = nLast * V;
    f4 cap = splat(m->cap), inv = splat(1.0f / m->cap);
    int i = 0;
    for (; i + 4 <= n; i += 4) st(logits + i, mul(cap, vtanh(mul(ld(logits + i), inv))));
    for (; i < n; i++) logits[i] = m->cap * wasm_f32x4_extract_lane(vtanh(splat(logits[i] / m->cap)), 0);
  }
}
