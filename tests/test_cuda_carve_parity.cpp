#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/block_sparse.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/mask_builder.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "jenga/block_neighbors.h"
#include "jenga/carve_mask.h"
#include "io/safetensors.h"
#include "test_util.h"

using namespace jenga;

// The GPU AttenCarve chain against the CPU mask of src/jenga (the official semantics) on the
// same bf16 q/k: rows may differ only where the CPU diagnostics flag a near-threshold decision.
// GPU only.
namespace {
struct Case {
  int64_t heads, t, h, w;  // vision token grid (curve over it); text tokens appended
  int64_t text_tokens;
  double p;
  int64_t top_k;
  bool neighbors;
  int64_t first_frame_blocks = 0;  // Wan: nb / 21
  // Both builders round means and scores to bf16 (the official autocast run; what the CUDA
  // denoisers build). Then rows may also differ where the GPU's f32 block sums round a mean to
  // the other bf16 neighbour than the CPU's exact sums: at most 1% of the rows here.
  bool bf16 = false;
};

void run(const Case& c) {
  const int64_t n_img = c.t * c.h * c.w, n = n_img + c.text_tokens, D = 128, H = c.heads;
  const int64_t blocks = (n + 127) / 128, text_blocks = c.text_tokens / 128;
  ASSERT_EQ(c.text_tokens % 128, 0);
  // q, k: [1, N, H, D] bf16 (the DiT layout), and the same values as f32 [1, H, N, D] for the CPU.
  std::vector<float> q(n * H * D), k(n * H * D);
  fill_normal(q, 100 + c.heads);
  fill_normal(k, 200 + c.heads);
  for (int64_t i = 0; i < n * H * D; ++i) {
    const float drift = 0.5f * std::sin(0.01f * static_cast<float>(i / (H * D)));  // some block structure
    q[i] = bf16_to_f32(f32_to_bf16(q[i] + drift));
    k[i] = bf16_to_f32(f32_to_bf16(k[i] + drift));
  }
  std::vector<float> qh(q.size()), kh(k.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        qh[(h * n + i) * D + d] = q[(i * H + h) * D + d];
        kh[(h * n + i) * D + d] = k[(i * H + h) * D + d];
      }
  std::shared_ptr<const BlockNeighbors> nb;
  if (c.neighbors) nb = cached_block_neighbors(CurveSpec{c.t, c.h, c.w, true, std::nullopt});
  CarveParams cp;
  cp.top_k = c.top_k, cp.p = c.p, cp.text_blocks = text_blocks, cp.neighbors = nb.get();
  cp.first_frame_blocks = c.first_frame_blocks;
  cp.bf16_rounding = c.bf16;
  CarveDiagnostics diag;
  const CarveMask cpu_mask = build_carve_mask(qh.data(), kh.data(), 1, H, n, D, cp, &diag);

  auto up = [](const auto& v, DType dt) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    Tensor t = Tensor::empty(dt, Shape{static_cast<int64_t>(v.size())}, Device::CUDA);
    cuda::copy_to_device(t.data(), v.data(), v.size() * sizeof(T));
    return t;
  };
  std::vector<uint16_t> qb(q.size()), kb(k.size());
  for (size_t i = 0; i < q.size(); ++i) qb[i] = f32_to_bf16(q[i]), kb[i] = f32_to_bf16(k[i]);
  Tensor dq = up(qb, DType::BF16), dk = up(kb, DType::BF16);
  Tensor doff = Tensor::empty(DType::I32, Shape{H * blocks + 1}, Device::CUDA);
  Tensor didx = Tensor::empty(DType::I32, Shape{H * blocks * blocks}, Device::CUDA);
  Tensor dnoff, dnidx;
  cuda::BlockMaskArgs a;
  a.q = dq.data_as<uint16_t>(), a.k = dk.data_as<uint16_t>();
  a.q_row_stride = a.k_row_stride = H * D, a.q_head_stride = a.k_head_stride = D;
  a.q_batch_stride = a.k_batch_stride = n * H * D;
  a.batch = 1, a.heads = static_cast<int>(H), a.len = static_cast<int>(n), a.head_dim = static_cast<int>(D);
  a.select_blocks = static_cast<int>(blocks - text_blocks);
  a.zero_padded = true;  // the official Wan path pads to a multiple of 128 and divides by 128
  a.round_bf16 = c.bf16;
  a.scale = static_cast<float>(1.0 / std::sqrt(128.0));
  a.prob_threshold = static_cast<float>(c.p);
  a.top_k = static_cast<int>(c.top_k);
  a.first_frame_blocks = static_cast<int>(c.first_frame_blocks);
  if (nb) {
    dnoff = up(nb->offsets, DType::I32);
    dnidx = up(nb->indices, DType::I32);
    a.neighbor_offsets = dnoff.data_as<int32_t>(), a.neighbor_indices = dnidx.data_as<int32_t>();
  }
  a.offsets = doff.data_as<int32_t>(), a.indices = didx.data_as<int32_t>();
  const size_t ws_bytes = cuda::block_mask_workspace_bytes(a);
  Tensor ws = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(std::max<size_t>(ws_bytes, 1))}, Device::CUDA);
  cuda::build_block_mask(a, ws.data(), ws_bytes);
  BlockSparseLayout gl;
  gl.batch = 1, gl.heads = H, gl.q_blocks = blocks, gl.k_blocks = blocks;
  gl.offsets.resize(H * blocks + 1);
  cuda::copy_to_host(gl.offsets.data(), doff.data(), gl.offsets.size() * 4);
  gl.indices.resize(static_cast<size_t>(gl.offsets.back()));
  cuda::copy_to_host(gl.indices.data(), didx.data(), gl.indices.size() * 4);
  const auto gpu_onehot = gl.to_onehot();

  int64_t differing = 0, unexplained = 0;
  const int64_t normal = blocks - text_blocks;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t r = 0; r < blocks; ++r) {
      bool same = true;
      for (int64_t j = 0; j < blocks; ++j)
        same &= gpu_onehot[(h * blocks + r) * blocks + j] == cpu_mask.onehot[(h * blocks + r) * blocks + j];
      if (same) continue;
      ++differing;
      if (r >= normal || !diag.near_threshold[h * normal + r]) ++unexplained;
    }
  std::printf("heads %lld, %lld tokens (%lld text), p %.2f, top_k %lld: %lld of %lld rows differ, %lld unexplained\n",
              static_cast<long long>(H), static_cast<long long>(n), static_cast<long long>(c.text_tokens), c.p,
              static_cast<long long>(c.top_k), static_cast<long long>(differing), static_cast<long long>(H * blocks),
              static_cast<long long>(unexplained));
  if (c.bf16)
    EXPECT_LE(differing * 100, H * blocks);
  else
    EXPECT_EQ(unexplained, 0);
}
}  // namespace

