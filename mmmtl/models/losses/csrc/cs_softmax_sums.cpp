// The Cauchy-Schwarz terms of CSDivergenceLoss on the CPU, float32, fused.
//
// Student and teacher logits are (N, A, B), contiguous. Each "row" is a
// distribution softmax(x * scale) along `class_dim` (1: the A classes of a
// pixel; 2: the B locations of a map); the "columns" are the indices of
// class_dim. cs_terms_forward computes both softmaxes, per row and per column
// sum p^2, sum q^2 and sum p*q, and from them the mean CS divergence of the
// rows (inter) and of the columns (intra); cs_terms_backward maps the two
// gradients back to the student logits. The PyTorch path of
// cs_divergence_loss.py computes the same in a dozen passes over memory.
//
// The arithmetic is written on float vectors (GCC/Clang vector extensions) of
// 8 lanes, and of 16 lanes in the channel layout's workers. On x86-64 with
// GCC, those workers are built for AVX-512 (x86-64-v4, 16 lanes), AVX2
// (x86-64-v3) and the baseline, and the best one the CPU runs is picked at
// load time (`isa()` tells which; `use_isa()` switches, for tests); the other
// workers get an AVX2 and a baseline clone. Long sums are taken in double and
// column sums are reduced in a fixed order, so results do not depend on the
// thread count.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MMMTL_X86_VARIANTS 1
#define MMMTL_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MMMTL_X86_VARIANTS 0
#define MMMTL_TARGET_CLONES
#endif
#define MMMTL_INLINE __attribute__((always_inline)) inline

namespace {

using at::Tensor;

template <int kWidth>
struct Lanes {
  typedef float Floats __attribute__((vector_size(4 * kWidth)));
  typedef int32_t Ints __attribute__((vector_size(4 * kWidth)));
};
typedef Lanes<8>::Floats Vec;
typedef Lanes<8>::Ints Mask;
template <typename V>
using MaskOf = decltype(V{} < V{});  // the int vector of V's lane count
template <typename V>
constexpr int64_t lanes_of() {
  return sizeof(V) / sizeof(float);
}
constexpr int64_t kLanes = 8;
constexpr int64_t kMaxLanes = 16;
constexpr int64_t kBlock = 256;   // pixels per block when the classes are dim 1
constexpr int64_t kChunk = 2048;  // float partial sums before adding to a double
// Loops over fewer elements than this run on the calling thread: waking the
// thread pool costs more than it saves (tens of microseconds per loop).
constexpr int64_t kParallelWork = 1 << 16;

// Grain of a parallel loop whose iterations each touch `work` elements.
inline int64_t grain_for(int64_t work) {
  return std::max<int64_t>(1, kParallelWork / std::max<int64_t>(work, 1));
}

template <typename V = Vec>
MMMTL_INLINE V splat(float value) {
  return V{} + value;
}

template <typename V = Vec>
MMMTL_INLINE V load(const float* src) {
  V v;
  std::memcpy(&v, src, sizeof(v));
  return v;
}

template <typename V>
MMMTL_INLINE void store(float* dst, V v) {
  std::memcpy(dst, &v, sizeof(v));
}

// Partial vectors at the end of a row, through memory: out of line, so that
// the compiler cannot fold the full-vector copies above into a variable-size
// memcpy call, and without vector arguments (whose ABI differs between the
// AVX2 and baseline clones).
__attribute__((noinline)) void copy_partial(float* dst, const float* src, int64_t count) {
  std::memcpy(dst, src, count * sizeof(float));
}

// `count` (1..lanes) floats from `src`; lanes past `count` hold `fill`.
template <typename V = Vec>
MMMTL_INLINE V load(const float* src, int64_t count, float fill = 0.0f) {
  if (count == lanes_of<V>()) return load<V>(src);
  alignas(64) float lanes[kMaxLanes];
  for (int64_t i = 0; i < kMaxLanes; ++i) lanes[i] = fill;
  copy_partial(lanes, src, count);
  return load<V>(lanes);
}

template <typename V>
MMMTL_INLINE void store(float* dst, V v, int64_t count) {
  if (count == lanes_of<V>()) {
    store(dst, v);
  } else {
    alignas(64) float lanes[kMaxLanes];
    store(lanes, v);
    copy_partial(dst, lanes, count);
  }
}

// Lanes < count: all ones; the others: 0.
template <typename V = Vec>
MMMTL_INLINE MaskOf<V> first_lanes(int64_t count) {
  MaskOf<V> lane;
  for (int i = 0; i < lanes_of<V>(); ++i) lane[i] = i;
  return lane < static_cast<int32_t>(count);
}

// Sum of the lanes, halves first (a fixed order for a given lane count).
template <typename V>
MMMTL_INLINE float lane_sum(V v) {
  if constexpr (lanes_of<V>() == 8) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  } else {
    Vec low, high;
    std::memcpy(&low, &v, sizeof(low));
    std::memcpy(&high, reinterpret_cast<const char*>(&v) + sizeof(low), sizeof(high));
    return lane_sum(low + high);
  }
}

