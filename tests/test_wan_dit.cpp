// Wan2.1 DiT: key maps and loaders for the three layouts, parity of the CPU forward with goldens
// from the official WanModel (tools/golden/wan_dit_golden.py), the Jenga plug-in points, input
// validation, and `jenga debug dit-forward`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cpu.h"
#include "models/wan/wan_keys.h"
#include "models/wan/wan_tiny.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::TempDir;

namespace {

constexpr uint64_t kGoldenSeed = 7;  // the test model of the goldens: make-tiny --seed 7
const std::string kData = std::string(JENGA_TEST_DATA) + "/wan_dit/";

struct Diff {
  double max_abs = 0, max_ref = 0;
  double rel() const { return max_abs / std::max(max_ref, 1e-30); }
};
// rel error as in the issue: max|a - b| / max|b|.
Diff diff(const float* a, const float* b, int64_t n) {
  Diff d;
  for (int64_t i = 0; i < n; ++i) {
    d.max_abs = std::max(d.max_abs, std::abs(double(a[i]) - b[i]));
    d.max_ref = std::max(d.max_ref, std::abs(double(b[i])));
  }
  return d;
}
Diff diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  return diff(a.data_as<float>(), b.data_as<float>(), std::min(a.numel(), b.numel()));
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream(path) << j.dump(2);
}

// The golden test model, with num_heads as the case needs (same weights).
std::string make_golden_model(const TempDir& tmp, int64_t heads) {
  const std::string dir = tmp / ("model_h" + std::to_string(heads));
  wan::write_random_checkpoint(dir, wan::WanConfig::tiny(), kGoldenSeed, DType::F32);
  auto cfg = wan::WanConfig::tiny().to_json();
  cfg["num_heads"] = heads;
  write_json(dir + "/config.json", cfg);
  return dir;
}

Tensor random_tensor(Shape s, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (float& x : v) x = d(g);
  return Tensor::from_f32(v, s);
}

}  // namespace

// ---------------------------------------------------------------- key maps and loaders

TEST(WanKeys, DiffusersNamesAsPublished) {
  // Names of Wan-AI/Wan2.1-T2V-1.3B-Diffusers (transformer/), from diffusers' converter.
  EXPECT_EQ(wan::diffusers_key("blocks.3.self_attn.q.weight"), "blocks.3.attn1.to_q.weight");
  EXPECT_EQ(wan::diffusers_key("blocks.3.self_attn.o.bias"), "blocks.3.attn1.to_out.0.bias");
  EXPECT_EQ(wan::diffusers_key("blocks.12.self_attn.norm_q.weight"), "blocks.12.attn1.norm_q.weight");
  EXPECT_EQ(wan::diffusers_key("blocks.0.cross_attn.norm_k.weight"), "blocks.0.attn2.norm_k.weight");
  EXPECT_EQ(wan::diffusers_key("blocks.0.norm3.bias"), "blocks.0.norm2.bias");  // the cross-attn norm
  EXPECT_EQ(wan::diffusers_key("blocks.29.ffn.0.weight"), "blocks.29.ffn.net.0.proj.weight");
  EXPECT_EQ(wan::diffusers_key("blocks.29.ffn.2.bias"), "blocks.29.ffn.net.2.bias");
  EXPECT_EQ(wan::diffusers_key("blocks.5.modulation"), "blocks.5.scale_shift_table");
  EXPECT_EQ(wan::diffusers_key("head.modulation"), "scale_shift_table");
  EXPECT_EQ(wan::diffusers_key("head.head.weight"), "proj_out.weight");
  EXPECT_EQ(wan::diffusers_key("text_embedding.2.weight"), "condition_embedder.text_embedder.linear_2.weight");
  EXPECT_EQ(wan::diffusers_key("time_embedding.0.bias"), "condition_embedder.time_embedder.linear_1.bias");
  EXPECT_EQ(wan::diffusers_key("time_projection.1.weight"), "condition_embedder.time_proj.weight");
  EXPECT_EQ(wan::diffusers_key("patch_embedding.weight"), "patch_embedding.weight");
  EXPECT_EQ(wan::comfyui_key("blocks.0.ffn.0.weight"), "model.diffusion_model.blocks.0.ffn.0.weight");
  EXPECT_THROW(wan::diffusers_key("blocks.0.mystery.weight"), Error);
  // One-to-one over the whole 1.3B and an i2v model.
  for (auto cfg : {wan::WanConfig::wan_1_3b(), [] { auto c = wan::WanConfig::tiny(); c.model_type = "i2v"; return c; }()}) {
    std::set<std::string> d, o;
    for (const auto& [name, shape] : wan::official_tensors(cfg)) {
      o.insert(name);
      d.insert(wan::diffusers_key(name));
    }
    EXPECT_EQ(d.size(), o.size());
  }
}

