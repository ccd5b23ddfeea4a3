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
// The arithmetic is written on float vectors (GCC/Clang vector extensions).
// Every worker is a template over the vector type; on x86-64 with GCC each is
// built for AVX-512 (x86-64-v4, 16 lanes), AVX2 (x86-64-v3, 8 lanes) and the
// baseline (8 lanes), and the best set the CPU runs is picked at load time
// (`isa()` tells which; `use_isa()` switches, for tests). Long sums are taken
// in double and column sums are reduced in a fixed order, so results do not
// depend on the thread count. cs_terms wraps forward and backward in a C++
// autograd function.
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
#else
#define MMMTL_X86_VARIANTS 0
#endif
#define MMMTL_INLINE __attribute__((always_inline)) inline

namespace {

using at::Tensor;

template <int kWidth>
struct Lanes {
  typedef float Floats __attribute__((vector_size(4 * kWidth)));
  typedef int32_t Ints __attribute__((vector_size(4 * kWidth)));
  typedef double Doubles __attribute__((vector_size(8 * kWidth)));
};
typedef Lanes<8>::Floats Vec;
template <typename V>
using MaskOf = decltype(V{} < V{});  // the int vector of V's lane count
template <typename V>
constexpr int64_t lanes_of() {
  return sizeof(V) / sizeof(float);
}
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

// Exponent e (int lanes) and mantissa m in [1, 2) of normal x > 0 = m 2^e.
template <typename V>
MMMTL_INLINE MaskOf<V> split_float(V x, V* mantissa) {
  using M = MaskOf<V>;
  const M bits = (M)x;
  *mantissa = (V)((bits & 0x7fffff) | 0x3f800000);
  return ((bits >> 23) & 0xff) - 127;
}

// log(x) = exponent * ln2 + log_mantissa for normal x > 0, with x = m 2^e,
// m in [sqrt(1/2), sqrt(2)) and log(m) = 2 atanh((m - 1) / (m + 1)) by its
// series to the 9th power (|error| < 1e-9 + float rounding). The parts are
// kept apart so that differences of logs cancel the exponents exactly.
template <typename V>
MMMTL_INLINE MaskOf<V> log_parts(V x, V* log_mantissa) {
  using M = MaskOf<V>;
  V m;
  M exponent = split_float(x, &m);
  const M high = m > 1.41421356f;  // use m / 2
  m = high ? 0.5f * m : m;
  exponent = high ? exponent + 1 : exponent;
  const V y = (m - 1.0f) / (m + 1.0f), y2 = y * y;
  V series = splat<V>(1.0f / 9);
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

// ------------------------------------------------------------- binary
// (N, 1, B) logits x of the 2-class softmax of [x, 0] * scale, i.e.
// [sigmoid(x * scale), 1 - sigmoid(x * scale)]: class 0 is the logit's, class
// 1 the constant 0's. The forward has the blocks and outputs of the class_dim-1
// forward with A = 2 but no stats: the backward recomputes the two sigmoids.

// [sigmoid(z), 1 - sigmoid(z)] through exp(-|z|), which cannot overflow.
template <typename V>
MMMTL_INLINE void sigmoid_pair(V z, V* p0, V* p1) {
  const MaskOf<V> positive = z > 0.0f;
  const V e = exp_nonpositive(positive ? -z : z);  // NaN stays NaN
  const V large = 1.0f / (1.0f + e), small = e * large;
  *p0 = positive ? large : small;
  *p1 = positive ? small : large;
}

template <typename V>
MMMTL_INLINE void forward_binary_blocks(const ClassesFirstForward& f, int64_t begin,
                                        int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  const int64_t B = f.B, blocks_per_map = (B + kBlock - 1) / kBlock;
  for (int64_t block = begin; block < end; ++block) {
    const int64_t n = block / blocks_per_map, b0 = (block % blocks_per_map) * kBlock;
    const int64_t len = std::min(kBlock, B - b0);
    V cols[2][3] = {};  // per class: sum p^2, sum p*q, sum q^2
    for (int64_t l = 0; l < len; l += W) {
      const int64_t count = std::min(W, len - l), row = n * B + b0 + l;
      V p[2], q[2];
      sigmoid_pair(load<V>(f.student + row, count) * f.scale, &p[0], &p[1]);
      sigmoid_pair(load<V>(f.teacher + row, count) * f.scale, &q[0], &q[1]);
      store(f.sq_rows + row, p[0] * p[0] + p[1] * p[1], count);
      store(f.cross_rows + row, p[0] * q[0] + p[1] * q[1], count);
      store(f.teacher_sq_rows + row, q[0] * q[0] + q[1] * q[1], count);
      const MaskOf<V> keep = first_lanes<V>(count);  // padding lanes add nothing
      for (int a = 0; a < 2; ++a) {
        p[a] = keep ? p[a] : V{};
        q[a] = keep ? q[a] : V{};
        cols[a][0] += p[a] * p[a];
        cols[a][1] += p[a] * q[a];
        cols[a][2] += q[a] * q[a];
      }
    }
    double* part = f.col_partial + block * 3 * 2;  // [block][3][A], A = 2
    for (int a = 0; a < 2; ++a) {
      for (int i = 0; i < 3; ++i) part[i * 2 + a] = lane_sum(cols[a][i]);
    }
  }
}

// Pixels [begin, end): grad_x = scale * p0 * p1 * (d0 - d1), with
// d_a = 2 p_a (grad_sq_rows + grad_sq_cols[a]) + q_a (grad_cross_rows + grad_cross_cols[a])
// (the class_dim-1 backward for [x, 0], whose second logit gets no gradient).
template <typename V>
MMMTL_INLINE void backward_binary_pixels(const ClassesFirstBackward& g, int64_t begin,
                                         int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  for (int64_t i = begin; i < end; i += W) {
    const int64_t count = std::min(W, end - i);
    V p0, p1, q0, q1;
    sigmoid_pair(load<V>(g.student + i, count) * g.scale, &p0, &p1);
    sigmoid_pair(load<V>(g.teacher + i, count) * g.scale, &q0, &q1);
    const V g_sq = load<V>(g.g_sq_rows + i, count), g_cross = load<V>(g.g_cross_rows + i, count);
    const V d0 = 2.0f * p0 * (g_sq + g.g_sq_cols[0]) + q0 * (g_cross + g.g_cross_cols[0]);
    const V d1 = 2.0f * p1 * (g_sq + g.g_sq_cols[1]) + q1 * (g_cross + g.g_cross_cols[1]);
    store(g.grad + i, g.scale * p0 * p1 * (d0 - d1), count);
  }
}

// ------------------------------------------------------------- class_dim = 2
// x[r][b] with r = n * A + a: R = N * A rows of B locations, each one
// distribution. The forward writes both probability maps (the backward and
// the column sums read them), the row sums, then the column sums over all
// rows in row order, in double.

struct ClassesLastForward {
  const float *student, *teacher;
  float *p, *q;                                   // (R, B) probabilities
  float *sq_rows, *cross_rows, *teacher_sq_rows;  // (R)
  int64_t B;
  float scale;
};

struct ClassesLastColumns {
  const float *p, *q;
  float *sq_cols, *cross_cols, *teacher_sq_cols;  // (B)
  int64_t R, B;
};

struct ClassesLastBackward {
  const float *p, *q;
  const float *g_sq_rows, *g_cross_rows;  // (R)
  const float *g_sq_cols, *g_cross_cols;  // (B)
  float* grad;
  int64_t B;
  float scale;
};

template <typename V>
MMMTL_INLINE float lane_max(V v) {
  float largest = v[0];
  for (int i = 1; i < lanes_of<V>(); ++i) largest = v[i] > largest ? v[i] : largest;
  return largest;
}

// exp((x - max x) * scale) of a row of B logits into `out`; returns their sum.
template <typename V>
MMMTL_INLINE double exp_row(const float* x, float* out, int64_t B, float scale) {
  constexpr int64_t W = lanes_of<V>();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  V vmax = splat<V>(neg_inf);
  for (int64_t b = 0; b < B; b += W) {
    const V v = load<V>(x + b, std::min(W, B - b), neg_inf);
    vmax = v > vmax ? v : vmax;  // NaN is never taken; it reaches the sum below
  }
  const float m = lane_max(vmax);
  double total = 0.0;
  for (int64_t c = 0; c < B; c += kChunk) {
    V acc = V{};
    for (int64_t b = c; b < std::min(B, c + kChunk); b += W) {
      const int64_t k = std::min(W, B - b);
      const V e = exp_nonpositive((load<V>(x + b, k, neg_inf) - m) * scale);
      store(out + b, e, k);
      acc += e;
    }
    total += lane_sum(acc);
  }
  return total;
}

template <typename V>
MMMTL_INLINE void forward_classes_last_rows(const ClassesLastForward& f, int64_t begin,
                                            int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  const int64_t B = f.B;
  for (int64_t r = begin; r < end; ++r) {
    float *p = f.p + r * B, *q = f.q + r * B;
    const float inv_s = static_cast<float>(1.0 / exp_row<V>(f.student + r * B, p, B, f.scale));
    const float inv_t = static_cast<float>(1.0 / exp_row<V>(f.teacher + r * B, q, B, f.scale));
    double sq = 0.0, cross = 0.0, teacher_sq = 0.0;
    for (int64_t c = 0; c < B; c += kChunk) {
      V acc_sq = V{}, acc_cross = V{}, acc_teacher = V{};
      for (int64_t b = c; b < std::min(B, c + kChunk); b += W) {
        const int64_t k = std::min(W, B - b);
        const V pv = load<V>(p + b, k) * inv_s, qv = load<V>(q + b, k) * inv_t;
        store(p + b, pv, k);
        store(q + b, qv, k);
        acc_sq += pv * pv, acc_cross += pv * qv, acc_teacher += qv * qv;
      }
      sq += lane_sum(acc_sq), cross += lane_sum(acc_cross), teacher_sq += lane_sum(acc_teacher);
    }
    f.sq_rows[r] = static_cast<float>(sq);
    f.cross_rows[r] = static_cast<float>(cross);
    f.teacher_sq_rows[r] = static_cast<float>(teacher_sq);
  }
}

// Columns [begin, end), each summed over all rows in row order.
template <typename V>
MMMTL_INLINE void column_sums_classes_last(const ClassesLastColumns& c, int64_t begin,
                                           int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  using D = typename Lanes<W>::Doubles;
  for (int64_t b = begin; b < end; b += W) {
    const int64_t k = std::min(W, end - b);
    D sq = D{}, cross = D{}, teacher_sq = D{};
    for (int64_t r = 0; r < c.R; ++r) {
      const D p = __builtin_convertvector(load<V>(c.p + r * c.B + b, k), D);
      const D q = __builtin_convertvector(load<V>(c.q + r * c.B + b, k), D);
      sq += p * p, cross += p * q, teacher_sq += q * q;
    }
    store(c.sq_cols + b, __builtin_convertvector(sq, V), k);
    store(c.cross_cols + b, __builtin_convertvector(cross, V), k);
    store(c.teacher_sq_cols + b, __builtin_convertvector(teacher_sq, V), k);
  }
}

// grad_x = scale * p * (g - sum_b p * g) per row, with
// g = 2 p (grad_sq_rows + grad_sq_cols) + q (grad_cross_rows + grad_cross_cols).
template <typename V>
MMMTL_INLINE void backward_classes_last_rows(const ClassesLastBackward& g, int64_t begin,
                                             int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  const int64_t B = g.B;
  for (int64_t r = begin; r < end; ++r) {
    const float *p = g.p + r * B, *q = g.q + r * B;
    float* grad = g.grad + r * B;
    const float g_sq = g.g_sq_rows[r], g_cross = g.g_cross_rows[r];
    double dot = 0.0;
    for (int64_t c = 0; c < B; c += kChunk) {
      V acc = V{};
      for (int64_t b = c; b < std::min(B, c + kChunk); b += W) {
        const int64_t k = std::min(W, B - b);
        const V pv = load<V>(p + b, k);
        const V d = 2.0f * pv * (g_sq + load<V>(g.g_sq_cols + b, k)) +
                    load<V>(q + b, k) * (g_cross + load<V>(g.g_cross_cols + b, k));
        store(grad + b, d, k);
        acc += pv * d;
      }
      dot += lane_sum(acc);
    }
    const float dot_f = static_cast<float>(dot);
    for (int64_t b = 0; b < B; b += W) {
      const int64_t k = std::min(W, B - b);
      store(grad + b, g.scale * load<V>(p + b, k) * (load<V>(grad + b, k) - dot_f), k);
    }
  }
}

// ------------------------------------------------------------- the means
// Chunks [begin, end) of kChunk lines: partial[chunk] = sum of
// (log sq + log teacher_sq) / 2 - log cross, safe[chunk] = whether every sum
// of the chunk is finite and >= safe_sum (else the caller works in log space).
struct LogRatios {
  const float *sq, *teacher_sq, *cross;
  int64_t count;
  float safe_sum;
  double* partial;
  char* safe;
};

template <typename V>
MMMTL_INLINE float lane_min(V v) {
  float smallest = v[0];
  for (int i = 1; i < lanes_of<V>(); ++i) smallest = v[i] < smallest ? v[i] : smallest;
  return smallest;
}

// The checks are a running min and a NaN-catching sum rather than masks: GCC
// turns combined vector comparisons in these (untargeted) templates into
// scalar code. An unsafe chunk's logs are garbage, and discarded.
template <typename V>
MMMTL_INLINE void cs_log_ratios(const LogRatios& l, int64_t begin, int64_t end) {
  using M = MaskOf<V>;
  constexpr int64_t W = lanes_of<V>();
  for (int64_t chunk = begin; chunk < end; ++chunk) {
    V total = V{}, smallest = splat<V>(std::numeric_limits<float>::infinity());
    V poison = V{};  // NaN if a sum is NaN or infinite
    for (int64_t i = chunk * kChunk; i < std::min(l.count, (chunk + 1) * kChunk); i += W) {
      const int64_t k = std::min(W, l.count - i);
      const V a = load<V>(l.sq + i, k, 1.0f), t = load<V>(l.teacher_sq + i, k, 1.0f);
      const V c = load<V>(l.cross + i, k, 1.0f);
      smallest = a < smallest ? a : smallest;
      smallest = t < smallest ? t : smallest;
      smallest = c < smallest ? c : smallest;
      poison += (a - a) + (t - t) + (c - c);
      V mantissa_a, mantissa_t, mantissa_c, log_ratio;
      const M exponents = split_float(a, &mantissa_a) + split_float(t, &mantissa_t) -
                          2 * split_float(c, &mantissa_c);
      // a t / c^2 = (m_a m_t / m_c^2) 2^exponents, m_a m_t / m_c^2 in (1/4, 4): one log
      const M ratio_exponent =
          log_parts((mantissa_a * mantissa_t) / (mantissa_c * mantissa_c), &log_ratio);
      total += __builtin_convertvector(exponents + ratio_exponent, V) *
                   (0.5f * 0.693147180559945309f) + 0.5f * log_ratio;
    }
    l.safe[chunk] = lane_min(smallest) >= l.safe_sum && lane_sum(poison) == 0.0f ? 1 : 0;
    l.partial[chunk] = lane_sum(total);
  }
}

// Lines [begin, end) of the gradients of mean_r [(log sq_r + log tsq_r) / 2 - log cross_r]
// times its upstream gradient: sq_factor / sq_r and cross_factor / cross_r.
struct SumGrads {
  const float *sq, *cross;
  float *g_sq, *g_cross;
  float sq_factor, cross_factor;
};

template <typename V>
MMMTL_INLINE void sum_grads(const SumGrads& s, int64_t begin, int64_t end) {
  constexpr int64_t W = lanes_of<V>();
  for (int64_t i = begin; i < end; i += W) {
    const int64_t k = std::min(W, end - i);
    store(s.g_sq + i, s.sq_factor / load<V>(s.sq + i, k, 1.0f), k);
    store(s.g_cross + i, s.cross_factor / load<V>(s.cross + i, k, 1.0f), k);
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
MMMTL_WORKER(forward_binary_blocks, ClassesFirstForward)
MMMTL_WORKER(backward_binary_pixels, ClassesFirstBackward)
MMMTL_WORKER(forward_classes_last_rows, ClassesLastForward)
MMMTL_WORKER(column_sums_classes_last, ClassesLastColumns)
MMMTL_WORKER(backward_classes_last_rows, ClassesLastBackward)
MMMTL_WORKER(cs_log_ratios, LogRatios)
MMMTL_WORKER(sum_grads, SumGrads)

// The workers of one instruction set.
struct Kernels {
  const char* isa;
  void (*forward_classes_first)(const ClassesFirstForward&, int64_t, int64_t);
  void (*backward_classes_first)(const ClassesFirstBackward&, int64_t, int64_t);
  void (*forward_binary)(const ClassesFirstForward&, int64_t, int64_t);
  void (*backward_binary)(const ClassesFirstBackward&, int64_t, int64_t);
  void (*forward_classes_last)(const ClassesLastForward&, int64_t, int64_t);
  void (*column_sums_classes_last)(const ClassesLastColumns&, int64_t, int64_t);
  void (*backward_classes_last)(const ClassesLastBackward&, int64_t, int64_t);
  void (*log_ratios)(const LogRatios&, int64_t, int64_t);
  void (*sum_grads)(const SumGrads&, int64_t, int64_t);
};

#define MMMTL_KERNELS(suffix)                                                               \
  Kernels {                                                                                 \
    #suffix, forward_classes_first_blocks_##suffix, backward_classes_first_blocks_##suffix, \
        forward_binary_blocks_##suffix, backward_binary_pixels_##suffix,                    \
        forward_classes_last_rows_##suffix, column_sums_classes_last_##suffix,              \
        backward_classes_last_rows_##suffix, cs_log_ratios_##suffix, sum_grads_##suffix     \
  }

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

// Gradient w.r.t. the logits from the gradients of the four sums and the
// forward's values: class_dim 1: student and teacher logits and their pixel
// stats (none in the binary mode); class_dim 2: student and teacher probabilities.
Tensor sums_backward(const std::vector<Tensor>& values, const Tensor& grad_sq_rows,
                     const Tensor& grad_cross_rows, const Tensor& grad_sq_cols,
                     const Tensor& grad_cross_cols, int64_t class_dim, double scale,
                     bool zero_class) {
  Tensor grad = at::empty_like(values[0]);
  const int64_t N = grad.size(0), A = grad.size(1), B = grad.size(2);
  const float s = static_cast<float>(scale);
  // class_dim 1: logits; class_dim 2: probabilities
  const float *student = values[0].data_ptr<float>(), *teacher = values[1].data_ptr<float>();
  const float *gsr = grad_sq_rows.data_ptr<float>(), *gcr = grad_cross_rows.data_ptr<float>();
  const float *gsc = grad_sq_cols.data_ptr<float>(), *gcc = grad_cross_cols.data_ptr<float>();
  float* g = grad.data_ptr<float>();
  const Kernels& kernels = active_kernels();
  if (class_dim == 1) {
    const ClassesFirstBackward args{student, teacher, values[2].data_ptr<float>(), gsr, gcr, gsc,
                                    gcc, g, N, A, B, s};
    if (zero_class) {
      at::parallel_for(0, N * B, grain_for(4), [&](int64_t begin, int64_t end) {  // 4 per pixel
        kernels.backward_binary(args, begin, end);
      });
    } else {
      const int64_t num_blocks = N * ((B + kBlock - 1) / kBlock);
      at::parallel_for(0, num_blocks, grain_for(A * kBlock), [&](int64_t begin, int64_t end) {
        kernels.backward_classes_first(args, begin, end);
      });
    }
  } else {
    const ClassesLastBackward args{student, teacher, gsr, gcr, gsc, gcc, g, B, s};
    at::parallel_for(0, N * A, grain_for(B), [&](int64_t begin, int64_t end) {
      kernels.backward_classes_last(args, begin, end);
    });
  }
  return grad;
}

// Mean of (log sq + log teacher_sq) / 2 - log cross over the lines into
// *mean; false if a sum is below `safe_sum` or not finite (then the caller
// computes in log space). Fixed chunks, summed in order: the result does not
// depend on the thread count.
bool cs_means(const Tensor& sq, const Tensor& teacher_sq, const Tensor& cross, double safe_sum,
              double* mean) {
  const int64_t count = sq.numel(), chunks = (count + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks, 0.0);
  std::vector<char> safe(chunks, 1);
  const LogRatios args{sq.data_ptr<float>(), teacher_sq.data_ptr<float>(),
                       cross.data_ptr<float>(), count, static_cast<float>(safe_sum),
                       partial.data(), safe.data()};
  const auto worker = active_kernels().log_ratios;
  at::parallel_for(0, chunks, grain_for(kChunk),
                   [&](int64_t begin, int64_t end) { worker(args, begin, end); });
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
// zero_class, of (N, 1, B) logits with one more class of logit 0 (binary mode).
// Returns (inter, intra, ok, tensors for the backward), inter and intra as
// 0-dim tensors; ok is false if a sum is below safe_sum or not finite. The
// backward gets [sq_rows, cross_rows, sq_cols, cross_cols, values...] with the
// values of sums_backward.
std::tuple<Tensor, Tensor, bool, std::vector<Tensor>> cs_terms_forward(
    const Tensor& student_logits, const Tensor& teacher_logits, int64_t class_dim, double scale,
    double safe_sum, bool zero_class) {
  check_input(student_logits, "student_logits");
  check_input(teacher_logits, "teacher_logits");
  TORCH_CHECK(class_dim == 1 || class_dim == 2, "cs_terms_forward: class_dim must be 1 or 2");
  TORCH_CHECK(scale > 0, "cs_terms_forward: scale must be > 0");
  TORCH_CHECK(student_logits.sizes() == teacher_logits.sizes(),
              "cs_terms_forward: student and teacher logits differ in shape");
  TORCH_CHECK(!zero_class || (class_dim == 1 && student_logits.size(1) == 1),
              "cs_terms_forward: zero_class needs class_dim 1 and (N, 1, B) logits");
  const int64_t N = student_logits.size(0), C = student_logits.size(1);
  const int64_t B = student_logits.size(2);
  const auto options = student_logits.options();
  const float s = static_cast<float>(scale);
  const float *student = student_logits.data_ptr<float>();
  const float *teacher = teacher_logits.data_ptr<float>();
  const Kernels& kernels = active_kernels();
  // [sq, cross, teacher sq] per row, then per column
  Tensor rows, cols;
  std::vector<Tensor> values;  // what sums_backward needs besides the sums
  if (class_dim == 1) {
    const int64_t A = zero_class ? 2 : C;  // classes
    // per-pixel softmax stats (see pixel_stats); the binary backward needs none
    Tensor stats = at::empty({zero_class ? 0 : 4, N, B}, options);
    values = {student_logits, teacher_logits, stats};
    rows = at::empty({3, N, 1, B}, options);
    const int64_t num_blocks = N * ((B + kBlock - 1) / kBlock);
    std::vector<double> partial(num_blocks * 3 * A);
    float* row = rows.data_ptr<float>();
    const ClassesFirstForward args{student, teacher, stats.data_ptr<float>(), row, row + N * B,
                                   row + 2 * N * B, partial.data(), N, A, B, s};
    const auto worker = zero_class ? kernels.forward_binary : kernels.forward_classes_first;
    at::parallel_for(0, num_blocks, grain_for(A * kBlock),
                     [&](int64_t begin, int64_t end) { worker(args, begin, end); });
    cols = at::empty({3, 1, A, 1}, options);
    float* col = cols.data_ptr<float>();
    for (int64_t i = 0; i < 3 * A; ++i) {
      double total = 0.0;
      for (int64_t block = 0; block < num_blocks; ++block) total += partial[block * 3 * A + i];
      col[i] = static_cast<float>(total);
    }
  } else {
    const int64_t R = N * C;
    Tensor p = at::empty_like(student_logits), q = at::empty_like(teacher_logits);
    values = {p, q};
    rows = at::empty({3, N, C, 1}, options);
    cols = at::empty({3, 1, 1, B}, options);
    float *row = rows.data_ptr<float>(), *col = cols.data_ptr<float>();
    const ClassesLastForward args{student, teacher, p.data_ptr<float>(), q.data_ptr<float>(), row,
                                  row + R, row + 2 * R, B, s};
    at::parallel_for(0, R, grain_for(2 * B), [&](int64_t begin, int64_t end) {
      kernels.forward_classes_last(args, begin, end);
    });
    const ClassesLastColumns col_args{p.data_ptr<float>(), q.data_ptr<float>(), col, col + B,
                                      col + 2 * B, R, B};
    at::parallel_for(0, B, std::max<int64_t>(64, grain_for(2 * R)), [&](int64_t begin,
                                                                          int64_t end) {
      kernels.column_sums_classes_last(col_args, begin, end);
    });
  }
  double inter = 0.0, intra = 0.0;
  const Tensor sq_rows = rows[0], cross_rows = rows[1], sq_cols = cols[0], cross_cols = cols[1];
  const bool ok = cs_means(sq_rows, rows[2], cross_rows, safe_sum, &inter) &&
                  cs_means(sq_cols, cols[2], cross_cols, safe_sum, &intra);
  Tensor inter_term = at::empty({}, options), intra_term = at::empty({}, options);
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
  const auto worker = active_kernels().sum_grads;
  auto sum_grads = [worker](const Tensor& sq, const Tensor& cross, double grad_mean) {
    Tensor g_sq = at::empty_like(sq), g_cross = at::empty_like(cross);
    const double factor = grad_mean / sq.numel();
    const SumGrads args{sq.data_ptr<float>(), cross.data_ptr<float>(), g_sq.data_ptr<float>(),
                        g_cross.data_ptr<float>(), static_cast<float>(0.5 * factor),
                        static_cast<float>(-factor)};
    at::parallel_for(0, sq.numel(), kParallelWork,
                     [&](int64_t begin, int64_t end) { worker(args, begin, end); });
    return std::make_pair(g_sq, g_cross);
  };
  const auto rows = sum_grads(saved[0], saved[1], grad_inter);
  const auto cols = sum_grads(saved[2], saved[3], grad_intra);
  const std::vector<Tensor> values(saved.begin() + 4, saved.end());
  return sums_backward(values, rows.first, rows.second, cols.first, cols.second, class_dim, scale,
                       zero_class);
}

// cs_terms_forward / cs_terms_backward as an autograd function, in C++ so
// that neither pass goes through Python (about 80 us per call and per
// backward node otherwise). Outputs inter, intra and ok (a bool tensor, not
// differentiable); the teacher gets no gradient.
class CSTermsFunction : public torch::autograd::Function<CSTermsFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const Tensor& student_logits,
                                                const Tensor& teacher_logits, int64_t class_dim,
                                                double scale, double safe_sum, bool zero_class) {
    auto [inter, intra, ok, saved] =
        cs_terms_forward(student_logits.contiguous(), teacher_logits.contiguous(), class_dim,
                         scale, safe_sum, zero_class);
    ctx->save_for_backward(saved);
    ctx->saved_data["class_dim"] = class_dim;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["zero_class"] = zero_class;
    Tensor ok_flag = at::scalar_tensor(ok, at::TensorOptions().dtype(at::kBool));
    ctx->mark_non_differentiable({ok_flag});
    return {inter, intra, ok_flag};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    // an unused term's gradient arrives as zeros (materialised by autograd)
    const double grad_inter = grads[0].item<double>(), grad_intra = grads[1].item<double>();
    const Tensor grad = cs_terms_backward(
        ctx->get_saved_variables(), grad_inter, grad_intra, ctx->saved_data["class_dim"].toInt(),
        ctx->saved_data["scale"].toDouble(), ctx->saved_data["zero_class"].toBool());
    return {grad, Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

// (inter, intra, ok) of cs_terms_forward, differentiable w.r.t. the student.
std::tuple<Tensor, Tensor, bool> cs_terms(const Tensor& student_logits,
                                          const Tensor& teacher_logits, int64_t class_dim,
                                          double scale, double safe_sum, bool zero_class) {
  const auto outputs = CSTermsFunction::apply(student_logits, teacher_logits.detach(), class_dim,
                                              scale, safe_sum, zero_class);
  return {outputs[0], outputs[1], outputs[2].item<bool>()};
}

// Name of the instruction set of the workers in use.
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
  m.def("cs_terms", &cs_terms, "mean CS divergence of rows and columns, with autograd",
        py::arg("student_logits"), py::arg("teacher_logits"), py::arg("class_dim"),
        py::arg("scale"), py::arg("safe_sum"), py::arg("zero_class") = false);
  m.def("cs_terms_forward", &cs_terms_forward, "mean CS divergence of rows and columns",
        py::arg("student_logits"), py::arg("teacher_logits"), py::arg("class_dim"),
        py::arg("scale"), py::arg("safe_sum"), py::arg("zero_class") = false);
  m.def("cs_terms_backward", &cs_terms_backward, "gradient of the CS terms w.r.t. the student",
        py::arg("saved"), py::arg("grad_inter"), py::arg("grad_intra"), py::arg("class_dim"),
        py::arg("scale"), py::arg("zero_class") = false);
  m.def("isa", &isa, "instruction set of the workers in use");
  m.def("available_isas", &available_isas, "instruction sets this CPU runs, best first");
  m.def("use_isa", &use_isa, "switch the workers (tests); returns the previous",
        py::arg("name"));
}
