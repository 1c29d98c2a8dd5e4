/*
 * GPT Lab's fused kernels for the tfjs wasm backend: WebAssembly SIMD, no libc.
 *
 * The module imports tfjs's own memory (env.memory), so every pointer here is an offset into the wasm
 * backend's heap and tensors are read and written in place: no copies. It has no data segment (that would
 * overwrite tfjs's heap on instantiation); its stack is a block the loader mallocs from tfjs and points
 * __stack_pointer at. Build: npm run build:kernels (see kernels/build.mjs).
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
typedef v128_t f4;

static inline f4 splat(float x) { return wasm_f32x4_splat(x); }
static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

static inline float hmax(f4 v) {
  float a = wasm_f32x4_extract_lane(v, 0), b = wasm_f32x4_extract_lane(v, 1);
  float c = wasm_f32x4_extract_lane(v, 2), d = wasm_f32x4_extract_lane(v, 3);
  a = a > b ? a : b;
  c = c > d ? c : d;
  return a > c ? a : c;
}

/*
 * e^x, Cephes' single-precision polynomial (relative error ~2e-7), four at a time. The clamp takes pmin/pmax (one
 * instruction each; min/max's NaN and signed-zero rules cost V8 a sequence of several), and n = round(x·log2 e)
 * comes from adding 1.5·2^23, whose sum holds n in its low mantissa bits, so 2^n needs no float→int conversion
 * (the same rounding, ties to even, as nearest). Measured in V8: GELU's forward ~2× faster than with nearest,
 * trunc_sat, min and max.
 */
static inline f4 vexp(f4 x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, splat(-87.3f)), splat(88.3f));
  f4 t = wasm_f32x4_add(wasm_f32x4_mul(x, splat(1.44269504088896341f)), splat(12582912.0f));
  f4 fx = wasm_f32x4_sub(t, splat(12582912.0f));
  x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, splat(0.693359375f)));
  x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, splat(-2.12194440e-4f)));
  f4 z = wasm_f32x4_mul(x, x);
  f4 y = splat(1.9875691500e-4f);
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), splat(1.3981999507e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), splat(8.3334519073e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), splat(4.1665795894e-2f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), splat(1.6666665459e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, x), splat(5.0000001201e-1f));
  y = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(y, z), x), splat(1.0f));
  f4 pow2n = wasm_i32x4_shl(wasm_i32x4_add(t, wasm_i32x4_splat(127)), 23); /* (n + 127) << 23: the bits of 2^n */
  return wasm_f32x4_mul(y, pow2n);
}
static inline float sexp(float x) { return wasm_f32x4_extract_lane(vexp(splat(x)), 0); }

/* ln x for a normal x > 0 (Cephes logf). */
static float slog(float x) {
  union { float f; uint32_t i; } u = {x};
  int e = (int)((u.i >> 23) & 0xff) - 126;
  u.i = (u.i & 0x807fffffu) | 0x3f000000u; /* x = m·2^e, m in [0.5, 1) */
  float m = u.f;
  if (m < 0.70710678f) {
    e -= 1;
    m = m + m - 1.0f;
  } else {
    m = m - 1.0f;
  }
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * (float)e;
  y += -0.5f * z;
  return m + y + 0.693359375f * (float)e;
}

/* tanh u = 1 − 2 / (e^{2u} + 1) (saturates correctly at ±∞). */
static inline f4 vtanh(f4 u) {
  f4 e = vexp(wasm_f32x4_add(u, u));
  return wasm_f32x4_sub(splat(1.0f), wasm_f32x4_div(splat(2.0f), wasm_f32x4_add(e, splat(1.0f))));
}

static float dot(const float *a, const float *b, int n) {
  f4 s0 = splat(0), s1 = splat(0);
  int d = 0;
  for (; d + 8 <= n; d += 8) {
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + d), wasm_v128_load(b + d)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + d + 4), wasm_v128_load(b + d + 4)));
  }
  for (; d + 4 <= n; d += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + d), wasm_v128_load(b + d)));
  float s = hsum(wasm_f32x4_add(s0, s1));
  for (; d < n; d++) s += a[d] * b[d];
  return s;
}

