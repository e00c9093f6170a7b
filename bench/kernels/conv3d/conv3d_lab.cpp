// conv3d_lab: the HunyuanVideo VAE's stride-1 3x3x3 conv shapes, timed per kernel on the GPU:
// causal_pad (GroupNorm + SiLU read), the Hopper wgmma implicit GEMM, the mma.sync one, and the
// same GEMM through cuBLASLt on an im2col-shaped matrix (the GEMM alone; its im2col is not
// timed). One JSON line per shape and kernel: ms (median of --iters after one warm-up) and useful
// TFLOP/s (2 * pixels * cout * 27 * cin). Contents are random fp16 (zeros would draw less power and
// time optimistically); tests/test_cuda_conv3d_igemm.cpp checks the results.
//   usage: conv3d_lab [--frames N (8)] [--iters N (5)] [--no-cublas]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backend/cuda/conv3d_igemm.h"
#include "backend/cuda/convert.h"
#include "backend/cuda/bench_util.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/random.h"

using namespace jenga;

namespace {

struct Shape3 {
  const char* where;
  int64_t cin, cout, h, w;
};

// The decoder's convs at the official 256-pixel tile (frames per chunk from --frames).
const Shape3 kShapes[] = {
    {"up3 resnets (128->128, full)", 128, 128, 256, 256}, {"up3.res0.conv1 (256->128, full)", 256, 128, 256, 256},
    {"up2 upsample (256->256, full)", 256, 256, 256, 256}, {"up2.res0.conv1 (512->256, half)", 512, 256, 128, 128},
    {"up2 resnets (256->256, half)", 256, 256, 128, 128},  {"up1 upsample (512->512, half)", 512, 512, 128, 128},
    {"up1 resnets (512->512, quarter)", 512, 512, 64, 64}, {"conv_out (128->3, full)", 128, 3, 256, 256},
};

// Median of `iters` after one warm-up (module load, plans).
float time_ms(int iters, const std::function<void()>& f) {
  const std::vector<float> ms = cuda::time_sorted_ms(1, iters, f);
  return ms[ms.size() / 2];
}

void* dev_zeros(size_t bytes) {
  void* p = nullptr;
  JENGA_CUDA_CHECK(cudaMalloc(&p, bytes));
  JENGA_CUDA_CHECK(cudaMemset(p, 0, bytes));
  return p;
}

// fp16 N(0, scale^2) values: one pool of random halves copied over the buffer.
void* dev_random_f16(int64_t n, float scale) {
  constexpr int64_t kPool = int64_t{1} << 24;
  static void* pool16[2] = {};
  static float scales[2] = {};
  const int slot = scale == 1.0f ? 0 : 1;
  if (pool16[slot] == nullptr || scales[slot] != scale) {
    float* f = static_cast<float*>(dev_zeros(kPool * 4));
    cuda::fill_normal_f32(f, kPool, 7 + slot, 0, scale, 0.0f);
    if (pool16[slot] == nullptr) pool16[slot] = dev_zeros(kPool * 2);
    cuda::f32_to_f16(f, pool16[slot], kPool);
    JENGA_CUDA_CHECK(cudaFree(f));
    scales[slot] = scale;
  }
  void* p = dev_zeros(static_cast<size_t>(n) * 2);
  for (int64_t o = 0; o < n; o += kPool)
    JENGA_CUDA_CHECK(cudaMemcpy(static_cast<char*>(p) + o * 2, pool16[slot], static_cast<size_t>(std::min(kPool, n - o)) * 2,
                                cudaMemcpyDeviceToDevice));
  return p;
}

float* dev_random_f32(int64_t n, float scale, float shift) {
  auto* p = static_cast<float*>(dev_zeros(static_cast<size_t>(n) * 4));
  cuda::fill_normal_f32(p, n, 11, 0, scale, shift);
  return p;
}

void emit(const Shape3& s, int64_t frames, const char* kernel, float ms, double flops) {
  std::printf("{\"bench\": \"conv3d_lab\", \"shape\": \"%s\", \"cin\": %lld, \"cout\": %lld, \"hw\": \"%lldx%lld\", "
              "\"frames\": %lld, \"kernel\": \"%s\", \"ms\": %.4f, \"tflops\": %.1f}\n",
              s.where, static_cast<long long>(s.cin), static_cast<long long>(s.cout), static_cast<long long>(s.h),
              static_cast<long long>(s.w), static_cast<long long>(frames), kernel, ms, ms > 0 ? flops / ms / 1e9 : 0.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t frames = 8;
  int iters = 5;
  bool cublas = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--frames" && i + 1 < argc) {
      frames = std::atoll(argv[++i]);
    } else if (a == "--iters" && i + 1 < argc) {
      iters = std::atoi(argv[++i]);
    } else if (a == "--no-cublas") {
      cublas = false;
    } else {
      std::fprintf(stderr, "usage: conv3d_lab [--frames N] [--iters N] [--no-cublas]\n");
      return 2;
    }
  }
  if (frames < 1 || iters < 1) {
    std::fprintf(stderr, "error: --frames and --iters must be >= 1\n");
    return 2;
  }
  try {
    if (!cuda::available()) throw std::runtime_error("no CUDA device");
    cuda::init();
    std::printf("{\"bench\": \"conv3d_lab\", \"device\": \"%s\", \"wgmma\": %s}\n", cuda::device_info(0).name.c_str(),
                cuda::conv3x3x3_wgmma_available() ? "true" : "false");
    cuda::MatmulRunner mm;
    for (const Shape3& s : kShapes) {
      const int64_t hp = s.h + 2, wp = s.w + 2, K = 27 * s.cin, pixels = frames * s.h * s.w;
      const double flops = 2.0 * static_cast<double>(pixels) * static_cast<double>(s.cout) * static_cast<double>(K);
      void* x = dev_random_f16(frames * s.h * s.w * s.cin, 1.0f);
      void* pad = dev_zeros(static_cast<size_t>(((frames + 2) * hp * wp + cuda::conv3x3x3_slack_rows(s.w)) * s.cin * 2));
      void* wt = dev_random_f16(s.cout * K, 0.02f);
      float* bias = dev_random_f32(s.cout, 0.1f, 0.0f);
      float* coef = dev_random_f32(2 * s.cin, 0.3f, 1.0f);  // GroupNorm scale ~1 and shift ~1
      auto* stats = static_cast<double*>(dev_zeros(static_cast<size_t>(s.cout * 16)));
      void* y = dev_zeros(static_cast<size_t>(pixels * s.cout * 2));

      cuda::CausalPadParams pp;
      pp.x = x, pp.t = frames, pp.h = s.h, pp.w = s.w, pp.cin = s.cin, pp.scale = coef, pp.shift = coef + s.cin;
      pp.silu = true, pp.j0 = 0, pp.tp = frames + 2, pp.out = pad;
      emit(s, frames, "causal_pad (norm + silu)", time_ms(iters, [&] { cuda::causal_pad(pp); }),
           0.0);
      cuda::Conv3x3x3Params cp;
      cp.p = pad, cp.tout = frames, cp.h = s.h, cp.w = s.w, cp.cin = s.cin, cp.weight = wt, cp.cout = s.cout;
      cp.ldk = K, cp.bias = bias, cp.y = y, cp.y_f32 = false, cp.accumulate = true;
      for (const bool with_stats : {false, true}) {
        cp.stats = with_stats ? stats : nullptr;
        const std::string sfx = with_stats ? " + stats" : "";
        cp.path = cuda::Conv3x3x3Path::kFastest;
        if (cuda::conv3x3x3_uses_wgmma(cp)) {
          emit(s, frames, ("wgmma" + sfx).c_str(), time_ms(iters, [&] { cuda::conv3x3x3_igemm(cp); }), flops);
          // The other N tiles the kernel has, for the choice in conv3x3x3_wgmma (without stats only).
          for (const int tn : {32, 128, 256}) {
            if (with_stats || (tn == 32) != (s.cout <= 32)) continue;
            cp.tile_n = tn;
            emit(s, frames, ("wgmma n" + std::to_string(tn)).c_str(), time_ms(iters, [&] { cuda::conv3x3x3_igemm(cp); }),
                 flops);
            cp.tile_n = 0;
          }
        }
        cp.path = cuda::Conv3x3x3Path::kMma;
        emit(s, frames, ("mma.sync" + sfx).c_str(), time_ms(iters, [&] { cuda::conv3x3x3_igemm(cp); }), flops);
      }
      if (cublas) {  // the im2col GEMM alone: [pixels, K] x [cout, K]^T, fp16 result + bias, accumulate
        void* col = dev_random_f16(pixels * K, 1.0f);
        void* b16 = dev_zeros(static_cast<size_t>(s.cout * 2));
        cuda::MatmulArgs a;
        a.m = pixels, a.n = s.cout, a.k = K, a.a = col, a.lda = K, a.b = wt, a.ldb = K, a.b_nk = true;
        a.d = y, a.ldd = s.cout, a.ab_f16 = true, a.d_f16 = true, a.bias16 = b16, a.accumulate = true;
        emit(s, frames, "cublaslt (gemm only)", time_ms(iters, [&] { mm.run(a); }), flops);
        JENGA_CUDA_CHECK(cudaFree(col));
        JENGA_CUDA_CHECK(cudaFree(b16));
      }
      for (void* p : {x, pad, wt, static_cast<void*>(bias), static_cast<void*>(coef), static_cast<void*>(stats), y})
        JENGA_CUDA_CHECK(cudaFree(p));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
