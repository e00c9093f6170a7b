#pragma once
// HunyuanVideo's stride-1 3x3x3 CausalConv3d as an implicit GEMM on tensor cores (fp16 operands,
// f32 accumulation), with no im2col matrix in memory. The input is first copied once into a
// replicate-padded clip P [tp, h+2, w+2, cin] (two frames in front, one pixel around; the
// GroupNorm + SiLU pre-activation and the causal nearest upsample are applied during that copy).
// Then every output pixel of the padded grid, row r = (j*(h+2) + y)*(w+2) + x, reads tap (dt, di,
// dj) at row r + (dt*(h+2) + di)*(w+2) + dj of P: a constant shift per tap, so a K-step of the GEMM
// loads plain consecutive rows. Rows with y >= h or x >= w are computed and dropped (~2% extra).
// Two kernels: mma.sync with cp.async (conv3d_igemm.cu, any sm_80+ GPU) and, on sm_90, TMA + wgmma
// (conv3d_wgmma.cu); the epilogue can also sum the output per channel for the next GroupNorm.
// Plain C++ header: device pointers, streams as void*.
#include <cstdint>

namespace jenga::cuda {

// P frame f (of tp) = pre(logical frame max(0, j0 + f - 2)) of the stored clip x, padded by
// replicating its border pixel; logical (t, h, w) as Im2colReplicateParams (up_t, up_s: the
// causal nearest upsample read). cin % 8 == 0.
struct CausalPadParams {
  const void* x = nullptr;  // fp16 stored clip
  int64_t t = 0, h = 0, w = 0, cin = 0;
  int up_t = 1, up_s = 1;
  const float* scale = nullptr;  // [cin] f32 or null
  const float* shift = nullptr;
  bool silu = false;
  int64_t j0 = 0, tp = 0;  // first output frame of the chunk; padded frames to write
  void* out = nullptr;     // fp16 [tp, h+2, w+2, cin]
};
void causal_pad(const CausalPadParams& p, void* stream = nullptr);

// Rows of slack P needs past its tp frames (the last GEMM tile reads past the valid rows).
int64_t conv3x3x3_slack_rows(int64_t w);

// Which kernel runs the GEMM: the fastest for the GPU (on sm_90 built for sm_90a, with cin % 64
// == 0: conv3d_wgmma.cu's TMA + wgmma kernel; else the mma.sync one), or the mma.sync one always
// (A/B runs: JENGA_HY_VAE_CONV=mma).
enum class Conv3x3x3Path { kFastest, kMma };
constexpr int64_t kMaxStatsChannels = 1024;  // Conv3x3x3Params::stats live in shared memory

// y[j0 + j] = conv(P) + bias (+ y's old value when `accumulate`), frames j < tout of the chunk.
// Needs cin % 32 == 0; any cout. w: fp16 [cout, ldk], columns (dt, di, dj, ci), ldk % 8 == 0.
struct Conv3x3x3Params {
  const void* p = nullptr;  // fp16 [tout + 2, h+2, w+2, cin] + slack rows
  int64_t tout = 0, h = 0, w = 0, cin = 0;
  const void* weight = nullptr;
  int64_t cout = 0, ldk = 0;
  const float* bias = nullptr;  // f32 [cout]
  void* y = nullptr;            // [tout, h, w, cout] at the chunk's first frame: fp16, or f32 with y_f32
  bool y_f32 = false;
  bool accumulate = false;
  Conv3x3x3Path path = Conv3x3x3Path::kFastest;
  // Optional [cout] x (sum, sum of squares) doubles: the stored y values of the chunk are added in
  // (the caller zeroes them before a conv's first chunk); group_norm_coeffs_from_sums reads them.
  // cout <= 1024.
  double* stats = nullptr;
  // The wgmma kernel's N tile: 32, 128 or 256 (any cout), 0: chosen from cout. For the kernel lab.
  int tile_n = 0;
};
void conv3x3x3_igemm(const Conv3x3x3Params& p, void* stream = nullptr);
// Zeroes the 2 * cout doubles of a conv's stats (before its first chunk).
void conv3x3x3_stats_clear(double* stats, int64_t cout, void* stream = nullptr);

// Whether conv3x3x3_igemm(p) takes the Hopper kernel.
bool conv3x3x3_uses_wgmma(const Conv3x3x3Params& p);
// The Hopper kernel (conv3d_wgmma.cu): available on an sm_90 device in a build with sm_90a code
// and a driver with TMA descriptors; conv3x3x3_wgmma returns false (nothing launched) where not.
bool conv3x3x3_wgmma_available();
bool conv3x3x3_wgmma(const Conv3x3x3Params& p, void* stream);

}  // namespace jenga::cuda