// exp(z) for z <= 0: Taylor polynomial of degree 6 on |r| <= ln2/2 times 2^n
// (relative error < 2e-7); 0 below the normal range. NaN gives NaN (through
// the polynomial).
template <typename V>
MMMTL_INLINE V exp_nonpositive(V z) {
  using M = MaskOf<V>;
  const V lowest = splat<V>(-87.0f);
  const M below = z < lowest;
  const V zc = below ? lowest : z;
  const M n = __builtin_convertvector(zc * 1.44269504088896341f - 0.5f, M);  // round
  const V nf = __builtin_convertvector(n, V);
  const V r = (zc - nf * 0.693145751953125f) - nf * 1.428606765330187e-06f;
  V poly = splat<V>(1.0f / 720);
  poly = poly * r + 1.0f / 120;
  poly = poly * r + 1.0f / 24;
  poly = poly * r + 1.0f / 6;
  poly = poly * r + 0.5f;
  poly = poly * r + 1.0f;
  poly = poly * r + 1.0f;
  M bits = (n + 127) << 23;  // 2^n, n in [-126, 0]
  bits = below ? M{} : bits;
  return poly * (V)bits;
}

// log(x) = exponent * ln2 + log_mantissa for normal x > 0, with x = m 2^e,
// m in [sqrt(1/2), sqrt(2)) and log(m) = 2 atanh((m - 1) / (m + 1)) by its
// series to the 9th power (|error| < 1e-9 + float rounding). The parts are
// kept apart so that differences of logs cancel the exponents exactly.
MMMTL_INLINE Mask log_parts(Vec x, Vec* log_mantissa) {
  const Mask bits = (Mask)x;
  Mask exponent = ((bits >> 23) & 0xff) - 127;
  Mask mantissa_bits = (bits & 0x7fffff) | 0x3f800000;  // m in [1, 2)
  const Mask high = mantissa_bits > 0x3fb504f3;         // m > sqrt(2): use m / 2
  mantissa_bits = high ? mantissa_bits - 0x00800000 : mantissa_bits;
  exponent = high ? exponent + 1 : exponent;
  const Vec m = (Vec)mantissa_bits;
  const Vec y = (m - 1.0f) / (m + 1.0f), y2 = y * y;
  Vec series = splat(1.0f / 9);
  series = series * y2 + 1.0f / 7;
  series = series * y2 + 1.0f / 5;
  series = series * y2 + 1.0f / 3;
  series = series * y2 + 1.0f;
  *log_mantissa = 2.0f * y * series;
  return exponent;
}

void check_input(const Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), "cs_softmax_sums: ", name, " must be a CPU tensor");
  TORCH_CHECK(t.scalar_type() == at::kFloat, "cs_softmax_sums: ", name, " must be float32");
  TORCH_CHECK(t.dim() == 3 && t.is_contiguous(), "cs_softmax_sums: ", name,
              " must be a contiguous (N, A, B) tensor");
}

struct Sums {  // outputs of the class_dim-2 forward; cross_rows is null without a teacher
  float *p, *sq_rows, *cross_rows;
};

// ------------------------------------------------------------- class_dim = 1
// x[n][a][b]: A classes, B pixels, taken in blocks of kBlock pixels (the unit
// of the column partial sums, so that they do not depend on the threads) and,
// in a block, one vector of pixels at a time: its max, sums and row sums stay
// in registers, its exponentials in a small per-thread buffer (L1). No
// probabilities are written: the forward keeps each pixel's softmax max and
// 1 / sum (stats), and the backward recomputes p and q from the logits with
// the same arithmetic. A partial vector at the end of a map is copied to a
// scratch (classes W apart) and takes the same code.

// Per-pixel softmax stats of (N, A, B) logits: max and 1 / sum of the student
// and of the teacher, each (N, B), at stats + {0, 1, 2, 3} * N * B.
struct PixelStats {
  const float *max_s, *inv_s, *max_t, *inv_t;
};

MMMTL_INLINE PixelStats pixel_stats(const float* stats, int64_t N, int64_t B, int64_t offset) {
  const int64_t size = N * B;
  return {stats + offset, stats + size + offset, stats + 2 * size + offset,
          stats + 3 * size + offset};
}

struct ClassesFirstForward {
  const float *student, *teacher;
  float* stats;                                  // see pixel_stats
  float *sq_rows, *cross_rows, *teacher_sq_rows;  // (N, 1, B)
  double* col_partial;  // [block][3][A]: sum p^2, sum p*q, sum q^2 over the block's pixels
  int64_t N, A, B;
  float scale;
};

struct ClassesFirstBackward {
  const float *student, *teacher, *stats;
  const float *g_sq_rows, *g_cross_rows;  // (N, 1, B)
  const float *g_sq_cols, *g_cross_cols;  // (A)
  float* grad;
  int64_t N, A, B;
  float scale;
};

