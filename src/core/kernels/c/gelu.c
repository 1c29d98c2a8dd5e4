/*
 * GPT-2's tanh GELU forward that also writes its derivative, so that the backward pass is one multiply (dy·d)
 * instead of recomputing tanh: y = ½x(1 + t), d = ½(1 + t) + ½x(1 − t²)·k(1 + 3·0.044715x²), t = tanh(k(x +
 * 0.044715x³)). Same arithmetic as kernels.c's gelu_forward/gelu_backward; WebAssembly SIMD, no libc, tfjs's heap.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
typedef v128_t f4;

static inline f4 splat(float x) { return wasm_f32x4_splat(x); }

/* e^x, Cephes' single-precision polynomial, pmin/pmax and the 1.5·2^23 rounding (as kernels.c's vexp). */
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
  f4 pow2n = wasm_i32x4_shl(wasm_i32x4_add(t, wasm_i32x4_splat(127)), 23); /* (n + 127) << 23 */
  return wasm_f32x4_mul(y, pow2n);
}

static const float GELU_K = 0.7978845608028654f; /* √(2/π) */

/*
 * y and d = dy/dx for four values. With r = 1/(e^{2u} + 1): tanh u = 1 − 2r, ½(1 + t) = 1 − r and 1 − t² =
 * 4r(1 − r), so y = x(1 − r) and d = (1 − r) + x·r(1 − r)·2k(1 + 3·0.044715x²) (the 2 of 2u folded into the
 * constants): one division and fewer multiplies than through t.
 */
static inline void gelu4(f4 v, f4 *y, f4 *d) {
  f4 v2 = wasm_f32x4_mul(v, v);
  f4 e = vexp(wasm_f32x4_mul(v, wasm_f32x4_add(splat(2 * GELU_K), wasm_f32x4_mul(splat(2 * GELU_K * 0.044715f), v2))));
  f4 r = wasm_f32x4_div(splat(1.0f), wasm_f32x4_add(e, splat(1.0f)));
  f4 q = wasm_f32x4_sub(splat(1.0f), r); /* ½(1 + tanh u) */
  f4 du2 = wasm_f32x4_add(splat(2 * GELU_K), wasm_f32x4_mul(splat(2 * GELU_K * 3 * 0.044715f), v2));
  *y = wasm_f32x4_mul(v, q);
  *d = wasm_f32x4_add(q, wasm_f32x4_mul(wasm_f32x4_mul(v, du2), wasm_f32x4_mul(r, q)));
}

EXPORT(gelu_forward_derivative)
void gelu_forward_derivative(const float *x, float *y, float *d, int n) {
  int i = 0;
  f4 yv, dv;
  for (; i + 4 <= n; i += 4) {
    gelu4(wasm_v128_load(x + i), &yv, &dv);
    wasm_v128_store(y + i, yv);
    wasm_v128_store(d + i, dv);
  }
  for (; i < n; i++) {
    gelu4(splat(x[i]), &yv, &dv);
    y[i] = wasm_f32x4_extract_lane(yv, 0);
    d[i] = wasm_f32x4_extract_lane(dv, 0);
  }
}