namespace {
// Rewrites the official checkpoint in `dir` under another layout's names; `convert` may change
// the stored dtype per tensor and add extra tensors.
void rewrite_checkpoint(const std::string& src_dir, const std::string& out_file,
                        const std::function<void(SafetensorsWriter&, const std::string&, const Tensor&)>& put) {
  const Checkpoint ck = Checkpoint::open(src_dir);
  SafetensorsWriter w;
  for (const auto& n : ck.names()) put(w, n, ck.load(n));
  w.write(out_file);
}

void expect_same_weights(const wan::WanWeights& a, const wan::WanWeights& b, double tol) {
  auto same = [&](const Tensor& x, const Tensor& y, const char* what) {
    ASSERT_EQ(x.shape(), y.shape()) << what;
    EXPECT_LE(diff(x, y).max_abs, tol) << what;
  };
  same(a.patch_w, b.patch_w, "patch_w");
  same(a.text2.w, b.text2.w, "text2");
  same(a.time_proj.b, b.time_proj.b, "time_proj");
  same(a.head_modulation, b.head_modulation, "head_modulation");
  same(a.head.w, b.head.w, "head");
  ASSERT_EQ(a.blocks.size(), b.blocks.size());
  for (size_t i = 0; i < a.blocks.size(); ++i) {
    same(a.blocks[i].modulation, b.blocks[i].modulation, "modulation");
    same(a.blocks[i].sa_o.w, b.blocks[i].sa_o.w, "sa_o");
    same(a.blocks[i].norm3_w, b.blocks[i].norm3_w, "norm3_w");
    same(a.blocks[i].norm3_b, b.blocks[i].norm3_b, "norm3_b");
    same(a.blocks[i].ca_norm_k, b.blocks[i].ca_norm_k, "ca_norm_k");
    same(a.blocks[i].ffn0.w, b.blocks[i].ffn0.w, "ffn0");
    same(a.blocks[i].ffn2.b, b.blocks[i].ffn2.b, "ffn2");
  }
}
}  // namespace

