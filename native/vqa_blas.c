// vqa's optional native kernels: single-precision GEMM from the system's optimized BLAS (OpenBLAS
// on Linux, Accelerate on macOS), found with dlopen at load time so that building needs no BLAS
// headers or libraries, plus the im2col/col2im loops that turn convolutions into GEMMs.
// Arrays are Float32Arrays passed from JavaScript (often views of the wasm backend's heap).
#include <dlfcn.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// CBLAS constants and signatures, as the CBLAS standard fixes them.
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);

static sgemm_fn sgemm = NULL;
static set_threads_fn set_threads = NULL;
// The thread count asked for, and the one OpenBLAS runs with now: products under SMALL_GEMM
// multiply-adds run on one thread, since waking the others costs more than they save.
static int threads_wanted = 1, threads_now = -1;
#define SMALL_GEMM (1 << 25)

static void use_threads(int n) {
  if (set_threads && n != threads_now) set_threads(n);
  threads_now = n;
}
static char library[512] = "";
static char blas_config[256] = "";
static char missing[512] = "";

// The first library that has cblas_sgemm and is optimized (OpenBLAS's config symbol, or Accelerate);
// VQA_BLAS_LIBRARY names the one library to try instead.
static void find_blas(void) {
  static const char *candidates[] = {
#ifdef __APPLE__
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
#endif
      "libopenblas.so.0", "libopenblas.so", "libblas.so.3", NULL};
  const char *chosen[2] = {getenv("VQA_BLAS_LIBRARY"), NULL};
  const char **list = chosen[0] && chosen[0][0] ? chosen : candidates;
  for (int i = 0; list[i]; i++) {
    void *handle = dlopen(list[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    sgemm_fn f = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    get_config_fn config = (get_config_fn)dlsym(handle, "openblas_get_config");
    int accelerate = strstr(list[i], "Accelerate") != NULL;
    if (f && (config || accelerate)) {
      sgemm = f;
      set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
      strncpy(library, list[i], sizeof library - 1);
      strncpy(blas_config, config ? config() : "Accelerate", sizeof blas_config - 1);
      return;
    }
    dlclose(handle);
  }
  snprintf(missing, sizeof missing, "no optimized BLAS found (tried %s%s)", list == chosen ? "VQA_BLAS_LIBRARY=" : "", list[0]);
  for (int i = 1; list[i]; i++) snprintf(missing + strlen(missing) - 1, sizeof missing - strlen(missing) + 1, ", %s)", list[i]);
}

#define CHECK(call)                                                   \
  if ((call) != napi_ok) {                                            \
    napi_throw_error(env, NULL, "vqa_blas: bad arguments to " #call); \
    return NULL;                                                      \
  }

static float *floats(napi_env env, napi_value v, size_t *length) {
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != napi_float32_array) return NULL;
  return (float *)data;
}

static int64_t integer(napi_env env, napi_value v) {
  int64_t out = 0;
  napi_get_value_int64(env, v, &out);
  return out;
}

// sgemm(transA, transB, batch, m, n, k, a, strideA, b, strideB, c): for each batch item i,
// c[i] = op(a[i])·op(b[i]) in row-major order, c[i] of m×n; a stride of 0 broadcasts one matrix.
static napi_value batched_sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11) {
    napi_throw_error(env, NULL, "vqa_blas.sgemm: 11 arguments expected");
    return NULL;
  }
  bool ta, tb;
  CHECK(napi_get_value_bool(env, argv[0], &ta));
  CHECK(napi_get_value_bool(env, argv[1], &tb));
  int64_t batch = integer(env, argv[2]), m = integer(env, argv[3]), n = integer(env, argv[4]), k = integer(env, argv[5]);
  int64_t sa = integer(env, argv[7]), sb = integer(env, argv[9]);
  size_t la, lb, lc;
  float *a = floats(env, argv[6], &la), *b = floats(env, argv[8], &lb), *c = floats(env, argv[10], &lc);
  if (!a || !b || !c || (batch - 1) * sa + m * k > (int64_t)la || (batch - 1) * sb + k * n > (int64_t)lb || batch * m * n > (int64_t)lc) {
    napi_throw_range_error(env, NULL, "vqa_blas.sgemm: an array is shorter than its shape");
    return NULL;
  }
  use_threads(m * n * k < SMALL_GEMM ? 1 : threads_wanted);
  for (int64_t i = 0; i < batch; i++) {
    sgemm(CBLAS_ROW_MAJOR, ta ? CBLAS_TRANS : CBLAS_NO_TRANS, tb ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)m, (int)n, (int)k, 1.0f, a + i * sa,
          ta ? (int)m : (int)k, b + i * sb, tb ? (int)k : (int)n, 0.0f, c + i * m * n, (int)n);
  }
  return NULL;
}

// The geometry shared by im2col and col2im: NHWC images, a kh×kw window, strides, top/left padding.
typedef struct {
  int64_t n, h, w, c, kh, kw, sh, sw, pt, pl, ho, wo;
} conv_shape;

static int read_shape(napi_env env, napi_value *argv, conv_shape *s) {
  int64_t *fields[] = {&s->n, &s->h, &s->w, &s->c, &s->kh, &s->kw, &s->sh, &s->sw, &s->pt, &s->pl, &s->ho, &s->wo};
  for (int i = 0; i < 12; i++) *fields[i] = integer(env, argv[i]);
  return s->n > 0 && s->h > 0 && s->w > 0 && s->c > 0 && s->kh > 0 && s->kw > 0 && s->sh > 0 && s->sw > 0 && s->ho > 0 && s->wo > 0;
}

