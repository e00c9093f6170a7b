#include "models/hunyuan/hunyuan_dit.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/error.h"
#include "io/json_file.h"
#include "io/fp8_weights.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_keys.h"

namespace jenga::hunyuan {

namespace {

class Loader {
 public:
  Loader(const Checkpoint& ckpt, Layout layout, const HunyuanConfig& config, DType matrix_dtype)
      : ckpt_(ckpt), layout_(layout), matrix_dtype_(matrix_dtype) {
    for (auto& [name, shape] : official_tensors(config)) shapes_[name] = shape;
  }
  // The official tensor `name` as `dt` (f32 unless a matrix for the GPU): read directly, or
  // assembled from its diffusers parts (in f32, one tensor at a time, then converted). fp8
  // tensors (ComfyUI / Kijai files) are dequantised per tensor, with their scale if any.
  Tensor get(const std::string& name, DType dt = DType::F32) {
    const auto it = shapes_.find(name);
    JENGA_ASSERT(it != shapes_.end());
    const Shape want(std::span<const int64_t>(it->second));
    if (layout_ == Layout::Official) {
      check_info(name, &it->second);
      return load_dequantized(ckpt_, name, dt);
    }
    const DiffusersSource src = diffusers_source(name);
    std::vector<float> v;
    int64_t rows = 0;
    for (const auto& part : src.parts) {
      check_info(part, nullptr);
      const Tensor t = load_dequantized(ckpt_, part, DType::F32);
      const auto pv = t.to_f32_vector();
      v.insert(v.end(), pv.begin(), pv.end());
      rows += t.shape().numel() ? t.dim(0) : 0;
      if (src.parts.size() == 1 && t.shape() != want) mismatch(part, t.shape(), want);
    }
    if (static_cast<int64_t>(v.size()) != want.numel() || (src.combine == Combine::ConcatRows && rows != want[0]))
      fail("{}: tensors {}... do not add up to the official '{}' of shape {}; the checkpoint and its config.json "
           "disagree", ckpt_.path(), src.parts[0], name, want.str());
    if (src.combine == Combine::SwapHalves) {
      const size_t half = v.size() / 2;
      std::rotate(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(half), v.end());
    }
    return Tensor::from_f32(v, want, dt);
  }
  Linear linear(const std::string& base, bool bias = true) {
    Linear l;
    l.w = get(base + ".weight", matrix_dtype_);
    if (bias) l.b = get(base + ".bias");
    return l;
  }