/* The four dot products a·b0 … a·b3 as one vector (a read once; one horizontal sum for all four). */
static f4 dot4(const float *a, const float *b0, const float *b1, const float *b2, const float *b3, int n) {
  f4 s0 = splat(0), s1 = splat(0), s2 = splat(0), s3 = splat(0);
  int d = 0;
  for (; d + 4 <= n; d += 4) {
    f4 av = wasm_v128_load(a + d);
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(av, wasm_v128_load(b0 + d)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(av, wasm_v128_load(b1 + d)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(av, wasm_v128_load(b2 + d)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(av, wasm_v128_load(b3 + d)));
  }
  f4 t0 = wasm_f32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5), wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
  f4 t1 = wasm_f32x4_add(wasm_i32x4_shuffle(s2, s3, 0, 4, 1, 5), wasm_i32x4_shuffle(s2, s3, 2, 6, 3, 7));
  f4 r = wasm_f32x4_add(wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
  if (d < n) {
    float tail[4] = {0, 0, 0, 0};
    for (; d < n; d++) {
      tail[0] += a[d] * b0[d];
      tail[1] += a[d] * b1[d];
      tail[2] += a[d] * b2[d];
      tail[3] += a[d] * b3[d];
    }
    r = wasm_f32x4_add(r, wasm_v128_load(tail));
  }
  return r;
}

/* y += a·x over n floats. */
static void axpy(float *y, float a, const float *x, int n) {
  f4 va = splat(a);
  int d = 0;
  for (; d + 4 <= n; d += 4)
    wasm_v128_store(y + d, wasm_f32x4_add(wasm_v128_load(y + d), wasm_f32x4_mul(va, wasm_v128_load(x + d))));
  for (; d < n; d++) y[d] += a * x[d];
}

/* y += a[0]·x0 + a[1]·x1 + a[2]·x2 + a[3]·x3 over n floats (y loaded and stored once for four rows). */
static void axpy4(float *y, const float *a, const float *x0, const float *x1, const float *x2, const float *x3, int n) {
  f4 a0 = splat(a[0]), a1 = splat(a[1]), a2 = splat(a[2]), a3 = splat(a[3]);
  int d = 0;
  for (; d + 4 <= n; d += 4) {
    f4 acc = wasm_v128_load(y + d);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a0, wasm_v128_load(x0 + d)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a1, wasm_v128_load(x1 + d)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a2, wasm_v128_load(x2 + d)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a3, wasm_v128_load(x3 + d)));
    wasm_v128_store(y + d, acc);
  }
  for (; d < n; d++) y[d] += a[0] * x0[d] + a[1] * x1[d] + a[2] * x2[d] + a[3] * x3[d];
}

static void zero(float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = 0;
}

/*
 * Causal self-attention of packed qkv [B·T, 3C] (q | k | v, each C = H·hs wide, head h at columns h·hs):
 * y [B·T, C] (heads side by side, as the output projection reads them) and the softmax probabilities
 * p [B·H, T, T] (zero above the diagonal) for the backward pass.
 */
EXPORT(attention_forward)
void attention_forward(const float *qkv, float *y, float *p, int B, int T, int H, int hs, float scale) {
  const int C = H * hs, row = 3 * C;
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      const float *base = qkv + (long)b * T * row + h * hs;
      float *P = p + ((long)b * H + h) * T * T;
      for (int i = 0; i < T; i++) {
        const float *q = base + i * row;
        float *pr = P + i * T;
        const float *k0 = base + C;
        int j = 0;
        f4 vmax = splat(-3.0e38f);
        for (; j + 4 <= i + 1; j += 4) {
          const float *kj = k0 + j * row;
          f4 s = wasm_f32x4_mul(dot4(q, kj, kj + row, kj + 2 * row, kj + 3 * row, hs), splat(scale));
          wasm_v128_store(pr + j, s);
          vmax = wasm_f32x4_pmax(vmax, s); /* pmax: one instruction (see vexp) */
        }
        float mx = hmax(vmax);
        for (; j <= i; j++) {
          float s = dot(q, k0 + j * row, hs) * scale;
          pr[j] = s;
          if (s > mx) mx = s;
        }
        float sum = 0;
        j = 0;
        f4 vs = splat(0), vm = splat(mx);
        for (; j + 4 <= i + 1; j += 4) {
          f4 e = vexp(wasm_f32x4_sub(wasm_v128_load(pr + j), vm));
          wasm_v128_store(pr + j, e);
          vs = wasm_f32x4_add(vs, e);
        }
        for (; j <= i; j++) sum += (pr[j] = sexp(pr[j] - mx));
        sum += hsum(vs);
        float inv = 1.0f / sum;
        float *yi = y + ((long)b * T + i) * C + h * hs;
        zero(yi, hs);
        for (j = 0; j <= i; j++) pr[j] *= inv;
        const float *v0 = base + 2 * C;
        for (j = 0; j + 4 <= i + 1; j += 4) {
          const float *vj = v0 + j * row;
          axpy4(yi, pr + j, vj, vj + row, vj + 2 * row, vj + 3 * row, hs);
        }
        for (; j <= i; j++) axpy(yi, pr[j], v0 + j * row, hs);
        for (j = i + 1; j < T; j++) pr[j] = 0;
      }
    }
  }
}

/*
 * The gradient of attention_forward: dqkv [B·T, 3C] from dy [B·T, C], qkv and the saved p. Query rows go four
 * at a time, so each key's and value's gradient row is loaded and stored once per four rows.
 */