TEST(WanLoader, ThreeLayoutsLoadTheSameWeights) {
  TempDir tmp;
  auto cfg = wan::WanConfig::tiny();
  cfg.num_heads = 2;  // not dim/128: only a config.json can tell
  const std::string off = tmp / "official";
  wan::write_random_checkpoint(off, cfg, 3, DType::F32);
  const wan::WanDit ref = wan::load_wan_dit(off);
  EXPECT_EQ(ref.layout, wan::Layout::Official);
  EXPECT_EQ(ref.config.num_heads, 2);
  EXPECT_EQ(ref.config.num_layers, 2);

  // Diffusers: a pipeline folder with transformer/ and its own config.json format.
  const std::string pipe = tmp / "diffusers";
  std::filesystem::create_directories(pipe + "/transformer");
  write_json(pipe + "/model_index.json", {{"_class_name", "WanPipeline"}});
  write_json(pipe + "/transformer/config.json",
             {{"_class_name", "WanTransformer3DModel"}, {"num_attention_heads", 2}, {"attention_head_dim", 64},
              {"num_layers", 2}, {"ffn_dim", 256}, {"text_dim", 64}, {"freq_dim", 256}, {"in_channels", 16},
              {"out_channels", 16}, {"patch_size", {1, 2, 2}}, {"eps", 1e-6}});
  rewrite_checkpoint(off, pipe + "/transformer/diffusion_pytorch_model.safetensors",
                     [](SafetensorsWriter& w, const std::string& n, const Tensor& t) { w.add(wan::diffusers_key(n), t); });
  const wan::WanDit dif = wan::load_wan_dit(pipe);
  EXPECT_EQ(dif.layout, wan::Layout::Diffusers);
  EXPECT_EQ(dif.config.num_heads, 2);
  EXPECT_EQ(dif.config.num_layers, 2);
  EXPECT_EQ(dif.config.ffn_dim, 256);
  expect_same_weights(dif.weights, ref.weights, 0.0);

  // ComfyUI single file, bf16, no config.json (head dim 128 assumed: dim 128 -> 1 head).
  const std::string comfy = tmp / "comfy.safetensors";
  rewrite_checkpoint(off, comfy, [](SafetensorsWriter& w, const std::string& n, const Tensor& t) {
    w.add(wan::comfyui_key(n), t.to(DType::BF16));
  });
  const wan::WanDit cu = wan::load_wan_dit(comfy);
  EXPECT_EQ(cu.layout, wan::Layout::ComfyUI);
  EXPECT_EQ(cu.config.num_heads, 1);
  expect_same_weights(cu.weights, ref.weights, 0.01);  // bf16 rounding of |w| < ~1.5
  EXPECT_EQ(cu.weights.blocks[1].ffn0.w.dtype(), DType::F32);

  // GPU loads: GEMM matrices in bf16, vectors and the f32 time-embedding MLP in f32.
  const wan::WanDit half = wan::load_wan_dit(off, DType::BF16);
  const auto& b = half.weights.blocks[1];
  for (const Tensor* t : {&b.sa_q.w, &b.ffn0.w, &b.ca_o.w, &half.weights.head.w, &half.weights.patch_w,
                          &half.weights.text0.w})
    EXPECT_EQ(t->dtype(), DType::BF16);
  for (const Tensor* t : {&b.sa_q.b, &b.sa_norm_q, &b.modulation, &b.norm3_w, &half.weights.time0.w,
                          &half.weights.time_proj.w, &half.weights.head_modulation})
    EXPECT_EQ(t->dtype(), DType::F32);
  EXPECT_EQ(half.weights.blocks[0].sa_k.w.to(DType::F32).to_f32_vector(),
            ref.weights.blocks[0].sa_k.w.to(DType::BF16).to(DType::F32).to_f32_vector());
}

TEST(WanLoader, ComfyScaledFp8IsDequantised) {
  TempDir tmp;
  const std::string off = tmp / "official";
  wan::write_random_checkpoint(off, wan::WanConfig::tiny(), 5, DType::F32);
  write_json(off + "/config.json", wan::WanConfig::tiny().to_json());
  const wan::WanDit ref = wan::load_wan_dit(off);
  const std::string dir = tmp / "comfy";
  std::filesystem::create_directories(dir);
  write_json(dir + "/config.json", wan::WanConfig::tiny().to_json());
  // Linear weights inside blocks: fp8-e4m3 with a per-tensor scale (ComfyUI "scaled fp8").
  std::map<std::string, float> scales;
  rewrite_checkpoint(off, dir + "/wan_fp8_scaled.safetensors", [&](SafetensorsWriter& w, const std::string& n, const Tensor& t) {
    const std::string key = wan::comfyui_key(n);
    if (n.rfind("blocks.", 0) == 0 && t.ndim() == 2) {
      auto v = t.to_f32_vector();
      float amax = 0;
      for (float x : v) amax = std::max(amax, std::abs(x));
      const float s = amax / 448.0f;
      for (float& x : v) x /= s;
      w.add(key, Tensor::from_f32(v, t.shape(), DType::F8E4M3));
      w.add(key.substr(0, key.size() - 7) + ".scale_weight", Tensor::from_f32(std::vector<float>{s}, Shape{1}));
      scales[n] = s;
    } else {
      w.add(key, t.to(DType::F16));
    }
  });
  {  // the marker tensor ComfyUI files carry
    const Checkpoint ck = Checkpoint::open(dir + "/wan_fp8_scaled.safetensors");
    SafetensorsWriter w;
    for (const auto& n : ck.names()) w.add(n, ck.load(n));
    w.add("model.diffusion_model.scaled_fp8", Tensor::from_f32(std::vector<float>{0}, Shape{1}, DType::F8E4M3));
    w.write(dir + "/wan_fp8_scaled.safetensors");
  }
  const wan::WanDit q = wan::load_wan_dit(dir + "/wan_fp8_scaled.safetensors");
  ASSERT_EQ(q.layout, wan::Layout::ComfyUI);
  ASSERT_GT(scales.size(), 10u);
  // Exactly fp8(w / s) * s.
  const float s = scales.at("blocks.1.ffn.0.weight");
  const auto stored = ref.weights.blocks[1].ffn0.w.to_f32_vector();
  const auto got = q.weights.blocks[1].ffn0.w.to_f32_vector();
  for (size_t i = 0; i < stored.size(); i += 97)
    EXPECT_EQ(got[i], fp8_e4m3_to_f32(f32_to_fp8_e4m3(stored[i] / s)) * s);
  // And the forward stays close to the f32 one (e4m3 keeps 3 mantissa bits).
  const Tensor x = random_tensor(Shape{16, 2, 4, 6}, 1), ctx = random_tensor(Shape{5, 64}, 2);
  const Diff d = diff(wan::wan_forward_cpu(q, x, 500.0, ctx), wan::wan_forward_cpu(ref, x, 500.0, ctx));
  EXPECT_LT(d.rel(), 0.1);
  EXPECT_GT(d.rel(), 1e-4);  // the fp8 weights really were used
}