// Copies `count` < W pixels of A classes (`stride` apart) to scratch[a][W],
// zero-filled.
template <typename V>
void gather_partial(const float* src, int64_t A, int64_t stride, int64_t count, float* scratch) {
  for (int64_t a = 0; a < A; ++a) {
    store(scratch + a * lanes_of<V>(), load<V>(src + a * stride, count));
  }
}

// The student and teacher logits of a vector of `count` pixels: in place
// (classes B apart) or, for a partial vector, copied to scratch[2][A][W]
// (classes W apart). Points `student` / `teacher` at them; returns the stride.
template <typename V>
MMMTL_INLINE int64_t pixel_vector(const float*& student, const float*& teacher, int64_t A,
                                  int64_t B, int64_t count, float* scratch) {
  constexpr int64_t W = lanes_of<V>();
  if (count == W) return B;
  gather_partial<V>(student, A, B, count, scratch);
  gather_partial<V>(teacher, A, B, count, scratch + A * W);
  student = scratch, teacher = scratch + A * W;
  return W;
}

// Pixels ahead whose cache lines are asked for while a vector is processed:
// the A class rows of a block are A separate streams, more than the hardware
// prefetcher follows (the backward gained ~30 % on Intel; 16 to 256 pixels
// ahead measured alike).
constexpr int64_t kPrefetchAhead = 256;

MMMTL_INLINE void prefetch_ahead(const float* student, const float* teacher, bool within) {
  if (within) {
    __builtin_prefetch(student + kPrefetchAhead);
    __builtin_prefetch(teacher + kPrefetchAhead);
  }
}

template <typename V>
MMMTL_INLINE void forward_classes_first_blocks(const ClassesFirstForward& f, int64_t begin,
                                               int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  const int64_t A = f.A, B = f.B, blocks_per_map = (B + kBlock - 1) / kBlock;
  // exp of the student and of the teacher, then the block's column sums
  std::vector<float> buffers((2 * A + 3 * A) * W);
  float *exp_s = buffers.data(), *exp_t = exp_s + A * W, *cols = exp_t + A * W;
  std::vector<float> scratch(2 * A * W);  // a partial vector's logits
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t block = begin; block < end; ++block) {
    const int64_t n = block / blocks_per_map, b0 = (block % blocks_per_map) * kBlock;
    const int64_t len = std::min(kBlock, B - b0), base = n * A * B + b0;
    std::fill(cols, cols + 3 * A * W, 0.0f);
    for (int64_t l = 0; l < len; l += W) {
      const int64_t count = std::min(W, len - l);
      const float *xs = f.student + base + l, *xt = f.teacher + base + l;
      const int64_t stride = pixel_vector<V>(xs, xt, A, B, count, scratch.data());
      V max_s = splat<V>(neg_inf), max_t = max_s;
      for (int64_t a = 0; a < A; ++a) {
        prefetch_ahead(xs + a * stride, xt + a * stride, b0 + l + kPrefetchAhead < B);
        const V s = load<V>(xs + a * stride), t = load<V>(xt + a * stride);
        store(exp_s + a * W, s);  // the next pass reads them from here (L1)
        store(exp_t + a * W, t);
        max_s = s > max_s ? s : max_s;
        max_t = t > max_t ? t : max_t;
      }
      V sum_s = V{}, sum_t = V{}, ss = V{}, st = V{}, tt = V{};
      for (int64_t a = 0; a < A; ++a) {
        const V es = exp_nonpositive((load<V>(exp_s + a * W) - max_s) * f.scale);
        const V et = exp_nonpositive((load<V>(exp_t + a * W) - max_t) * f.scale);
        store(exp_s + a * W, es);
        store(exp_t + a * W, et);
        sum_s += es, sum_t += et;
        ss += es * es, st += es * et, tt += et * et;
      }
      V inv_s = 1.0f / sum_s, inv_t = 1.0f / sum_t;
      const int64_t row = n * B + b0 + l;
      store(f.sq_rows + row, ss * inv_s * inv_s, count);
      store(f.cross_rows + row, st * inv_s * inv_t, count);
      store(f.teacher_sq_rows + row, tt * inv_t * inv_t, count);
      float* stats = f.stats + row;  // the layout of pixel_stats
      for (const V& values : {max_s, inv_s, max_t, inv_t}) {
        store(stats, values, count);
        stats += f.N * B;
      }
      if (count < W) {  // padding lanes add nothing to the columns
        const MaskOf<V> keep = first_lanes<V>(count);
        inv_s = keep ? inv_s : V{};
        inv_t = keep ? inv_t : V{};
      }
      for (int64_t a = 0; a < A; ++a) {
        const V p = load<V>(exp_s + a * W) * inv_s, q = load<V>(exp_t + a * W) * inv_t;
        float* col = cols + 3 * a * W;
        store(col, load<V>(col) + p * p);
        store(col + W, load<V>(col + W) + p * q);
        store(col + 2 * W, load<V>(col + 2 * W) + q * q);
      }
    }
    double* part = f.col_partial + block * 3 * A;
    for (int64_t a = 0; a < A; ++a) {
      for (int64_t i = 0; i < 3; ++i) part[i * A + a] = lane_sum(load<V>(cols + (3 * a + i) * W));
    }
  }
}

