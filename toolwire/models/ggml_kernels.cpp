// Matrix products with weights kept in GGUF's block-quantized layouts, activations in float32.
//
// Built at first use by native_kernels.py (g++ -O3 -march=native, cached per CPU model and source),
// loaded with ctypes. The loops run on this file's own small thread pool (WorkerPool), sized by
// tw_set_threads to torch's thread count, not on OpenMP: libgomp gives every calling thread its
// own pool, and once the threads of all pools outnumber the cores (the engine's thread and the
// main thread each have one) its idle workers fall asleep after a few hundred spins, so each of the
// ~200 small products of a decode step paid a futex wake-up (3-4x slower on a 2-core VM).
//
// A weight is [N rows, K columns], each row `row_bytes` long: K / QK blocks of the format, in file
// order. y[m, n] = sum_k x[m, k] * w[n, k] with w the dequantized weight: rows are dequantized a
// tile at a time into a float buffer that stays in cache, then multiplied against every activation
// row (vector accumulators, one per (activation row, weight row) pair), so each weight byte is
// read from memory once per call and the activations are not quantized.
//
// Block layouts (the GGUF format's): Q4_0 {f16 d; u8 qs[16]}  x = (nibble - 8) d
//   Q4_1 {f16 d, m; u8 qs[16]}  x = nibble d + m          (byte j: element j low, j + 16 high)
//   Q8_0 {f16 d; i8 qs[32]}     x = q d
//   Q4_K {f16 d, dmin; u8 scales[12]; u8 qs[128]}         256 elements, 8 sub-blocks of 32 with
//   Q5_K {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}  6-bit scale and min each
//   Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}    16 sub-blocks of 16, signed 6-bit values

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
constexpr int kRowTile = 4;  // activation rows per register tile (4 x 4 accumulators of 16 floats)
#else
constexpr int kVectorBytes = 32;
constexpr int kRowTile = 2;
#endif
constexpr int64_t kRowChunk = 64;  // activation rows per pass over the weight (they stay in cache)

inline float half(const uint8_t* p) {
    _Float16 h;
    std::memcpy(&h, p, 2);
    return static_cast<float>(h);
}

enum Format { Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14 };  // GGML type ids

// Sixteen values at a time, written with GCC's vector extensions so that every CPU gets its own
// widest instructions (one AVX-512 register, two AVX2 ones). Pointers are __restrict: the block
// bytes are never the floats they decode to.
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef float f32x16 __attribute__((vector_size(64)));

inline u8x16 bytes16(const uint8_t* p) {
    u8x16 v;
    std::memcpy(&v, p, 16);
    return v;
}

inline f32x16 floats(u8x16 v) { return __builtin_convertvector(__builtin_convertvector(v, i32x16), f32x16); }

// Signed bytes: through the unsigned conversion (GCC widens signed byte vectors one lane at a time).
inline f32x16 signed_floats(u8x16 v) { return floats(v ^ 0x80) - 128.0f; }

inline void store16(float* __restrict y, f32x16 v) { std::memcpy(y, &v, sizeof v); }

void dequantize_q4_0(const uint8_t* __restrict b, float* __restrict y, int64_t k) {
    for (int64_t i = 0; i < k; i += 32, b += 18, y += 32) {
        const float d = half(b);
        const u8x16 q = bytes16(b + 2);
        store16(y, (floats(q & 15) - 8.0f) * d);
        store16(y + 16, (floats(q >> 4) - 8.0f) * d);
    }
}

void dequantize_q4_1(const uint8_t* __restrict b, float* __restrict y, int64_t k) {
    for (int64_t i = 0; i < k; i += 32, b += 20, y += 32) {
        const float d = half(b), m = half(b + 2);
        const u8x16 q = bytes16(b + 4);
        store16(y, floats(q & 15) * d + m);
        store16(y + 16, floats(q >> 4) * d + m);
    }
}