TEST(CudaCarveParity, GpuChainReproducesCpuMasks) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  run({2, 3, 12, 20, 0, 0.9, 2, true});     // Wan-like: sliced neighbours, ragged last block
  run({3, 4, 10, 16, 256, 0.3, 3, false});  // Hunyuan-like: 2 text blocks
  run({1, 5, 16, 16, 0, 0.5, 1, true});
  run({2, 21, 6, 10, 0, 0.9, 3, true, 1});  // Wan first-frame rule: 1260 tokens, 10 blocks, F = 10/21 -> forced 1
  run({2, 7, 16, 24, 0, 0.5, 2, true, 3});  // 21 blocks, 3 first-frame blocks
}

// The same with the official autocast rounding (bf16 means and scores) on both sides.
TEST(CudaCarveParity, GpuChainReproducesCpuMasksWithBf16Rounding) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  run({2, 3, 12, 20, 0, 0.9, 2, true, 0, true});
  run({3, 4, 10, 16, 256, 0.3, 3, false, 0, true});
  run({4, 8, 30, 40, 256, 0.3, 20, true, 0, true});  // 75 vision blocks: ties in bf16 scores
  run({2, 7, 16, 24, 0, 0.5, 2, true, 3, true});
}

// `jenga debug carve-mask --device cuda` (the GPU chain through cuda::build_carve_mask_gpu) on a
// HunyuanVideo-like input (3D curve neighbours, 2 text blocks, head dim 128, bf16 q/k [1, H, N, D])
// against the CPU builder: rows differ only where the CPU flags a near-threshold decision. Without
// a GPU the command says so in one line.
TEST(CudaCarveParity, CarveMaskCommandOnTheGpu) {
  test::TempDir dir;
  const int64_t H = 3, T = 4, Hh = 10, W = 16, n_img = T * Hh * W, n = n_img + 256, D = 128;
  std::vector<float> q(H * n * D), k(q.size());
  fill_normal(q, 11);
  fill_normal(k, 12);
  for (size_t i = 0; i < q.size(); ++i) {  // some block structure so the top-p cut is not trivial
    const float drift = 0.7f * std::sin(0.02f * static_cast<float>((i / D) % n));
    q[i] = bf16_to_f32(f32_to_bf16(q[i] + drift));
    k[i] = bf16_to_f32(f32_to_bf16(k[i] - drift));
  }
  SafetensorsWriter w;
  w.add("q", Tensor::from_f32(q, Shape{1, H, n, D}, DType::BF16));
  w.add("k", Tensor::from_f32(k, Shape{1, H, n, D}, DType::BF16));
  w.write(dir / "qk.safetensors");
  const std::string base = "debug carve-mask --q " + (dir / "qk.safetensors") + " --k " + (dir / "qk.safetensors") +
                           " --top-k 2 --p 0.3 --text-blocks 2 --neighbors-shape 4,10,16 --out ";
  const auto g = test::run_jenga(base + (dir / "gpu.safetensors") + " --device cuda --rounding f32");
  if (!cuda::available()) {
    EXPECT_EQ(g.exit_code, 1) << g.output;
    EXPECT_NE(g.output.find("--device cuda: no CUDA device found; use --device cpu"), std::string::npos) << g.output;
    GTEST_SKIP() << "no CUDA device";
  }
  ASSERT_EQ(g.exit_code, 0) << g.output;
  const Tensor gm = SafetensorsFile::open(dir / "gpu.safetensors")->load("mask");
  const int64_t blocks = n / 128, normal = blocks - 2;
  ASSERT_EQ(gm.shape(), (Shape{1, H, blocks, blocks}));
  CarveParams cp;
  cp.top_k = 2, cp.p = 0.3, cp.text_blocks = 2;
  const auto nb = cached_block_neighbors(CurveSpec{T, Hh, W, false, std::nullopt});
  cp.neighbors = nb.get();
  CarveDiagnostics diag;
  const CarveMask want = build_carve_mask(q.data(), k.data(), 1, H, n, D, cp, &diag);
  const uint8_t* got = gm.data_as<uint8_t>();
  int64_t differing = 0, unexplained = 0, kept = 0;
  for (int64_t r = 0; r < H * blocks; ++r) {
    const bool same = std::equal(got + r * blocks, got + (r + 1) * blocks, want.onehot.data() + r * blocks);
    for (int64_t j = 0; j < blocks; ++j) kept += got[r * blocks + j];
    if (same) continue;
    ++differing;
    if (r % blocks >= normal || !diag.near_threshold[(r / blocks) * normal + r % blocks]) ++unexplained;
  }
  std::printf("carve-mask --device cuda: %lld of %lld rows differ from the CPU (%lld unexplained), density %.3f\n",
              static_cast<long long>(differing), static_cast<long long>(H * blocks), static_cast<long long>(unexplained),
              static_cast<double>(kept) / static_cast<double>(H * blocks * blocks));
  EXPECT_EQ(unexplained, 0);
  EXPECT_LT(kept, H * blocks * blocks);  // the cut dropped something: the comparison means something

  // The default on the GPU is the official autocast rounding (as the CUDA denoisers build):
  // against the CPU's --rounding bf16, rows differ at most where a mean's f32 sum rounds apart.
  const auto gb = test::run_jenga(base + (dir / "gpu16.safetensors") + " --device cuda");
  ASSERT_EQ(gb.exit_code, 0) << gb.output;
  const auto cb = test::run_jenga(base + (dir / "cpu16.safetensors") + " --rounding bf16");
  ASSERT_EQ(cb.exit_code, 0) << cb.output;
  auto g16 = SafetensorsFile::open(dir / "gpu16.safetensors");
  EXPECT_EQ(g16->header().metadata.at("rounding"), "bf16");
  const Tensor m16 = g16->load("mask"), c16 = SafetensorsFile::open(dir / "cpu16.safetensors")->load("mask");
  int64_t rows16 = 0;
  for (int64_t r = 0; r < H * blocks; ++r)
    rows16 += !std::equal(m16.data_as<uint8_t>() + r * blocks, m16.data_as<uint8_t>() + (r + 1) * blocks,
                          c16.data_as<uint8_t>() + r * blocks);
  std::printf("carve-mask --device cuda (bf16 rounding): %lld of %lld rows differ from the CPU's\n",
              static_cast<long long>(rows16), static_cast<long long>(H * blocks));
  EXPECT_LE(rows16 * 100, H * blocks);
}