// grad_x = scale * p * (g - sum_class p * g), with
// g = 2 p (grad_sq_rows + grad_sq_cols) + q (grad_cross_rows + grad_cross_cols),
// p and q recomputed from the logits and the forward's stats.
template <typename V>
MMMTL_INLINE void backward_classes_first_blocks(const ClassesFirstBackward& g, int64_t begin,
                                                int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  const int64_t A = g.A, B = g.B, blocks_per_map = (B + kBlock - 1) / kBlock;
  std::vector<float> buffers(2 * A * W);  // p * g and p of a vector of pixels
  float *pg = buffers.data(), *probs = pg + A * W;
  std::vector<float> scratch(3 * A * W);  // a partial vector's logits and gradient
  for (int64_t block = begin; block < end; ++block) {
    const int64_t n = block / blocks_per_map, b0 = (block % blocks_per_map) * kBlock;
    const int64_t len = std::min(kBlock, B - b0), base = n * A * B + b0;
    for (int64_t l = 0; l < len; l += W) {
      const int64_t count = std::min(W, len - l);
      const float *xs = g.student + base + l, *xt = g.teacher + base + l;
      const int64_t stride = pixel_vector<V>(xs, xt, A, B, count, scratch.data());
      // a partial vector's gradient goes through scratch too, then to grad
      float* out = count < W ? scratch.data() + 2 * A * W : g.grad + base + l;
      const int64_t row = n * B + b0 + l;
      const PixelStats st = pixel_stats(g.stats, g.N, B, row);
      // padding lanes: inv 0, so p = q = 0 there
      const V max_s = load<V>(st.max_s, count), inv_s = load<V>(st.inv_s, count);
      const V max_t = load<V>(st.max_t, count), inv_t = load<V>(st.inv_t, count);
      const V g_sq_row = load<V>(g.g_sq_rows + row, count);
      const V g_cross_row = load<V>(g.g_cross_rows + row, count);
      V dot = V{};
      for (int64_t a = 0; a < A; ++a) {
        prefetch_ahead(xs + a * stride, xt + a * stride, b0 + l + kPrefetchAhead < B);
        const V p = exp_nonpositive((load<V>(xs + a * stride) - max_s) * g.scale) * inv_s;
        const V q = exp_nonpositive((load<V>(xt + a * stride) - max_t) * g.scale) * inv_t;
        const V d = 2.0f * p * (g_sq_row + g.g_sq_cols[a]) + q * (g_cross_row + g.g_cross_cols[a]);
        const V u = p * d;
        store(pg + a * W, u);
        store(probs + a * W, p);
        dot += u;
      }
      for (int64_t a = 0; a < A; ++a) {
        store(out + a * stride, g.scale * (load<V>(pg + a * W) - load<V>(probs + a * W) * dot));
      }
      if (count < W) {
        for (int64_t a = 0; a < A; ++a) copy_partial(g.grad + base + l + a * B, out + a * W, count);
      }
    }
  }
}

// One entry point per worker and instruction set; `Kernels` holds the chosen ones.
#define MMMTL_WORKER_VARIANT(name, Args, attributes, suffix, V)      \
  attributes void name##_##suffix(const Args& args, int64_t begin, int64_t end) { \
    name<V>(args, begin, end);                                          \
  }
#if MMMTL_X86_VARIANTS
#define MMMTL_WORKER(name, Args)                                                          \
  MMMTL_WORKER_VARIANT(name, Args, __attribute__((target("arch=x86-64-v4"))), avx512,    \
                       Lanes<16>::Floats)                                                 \
  MMMTL_WORKER_VARIANT(name, Args, __attribute__((target("arch=x86-64-v3"))), avx2, Vec) \
  MMMTL_WORKER_VARIANT(name, Args, , baseline, Vec)
#else
#define MMMTL_WORKER(name, Args) MMMTL_WORKER_VARIANT(name, Args, , baseline, Vec)
#endif
MMMTL_WORKER(forward_classes_first_blocks, ClassesFirstForward)
MMMTL_WORKER(backward_classes_first_blocks, ClassesFirstBackward)

struct Kernels {
  const char* isa;
  void (*forward_classes_first)(const ClassesFirstForward&, int64_t, int64_t);
  void (*backward_classes_first)(const ClassesFirstBackward&, int64_t, int64_t);
};