void dequantize_q8_0(const uint8_t* __restrict b, float* __restrict y, int64_t k) {
    for (int64_t i = 0; i < k; i += 32, b += 34, y += 32) {
        const float d = half(b);
        store16(y, signed_floats(bytes16(b + 2)) * d);
        store16(y + 16, signed_floats(bytes16(b + 18)) * d);
    }
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block.
inline void scale_and_min(int j, const uint8_t* s, uint8_t* scale, uint8_t* min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// The scales of 64-element group `group` (0..3) of a Q4_K / Q5_K super-block: its two sub-blocks'
// d * scale and dmin * min.
struct GroupScales {
    float d0, min0, d1, min1;
};

inline GroupScales group_scales(const uint8_t* super_block, int group) {
    const float d = half(super_block), dmin = half(super_block + 2);
    uint8_t s0, m0, s1, m1;
    scale_and_min(2 * group, super_block + 4, &s0, &m0);
    scale_and_min(2 * group + 1, super_block + 4, &s1, &m1);
    return {d * s0, dmin * m0, d * s1, dmin * m1};
}

void dequantize_q4_k(const uint8_t* __restrict b, float* __restrict y, int64_t k) {
    for (int64_t i = 0; i < k; i += 256, b += 144) {
        const uint8_t* qs = b + 16;
        for (int group = 0; group < 4; ++group, qs += 32, y += 64) {
            const GroupScales g = group_scales(b, group);
            for (int j = 0; j < 32; j += 16) {
                const u8x16 q = bytes16(qs + j);
                store16(y + j, floats(q & 15) * g.d0 - g.min0);
                store16(y + j + 32, floats(q >> 4) * g.d1 - g.min1);
            }
        }
    }
}

void dequantize_q5_k(const uint8_t* __restrict b, float* __restrict y, int64_t k) {
    for (int64_t i = 0; i < k; i += 256, b += 176) {
        const uint8_t* qh = b + 16;
        const uint8_t* qs = b + 48;
        for (int group = 0; group < 4; ++group, qs += 32, y += 64) {
            const GroupScales g = group_scales(b, group);
            for (int j = 0; j < 32; j += 16) {
                const u8x16 q = bytes16(qs + j), h = bytes16(qh + j);
                const u8x16 q0 = (q & 15) | (((h >> (2 * group)) & 1) << 4);
                const u8x16 q1 = (q >> 4) | (((h >> (2 * group + 1)) & 1) << 4);
                store16(y + j, floats(q0) * g.d0 - g.min0);
                store16(y + j + 32, floats(q1) * g.d1 - g.min1);
            }
        }
    }
}

void dequantize_q6_k(const uint8_t* __restrict b, float* __restrict y, int64_t k) {
    for (int64_t i = 0; i < k; i += 256, b += 210) {
        const uint8_t* ql = b;
        const uint8_t* qh = b + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
        const float d = half(b + 208);
        for (int half_block = 0; half_block < 2; ++half_block, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int j = 0; j < 32; j += 16) {
                const int s = j / 16;
                const u8x16 low = bytes16(ql + j), high = bytes16(ql + j + 32), h = bytes16(qh + j);
                const f32x16 q0 = floats((low & 15) | ((h & 3) << 4)) - 32.0f;
                const f32x16 q1 = floats((high & 15) | (((h >> 2) & 3) << 4)) - 32.0f;
                const f32x16 q2 = floats((low >> 4) | (((h >> 4) & 3) << 4)) - 32.0f;
                const f32x16 q3 = floats((high >> 4) | (((h >> 6) & 3) << 4)) - 32.0f;
                store16(y + j, q0 * (d * sc[s]));
                store16(y + j + 32, q1 * (d * sc[s + 2]));
                store16(y + j + 64, q2 * (d * sc[s + 4]));
                store16(y + j + 96, q3 * (d * sc[s + 6]));
            }
        }
    }
}

typedef void (*RowDequantizer)(const uint8_t*, float*, int64_t);

RowDequantizer dequantizer_for(int format) {
    switch (format) {
        case Q4_0: return dequantize_q4_0;
        case Q4_1: return dequantize_q4_1;
        case Q8_0: return dequantize_q8_0;
        case Q4_K: return dequantize_q4_k;
        case Q5_K: return dequantize_q5_k;
        case Q6_K: return dequantize_q6_k;
        default: return nullptr;
    }
}

// The "tiled" path: kPanelRows weight rows are dequantized, then laid out column by column (panel
// [k][16]: one vector holds the 16 rows' weights at column k), so every activation value multiplies
// a whole vector of outputs: out[m, n0 .. n0 + 15] accumulates in one register per activation row,
// with no horizontal sums. Best when many activation rows share each dequantized panel.
constexpr int kPanelRows = 16;
constexpr int kPanelActivationRows = kVectorBytes == 64 ? 8 : 4;

template <int ROWS>
void multiply_panel(const float* x, int64_t ldx, const float* panel, int64_t k, float* out, int64_t ldo,
                    int weight_rows) {
    f32x16 acc[ROWS] = {};
    for (int64_t c = 0; c < k; ++c) {
        f32x16 w;
        std::memcpy(&w, panel + c * kPanelRows, sizeof w);
        for (int m = 0; m < ROWS; ++m) acc[m] += x[m * ldx + c] * w;
    }
    for (int m = 0; m < ROWS; ++m) {
        if (weight_rows == kPanelRows) {
            std::memcpy(out + m * ldo, &acc[m], sizeof acc[m]);
        } else {
            for (int r = 0; r < weight_rows; ++r) out[m * ldo + r] = acc[m][r];
        }
    }
}

void multiply_rows(const float* x, int64_t rows, int64_t ldx, const float* panel, int64_t k, float* out, int64_t ldo,
                   int weight_rows) {
    int64_t m = 0;
    for (; m + kPanelActivationRows <= rows; m += kPanelActivationRows)
        multiply_panel<kPanelActivationRows>(x + m * ldx, ldx, panel, k, out + m * ldo, ldo, weight_rows);
    for (; m < rows; ++m) multiply_panel<1>(x + m * ldx, ldx, panel, k, out + m * ldo, ldo, weight_rows);
}

// The "fused" path decodes each group of 16 weights into a register and multiplies it there,
// without the float buffer: for a few activation rows it saves a store and a load per weight.
// values16<F>(row, i): the dequantized weights 16 i .. 16 i + 15 of a row, computed exactly as
// the row dequantizers above compute them.
template <int F>
f32x16 values16(const uint8_t* __restrict row, int64_t i);

template <>
f32x16 values16<Q4_0>(const uint8_t* __restrict row, int64_t i) {
    const uint8_t* b = row + (i >> 1) * 18;
    const u8x16 q = bytes16(b + 2);
    return (floats((i & 1) ? q >> 4 : q & 15) - 8.0f) * half(b);
}

template <>
f32x16 values16<Q4_1>(const uint8_t* __restrict row, int64_t i) {
    const uint8_t* b = row + (i >> 1) * 20;
    const u8x16 q = bytes16(b + 4);
    return floats((i & 1) ? q >> 4 : q & 15) * half(b) + half(b + 2);
}

template <>
f32x16 values16<Q8_0>(const uint8_t* __restrict row, int64_t i) {
    const uint8_t* b = row + (i >> 1) * 34;
    return signed_floats(bytes16(b + 2 + (i & 1) * 16)) * half(b);
}

template <>
f32x16 values16<Q4_K>(const uint8_t* __restrict row, int64_t i) {
    const uint8_t* b = row + (i >> 4) * 144;
    const int within = static_cast<int>(i & 15) * 16, group = within / 64, offset = within % 64;
    uint8_t scale, min;
    scale_and_min(2 * group + offset / 32, b + 4, &scale, &min);
    const u8x16 q = bytes16(b + 16 + group * 32 + offset % 32);
    return floats(offset < 32 ? q & 15 : q >> 4) * (half(b) * scale) - half(b + 2) * min;
}

template <>
f32x16 values16<Q5_K>(const uint8_t* __restrict row, int64_t i) {
    const uint8_t* b = row + (i >> 4) * 176;
    const int within = static_cast<int>(i & 15) * 16, group = within / 64, offset = within % 64;
    const int high = offset / 32, j = offset % 32;
    uint8_t scale, min;
    scale_and_min(2 * group + high, b + 4, &scale, &min);
    const u8x16 q = bytes16(b + 48 + group * 32 + j), h = bytes16(b + 16 + j);
    const u8x16 v = (high ? q >> 4 : q & 15) | (((h >> (2 * group + high)) & 1) << 4);
    return floats(v) * (half(b) * scale) - half(b + 2) * min;
}

template <>
f32x16 values16<Q6_K>(const uint8_t* __restrict row, int64_t i) {
    const uint8_t* b = row + (i >> 4) * 210;
    const int within = static_cast<int>(i & 15) * 16, half_block = within / 128, quarter = (within % 128) / 32;
    const int j = within % 32;
    const u8x16 low = bytes16(b + half_block * 64 + (quarter & 1) * 32 + j);
    const u8x16 h = bytes16(b + 128 + half_block * 32 + j);
    const int8_t sc = static_cast<int8_t>(b[192 + half_block * 8 + j / 16 + 2 * quarter]);
    const u8x16 v = (quarter < 2 ? low & 15 : low >> 4) | (((h >> (2 * quarter)) & 3) << 4);
    return (floats(v) - 32.0f) * (half(b + 208) * sc);
}

constexpr int kFusedWeightTile = kVectorBytes == 64 ? 4 : 2;

template <int F, int ROWS>
void fused_tile(const float* x, int64_t ldx, const uint8_t* const* w, int64_t k, float* out, int64_t ldo,
                int weight_rows) {
    f32x16 acc[ROWS][kFusedWeightTile] = {};
    for (int64_t i = 0; i < k / 16; ++i) {
        f32x16 wv[kFusedWeightTile];
        for (int r = 0; r < kFusedWeightTile; ++r) wv[r] = values16<F>(w[r], i);
        for (int m = 0; m < ROWS; ++m) {
            f32x16 xv;
            std::memcpy(&xv, x + m * ldx + i * 16, sizeof xv);
            for (int r = 0; r < kFusedWeightTile; ++r) acc[m][r] += xv * wv[r];
        }
    }
    for (int m = 0; m < ROWS; ++m)
        for (int r = 0; r < weight_rows; ++r) {
            float total = 0.0f;
            for (int l = 0; l < 16; ++l) total += acc[m][r][l];
            out[m * ldo + r] = total;
        }
}

template <int F>
void fused_rows(const float* x, int64_t rows, int64_t ldx, const uint8_t* w, int64_t row_bytes, int64_t k,
                float* out, int64_t ldo, int weight_rows) {
    const uint8_t* tile[kFusedWeightTile];
    for (int r = 0; r < kFusedWeightTile; ++r) tile[r] = w + (r < weight_rows ? r : 0) * row_bytes;
    int64_t m = 0;
    for (; m + kRowTile <= rows; m += kRowTile)
        fused_tile<F, kRowTile>(x + m * ldx, ldx, tile, k, out + m * ldo, ldo, weight_rows);
    for (; m < rows; ++m) fused_tile<F, 1>(x + m * ldx, ldx, tile, k, out + m * ldo, ldo, weight_rows);
}

typedef void (*FusedRows)(const float*, int64_t, int64_t, const uint8_t*, int64_t, int64_t, float*, int64_t, int);

FusedRows fused_for(int format) {
    switch (format) {
        case Q4_0: return fused_rows<Q4_0>;
        case Q4_1: return fused_rows<Q4_1>;
        case Q8_0: return fused_rows<Q8_0>;
        case Q4_K: return fused_rows<Q4_K>;
        case Q5_K: return fused_rows<Q5_K>;
        case Q6_K: return fused_rows<Q6_K>;
        default: return nullptr;
    }
}

// Runs task(context, i) for i < count on the calling thread and the pool's workers, each taking
// one contiguous share of the indices (a shared counter costs a cache-line transfer per index, and
// the indices are equal work). Idle workers spin for kSpin before they sleep, so the many short
// loops of one decode step find them awake. One loop at a time (the engine calls from one thread).
class WorkerPool {
  public:
    typedef void (*Task)(void* context, int64_t index);

    void resize(int threads) {
        std::lock_guard<std::mutex> guard(resize_lock_);
        if (threads < 1) threads = 1;
        if (threads == static_cast<int>(workers_.size()) + 1) return;
        stop();
        stopping_ = false;
        // The generation is read here, not in the new thread: a loop started before that thread
        // first runs must still count it in.
        const uint64_t seen = generation_.load(std::memory_order_acquire);
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i, seen] { work(i, seen); });
    }

    void run(int64_t count, Task task, void* context) {
        if (workers_.empty() || count <= 1) {
            for (int64_t i = 0; i < count; ++i) task(context, i);
            return;
        }
        task_ = task;
        context_ = context;
        count_ = count;
        finished_.store(0, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> guard(lock_);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        take_share(0);
        const int workers = static_cast<int>(workers_.size());
        while (finished_.load(std::memory_order_acquire) < workers) pause();
    }

    ~WorkerPool() { stop(); }

  private:
    static constexpr std::chrono::microseconds kSpin{500};

    static void pause() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#else
        std::this_thread::yield();
#endif
    }

    void take_share(int participant) {
        const int64_t participants = static_cast<int64_t>(workers_.size()) + 1;
        const int64_t begin = count_ * participant / participants, end = count_ * (participant + 1) / participants;
        for (int64_t i = begin; i < end; ++i) task_(context_, i);
    }

    void work(int participant, uint64_t seen) {
        for (;;) {
            const auto spin_until = std::chrono::steady_clock::now() + kSpin;
            int polls = 0;
            while (generation_.load(std::memory_order_acquire) == seen && !stopping_) {
                pause();
                if (++polls % 256 == 0 && std::chrono::steady_clock::now() > spin_until) {
                    std::unique_lock<std::mutex> guard(lock_);
                    wake_.wait(guard, [&] { return generation_.load(std::memory_order_acquire) != seen || stopping_; });
                }
            }
            if (stopping_) return;
            seen = generation_.load(std::memory_order_acquire);
            take_share(participant);
            finished_.fetch_add(1, std::memory_order_release);
        }
    }

    void stop() {
        {
            std::lock_guard<std::mutex> guard(lock_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& worker : workers_) worker.join();
        workers_.clear();
    }

    std::vector<std::thread> workers_;
    std::mutex lock_, resize_lock_;
    std::condition_variable wake_;
    alignas(64) std::atomic<uint64_t> generation_{0};  // read by spinning workers: a line of its own
    alignas(64) std::atomic<int> finished_{0};
    std::atomic<bool> stopping_{false};
    alignas(64) Task task_ = nullptr;
    void* context_ = nullptr;
    int64_t count_ = 0;
};