EXPORT(attention_backward)
void attention_backward(const float *qkv, const float *p, const float *dy, float *dqkv, int B, int T, int H, int hs,
                        float scale) {
  const int C = H * hs, row = 3 * C;
  float ds[4 * T]; /* dL/d(q·k) of four query rows, on the stack the loader gives this module */
  zero(dqkv, B * T * row);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      const long off = (long)b * T * row + h * hs;
      const float *base = qkv + off, *k0 = base + C, *v0 = base + 2 * C;
      float *dbase = dqkv + off;
      const float *P = p + ((long)b * H + h) * T * T;
      const float *dyh = dy + (long)b * T * C + h * hs;
      for (int i0 = 0; i0 < T; i0 += 4) {
        const int nr = T - i0 < 4 ? T - i0 : 4, last = i0 + nr - 1; /* rows i0…last see keys 0…last */
        const float *q[4], *dyr[4];
        for (int r = 0; r < 4; r++) {
          const int i = r < nr ? i0 + r : i0; /* rows past T alias row i0 with zero coefficients */
          const float *pr = P + i * T;
          const float *dyi = dyh + (long)i * C;
          float *dsr = ds + r * T;
          q[r] = base + i * row;
          dyr[r] = dyi;
          zero(dsr, last + 1);
          if (r >= nr) continue;
          int j = 0;
          f4 vdot = splat(0);
          for (; j + 4 <= i + 1; j += 4) { /* dL/dp_ij, four at a time */
            const float *vj = v0 + j * row;
            f4 d = dot4(dyi, vj, vj + row, vj + 2 * row, vj + 3 * row, hs);
            wasm_v128_store(dsr + j, d);
            vdot = wasm_f32x4_add(vdot, wasm_f32x4_mul(d, wasm_v128_load(pr + j)));
          }
          float rowdot = hsum(vdot);
          for (; j <= i; j++) {
            dsr[j] = dot(dyi, v0 + j * row, hs);
            rowdot += pr[j] * dsr[j];
          }
          for (j = 0; j <= i; j++) dsr[j] = pr[j] * (dsr[j] - rowdot) * scale;
          float *dq = dbase + i * row;
          for (j = 0; j + 4 <= i + 1; j += 4) {
            const float *kj = k0 + j * row;
            axpy4(dq, dsr + j, kj, kj + row, kj + 2 * row, kj + 3 * row, hs);
          }
          for (; j <= i; j++) axpy(dq, dsr[j], k0 + j * row, hs);
        }
        for (int j = 0; j <= last; j++) {
          float a[4], pp[4];
          for (int r = 0; r < 4; r++) {
            a[r] = ds[r * T + j];
            pp[r] = r < nr ? P[(long)(i0 + r) * T + j] : 0.0f; /* p is zero above the diagonal */
          }
          axpy4(dbase + j * row + C, a, q[0], q[1], q[2], q[3], hs);
          axpy4(dbase + j * row + 2 * C, pp, dyr[0], dyr[1], dyr[2], dyr[3], hs);
        }
      }
    }
  }
}

static const float GELU_K = 0.7978845608028654f; /* √(2/π) */

/* GPT-2's tanh GELU: y = ½x(1 + tanh(k(x + 0.044715x³))). */
EXPORT(gelu_forward)
void gelu_forward(const float *x, float *y, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f4 v = wasm_v128_load(x + i);
    f4 u = wasm_f32x4_mul(splat(GELU_K),
                          wasm_f32x4_add(v, wasm_f32x4_mul(splat(0.044715f), wasm_f32x4_mul(v, wasm_f32x4_mul(v, v)))));
    f4 t = vtanh(u);
    wasm_v128_store(y + i, wasm_f32x4_mul(wasm_f32x4_mul(splat(0.5f), v), wasm_f32x4_add(splat(1.0f), t)));
  }
  for (; i < n; i++) {
    float v = x[i];
    float t = wasm_f32x4_extract_lane(vtanh(splat(GELU_K * (v + 0.044715f * v * v * v))), 0);
    y[i] = 0.5f * v * (1.0f + t);
  }
}

/* dx = dy · [½(1 + tanh u) + ½x(1 − tanh² u)·k(1 + 3·0.044715x²)]. */
EXPORT(gelu_backward)
void gelu_backward(const float *x, const float *dy, float *dx, int n) {
  for (int i = 0; i < n; i += 4) {
    int rest = n - i;
    f4 v, g;
    if (rest >= 4) {
      v = wasm_v128_load(x + i);
      g = wasm_v128_load(dy + i);
    } else {
      float xv[4] = {0, 0, 0, 0}, gv[4] = {0, 0, 0, 0};
      for (int r = 0; r < rest; r++) xv[r] = x[i + r], gv[r] = dy[i + r];
      v = wasm_v128_load(xv);
      g = wasm_v128_load(gv);
    }
    f4 v2 = wasm_f32x4_mul(v, v);
    f4 t = vtanh(wasm_f32x4_mul(splat(GELU_K), wasm_f32x4_add(v, wasm_f32x4_mul(splat(0.044715f), wasm_f32x4_mul(v2, v)))));
    f4 du = wasm_f32x4_mul(splat(GELU_K), wasm_f32x4_add(splat(1.0f), wasm_f32x4_mul(splat(3 * 0.044715f), v2)));
    f4 d = wasm_f32x4_add(wasm_f32x4_mul(splat(0.5f), wasm_f32x4_add(splat(1.0f), t)),
                          wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(splat(0.5f), v), wasm_f32x4_sub(splat(1.0f), wasm_f32x4_mul(t, t))), du));
    f4 r = wasm_f32x4_mul(g, d);
    if (rest >= 4) {
      wasm_v128_store(dx + i, r);
    } else {
      float rv[4];
      wasm_v128_store(rv, r);
      for (int k = 0; k < rest; k++) dx[i + k] = rv[k];
    }
  }
}

/*
 * LayerNorm over rows of x [N, C]: y = (x − mean)·rstd·gamma + beta (beta may be 0: none); keeps mean and
 * rstd [N] for the backward pass.
 */