#define MMMTL_KERNELS(suffix) \
  Kernels { #suffix, forward_classes_first_blocks_##suffix, backward_classes_first_blocks_##suffix }

// The variants this CPU runs, best first.
std::vector<Kernels> supported_kernels() {
  std::vector<Kernels> kernels;
#if MMMTL_X86_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) kernels.push_back(MMMTL_KERNELS(avx512));
  if (__builtin_cpu_supports("x86-64-v3")) kernels.push_back(MMMTL_KERNELS(avx2));
#endif
  kernels.push_back(MMMTL_KERNELS(baseline));
  return kernels;
}

Kernels& active_kernels() {
  static Kernels kernels = supported_kernels().front();
  return kernels;
}

// ------------------------------------------------------------- class_dim = 2
// x[r][b] with r = n * A + a: rows of B locations, each one distribution.
MMMTL_TARGET_CLONES
void forward_classes_last_rows(const float* x, const float* q, Sums out, int64_t B, float scale,
                               int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * B;
    float* prow = out.p + r * B;
    const float* qrow = q ? q + r * B : nullptr;
    const float neg_inf = -std::numeric_limits<float>::infinity();
    Vec vmax = splat(neg_inf);
    for (int64_t b = 0; b < B; b += kLanes) {
      const Vec v = load(row + b, std::min(kLanes, B - b), neg_inf);
      vmax = v > vmax ? v : vmax;
    }
    const float m = std::max(std::max(std::max(vmax[0], vmax[1]), std::max(vmax[2], vmax[3])),
                             std::max(std::max(vmax[4], vmax[5]), std::max(vmax[6], vmax[7])));
    double total = 0.0;
    for (int64_t c = 0; c < B; c += kChunk) {
      Vec acc = Vec{};
      for (int64_t b = c; b < std::min(B, c + kChunk); b += kLanes) {
        const int64_t k = std::min(kLanes, B - b);
        const Vec e = exp_nonpositive((load(row + b, k, neg_inf) - m) * scale);
        store(prow + b, e, k);
        acc += e;
      }
      total += lane_sum(acc);
    }
    const float inv = static_cast<float>(1.0 / total);
    double sq = 0.0, cross = 0.0;
    for (int64_t c = 0; c < B; c += kChunk) {
      Vec acc_sq = Vec{}, acc_cross = Vec{};
      for (int64_t b = c; b < std::min(B, c + kChunk); b += kLanes) {
        const int64_t k = std::min(kLanes, B - b);
        const Vec v = load(prow + b, k) * inv;
        store(prow + b, v, k);
        acc_sq += v * v;
        if (q) acc_cross += v * load(qrow + b, k);
      }
      sq += lane_sum(acc_sq);
      cross += lane_sum(acc_cross);
    }
    out.sq_rows[r] = static_cast<float>(sq);
    if (q) out.cross_rows[r] = static_cast<float>(cross);
  }
}

// Column sums: every location over all R rows, in row order, in double.
void column_sums_classes_last(const float* p, const float* q, float* sq_cols, float* cross_cols,
                              int64_t R, int64_t B, int64_t begin, int64_t end) {
  std::vector<double> col_sq(end - begin, 0.0), col_cross(q ? end - begin : 0, 0.0);
  for (int64_t r = 0; r < R; ++r) {
    const float* prow = p + r * B;
    for (int64_t b = begin; b < end; ++b) col_sq[b - begin] += double(prow[b]) * prow[b];
    if (q) {
      const float* qrow = q + r * B;
      for (int64_t b = begin; b < end; ++b) col_cross[b - begin] += double(prow[b]) * qrow[b];
    }
  }
  for (int64_t b = begin; b < end; ++b) {
    sq_cols[b] = static_cast<float>(col_sq[b - begin]);
    if (q) cross_cols[b] = static_cast<float>(col_cross[b - begin]);
  }
}

MMMTL_TARGET_CLONES
void backward_classes_last_rows(const float* p, const float* q, const float* g_sq_rows,
                                const float* g_cross_rows, const float* g_sq_cols,
                                const float* g_cross_cols, float* grad, int64_t B, float scale,
                                int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float *prow = p + r * B, *qrow = q + r * B;
    float* grow = grad + r * B;
    const float gsr = g_sq_rows[r], gcr = g_cross_rows[r];
    double dot = 0.0;
    for (int64_t c = 0; c < B; c += kChunk) {
      Vec acc = Vec{};
      for (int64_t b = c; b < std::min(B, c + kChunk); b += kLanes) {
        const int64_t k = std::min(kLanes, B - b);
        const Vec pv = load(prow + b, k);
        const Vec g = 2.0f * pv * (gsr + load(g_sq_cols + b, k)) +
                      load(qrow + b, k) * (gcr + load(g_cross_cols + b, k));
        store(grow + b, g, k);
        acc += pv * g;
      }
      dot += lane_sum(acc);
    }
    const float dot_f = static_cast<float>(dot);
    for (int64_t b = 0; b < B; b += kLanes) {
      const int64_t k = std::min(kLanes, B - b);
      store(grow + b, scale * load(prow + b, k) * (load(grow + b, k) - dot_f), k);
    }
  }
}