WorkerPool pool;

}  // namespace

extern "C" {

int tw_supports(int format) { return dequantizer_for(format) != nullptr; }

// The threads the loops run on, the caller's included (torch.get_num_threads()).
void tw_set_threads(int threads) { pool.resize(threads); }

enum Mode { kFused = 0, kBuffered = 1 };

// One weight made of `parts` row blocks (part p: formats[p], weights[p] with rows[p] rows of
// row_bytes[p] bytes), its outputs side by side: out[m, :] (row stride ldo) = x[m, :] (row stride
// ldx) . dequantized weight rows, m < x_rows. mode: kFused or kBuffered (see above); one parallel
// loop over the tiles of all parts.
int tw_matmul(int parts, const int* formats, const uint8_t* const* weights, const int64_t* rows,
              const int64_t* row_bytes, const float* x, int64_t x_rows, int64_t ldx, int64_t k, float* out,
              int64_t ldo, int mode) {
    constexpr int kMaxParts = 8;
    if (parts > kMaxParts) return -2;
    const int tile_rows = mode == kFused ? kFusedWeightTile : kPanelRows;
    int64_t first_tile[kMaxParts + 1] = {0}, first_row[kMaxParts + 1] = {0};
    for (int p = 0; p < parts; ++p) {
        if (dequantizer_for(formats[p]) == nullptr) return -1;
        first_tile[p + 1] = first_tile[p] + (rows[p] + tile_rows - 1) / tile_rows;
        first_row[p + 1] = first_row[p] + rows[p];
    }
    struct Loop {
        int parts, mode, tile_rows;
        const int* formats;
        const uint8_t* const* weights;
        const int64_t *rows, *row_bytes, *first_tile, *first_row;
        const float* x;
        int64_t x_rows, ldx, k, ldo;
        float* out;
    } loop{parts, mode, tile_rows, formats, weights, rows, row_bytes, first_tile, first_row, nullptr, 0, ldx, k, ldo,
           nullptr};
    auto tile = [](void* context, int64_t t) {
        const Loop& l = *static_cast<const Loop*>(context);
        int p = 0;
        while (t >= l.first_tile[p + 1]) ++p;
        const int64_t n0 = (t - l.first_tile[p]) * l.tile_rows;
        const int weight_rows = static_cast<int>(l.rows[p] - n0 < l.tile_rows ? l.rows[p] - n0 : l.tile_rows);
        const uint8_t* w = l.weights[p] + n0 * l.row_bytes[p];
        float* o = l.out + l.first_row[p] + n0;
        if (l.mode == kFused) {
            fused_for(l.formats[p])(l.x, l.x_rows, l.ldx, w, l.row_bytes[p], l.k, o, l.ldo, weight_rows);
            return;
        }
        thread_local std::vector<float> rows_buffer, panel;
        if (panel.size() < static_cast<size_t>(kPanelRows * l.k)) {
            rows_buffer.assign(kPanelRows * l.k, 0.0f);
            panel.assign(kPanelRows * l.k, 0.0f);
        }
        const RowDequantizer dequantize = dequantizer_for(l.formats[p]);
        for (int r = 0; r < weight_rows; ++r) dequantize(w + r * l.row_bytes[p], rows_buffer.data() + r * l.k, l.k);
        for (int64_t c = 0; c < l.k; ++c)
            for (int r = 0; r < kPanelRows; ++r) panel[c * kPanelRows + r] = rows_buffer[r * l.k + c];
        multiply_rows(l.x, l.x_rows, l.ldx, panel.data(), l.k, o, l.ldo, weight_rows);
    };
    for (int64_t chunk = 0; chunk < x_rows; chunk += kRowChunk) {
        loop.x = x + chunk * ldx;
        loop.x_rows = x_rows - chunk < kRowChunk ? x_rows - chunk : kRowChunk;
        loop.out = out + chunk * ldo;
        pool.run(first_tile[parts], tile, &loop);
    }
    return 0;
}

// out[i, :] = dequantized w[ids[i], :]; ids == nullptr: every row, in order (n = n_rows).
int tw_dequantize(int format, const uint8_t* w, int64_t row_bytes, int64_t k, const int64_t* ids, int64_t n,
                  float* out) {
    const RowDequantizer dequantize = dequantizer_for(format);
    if (dequantize == nullptr) return -1;
    struct Loop {
        RowDequantizer dequantize;
        const uint8_t* w;
        int64_t row_bytes, k, n;
        const int64_t* ids;
        float* out;
    } loop{dequantize, w, row_bytes, k, n, ids, out};
    constexpr int64_t kRowsPerTask = 16;
    pool.run((n + kRowsPerTask - 1) / kRowsPerTask, [](void* context, int64_t task) {
        const Loop& l = *static_cast<const Loop*>(context);
        const int64_t end = (task + 1) * kRowsPerTask < l.n ? (task + 1) * kRowsPerTask : l.n;
        for (int64_t i = task * kRowsPerTask; i < end; ++i)
            l.dequantize(l.w + (l.ids ? l.ids[i] : i) * l.row_bytes, l.out + i * l.k, l.k);
    }, &loop);
    return 0;
}

}  // extern "C"