EXPORT(layernorm_forward)
void layernorm_forward(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                       int N, int C, float eps) {
  const int C4 = C & ~3; /* four lanes at a time (a float sum does not vectorise by itself), then a scalar tail */
  for (int n = 0; n < N; n++) {
    const float *xr = x + (long)n * C;
    float *yr = y + (long)n * C;
    f4 vs = splat(0);
    for (int c = 0; c < C4; c += 4) vs = wasm_f32x4_add(vs, wasm_v128_load(xr + c));
    float s = hsum(vs);
    for (int c = C4; c < C; c++) s += xr[c];
    const float mu = s / C;
    const f4 vmu = splat(mu);
    f4 vss = splat(0);
    for (int c = 0; c < C4; c += 4) {
      f4 d = wasm_f32x4_sub(wasm_v128_load(xr + c), vmu);
      vss = wasm_f32x4_add(vss, wasm_f32x4_mul(d, d));
    }
    float ss = hsum(vss);
    for (int c = C4; c < C; c++) ss += (xr[c] - mu) * (xr[c] - mu);
    const float r = 1.0f / __builtin_sqrtf(ss / C + eps);
    mean[n] = mu;
    rstd[n] = r;
    const f4 vr = splat(r);
    for (int c = 0; c < C4; c += 4) {
      f4 t = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + c), vmu), vr), wasm_v128_load(gamma + c));
      wasm_v128_store(yr + c, beta ? wasm_f32x4_add(t, wasm_v128_load(beta + c)) : t);
    }
    for (int c = C4; c < C; c++) yr[c] = (xr[c] - mu) * r * gamma[c] + (beta ? beta[c] : 0.0f);
  }
}

/* dx [N, C], dgamma [C] and dbeta [C] (dbeta may be 0) of layernorm_forward from dy. */
EXPORT(layernorm_backward)
void layernorm_backward(const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy,
                        float *dx, float *dgamma, float *dbeta, int N, int C) {
  const int C4 = C & ~3; /* as layernorm_forward: four lanes, then a scalar tail */
  zero(dgamma, C);
  if (dbeta) zero(dbeta, C);
  for (int n = 0; n < N; n++) {
    const float *xr = x + (long)n * C, *gr = dy + (long)n * C;
    float *dr = dx + (long)n * C;
    const float mu = mean[n], r = rstd[n];
    const f4 vmu = splat(mu), vr = splat(r);
    f4 vg = splat(0), vgx = splat(0); /* Σ dy·gamma, Σ dy·gamma·x̂ */
    for (int c = 0; c < C4; c += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + c), vmu), vr);
      f4 gy = wasm_v128_load(gr + c);
      f4 g = wasm_f32x4_mul(gy, wasm_v128_load(gamma + c));
      vg = wasm_f32x4_add(vg, g);
      vgx = wasm_f32x4_add(vgx, wasm_f32x4_mul(g, xh));
      wasm_v128_store(dgamma + c, wasm_f32x4_add(wasm_v128_load(dgamma + c), wasm_f32x4_mul(gy, xh)));
      if (dbeta) wasm_v128_store(dbeta + c, wasm_f32x4_add(wasm_v128_load(dbeta + c), gy));
    }
    float sum_g = hsum(vg), sum_gx = hsum(vgx);
    for (int c = C4; c < C; c++) {
      float xh = (xr[c] - mu) * r;
      float g = gr[c] * gamma[c];
      sum_g += g;
      sum_gx += g * xh;
      dgamma[c] += gr[c] * xh;
      if (dbeta) dbeta[c] += gr[c];
    }
    sum_g /= C;
    sum_gx /= C;
    const f4 vsg = splat(sum_g), vsgx = splat(sum_gx);
    for (int c = 0; c < C4; c += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + c), vmu), vr);
      f4 t = wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(gr + c), wasm_v128_load(gamma + c)), vsg);
      wasm_v128_store(dr + c, wasm_f32x4_mul(vr, wasm_f32x4_sub(t, wasm_f32x4_mul(xh, vsgx))));
    }
    for (int c = C4; c < C; c++) {
      float xh = (xr[c] - mu) * r;
      dr[c] = r * (gr[c] * gamma[c] - sum_g - xh * sum_gx);
    }
  }
}

/*
 * Mean cross-entropy of logits [N, V] against targets [N]: writes the loss to loss[0] and its gradient
 * (softmax − one-hot) / N to grad [N, V] (the backward pass only scales it).
 */
EXPORT(cross_entropy)
void cross_entropy(const float *logits, const int32_t *targets, float *loss, float *grad, int N, int V) {
  double total = 0;
  const float invN = 1.0f / N;
  for (int n = 0; n < N; n++) {
    const float *l = logits + (long)n * V;
    float *g = grad + (long)n * V;
    /* Two pmax chains: a row's max was a loop-carried chain of min/max's NaN rules, 15× slower (see vexp). */
    f4 vmax = splat(-3.0e38f), vmax1 = vmax;
    int v = 0;
    for (; v + 8 <= V; v += 8) {
      vmax = wasm_f32x4_pmax(vmax, wasm_v128_load(l + v));
      vmax1 = wasm_f32x4_pmax(vmax1, wasm_v128_load(l + v + 4));
    }
    for (; v + 4 <= V; v += 4) vmax = wasm_f32x4_pmax(vmax, wasm_v128_load(l + v));
    float mx = hmax(wasm_f32x4_pmax(vmax, vmax1));
    for (; v < V; v++)
      if (l[v] > mx) mx = l[v];
    f4 vs = splat(0), vm = splat(mx);
    for (v = 0; v + 4 <= V; v += 4) {
      f4 e = vexp(wasm_f32x4_sub(wasm_v128_load(l + v), vm));
      wasm_v128_store(g + v, e);
      vs = wasm_f32x4_add(vs, e);
    }
    float sum = hsum(vs);
    for (; v < V; v++) sum += (g[v] = sexp(l[v] - mx));
    int t = targets[n];
    total += (double)(mx + slog(sum) - l[t]);
    float k = invN / sum;
    const f4 vk = splat(k);
    for (v = 0; v + 4 <= V; v += 4) wasm_v128_store(g + v, wasm_f32x4_mul(wasm_v128_load(g + v), vk));
    for (; v < V; v++) g[v] *= k;
    g[t] -= invN;
  }
  loss[0] = (float)(total / N);
}