// softmax(logits * scale) along dim 2 of (N, A, B) logits and its sums:
// [p, sq_rows (N, A, 1), sq_cols (1, 1, B)] and, with `teacher_probs`,
// [..., cross_rows, cross_cols].
std::vector<Tensor> softmax_sums_classes_last(const Tensor& logits,
                                              const c10::optional<Tensor>& teacher_probs,
                                              double scale) {
  const bool with_teacher = teacher_probs.has_value();
  const int64_t N = logits.size(0), A = logits.size(1), B = logits.size(2);
  const auto options = logits.options();
  Tensor p = at::empty_like(logits);
  Tensor sq_rows = at::empty({N, A, 1}, options), sq_cols = at::empty({1, 1, B}, options);
  Tensor cross_rows = at::empty({with_teacher ? N : 0, A, 1}, options);
  Tensor cross_cols = at::empty({1, 1, with_teacher ? B : 0}, options);
  const float* x = logits.data_ptr<float>();
  const float* q = with_teacher ? teacher_probs->data_ptr<float>() : nullptr;
  float* cross_cols_ptr = with_teacher ? cross_cols.data_ptr<float>() : nullptr;
  Sums out{p.data_ptr<float>(), sq_rows.data_ptr<float>(),
           with_teacher ? cross_rows.data_ptr<float>() : nullptr};
  const float s = static_cast<float>(scale);
  at::parallel_for(0, N * A, grain_for(B), [&](int64_t begin, int64_t end) {
    forward_classes_last_rows(x, q, out, B, s, begin, end);
  });
  at::parallel_for(0, B, std::max<int64_t>(64, grain_for(N * A)), [&](int64_t begin, int64_t end) {
    column_sums_classes_last(out.p, q, sq_cols.data_ptr<float>(), cross_cols_ptr, N * A, B, begin,
                             end);
  });
  if (with_teacher) return {p, sq_rows, sq_cols, cross_rows, cross_cols};
  return {p, sq_rows, sq_cols};
}

// Gradient w.r.t. the logits from the gradients of the four sums and the
// forward's values: class_dim 1: student and teacher logits and their pixel
// stats; class_dim 2: student and teacher probabilities.
Tensor sums_backward(const std::vector<Tensor>& values, const Tensor& grad_sq_rows,
                     const Tensor& grad_cross_rows, const Tensor& grad_sq_cols,
                     const Tensor& grad_cross_cols, int64_t class_dim, double scale) {
  Tensor grad = at::empty_like(values[0]);
  const int64_t N = grad.size(0), A = grad.size(1), B = grad.size(2);
  const float s = static_cast<float>(scale);
  // class_dim 1: logits; class_dim 2: probabilities
  const float *student = values[0].data_ptr<float>(), *teacher = values[1].data_ptr<float>();
  const float *gsr = grad_sq_rows.data_ptr<float>(), *gcr = grad_cross_rows.data_ptr<float>();
  const float *gsc = grad_sq_cols.data_ptr<float>(), *gcc = grad_cross_cols.data_ptr<float>();
  float* g = grad.data_ptr<float>();
  if (class_dim == 1) {
    const ClassesFirstBackward args{student, teacher, values[2].data_ptr<float>(), gsr, gcr, gsc,
                                    gcc, g, N, A, B, s};
    const auto worker = active_kernels().backward_classes_first;
    const int64_t num_blocks = N * ((B + kBlock - 1) / kBlock);
    at::parallel_for(0, num_blocks, grain_for(A * kBlock),
                     [&](int64_t begin, int64_t end) { worker(args, begin, end); });
  } else {
    at::parallel_for(0, N * A, grain_for(B), [&](int64_t begin, int64_t end) {
      backward_classes_last_rows(student, teacher, gsr, gcr, gsc, gcc, g, B, s, begin, end);
    });
  }
  return grad;
}

// D_CS means from the sums: inter = mean_r [(log sq_r + log tsq_r) / 2 - log cross_r],
// intra the same over the columns. False if a sum is below `safe_sum` or not
// finite (then the caller computes in log space). Fixed chunks, summed in
// order: the result does not depend on the thread count.
MMMTL_TARGET_CLONES
void cs_log_ratios(const float* sq, const float* teacher_sq, const float* cross, int64_t count,
                   float safe_sum, int64_t begin, int64_t end, double* partial, char* safe) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t chunk = begin; chunk < end; ++chunk) {
    Vec total = Vec{};
    Mask fine = Mask{} - 1;
    for (int64_t i = chunk * kChunk; i < std::min(count, (chunk + 1) * kChunk); i += kLanes) {
      const int64_t k = std::min(kLanes, count - i);
      const Vec a = load(sq + i, k, 1.0f), t = load(teacher_sq + i, k, 1.0f);
      const Vec c = load(cross + i, k, 1.0f);
      fine &= (a >= safe_sum) & (t >= safe_sum) & (c >= safe_sum) & (a < inf) & (t < inf) &
              (c < inf);
      const Vec one = splat(1.0f);
      Vec log_a, log_t, log_c;
      const Mask exp_a = log_parts(fine ? a : one, &log_a);
      const Mask exp_t = log_parts(fine ? t : one, &log_t);
      const Mask exp_c = log_parts(fine ? c : one, &log_c);
      const Vec exponents = __builtin_convertvector(exp_a + exp_t - 2 * exp_c, Vec);
      total += exponents * (0.5f * 0.693147180559945309f) + (0.5f * (log_a + log_t) - log_c);
    }
    safe[chunk] = (fine[0] & fine[1] & fine[2] & fine[3] & fine[4] & fine[5] & fine[6] & fine[7])
                      ? 1 : 0;
    partial[chunk] = lane_sum(total);
  }
}

