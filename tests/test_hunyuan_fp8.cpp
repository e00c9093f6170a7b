// HunyuanVideo DiT weights in fp8 (issue #23 point 1): ComfyUI's scaled fp8 files (matrices
// float8_e4m3fn beside a per-tensor "scale_weight", the rest bf16) and plain fp8 casts load
// dequantised per tensor (f32 for the CPU, bf16 matrices for the GPU), the forward equals the
// forward on the dequantised weights written out as f32, and `inspect` says what it found.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/random_checkpoint.h"
#include "test_util.h"

using namespace jenga;
namespace fs = std::filesystem;

namespace {

std::vector<float> randn(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  fill_normal(v, seed);
  return v;
}

// The forward on 2x4x4 latents (8 tokens) with 5 text rows, 3 real.
std::vector<float> forward(const hunyuan::HunyuanDit& m) {
  const auto& c = m.config;
  const auto x = randn(static_cast<size_t>(c.in_channels * 2 * 4 * 4), 1);
  const auto txt = randn(static_cast<size_t>(5 * c.text_dim), 2);
  const auto pooled = randn(static_cast<size_t>(c.text_dim_2), 3);
  return hunyuan::hunyuan_forward_cpu(m, x.data(), 2, 4, 4, 500.0f, txt.data(), 5, 3, pooled.data(), 6000.0f);
}

// The dequantisation written out by hand: each fp8 byte decoded, times the tensor's scale_weight
// (when there is one), stored as f32 under the official name; scales dropped.
void write_dequantized(const std::string& fp8_dir, const std::string& out_dir) {
  const Checkpoint ck = Checkpoint::open(fp8_dir + "/diffusion_pytorch_model.safetensors");
  SafetensorsWriter w;
  for (const auto& name : ck.names()) {
    if (name.ends_with(".scale_weight")) continue;
    const TensorInfo& info = ck.info(name);
    if (*info.dtype != DType::F8E4M3) {
      w.add(name, ck.load(name, DType::F32));
      continue;
    }
    const TensorBytes b = ck.bytes(name);
    float scale = 1.0f;
    const std::string s = name.substr(0, name.size() - 7) + ".scale_weight";
    if (ck.contains(s)) scale = ck.load(s, DType::F32).to_f32_vector().at(0);
    std::vector<float> v(b.bytes.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = fp8_e4m3_to_f32(b.bytes[i]) * scale;
    w.add(name, Tensor::from_f32(v, Shape(std::span<const int64_t>(info.shape))));
  }
  fs::create_directories(out_dir);
  w.write(out_dir + "/diffusion_pytorch_model.safetensors");
  fs::copy_file(fp8_dir + "/config.json", out_dir + "/config.json");
}

double max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  double m = a.size() == b.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

}  // namespace

TEST(HunyuanFp8, ScaledFp8ForwardEqualsTheDequantisedWeights) {
  test::TempDir dir;
  const std::string f32_dir = dir / "f32", fp8_dir = dir / "fp8", deq_dir = dir / "deq";
  hunyuan::write_random_checkpoint(f32_dir, hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
  hunyuan::write_random_checkpoint(fp8_dir, hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
  rewrite_as_scaled_fp8(fp8_dir + "/diffusion_pytorch_model.safetensors");
  {
    const Checkpoint ck = Checkpoint::open(fp8_dir);
    ASSERT_EQ(*ck.info("double_blocks.0.img_attn_qkv.weight").dtype, DType::F8E4M3);
    ASSERT_TRUE(ck.contains("double_blocks.0.img_attn_qkv.scale_weight"));
    ASSERT_EQ(*ck.info("double_blocks.0.img_attn_qkv.bias").dtype, DType::BF16);
  }
  write_dequantized(fp8_dir, deq_dir);
  const hunyuan::HunyuanDit fp8 = hunyuan::load_hunyuan_dit(fp8_dir);
  const hunyuan::HunyuanDit deq = hunyuan::load_hunyuan_dit(deq_dir);
  const hunyuan::HunyuanDit ref = hunyuan::load_hunyuan_dit(f32_dir);
  // Exactly the dequantised weights: the scales applied (a missed scale is off by max|w| / 448).
  const auto w8 = fp8.weights.singles[1].linear1.w.to_f32_vector();
  EXPECT_EQ(w8, deq.weights.singles[1].linear1.w.to_f32_vector());
  // ... which are the f32 weights to fp8 precision (3 mantissa bits: within 1/16 of max|w|).
  const auto w32 = ref.weights.singles[1].linear1.w.to_f32_vector();
  double amax = 0;
  for (float v : w32) amax = std::max(amax, std::fabs(double(v)));
  EXPECT_GT(max_abs(w8, w32), 0.0);
  EXPECT_LT(max_abs(w8, w32), amax / 16);
  const auto y8 = forward(fp8), yd = forward(deq);
  EXPECT_EQ(max_abs(y8, yd), 0.0);
  // The GPU's load: bf16 matrices of the same dequantised values.
  const hunyuan::HunyuanDit bf = hunyuan::load_hunyuan_dit(fp8_dir, DType::BF16);
  ASSERT_EQ(bf.weights.singles[1].linear1.w.dtype(), DType::BF16);
  const auto wb = bf.weights.singles[1].linear1.w.to_f32_vector();
  for (size_t i = 0; i < wb.size(); ++i) ASSERT_EQ(wb[i], bf16_to_f32(f32_to_bf16(w8[i]))) << i;
}

// Plain fp8 casts (every tensor float8_e4m3fn, no scales) load too; `inspect` reports fp8 and
// that the scales belong to the model (no unexpected tensors).
TEST(HunyuanFp8, InspectAndPlainFp8) {
  test::TempDir dir;
  const std::string plain = dir / "plain", scaled = dir / "scaled", deq = dir / "deq";
  auto a = test::run_jenga("debug make-tiny --family hunyuan --dit-only --seed 7 --dtype fp8-e4m3 --out " + plain);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  write_dequantized(plain, deq);
  EXPECT_EQ(max_abs(forward(hunyuan::load_hunyuan_dit(plain)), forward(hunyuan::load_hunyuan_dit(deq))), 0.0);
  auto b = test::run_jenga("debug make-tiny --family hunyuan --dit-only --seed 7 --dtype fp8-e4m3-scaled --out " + scaled);
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto in = test::run_jenga("inspect --summary " + scaled);
  ASSERT_EQ(in.exit_code, 0) << in.output;
  EXPECT_NE(in.output.find("fp8:        "), std::string::npos) << in.output;
  EXPECT_NE(in.output.find("with a per-tensor or per-row scale"), std::string::npos) << in.output;
  EXPECT_EQ(in.output.find("unexpected:"), std::string::npos) << in.output;
  auto js = test::run_jenga("inspect --json --summary " + scaled);
  ASSERT_EQ(js.exit_code, 0) << js.output;
  EXPECT_NE(js.output.find("\"scaled\""), std::string::npos) << js.output;
  auto bad = test::run_jenga("debug make-tiny --family wan --dtype fp8-e4m3-scaled --out " + (dir / "w"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}