/* out[c] = Σ_n x[n, c] for x [N, C]: a bias's gradient. */
EXPORT(column_sum)
void column_sum(const float *x, float *out, int N, int C) {
  const int C4 = C & ~3;
  zero(out, C);
  int n = 0;
  for (; n + 4 <= N; n += 4) { /* four rows a pass: out loaded and stored once for four */
    const float *x0 = x + (long)n * C, *x1 = x0 + C, *x2 = x1 + C, *x3 = x2 + C;
    for (int c = 0; c < C4; c += 4) {
      f4 s = wasm_f32x4_add(wasm_f32x4_add(wasm_v128_load(x0 + c), wasm_v128_load(x1 + c)),
                            wasm_f32x4_add(wasm_v128_load(x2 + c), wasm_v128_load(x3 + c)));
      wasm_v128_store(out + c, wasm_f32x4_add(wasm_v128_load(out + c), s));
    }
    for (int c = C4; c < C; c++) out[c] += (x0[c] + x1[c]) + (x2[c] + x3[c]);
  }
  for (; n < N; n++) axpy(out, 1.0f, x + (long)n * C, C);
}

/*
 * One AdamW update of n parameters, in new buffers: p1, m1, v1 from p, g·scale, m, v. `bc1`, `bc2` are the bias
 * corrections 1 − β^t; `decay` is 1 − lr·weightDecay (1 for no decay).
 */
EXPORT(adamw)
void adamw(const float *p, const float *g, const float *m, const float *v, const float *scale, float *p1, float *m1,
           float *v1, int n, float lr, float beta1, float beta2, float bc1, float bc2, float eps, float decay) {
  const float s = scale[0], ibc1 = 1.0f / bc1, ibc2 = 1.0f / bc2;
  for (int i = 0; i < n; i++) {
    float gi = g[i] * s;
    float mi = beta1 * m[i] + (1 - beta1) * gi;
    float vi = beta2 * v[i] + (1 - beta2) * gi * gi;
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = p[i] * decay - lr * (mi * ibc1) / (__builtin_sqrtf(vi * ibc2) + eps);
  }
}

/* One parameter of adamw_many: heap offsets of its weights (read p, write p1), gradient and moments, its size, its decay. */
typedef struct {
  const float *p;
  const float *g;
  float *m, *v, *p1;
  int32_t n;
  float decay;
} AdamWEntry;

/*
 * AdamW's update of `count` parameters in one call: m and v in place (the caller checks that no other tensor
 * shares their memory), the weights into p1 (new buffers: a variable's new data tells caches it changed); the
 * arithmetic of adamw, four lanes at a time. One call instead of a tfjs kernel per parameter and three assigns
 * each, whose dispatch cost more than the arithmetic on small models.
 */
EXPORT(adamw_many)
void adamw_many(const AdamWEntry *e, int count, const float *scale, float lr, float beta1, float beta2, float bc1,
                float bc2, float eps) {
  const float s = scale[0], ibc1 = 1.0f / bc1, ibc2 = 1.0f / bc2;
  const f4 vs = splat(s), b1 = splat(beta1), b2 = splat(beta2), c1 = splat(1 - beta1), c2 = splat(1 - beta2);
  const f4 vlr = splat(lr), vi1 = splat(ibc1), vi2 = splat(ibc2), veps = splat(eps);
  for (int k = 0; k < count; k++) {
    const float *p = e[k].p;
    float *m = e[k].m, *v = e[k].v, *p1 = e[k].p1;
    const float *g = e[k].g;
    const int n = e[k].n;
    const float decay = e[k].decay;
    const f4 vd = splat(decay);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      f4 gi = wasm_f32x4_mul(wasm_v128_load(g + i), vs);
      f4 mi = wasm_f32x4_add(wasm_f32x4_mul(b1, wasm_v128_load(m + i)), wasm_f32x4_mul(c1, gi));
      f4 vi = wasm_f32x4_add(wasm_f32x4_mul(b2, wasm_v128_load(v + i)), wasm_f32x4_mul(wasm_f32x4_mul(c2, gi), gi));
      wasm_v128_store(m + i, mi);
      wasm_v128_store(v + i, vi);
      f4 den = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_mul(vi, vi2)), veps);
      f4 upd = wasm_f32x4_div(wasm_f32x4_mul(vlr, wasm_f32x4_mul(mi, vi1)), den);
      wasm_v128_store(p1 + i, wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(p + i), vd), upd));
    }
    for (; i < n; i++) {
      float gi = g[i] * s;
      float mi = beta1 * m[i] + (1 - beta1) * gi;
      float vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p1[i] = p[i] * decay - lr * (mi * ibc1) / (__builtin_sqrtf(vi * ibc2) + eps);
    }
  }
}