bool cs_means(const Tensor& sq, const Tensor& teacher_sq, const Tensor& cross, double safe_sum,
              double* mean) {
  const int64_t count = sq.numel(), chunks = (count + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks, 0.0);
  std::vector<char> safe(chunks, 1);
  at::parallel_for(0, chunks, grain_for(kChunk), [&](int64_t begin, int64_t end) {
    cs_log_ratios(sq.data_ptr<float>(), teacher_sq.data_ptr<float>(), cross.data_ptr<float>(),
                  count, static_cast<float>(safe_sum), begin, end, partial.data(), safe.data());
  });
  double total = 0.0;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    if (!safe[chunk]) return false;
    total += partial[chunk];
  }
  *mean = total / count;
  return true;
}

}  // namespace

// Mean CS divergence of the rows (inter) and of the columns (intra) of
// softmax(student * scale) and softmax(teacher * scale) along class_dim; with
// zero_class, of the logits with one more class of logit 0 (binary mode).
// Returns (inter, intra, ok, tensors for the backward), inter and intra as
// 0-dim tensors; ok is false if a sum is below safe_sum or not finite. The
// backward gets [sq_rows, cross_rows, sq_cols, cross_cols, values...] with the
// values of sums_backward.
std::tuple<Tensor, Tensor, bool, std::vector<Tensor>> cs_terms_forward(
    const Tensor& student_input, const Tensor& teacher_input, int64_t class_dim, double scale,
    double safe_sum, bool zero_class) {
  check_input(student_input, "student_logits");
  check_input(teacher_input, "teacher_logits");
  TORCH_CHECK(class_dim == 1 || class_dim == 2, "cs_terms_forward: class_dim must be 1 or 2");
  TORCH_CHECK(!zero_class || class_dim == 1, "cs_terms_forward: zero_class needs class_dim 1");
  TORCH_CHECK(scale > 0, "cs_terms_forward: scale must be > 0");
  TORCH_CHECK(student_input.sizes() == teacher_input.sizes(),
              "cs_terms_forward: student and teacher logits differ in shape");
  // binary mode: [x, 0] along the classes, i.e. [sigmoid(x), 1 - sigmoid(x)]
  const Tensor student_logits =
      zero_class ? at::constant_pad_nd(student_input, {0, 0, 0, 1}) : student_input;
  const Tensor teacher_logits =
      zero_class ? at::constant_pad_nd(teacher_input, {0, 0, 0, 1}) : teacher_input;
  // student sq / cross / teacher sq per row, then per column
  Tensor sq_rows, cross_rows, teacher_rows, sq_cols, cross_cols, teacher_cols;
  std::vector<Tensor> values;  // what sums_backward needs besides the sums
  if (class_dim == 1) {
    const int64_t N = student_logits.size(0), A = student_logits.size(1);
    const int64_t B = student_logits.size(2);
    const auto options = student_logits.options();
    Tensor stats = at::empty({4, N, B}, options);  // see pixel_stats
    values = {student_logits, teacher_logits, stats};
    sq_rows = at::empty({N, 1, B}, options);
    cross_rows = at::empty({N, 1, B}, options);
    teacher_rows = at::empty({N, 1, B}, options);
    const int64_t num_blocks = N * ((B + kBlock - 1) / kBlock);
    std::vector<double> partial(num_blocks * 3 * A);
    const ClassesFirstForward args{student_logits.data_ptr<float>(),
                                   teacher_logits.data_ptr<float>(),
                                   stats.data_ptr<float>(),
                                   sq_rows.data_ptr<float>(),
                                   cross_rows.data_ptr<float>(),
                                   teacher_rows.data_ptr<float>(),
                                   partial.data(),
                                   N, A, B, static_cast<float>(scale)};
    const auto worker = active_kernels().forward_classes_first;
    at::parallel_for(0, num_blocks, grain_for(A * kBlock),
                     [&](int64_t begin, int64_t end) { worker(args, begin, end); });
    Tensor cols = at::empty({3, 1, A, 1}, options);  // sq, cross, teacher sq
    float* col = cols.data_ptr<float>();
    for (int64_t i = 0; i < 3 * A; ++i) {
      double total = 0.0;
      for (int64_t block = 0; block < num_blocks; ++block) total += partial[block * 3 * A + i];
      col[i] = static_cast<float>(total);
    }
    sq_cols = cols[0];
    cross_cols = cols[1];
    teacher_cols = cols[2];
  } else {
    const auto teacher = softmax_sums_classes_last(teacher_logits, c10::nullopt, scale);
    const auto student = softmax_sums_classes_last(student_logits, teacher[0], scale);
    values = {student[0], teacher[0]};
    sq_rows = student[1], sq_cols = student[2], cross_rows = student[3], cross_cols = student[4];
    teacher_rows = teacher[1], teacher_cols = teacher[2];
  }
  double inter = 0.0, intra = 0.0;
  const bool ok = cs_means(sq_rows, teacher_rows, cross_rows, safe_sum, &inter) &&
                  cs_means(sq_cols, teacher_cols, cross_cols, safe_sum, &intra);
  Tensor inter_term = at::empty({}, student_logits.options());
  Tensor intra_term = at::empty({}, student_logits.options());
  inter_term.data_ptr<float>()[0] = static_cast<float>(inter);
  intra_term.data_ptr<float>()[0] = static_cast<float>(intra);
  std::vector<Tensor> saved = {sq_rows, cross_rows, sq_cols, cross_cols};
  saved.insert(saved.end(), values.begin(), values.end());
  return {inter_term, intra_term, ok, saved};
}