TEST(WanLoader, MissingAndUnexpectedTensorsAreListed) {
  TempDir tmp;
  const std::string off = tmp / "official";
  wan::write_random_checkpoint(off, wan::WanConfig::tiny(), 3, DType::F32);
  rewrite_checkpoint(off, off + "/diffusion_pytorch_model.safetensors",
                     [](SafetensorsWriter& w, const std::string& n, const Tensor& t) {
                       if (n == "blocks.1.cross_attn.v.bias") return;
                       w.add(n == "blocks.0.ffn.2.bias" ? "blocks.0.ffn.3.bias" : n, t);
                     });
  try {
    wan::load_wan_dit(off);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("2 missing tensor(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("blocks.1.cross_attn.v.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("1 unexpected tensor(s): blocks.0.ffn.3.bias"), std::string::npos) << m;
  }
  EXPECT_THROW(wan::load_wan_dit(tmp / "nothing-here"), Error);
}

TEST(WanLoader, ImageToVideoIsRejectedClearly) {
  TempDir tmp;
  auto cfg = wan::WanConfig::tiny();
  cfg.model_type = "i2v";
  wan::write_random_checkpoint(tmp / "i2v", cfg, 1, DType::BF16);
  try {
    wan::load_wan_dit(tmp / "i2v");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("i2v Wan checkpoints (image conditioning) are not supported yet"),
              std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- parity with the official model

namespace {
void check_golden(const std::string& file, int64_t heads, int64_t expect_blocks) {
  const auto g = SafetensorsFile::open(kData + file);
  TempDir tmp;
  const wan::WanDit m = wan::load_wan_dit(make_golden_model(tmp, heads));
  ASSERT_EQ(m.config.num_heads, heads);
  // The goldens were made from make-tiny --seed 7; a changed generator must fail loudly here.
  const auto fp = SafetensorsFile::open(kData + "weights_fingerprint.safetensors");
  const Checkpoint ck = Checkpoint::open(m.source);
  ASSERT_EQ(fp->header().tensors.size(), ck.names().size());
  for (const auto& info : fp->header().tensors) {
    const auto ref = fp->load(info.name).to_f32_vector();
    const auto w = ck.load(info.name, DType::F32).to_f32_vector();
    double s = 0, s2 = 0;
    for (float v : w) s += v, s2 += double(v) * v;
    ASSERT_NEAR(s, ref[0], 1e-4 * std::max(1.0, std::abs(double(ref[0])))) << "test model changed: " << info.name << "; regenerate tests/data/wan_dit";
    ASSERT_NEAR(s2, ref[1], 1e-4 * std::max(1.0, double(ref[1]))) << info.name;
  }
  const Tensor x = g->load("x"), ctx = g->load("context"), want = g->load("out");
  const double t = g->load("t").data_as<float>()[0];
  std::vector<Tensor> blocks;
  wan::DitForwardHooks hooks;
  hooks.after_block = [&](int, const float* xs, int64_t n) {
    Tensor b = Tensor::empty(DType::F32, Shape{n, m.config.dim});
    std::copy(xs, xs + n * m.config.dim, b.data_as<float>());
    blocks.push_back(b);
  };
  const Tensor out = wan::wan_forward_cpu(m, x, t, ctx, hooks);
  const Diff d = diff(out, want);
  std::printf("[%s] out: max|diff| %.3g, max|ref| %.3g, rel %.3g\n", file.c_str(), d.max_abs, d.max_ref, d.rel());
  EXPECT_LE(d.rel(), 1e-4) << file;
  EXPECT_GT(d.max_ref, 0.1) << "golden output is degenerate";
  int64_t checked = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto* info = g->find("block_" + std::to_string(i));
    if (!info) continue;
    const Diff b = diff(blocks[i], g->load(info->name).reshape({blocks[i].dim(0), blocks[i].dim(1)}));
    EXPECT_LE(b.rel(), 1e-4) << file << " block " << i;
    ++checked;
  }
  EXPECT_EQ(checked, expect_blocks);
}
}  // namespace

TEST(WanDitParity, OfficialCase1OddGridPerBlock) { check_golden("case1_heads4.safetensors", 4, 2); }
TEST(WanDitParity, OfficialCase2OneContextToken) { check_golden("case2_heads4_ctx1.safetensors", 4, 0); }
TEST(WanDitParity, OfficialCase3HeadDim128) { check_golden("case3_headdim128.safetensors", 1, 0); }

// x [16, 2, 5, 7]: the official patch embedding (Conv3d, stride = kernel) drops the last row and
// column and returns [16, 2, 4, 6]; `debug dit-forward` crops the same (it refused the input).
TEST(WanDitParity, DebugDitForwardCropsAPartialPatchAsOfficial) {
  TempDir tmp;
  const std::string in = kData + "case4_odd_hw.safetensors", out = tmp / "out.safetensors";
  const auto r = test::run_jenga("debug dit-forward --model " + make_golden_model(tmp, 4) + " --inputs " + in + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cropped to [16, 2, 4, 6]"), std::string::npos) << r.output;
  const Tensor got = SafetensorsFile::open(out)->load("out"), want = SafetensorsFile::open(in)->load("out");
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(diff(got, want).rel(), 1e-4);
  // Below one patch the official Conv3d refuses the input; so do we.
  TempDir d2;
  SafetensorsWriter w;
  w.add("x", Tensor::from_f32(std::vector<float>(16 * 2 * 1 * 6, 0.5f), Shape{16, 2, 1, 6}));
  w.add("t", Tensor::from_f32(std::vector<float>{500.0f}, Shape{1}));
  w.add("context", SafetensorsFile::open(in)->load("context"));
  w.write(d2 / "small.safetensors");
  const auto bad = test::run_jenga("debug dit-forward --model " + make_golden_model(d2, 4) + " --inputs " +
                                   (d2 / "small.safetensors") + " --out " + (d2 / "o.safetensors"));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("height 1 is not a positive multiple of the patch size 2"), std::string::npos) << bad.output;
}

// A checkpoint written by diffusers' own save_pretrained (WanTransformer3DModel, 2 heads of 16),
// and the output of diffusers' forward on it (tools/golden/wan_dit_diffusers_golden.py).
TEST(WanDitParity, DiffusersWrittenCheckpointAndForward) {
  const wan::WanDit m = wan::load_wan_dit(kData + "diffusers_model");
  EXPECT_EQ(m.layout, wan::Layout::Diffusers);
  EXPECT_EQ(m.config.num_heads, 2);
  EXPECT_EQ(m.config.dim, 32);
  EXPECT_EQ(m.config.num_layers, 2);
  EXPECT_EQ(m.config.freq_dim, 32);
  const auto g = SafetensorsFile::open(kData + "diffusers_case.safetensors");
  const Tensor out = wan::wan_forward_cpu(m, g->load("x"), g->load("t").data_as<float>()[0], g->load("context"));
  const Diff d = diff(out, g->load("out"));
  std::printf("[diffusers] out: max|diff| %.3g, max|ref| %.3g, rel %.3g\n", d.max_abs, d.max_ref, d.rel());
  EXPECT_LE(d.rel(), 1e-4);
  EXPECT_GT(d.max_ref, 0.1);
}

// ---------------------------------------------------------------- Jenga plug-in points

TEST(WanDitHooks, PermutationAndFullLayoutEqualDense) {
  const wan::WanDit m = wan::load_wan_dit(kData + "diffusers_model");  // small: 2 heads of 16
  const Tensor x = random_tensor(Shape{16, 3, 6, 10}, 3), ctx = random_tensor(Shape{9, 16}, 4);
  const Tensor dense = wan::wan_forward_cpu(m, x, 321.0, ctx);

  std::vector<int64_t> order(45);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  wan::DitForwardHooks perm;
  perm.token_order = order;
  const Diff dp = diff(wan::wan_forward_cpu(m, x, 321.0, ctx, perm), dense);
  EXPECT_LE(dp.rel(), 1e-5);

  // A layout keeping every 16x16 block equals dense; the provider sees each layer once.
  const BlockSparseLayout all = BlockSparseLayout::dense(1, 2, 3, 3, 16, 16);
  std::vector<int> layers;
  wan::DitForwardHooks full = perm;
  full.self_attn_layout = [&](int layer, const float* q, const float* k, int64_t n, int64_t) -> const BlockSparseLayout* {
    EXPECT_EQ(n, 45);
    EXPECT_TRUE(std::isfinite(q[0]) && std::isfinite(k[n * 32 - 1]));
    layers.push_back(layer);
    return &all;
  };
  const Diff df = diff(wan::wan_forward_cpu(m, x, 321.0, ctx, full), dense);
  EXPECT_LE(df.rel(), 1e-5);
  EXPECT_EQ(layers, (std::vector<int>{0, 1}));

  // Dropping key blocks changes the output: the layout really reaches attention.
  std::vector<uint8_t> diag(2 * 3 * 3, 0);
  for (int h = 0; h < 2; ++h)
    for (int b = 0; b < 3; ++b) diag[(h * 3 + b) * 3 + b] = 1;
  const BlockSparseLayout sparse = BlockSparseLayout::from_onehot(diag, 1, 2, 3, 3, 16, 16);
  wan::DitForwardHooks sp;
  sp.self_attn_layout = [&](int, const float*, const float*, int64_t, int64_t) { return &sparse; };
  EXPECT_GT(diff(wan::wan_forward_cpu(m, x, 321.0, ctx, sp), dense).rel(), 1e-3);

  // A wrong-sized layout or order is an error, not a crash.
  const BlockSparseLayout wrong = BlockSparseLayout::dense(1, 2, 2, 2, 16, 16);
  sp.self_attn_layout = [&](int, const float*, const float*, int64_t, int64_t) { return &wrong; };
  EXPECT_THROW(wan::wan_forward_cpu(m, x, 321.0, ctx, sp), Error);
  std::vector<int64_t> bad(order);
  bad[3] = bad[4];
  wan::DitForwardHooks bp;
  bp.token_order = bad;
  EXPECT_THROW(wan::wan_forward_cpu(m, x, 321.0, ctx, bp), Error);
}

TEST(WanDitInputs, BadInputsAreClearErrors) {
  const wan::WanDit m = wan::load_wan_dit(kData + "diffusers_model");  // text_dim 16
  const Tensor ctx = random_tensor(Shape{9, 16}, 4);
  auto msg = [&](const Tensor& x, const Tensor& c, double t) -> std::string {
    try {
      wan::wan_forward_cpu(m, x, t, c);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(msg(random_tensor(Shape{8, 1, 4, 4}, 1), ctx, 1).find("8 channels"), std::string::npos);
  EXPECT_NE(msg(random_tensor(Shape{16, 1, 5, 4}, 1), ctx, 1).find("height 5"), std::string::npos);
  EXPECT_NE(msg(random_tensor(Shape{16, 1, 4, 4}, 1), random_tensor(Shape{9, 32}, 2), 1).find("text_dim"), std::string::npos);
  EXPECT_NE(msg(random_tensor(Shape{16, 1, 4, 4}, 1), random_tensor(Shape{513, 16}, 2), 1).find("text_len"), std::string::npos);
  EXPECT_NE(msg(random_tensor(Shape{16, 1, 4, 4}, 1), ctx, NAN).find("not finite"), std::string::npos);
  Tensor nan_x = random_tensor(Shape{16, 1, 4, 4}, 1);
  nan_x.data_as<float>()[7] = NAN;
  EXPECT_NE(msg(nan_x, ctx, 1).find("non-finite"), std::string::npos);
}

// ---------------------------------------------------------------- CLI

TEST(WanDitCli, DebugDitForwardMatchesGoldenAndInProcess) {
  TempDir tmp;
  const std::string model = make_golden_model(tmp, 4);
  const auto g = SafetensorsFile::open(kData + "case1_heads4.safetensors");
  SafetensorsWriter in;
  for (const char* n : {"x", "t", "context"}) in.add(n, g->load(n));
  in.write(tmp / "in.safetensors");
  const auto r = test::run_jenga("debug dit-forward --model " + model + " --inputs " + (tmp / "in.safetensors") +
                                 " --out " + (tmp / "out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Tensor out = SafetensorsFile::open(tmp / "out.safetensors")->load("out");
  EXPECT_LE(diff(out, g->load("out")).rel(), 1e-4);
  const wan::WanDit m = wan::load_wan_dit(model);
  const Tensor inproc = wan::wan_forward_cpu(m, g->load("x"), g->load("t").data_as<float>()[0], g->load("context"));
  EXPECT_EQ(diff(out, inproc).max_abs, 0.0);

  // A leading batch dim of 1 is accepted.
  SafetensorsWriter batched;
  const Tensor gx = g->load("x"), gc = g->load("context");
  batched.add("x", gx.reshape({1, gx.dim(0), gx.dim(1), gx.dim(2), gx.dim(3)}));
  batched.add("t", g->load("t"));
  batched.add("context", gc.reshape({1, gc.dim(0), gc.dim(1)}));
  batched.write(tmp / "in_b.safetensors");
  auto r2 = test::run_jenga("debug dit-forward --model " + model + " --inputs " + (tmp / "in_b.safetensors") +
                            " --out " + (tmp / "out_b.safetensors"));
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_EQ(diff(SafetensorsFile::open(tmp / "out_b.safetensors")->load("out"), out).max_abs, 0.0);

  r2 = test::run_jenga("debug dit-forward --model " + model + " --inputs " + (tmp / "in.safetensors") +
                       " --out " + (tmp / "o2.safetensors") + " --device cuda");
  // Without a GPU (CI) the command says so; with one, this golden's head dim 32 is refused by
  // the CUDA DiT (the kernels serve 64 and 128) - either way one clear error line.
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_TRUE(r2.output.find("error: --device cuda") != std::string::npos ||
              r2.output.find("error: the CUDA DiT needs head dim 64 or 128") != std::string::npos)
      << r2.output;
  r2 = test::run_jenga("debug dit-forward --model " + model + " --out x.safetensors");
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  SafetensorsWriter bad;
  bad.add("x", g->load("x"));
  bad.add("t", g->load("t"));
  bad.write(tmp / "bad.safetensors");
  r2 = test::run_jenga("debug dit-forward --model " + model + " --inputs " + (tmp / "bad.safetensors") +
                       " --out " + (tmp / "o3.safetensors"));
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.output.find("no tensor 'context'"), std::string::npos) << r2.output;
  EXPECT_FALSE(std::filesystem::exists(tmp / "o3.safetensors"));
}