 private:
  void check_info(const std::string& name, const std::vector<int64_t>* shape) {
    const TensorInfo& info = ckpt_.info(name);
    if (shape && info.shape != *shape)
      mismatch(name, Shape(std::span<const int64_t>(info.shape)), Shape(std::span<const int64_t>(*shape)));
    if (!info.dtype || !dtype_is_float(*info.dtype))
      fail("{}: tensor '{}' is stored as {}, which is no float type jenga reads", ckpt_.path(), name,
           info.dtype_name);
  }
  [[noreturn]] void mismatch(const std::string& name, const Shape& got, const Shape& want) {
    fail("{}: tensor '{}' has shape {} but this HunyuanVideo config needs {}; the checkpoint and its "
         "config.json disagree", ckpt_.path(), name, got.str(), want.str());
  }
  const Checkpoint& ckpt_;
  Layout layout_;
  DType matrix_dtype_;
  std::map<std::string, std::vector<int64_t>> shapes_;
};

void check_tensor_set(const Checkpoint& ckpt, Layout layout, const HunyuanConfig& config) {
  std::set<std::string> expected;
  for (const auto& [name, shape] : official_tensors(config)) {
    if (layout == Layout::Official) {
      expected.insert(name);
    } else {
      for (const auto& part : diffusers_source(name).parts) expected.insert(part);
    }
  }
  std::vector<std::string> missing, unexpected;
  for (const auto& n : expected)
    if (!ckpt.contains(n)) missing.push_back(n);
  for (const auto& n : ckpt.names())
    if (!expected.count(n) && !is_fp8_scale_tensor(n)) unexpected.push_back(n);
  if (missing.empty() && unexpected.empty()) return;
  const std::string what = describe_tensor_set_diff(missing, unexpected);
  fail("{}: not a complete HunyuanVideo DiT in the {} layout ({} double + {} single blocks, hidden {}): {}; "
       "use an unmodified checkpoint (with all its shards)",
       ckpt.path(), layout_name(layout), config.double_blocks, config.single_blocks, config.hidden, what);
}

}  // namespace

HunyuanWeights load_hunyuan_weights(const Checkpoint& ckpt, Layout layout, const HunyuanConfig& config,
                                    DType matrix_dtype, const std::function<void(int64_t, int64_t)>& on_block) {
  if (matrix_dtype != DType::F32 && matrix_dtype != DType::BF16)
    fail("HunyuanVideo DiT: matrices load as f32 or bf16, not {}", dtype_name(matrix_dtype));
  config.validate();
  check_tensor_set(ckpt, layout, config);
  Loader ld(ckpt, layout, config, matrix_dtype);
  HunyuanWeights w;
  w.img_in_w = ld.get("img_in.proj.weight", matrix_dtype);
  w.img_in_b = ld.get("img_in.proj.bias");
  w.txt_input = ld.linear("txt_in.input_embedder");
  w.txt_t0 = ld.linear("txt_in.t_embedder.mlp.0");
  w.txt_t2 = ld.linear("txt_in.t_embedder.mlp.2");
  w.txt_c1 = ld.linear("txt_in.c_embedder.linear_1");
  w.txt_c2 = ld.linear("txt_in.c_embedder.linear_2");
  for (int64_t i = 0; i < config.refiner_depth; ++i) {
    const std::string b = "txt_in.individual_token_refiner.blocks." + std::to_string(i) + ".";
    RefinerBlock r;
    r.norm1_w = ld.get(b + "norm1.weight");
    r.norm1_b = ld.get(b + "norm1.bias");
    r.qkv = ld.linear(b + "self_attn_qkv");
    r.proj = ld.linear(b + "self_attn_proj");
    r.norm2_w = ld.get(b + "norm2.weight");
    r.norm2_b = ld.get(b + "norm2.bias");
    r.fc1 = ld.linear(b + "mlp.fc1");
    r.fc2 = ld.linear(b + "mlp.fc2");
    r.ada = ld.linear(b + "adaLN_modulation.1");
    w.refiner.push_back(std::move(r));
  }
  w.time0 = ld.linear("time_in.mlp.0");
  w.time2 = ld.linear("time_in.mlp.2");
  w.vec_in = ld.linear("vector_in.in_layer");
  w.vec_out = ld.linear("vector_in.out_layer");
  if (config.guidance_embed) {
    w.guid0 = ld.linear("guidance_in.mlp.0");
    w.guid2 = ld.linear("guidance_in.mlp.2");
  }
  for (int64_t i = 0; i < config.double_blocks; ++i) {
    const std::string b = "double_blocks." + std::to_string(i) + ".";
    DoubleBlock d;
    for (auto [s, sw] : {std::pair{"img", &d.img}, std::pair{"txt", &d.txt}}) {
      const std::string p = b + s;
      sw->mod = ld.linear(p + "_mod.linear");
      sw->qkv = ld.linear(p + "_attn_qkv", config.qkv_bias);
      sw->q_norm = ld.get(p + "_attn_q_norm.weight");
      sw->k_norm = ld.get(p + "_attn_k_norm.weight");
      sw->proj = ld.linear(p + "_attn_proj", config.qkv_bias);
      sw->fc1 = ld.linear(p + "_mlp.fc1");
      sw->fc2 = ld.linear(p + "_mlp.fc2");
    }
    w.doubles.push_back(std::move(d));
    if (on_block) on_block(i + 1, config.double_blocks + config.single_blocks);
  }
  for (int64_t i = 0; i < config.single_blocks; ++i) {
    const std::string b = "single_blocks." + std::to_string(i) + ".";
    SingleBlock s;
    s.linear1 = ld.linear(b + "linear1");
    s.linear2 = ld.linear(b + "linear2");
    s.q_norm = ld.get(b + "q_norm.weight");
    s.k_norm = ld.get(b + "k_norm.weight");
    s.mod = ld.linear(b + "modulation.linear");
    w.singles.push_back(std::move(s));
    if (on_block) on_block(config.double_blocks + i + 1, config.double_blocks + config.single_blocks);
  }
  w.final_linear = ld.linear("final_layer.linear");
  w.final_ada = ld.linear("final_layer.adaLN_modulation.1");
  return w;
}

HunyuanDit load_hunyuan_dit(const std::string& path_in, DType matrix_dtype,
                           const std::function<void(int64_t, int64_t)>& on_block) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path_in, ec)) fail("{}: no such file or folder; pass a HunyuanVideo DiT checkpoint", path_in);
  // A whole diffusers pipeline folder: the DiT lives in transformer/.
  fs::path pp = path_in;
  if (fs::is_directory(pp, ec) && fs::exists(pp / "model_index.json", ec) && fs::is_directory(pp / "transformer", ec))
    pp = pp / "transformer";
  const std::string path = pp.string();
  const Checkpoint ckpt = Checkpoint::open(path);
  const auto layout = detect_layout(ckpt);
  if (!layout)
    fail("{}: holds no HunyuanVideo DiT (no img_in.proj.weight with double_blocks.0.img_attn_qkv.weight, nor the "
         "diffusers x_embedder/transformer_blocks names)", path);
  const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
  const std::optional<nlohmann::json> cj = read_json_if_present((dir / "config.json").string());
  HunyuanDit m;
  m.config = detect_config(ckpt, *layout, cj && cj->is_object() ? &*cj : nullptr);
  m.layout = *layout;
  m.source = path;
  m.weights = load_hunyuan_weights(ckpt, *layout, m.config, matrix_dtype, on_block);
  return m;
}

}  // namespace jenga::hunyuan