// Gradient of grad_inter * inter + grad_intra * intra w.r.t. the student
// logits, from the tensors saved by cs_terms_forward (zero_class as there).
Tensor cs_terms_backward(const std::vector<Tensor>& saved, double grad_inter, double grad_intra,
                         int64_t class_dim, double scale, bool zero_class) {
  TORCH_CHECK(saved.size() == (class_dim == 1 ? 7u : 6u),
              "cs_terms_backward: saved does not come from cs_terms_forward");
  // d/d sq = 0.5 / (count * sq), d/d cross = -1 / (count * cross)
  auto sum_grads = [](const Tensor& sq, const Tensor& cross, double grad_mean) {
    Tensor g_sq = at::empty_like(sq), g_cross = at::empty_like(cross);
    const float *a = sq.data_ptr<float>(), *c = cross.data_ptr<float>();
    float *ga = g_sq.data_ptr<float>(), *gc = g_cross.data_ptr<float>();
    const double factor = grad_mean / sq.numel();
    at::parallel_for(0, sq.numel(), kParallelWork, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        ga[i] = static_cast<float>(0.5 * factor / a[i]);
        gc[i] = static_cast<float>(-factor / c[i]);
      }
    });
    return std::make_pair(g_sq, g_cross);
  };
  const auto rows = sum_grads(saved[0], saved[1], grad_inter);
  const auto cols = sum_grads(saved[2], saved[3], grad_intra);
  const std::vector<Tensor> values(saved.begin() + 4, saved.end());
  const Tensor grad =
      sums_backward(values, rows.first, rows.second, cols.first, cols.second, class_dim, scale);
  return zero_class ? grad.narrow(1, 0, grad.size(1) - 1) : grad;  // no gradient to the 0 class
}

// Name of the instruction set of the channel layout's workers.
std::string isa() { return active_kernels().isa; }

// The instruction sets this CPU runs, best first.
std::vector<std::string> available_isas() {
  std::vector<std::string> names;
  for (const Kernels& kernels : supported_kernels()) names.push_back(kernels.isa);
  return names;
}

// Use the workers of `name` (one of available_isas()); returns the previous name.
std::string use_isa(const std::string& name) {
  for (const Kernels& kernels : supported_kernels()) {
    if (name == kernels.isa) {
      const std::string previous = active_kernels().isa;
      active_kernels() = kernels;
      return previous;
    }
  }
  TORCH_CHECK(false, "cs_softmax_sums.use_isa: ", name,
              " is not one of this CPU's instruction sets");
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Fused softmax + Cauchy-Schwarz terms for mmmtl's CSDivergenceLoss (CPU, float32)";
  m.def("cs_terms_forward", &cs_terms_forward, "mean CS divergence of rows and columns",
        py::arg("student_logits"), py::arg("teacher_logits"), py::arg("class_dim"),
        py::arg("scale"), py::arg("safe_sum"), py::arg("zero_class") = false);
  m.def("cs_terms_backward", &cs_terms_backward, "gradient of the CS terms w.r.t. the student",
        py::arg("saved"), py::arg("grad_inter"), py::arg("grad_intra"), py::arg("class_dim"),
        py::arg("scale"), py::arg("zero_class") = false);
  m.def("isa", &isa, "instruction set of the channel-layout workers");
  m.def("available_isas", &available_isas, "instruction sets this CPU runs, best first");
  m.def("use_isa", &use_isa, "switch the channel-layout workers (tests); returns the previous",
        py::arg("name"));
}