/*
 * dst [batch, C, R] = src [batch, R, C] with its last two axes swapped: 16×16 tiles of 4×4 SIMD transposes
 * (tfjs's own Transpose walks element by element and costs as much as the matmul it feeds).
 */
EXPORT(transpose)
void transpose(const float *src, float *dst, int batch, int R, int C) {
  for (int b = 0; b < batch; b++) {
    const float *s = src + (long)b * R * C;
    float *d = dst + (long)b * R * C;
    for (int i0 = 0; i0 < R; i0 += 16) {
      for (int j0 = 0; j0 < C; j0 += 16) {
        int i1 = i0 + 16 < R ? i0 + 16 : R, j1 = j0 + 16 < C ? j0 + 16 : C;
        if (i1 - i0 < 16 || j1 - j0 < 16) {
          for (int i = i0; i < i1; i++)
            for (int j = j0; j < j1; j++) d[(long)j * R + i] = s[(long)i * C + j];
          continue;
        }
        for (int i = i0; i < i1; i += 4) {
          for (int j = j0; j < j1; j += 4) {
            const float *p = s + (long)i * C + j;
            f4 r0 = wasm_v128_load(p), r1 = wasm_v128_load(p + C), r2 = wasm_v128_load(p + 2 * C),
               r3 = wasm_v128_load(p + 3 * C);
            f4 t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
            f4 t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
            float *q = d + (long)j * R + i;
            wasm_v128_store(q, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
            wasm_v128_store(q + R, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
            wasm_v128_store(q + 2 * R, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
            wasm_v128_store(q + 3 * R, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
          }
        }
      }
    }
  }
}

/*
 * Attention of T new positions (batch 1, generation) against a KV cache: k and v [H, Tc + T, hs] are the cache
 * kpast, vpast [H, Tc, hs] (Tc may be 0) with the new keys and values of qkv [T, 3C] appended; y [T, C]. New
 * position t sits at Tc + t and sees every cached position and the new ones up to itself.
 */
EXPORT(attention_cached)
void attention_cached(const float *qkv, const float *kpast, const float *vpast, float *k, float *v, float *y, int T,
                      int Tc, int H, int hs, float scale) {
  const int C = H * hs, row = 3 * C, Tk = Tc + T;
  float s[Tk];
  for (int h = 0; h < H; h++) {
    float *kh = k + (long)h * Tk * hs, *vh = v + (long)h * Tk * hs;
    for (int j = 0; j < Tc * hs; j++) {
      kh[j] = kpast[(long)h * Tc * hs + j];
      vh[j] = vpast[(long)h * Tc * hs + j];
    }
    for (int t = 0; t < T; t++) {
      for (int d = 0; d < hs; d++) {
        kh[(long)(Tc + t) * hs + d] = qkv[(long)t * row + C + h * hs + d];
        vh[(long)(Tc + t) * hs + d] = qkv[(long)t * row + 2 * C + h * hs + d];
      }
    }
    for (int t = 0; t < T; t++) {
      const float *q = qkv + (long)t * row + h * hs;
      const int n = Tc + t + 1;
      float mx = -3.0e38f, sum = 0;
      for (int j = 0; j < n; j++) {
        s[j] = dot(q, kh + (long)j * hs, hs) * scale;
        if (s[j] > mx) mx = s[j];
      }
      for (int j = 0; j < n; j++) sum += (s[j] = sexp(s[j] - mx));
      float *yt = y + (long)t * C + h * hs;
      zero(yt, hs);
      for (int j = 0; j < n; j++) axpy(yt, s[j] / sum, vh + (long)j * hs, hs);
    }
  }
}

/* out [N, C] = rows ids [N] of table [V, C]; an id outside [0, V) gives a zero row (never a stray read). */
EXPORT(embedding_forward)
void embedding_forward(const float *table, const int32_t *ids, float *out, int N, int V, int C) {
  for (int n = 0; n < N; n++) {
    float *o = out + (long)n * C;
    int id = ids[n];
    if (id < 0 || id >= V) {
      zero(o, C);
      continue;
    }
    const float *r = table + (long)id * C;
    for (int c = 0; c < C; c++) o[c] = r[c];
  }
}

/* dtable [V, C] = Σ over n of dy[n] scattered to row ids[n] (ids outside [0, V) are skipped). */
EXPORT(embedding_backward)
void embedding_backward(const int32_t *ids, const float *dy, float *dtable, int N, int V, int C) {
  zero(dtable, V * C);
  for (int n = 0; n < N; n++) {
    int id = ids[n];
    if (id >= 0 && id < V) axpy(dtable + (long)id * C, 1.0f, dy + (long)n * C, C);
  }
}

/*
 * Token and position embeddings added in one pass: out [N, C] = rows ids [N] of table [V, C] + row n % T of pos
 * [T, C] (the positions of the window, rows of wpe from the first position on; N = B·T).
 */
EXPORT(embedding_pos_forward)
void embedding_pos_forward(const float *table, const int32_t *ids, const float *pos, float *out, int N, int V, int C,
                           int T) {
  for (int n = 0; n < N; n++) {
    float *o = out + (long)n * C;
    const float *p = pos + (long)(n % T) * C;
    int id = ids[n];
    if (id < 0 || id >= V) {
      for (int c = 0; c < C; c++) o[c] = p[c];
      continue;
    }
    const float *r = table + (long)id * C;
    for (int c = 0; c < C; c++) o[c] = r[c] + p[c];
  }
}

/*
 * The backward of embedding_pos_forward: dtable [V, C] as embedding_backward, and dpos [P, C] (P ≥ pos0 + T, the
 * whole position table) = Σ over the batch of dy at position t in row pos0 + t, zeros elsewhere.
 */
EXPORT(embedding_pos_backward)
void embedding_pos_backward(const int32_t *ids, const float *dy, float *dtable, float *dpos, int N, int V, int C,
                            int T, int P, int pos0) {
  embedding_backward(ids, dy, dtable, N, V, C);
  zero(dpos, P * C);
  for (int n = 0; n < N; n++) axpy(dpos + (long)(pos0 + n % T) * C, 1.0f, dy + (long)n * C, C);
}

/*
 * The modern recipe's q and k before attention, on packed qkv [B·T, 3C]: each head's q and k RMS-normalised
 * (no gain; `norm`) and then rotated by position (`cosT`, `sinT` [T, hs], pair i at i and i + hs/2; null: none).
 * out is qkv with those parts replaced (v copied).
 */
EXPORT(qk_prep_forward)
void qk_prep_forward(const float *qkv, float *out, const float *cosT, const float *sinT, int B, int T, int H, int hs,
                     int norm, float eps) {
  const int C = H * hs, row = 3 * C, half = hs / 2;
  float n[hs];
  for (long r = 0; r < (long)B * T; r++) {
    const int t = (int)(r % T);
    const float *x = qkv + r * row;
    float *y = out + r * row;
    for (int c = 2 * C; c < row; c++) y[c] = x[c];
    for (int h = 0; h < 2 * H; h++) { /* q's heads, then k's */
      const float *xh = x + h * hs;
      float *yh = y + h * hs;
      float s = 1.0f;
      if (norm) {
        float ss = 0;
        for (int d = 0; d < hs; d++) ss += xh[d] * xh[d];
        s = 1.0f / __builtin_sqrtf(ss / hs + eps);
      }
      for (int d = 0; d < hs; d++) n[d] = xh[d] * s;
      if (!cosT) {
        for (int d = 0; d < hs; d++) yh[d] = n[d];
        continue;
      }
      const float *c = cosT + (long)t * hs, *sn = sinT + (long)t * hs;
      for (int d = 0; d < half; d++) {
        yh[d] = n[d] * c[d] - n[d + half] * sn[d];
        yh[d + half] = n[d + half] * c[d + half] + n[d] * sn[d + half];
      }
    }
  }
}

/* The gradient of qk_prep_forward: dqkv from dout and the saved qkv (the rotation inverted, then the norm's). */
EXPORT(qk_prep_backward)
void qk_prep_backward(const float *qkv, const float *dout, float *dqkv, const float *cosT, const float *sinT, int B,
                      int T, int H, int hs, int norm, float eps) {
  const int C = H * hs, row = 3 * C, half = hs / 2;
  float dn[hs];
  for (long r = 0; r < (long)B * T; r++) {
    const int t = (int)(r % T);
    const float *x = qkv + r * row, *dy = dout + r * row;
    float *dx = dqkv + r * row;
    for (int c = 2 * C; c < row; c++) dx[c] = dy[c];
    for (int h = 0; h < 2 * H; h++) {
      const float *xh = x + h * hs, *dyh = dy + h * hs;
      float *dxh = dx + h * hs;
      if (cosT) {
        const float *c = cosT + (long)t * hs, *sn = sinT + (long)t * hs;
        for (int d = 0; d < half; d++) {
          dn[d] = dyh[d] * c[d] + dyh[d + half] * sn[d + half];
          dn[d + half] = dyh[d + half] * c[d + half] - dyh[d] * sn[d];
        }
      } else {
        for (int d = 0; d < hs; d++) dn[d] = dyh[d];
      }
      if (!norm) {
        for (int d = 0; d < hs; d++) dxh[d] = dn[d];
        continue;
      }
      float ss = 0, dot_dn_x = 0;
      for (int d = 0; d < hs; d++) {
        ss += xh[d] * xh[d];
        dot_dn_x += dn[d] * xh[d];
      }
      const float s = 1.0f / __builtin_sqrtf(ss / hs + eps);
      /* y = x·s, s = (mean x² + eps)^(-1/2): dx = s·dn − x·s³·mean(dn·x) */
      const float k = s * s * s * dot_dn_x / hs;
      for (int d = 0; d < hs; d++) dxh[d] = s * dn[d] - xh[d] * k;
    }
  }
}

/* Logit soft-cap y = cap·tanh(x / cap). */
EXPORT(softcap_forward)
void softcap_forward(const float *x, float *y, int n, float cap) {
  const f4 vc = splat(cap), vi = splat(1.0f / cap);
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_mul(vc, vtanh(wasm_f32x4_mul(wasm_v128_load(x + i), vi))));
  for (; i < n; i++) y[i] = cap * wasm_f32x4_extract_lane(vtanh(splat(x[i] / cap)), 0);
}

/* Its gradient from the output: dx = dy·(1 − (y/cap)²). */
EXPORT(softcap_backward)
void softcap_backward(const float *y, const float *dy, float *dx, int n, float cap) {
  const float ic = 1.0f / cap;
  for (int i = 0; i < n; i++) {
    float t = y[i] * ic;
    dx[i] = dy[i] * (1.0f - t * t);
  }
}

/* ReLU² (modded-nanogpt's MLP): y = max(x, 0)². */
EXPORT(relu2_forward)
void relu2_forward(const float *x, float *y, int n) {
  const f4 z = splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f4 r = wasm_f32x4_pmax(wasm_v128_load(x + i), z); /* x < 0 ? 0 : x */
    wasm_v128_store(y + i, wasm_f32x4_mul(r, r));
  }
  for (; i < n; i++) {
    float r = x[i] > 0 ? x[i] : 0;
    y[i] = r * r;
  }
}

/* Its gradient: dx = 2·max(x, 0)·dy. */
EXPORT(relu2_backward)
void relu2_backward(const float *x, const float *dy, float *dx, int n) {
  const f4 z = splat(0), two = splat(2.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f4 r = wasm_f32x4_pmax(wasm_v128_load(x + i), z); /* x < 0 ? 0 : x */
    wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_f32x4_mul(r, two), wasm_v128_load(dy + i)));
  }
  for (; i < n; i++) dx[i] = 2.0f * (x[i] > 0 ? x[i] : 0) * dy[i];
}