// Rows (b, oy, ox), columns (ky, kx, ci): the window of every output pixel, zero outside the image.
// With `scatter`, the reverse: the columns are added back into the image (which starts at zero).
static napi_value window_copy(napi_env env, napi_callback_info info, int scatter) {
  size_t argc = 14;
  napi_value argv[14];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  conv_shape s;
  size_t limage, lcols;
  float *image = argc == 14 ? floats(env, argv[0], &limage) : NULL;
  float *cols = argc == 14 ? floats(env, argv[1], &lcols) : NULL;
  if (!image || !cols || !read_shape(env, argv + 2, &s) || s.n * s.h * s.w * s.c > (int64_t)limage || s.n * s.ho * s.wo * s.kh * s.kw * s.c > (int64_t)lcols) {
    napi_throw_range_error(env, NULL, "vqa_blas: im2col/col2im arguments do not fit their arrays");
    return NULL;
  }
  if (scatter) memset(image, 0, sizeof(float) * s.n * s.h * s.w * s.c);
  const int64_t row = s.kh * s.kw * s.c;
  for (int64_t b = 0; b < s.n; b++)
    for (int64_t oy = 0; oy < s.ho; oy++)
      for (int64_t ox = 0; ox < s.wo; ox++) {
        float *col = cols + ((b * s.ho + oy) * s.wo + ox) * row;
        for (int64_t ky = 0; ky < s.kh; ky++) {
          int64_t y = oy * s.sh + ky - s.pt;
          for (int64_t kx = 0; kx < s.kw; kx++) {
            int64_t x = ox * s.sw + kx - s.pl;
            float *cell = col + (ky * s.kw + kx) * s.c;
            int inside = y >= 0 && y < s.h && x >= 0 && x < s.w;
            float *pixel = inside ? image + ((b * s.h + y) * s.w + x) * s.c : NULL;
            if (scatter) {
              if (inside)
                for (int64_t ci = 0; ci < s.c; ci++) pixel[ci] += cell[ci];
            } else if (inside) {
              memcpy(cell, pixel, sizeof(float) * s.c);
            } else {
              memset(cell, 0, sizeof(float) * s.c);
            }
          }
        }
      }
  return NULL;
}

static napi_value im2col(napi_env env, napi_callback_info info) { return window_copy(env, info, 0); }
static napi_value col2im(napi_env env, napi_callback_info info) { return window_copy(env, info, 1); }

// sumAxes(x, outer, reduce, inner, out): out[o, i] = Σ_r x[o, r, i], the sum over a contiguous
// block of axes. Eight partial sums per row when inner = 1, so that the compiler can vectorise.
static napi_value sum_axes(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t lx, lo;
  float *x = argc == 5 ? floats(env, argv[0], &lx) : NULL;
  float *out = argc == 5 ? floats(env, argv[4], &lo) : NULL;
  int64_t outer = integer(env, argv[1]), reduce = integer(env, argv[2]), inner = integer(env, argv[3]);
  if (!x || !out || outer < 1 || reduce < 1 || inner < 1 || outer * reduce * inner > (int64_t)lx || outer * inner > (int64_t)lo) {
    napi_throw_range_error(env, NULL, "vqa_blas.sumAxes: arguments do not fit their arrays");
    return NULL;
  }
  for (int64_t o = 0; o < outer; o++) {
    const float *block = x + o * reduce * inner;
    float *dst = out + o * inner;
    if (inner == 1) {
      float lanes[8] = {0};
      int64_t r = 0;
      for (; r + 8 <= reduce; r += 8)
        for (int l = 0; l < 8; l++) lanes[l] += block[r + l];
      float total = 0;
      for (; r < reduce; r++) total += block[r];
      for (int l = 0; l < 8; l++) total += lanes[l];
      dst[0] = total;
    } else {
      memcpy(dst, block, sizeof(float) * inner);
      for (int64_t r = 1; r < reduce; r++)
        for (int64_t i = 0; i < inner; i++) dst[i] += block[r * inner + i];
    }
  }
  return NULL;
}

static napi_value set_thread_count(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc == 1) threads_wanted = (int)integer(env, argv[0]);
  return NULL;
}

static napi_value string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  if (!sgemm) find_blas();
  napi_value fn;
  if (sgemm) {
    napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, batched_sgemm, NULL, &fn);
    napi_set_named_property(env, exports, "sgemm", fn);
    napi_create_function(env, "im2col", NAPI_AUTO_LENGTH, im2col, NULL, &fn);
    napi_set_named_property(env, exports, "im2col", fn);
    napi_create_function(env, "col2im", NAPI_AUTO_LENGTH, col2im, NULL, &fn);
    napi_set_named_property(env, exports, "col2im", fn);
    napi_create_function(env, "sumAxes", NAPI_AUTO_LENGTH, sum_axes, NULL, &fn);
    napi_set_named_property(env, exports, "sumAxes", fn);
    napi_create_function(env, "setThreads", NAPI_AUTO_LENGTH, set_thread_count, NULL, &fn);
    napi_set_named_property(env, exports, "setThreads", fn);
    napi_set_named_property(env, exports, "library", string(env, library));
    napi_set_named_property(env, exports, "config", string(env, blas_config));
  } else {
    napi_set_named_property(env, exports, "missing", string(env, missing));
  }
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