/* Σ x² over n floats (one gradient's part of the global norm): float lanes per block of 1024, summed in double. */
EXPORT(sum_squares)
double sum_squares(const float *x, int n) {
  double total = 0;
  int i = 0;
  while (i + 4 <= n) {
    f4 s0 = splat(0), s1 = splat(0);
    const int end = n - i > 1024 ? i + 1024 : n;
    for (; i + 8 <= end; i += 8) {
      f4 a = wasm_v128_load(x + i), b = wasm_v128_load(x + i + 4);
      s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(a, a));
      s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(b, b));
    }
    for (; i + 4 <= end; i += 4) {
      f4 a = wasm_v128_load(x + i);
      s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(a, a));
    }
    total += (double)hsum(wasm_f32x4_add(s0, s1));
  }
  for (; i < n; i++) total += (double)x[i] * x[i];
  return total;
}

/*
 * Mean cross-entropy of soft-capped logits y = cap·tanh(x / cap) for x [N, V] against targets [N], in one pass
 * over the logits: loss[0], and the gradient with respect to x (the cap's derivative 1 − (y/cap)² included) in
 * grad [N, V]. V ≤ 65536 (a row of exponentials lives on the stack).
 */
EXPORT(softcap_cross_entropy)
void softcap_cross_entropy(const float *x, const int32_t *targets, float *loss, float *grad, int N, int V, float cap) {
  float e[V];
  double total = 0;
  const float invN = 1.0f / N, ic = 1.0f / cap;
  const f4 vc = splat(cap), vic = splat(ic), one = splat(1.0f);
  for (int n = 0; n < N; n++) {
    const float *l = x + (long)n * V;
    float *g = grad + (long)n * V;
    f4 vmax = splat(-3.0e38f);
    int v = 0;
    for (; v + 4 <= V; v += 4) {
      f4 y = wasm_f32x4_mul(vc, vtanh(wasm_f32x4_mul(wasm_v128_load(l + v), vic)));
      wasm_v128_store(g + v, y);
      vmax = wasm_f32x4_pmax(vmax, y);
    }
    float mx = hmax(vmax);
    for (; v < V; v++) {
      g[v] = cap * wasm_f32x4_extract_lane(vtanh(splat(l[v] * ic)), 0);
      if (g[v] > mx) mx = g[v];
    }
    f4 vs = splat(0), vm = splat(mx);
    for (v = 0; v + 4 <= V; v += 4) {
      f4 ev = vexp(wasm_f32x4_sub(wasm_v128_load(g + v), vm));
      wasm_v128_store(e + v, ev);
      vs = wasm_f32x4_add(vs, ev);
    }
    float sum = hsum(vs);
    for (; v < V; v++) sum += (e[v] = sexp(g[v] - mx));
    const int t = targets[n];
    const float yt = t >= 0 && t < V ? g[t] : mx;
    total += (double)(mx + slog(sum) - yt);
    const float k = invN / sum;
    const f4 vk = splat(k);
    for (v = 0; v + 4 <= V; v += 4) {
      f4 y = wasm_f32x4_mul(wasm_v128_load(g + v), vic);
      f4 d = wasm_f32x4_sub(one, wasm_f32x4_mul(y, y));
      wasm_v128_store(g + v, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(e + v), vk), d));
    }
    for (; v < V; v++) {
      float y = g[v] * ic;
      g[v] = e[v] * k * (1.0f - y * y);
    }
    if (t >= 0 && t < V) {
      float y = yt * ic;
      g[t] -= invN * (1.0f - y * y);
    }
  }
  loss[0] = (float)(total / N);
}
