#include "models/hunyuan/hunyuan_vae.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace jenga::hunyuan {

namespace {
namespace fs = std::filesystem;

constexpr const char* kProbe = "decoder.conv_in.conv.weight";

// The official loader keeps only "vae."-prefixed keys when there are any; a .pt reader may
// expose the "state_dict" wrapper as a prefix.
std::optional<std::string> name_prefix(const Checkpoint& c) {
  for (const char* p : {"", "vae.", "state_dict.", "state_dict.vae."})
    if (c.contains(std::string(p) + kProbe) && c.contains(std::string(p) + "post_quant_conv.weight") &&
        c.contains(std::string(p) + "decoder.up_blocks.0.resnets.0.norm1.weight"))
      return std::string(p);
  return std::nullopt;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

// Reads tensors by official name (prefix added), checking shapes; collects missing names so the
// error lists them all, and remembers what was used so leftovers are reported (strict load).
// Without a checkpoint it only lists the names and shapes the model asks for (zeros returned).
class Tensors {
 public:
  Tensors(const Checkpoint& c, std::string prefix, const HunyuanVaeConfig& cfg)
      : c_(&c), prefix_(std::move(prefix)), cfg_(cfg) {}
  explicit Tensors(const HunyuanVaeConfig& cfg) : cfg_(cfg) {}

  bool has(const std::string& n) const { return c_ ? c_->contains(prefix_ + n) : true; }
  bool has_under(const std::string& p) const {
    if (!c_) return true;
    const std::string full = prefix_ + p;
    auto it = std::lower_bound(c_->names().begin(), c_->names().end(), full);
    return it != c_->names().end() && it->rfind(full, 0) == 0;
  }
  const std::vector<std::pair<std::string, std::vector<int64_t>>>& listed() const { return listed_; }

  // Values of `n` with exactly `shape` (trailing 1-dims beyond it are accepted: a Linear saved
  // as a 1x1 conv); empty (and recorded missing) when absent.
  std::vector<float> get(const std::string& n, const std::vector<int64_t>& shape) {
    if (!c_) {
      listed_.emplace_back(n, shape);
      return std::vector<float>(static_cast<size_t>(numel(shape)), 0.0f);
    }
    const Checkpoint& ck = *c_;
    if (!has(n)) {
      missing_.push_back(n);
      return std::vector<float>(static_cast<size_t>(numel(shape)), 0.0f);
    }
    used_.insert(prefix_ + n);
    const auto& got = ck.info(prefix_ + n).shape;
    bool ok = got.size() >= shape.size() && std::equal(shape.begin(), shape.end(), got.begin());
    for (size_t i = shape.size(); ok && i < got.size(); ++i) ok = got[i] == 1;
    if (!ok)
      fail("{}: tensor {} has shape {}, expected {} for {}", ck.path(), prefix_ + n, shape_str(got), shape_str(shape),
           cfg_.summary());
    auto v = ck.load(prefix_ + n, DType::F32).to_f32_vector();
    for (float x : v)
      if (!std::isfinite(x)) fail("{}: tensor {} holds NaN or inf; the file is corrupt", ck.path(), prefix_ + n);
    return v;
  }

  cpu::PackedConv conv(const std::string& p, int64_t cout, int64_t cin, int k) {
    auto w = get(p + "weight", {cout, cin, k, k, k});
    auto b = get(p + "bias", {cout});
    return cpu::pack_conv(w, b, cout, cin, k, k, k);
  }
  HyVaeGroupNorm norm(const std::string& p, int64_t c) { return {get(p + "weight", {c}), get(p + "bias", {c})}; }

  void finish() const {
    if (!c_) return;
    std::vector<std::string> unexpected;
    const Checkpoint& ck = *c_;
    for (const auto& n : ck.names())
      if (n.rfind(prefix_, 0) == 0 && !used_.count(n)) unexpected.push_back(n);
    if (!missing_.empty() || !unexpected.empty())
      fail("{} is not a complete HunyuanVideo VAE for {}: {}", ck.path(), cfg_.summary(),
           describe_tensor_set_diff(missing_, unexpected));
  }

 private:
  static int64_t numel(const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
  }
  const Checkpoint* c_ = nullptr;
  std::string prefix_;
  const HunyuanVaeConfig& cfg_;
  std::vector<std::string> missing_;
  std::set<std::string> used_;
  std::vector<std::pair<std::string, std::vector<int64_t>>> listed_;
};

HyVaeConv causal(Tensors& t, const std::string& p, int64_t cout, int64_t cin, int k, int tstride = 1, int sstride = 1) {
  return HyVaeConv{t.conv(p + "conv.", cout, cin, k), tstride, sstride};
}

HyVaeResBlock resnet(Tensors& t, const std::string& p, int64_t cin, int64_t cout) {
  HyVaeResBlock r;
  r.norm1 = t.norm(p + "norm1.", cin);
  r.conv1 = causal(t, p + "conv1.", cout, cin, 3);
  r.norm2 = t.norm(p + "norm2.", cout);
  r.conv2 = causal(t, p + "conv2.", cout, cout, 3);
  if (cin != cout) r.shortcut = causal(t, p + "conv_shortcut.", cout, cin, 1);
  return r;
}

HyVaeMidBlock mid_block(Tensors& t, const std::string& p, int64_t c, bool attention) {
  HyVaeMidBlock m;
  m.resnets.push_back(resnet(t, p + "resnets.0.", c, c));
  if (attention) {
    const std::string a = p + "attentions.0.";
    HyVaeAttention att;
    att.norm = t.norm(a + "group_norm.", c);
    auto linear = [&](const std::string& n) {
      auto w = t.get(n + "weight", {c, c});
      auto b = t.get(n + "bias", {c});
      return cpu::pack_conv(w, b, c, c, 1, 1, 1);
    };
    att.to_q = linear(a + "to_q.");
    att.to_k = linear(a + "to_k.");
    att.to_v = linear(a + "to_v.");
    att.to_out = linear(a + "to_out.0.");
    m.attentions.emplace_back(std::move(att));
  } else {
    m.attentions.emplace_back(std::nullopt);
  }
  m.resnets.push_back(resnet(t, p + "resnets.1.", c, c));
  return m;
}

HyVaeCoder build_encoder(Tensors& t, const HunyuanVaeConfig& cfg) {
  const auto& boc = cfg.block_out_channels;
  HyVaeCoder e;
  e.conv_in = causal(t, "encoder.conv_in.", boc[0], cfg.in_channels, 3);
  int64_t out = boc[0];
  for (int64_t i = 0; i < cfg.stages(); ++i) {
    const int64_t in = out;
    out = boc[static_cast<size_t>(i)];
    const std::string p = "encoder.down_blocks." + std::to_string(i) + ".";
    HyVaeStage s;
    for (int64_t j = 0; j < cfg.layers_per_block; ++j)
      s.resnets.push_back(resnet(t, p + "resnets." + std::to_string(j) + ".", j == 0 ? in : out, out));
    s.t_factor = cfg.stage_temporal(i) ? 2 : 1;
    s.s_factor = cfg.stage_spatial(i) ? 2 : 1;
    if (s.t_factor > 1 || s.s_factor > 1)
      s.resample = causal(t, p + "downsamplers.0.conv.", out, out, 3, s.t_factor, s.s_factor);
    e.time_factor *= s.t_factor;
    e.space_factor *= s.s_factor;
    e.stages.push_back(std::move(s));
  }
  e.mid = mid_block(t, "encoder.mid_block.", boc.back(), cfg.mid_block_add_attention);
  e.norm_out = t.norm("encoder.conv_norm_out.", boc.back());
  e.conv_out = causal(t, "encoder.conv_out.", 2 * cfg.latent_channels, boc.back(), 3);
  return e;
}

HyVaeCoder build_decoder(Tensors& t, const HunyuanVaeConfig& cfg) {
  std::vector<int64_t> rev(cfg.block_out_channels.rbegin(), cfg.block_out_channels.rend());
  HyVaeCoder d;
  d.conv_in = causal(t, "decoder.conv_in.", rev[0], cfg.latent_channels, 3);
  d.mid = mid_block(t, "decoder.mid_block.", rev[0], cfg.mid_block_add_attention);
  int64_t out = rev[0];
  for (int64_t i = 0; i < cfg.stages(); ++i) {
    const int64_t prev = out;
    out = rev[static_cast<size_t>(i)];
    const std::string p = "decoder.up_blocks." + std::to_string(i) + ".";
    HyVaeStage s;
    for (int64_t j = 0; j < cfg.layers_per_block + 1; ++j)
      s.resnets.push_back(resnet(t, p + "resnets." + std::to_string(j) + ".", j == 0 ? prev : out, out));
    s.t_factor = cfg.stage_temporal(i) ? 2 : 1;
    s.s_factor = cfg.stage_spatial(i) ? 2 : 1;
    if (s.t_factor > 1 || s.s_factor > 1) s.resample = causal(t, p + "upsamplers.0.conv.", out, out, 3);
    d.time_factor *= s.t_factor;
    d.space_factor *= s.s_factor;
    d.stages.push_back(std::move(s));
  }
  d.norm_out = t.norm("decoder.conv_norm_out.", cfg.block_out_channels[0]);
  d.conv_out = causal(t, "decoder.conv_out.", cfg.out_channels, cfg.block_out_channels[0], 3);
  return d;
}

// Counts consecutive indices i with `prefix` + i + "." present.
int64_t count_indexed(const Tensors& t, const std::string& prefix) {
  int64_t n = 0;
  while (t.has_under(prefix + std::to_string(n) + ".")) ++n;
  return n;
}

HunyuanVaeConfig infer_config(const Checkpoint& c, const std::string& prefix) {
  HunyuanVaeConfig cfg;
  const HunyuanVaeConfig dflt;
  Tensors t(c, prefix, dflt);
  auto shape = [&](const std::string& n) -> std::vector<int64_t> {
    if (!t.has(n)) fail("{}: tensor {}{} is missing; not a complete HunyuanVideo VAE", c.path(), prefix, n);
    return c.info(prefix + n).shape;
  };
  const auto cin = shape("decoder.conv_in.conv.weight");
  if (cin.size() != 5) fail("{}: {}decoder.conv_in.conv.weight is not a Conv3d weight", c.path(), prefix);
  cfg.latent_channels = cin[1];
  cfg.out_channels = shape("decoder.conv_out.conv.weight")[0];
  cfg.in_channels = t.has("encoder.conv_in.conv.weight") ? shape("encoder.conv_in.conv.weight")[1] : cfg.out_channels;
  const int64_t n = count_indexed(t, "decoder.up_blocks.");
  if (n < 1) fail("{}: no {}decoder.up_blocks.*", c.path(), prefix);
  cfg.block_out_channels.assign(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i)
    cfg.block_out_channels[static_cast<size_t>(n - 1 - i)] =
        shape("decoder.up_blocks." + std::to_string(i) + ".resnets.0.conv2.conv.weight")[0];
  cfg.layers_per_block = count_indexed(t, "decoder.up_blocks.0.resnets.") - 1;
  cfg.mid_block_add_attention = t.has("decoder.mid_block.attentions.0.to_q.weight");
  cfg.source = "inferred from the tensor shapes (no config.json)";
  cfg.defaulted = {"norm_num_groups", "time_compression_ratio", "spatial_compression_ratio",
                   "sample_size", "sample_tsize", "scaling_factor"};
  try {
    cfg.validate(c.path());
  } catch (const Error& e) {
    fail("{} (norm groups, compression and tile sizes are not in the weights: put the VAE's config.json beside "
         "the file)", e.what());
  }
  return cfg;
}

}  // namespace

bool looks_like_hunyuan_vae(const Checkpoint& ckpt) { return name_prefix(ckpt).has_value(); }

std::vector<std::pair<std::string, std::vector<int64_t>>> hunyuan_vae_tensors(const HunyuanVaeConfig& config) {
  config.validate("HunyuanVideo VAE config");
  Tensors t(config);
  const int64_t z = config.latent_channels;
  (void)t.get("post_quant_conv.weight", {z, z, 1, 1, 1});
  (void)t.get("post_quant_conv.bias", {z});
  (void)build_decoder(t, config);
  (void)build_encoder(t, config);
  (void)t.get("quant_conv.weight", {2 * z, 2 * z, 1, 1, 1});
  (void)t.get("quant_conv.bias", {2 * z});
  return t.listed();
}

HunyuanVaeFiles resolve_hunyuan_vae_files(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("--vae {}: no such file or folder", path);
  HunyuanVaeFiles f;
  if (fs::is_directory(path, ec)) {
    const fs::path cfg = fs::path(path) / "config.json";
    if (json_file_present(cfg.string())) f.config_json = cfg.string();
    bool safetensors = false;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const std::string n = e.path().filename().string();
      if (n.size() > 12 && n.substr(n.size() - 12) == ".safetensors") safetensors = true;
      if (n.size() > 16 && n.substr(n.size() - 16) == ".index.json") safetensors = true;
    }
    if (safetensors) {
      f.weights = path;
    } else if (fs::is_regular_file(fs::path(path) / "pytorch_model.pt", ec)) {
      f.weights = (fs::path(path) / "pytorch_model.pt").string();  // the official vae/ folder
    } else if (fs::is_directory(fs::path(path) / "vae", ec)) {
      fail("{}: holds no VAE weights itself; pass its vae/ subfolder ({})", path, (fs::path(path) / "vae").string());
    } else {
      fail("{}: folder holds neither *.safetensors nor pytorch_model.pt; pass the VAE folder or weights file", path);
    }
    return f;
  }
  if (!fs::is_regular_file(path, ec)) fail("{}: not a regular file or folder; pass the VAE weights file or folder", path);
  f.weights = path;
  const fs::path cfg = fs::path(path).parent_path() / "config.json";
  if (fs::is_regular_file(cfg, ec)) {
    std::ifstream in(cfg);
    const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && is_hunyuan_vae_config(j)) f.config_json = cfg.string();
  }
  return f;
}

HunyuanVaeConfig hunyuan_vae_config_for(const Checkpoint& ckpt, const std::optional<std::string>& config_json) {
  const auto prefix = name_prefix(ckpt);
  if (!prefix)
    fail("{} is not a HunyuanVideo VAE: it lacks {}, post_quant_conv.weight and "
         "decoder.up_blocks.0.resnets.0.norm1.weight (official / diffusers / ComfyUI names)",
         ckpt.path(), kProbe);
  if (!config_json) return infer_config(ckpt, *prefix);
  const nlohmann::json j = read_json_file(*config_json);
  if (!is_hunyuan_vae_config(j))
    fail("{}: not a VAE config (no block_out_channels / latent_channels); pass the vae/ folder", *config_json);
  return parse_hunyuan_vae_config(j, *config_json);
}

HunyuanVae HunyuanVae::load(const Checkpoint& ckpt, const HunyuanVaeConfig& config) {
  const auto prefix = name_prefix(ckpt);
  if (!prefix) (void)hunyuan_vae_config_for(ckpt, std::nullopt);  // throws the "not a HunyuanVideo VAE" error
  config.validate(ckpt.path());
  HunyuanVae v;
  v.config = config;
  v.source = ckpt.path();
  v.layout = prefix->empty() ? "official names (also diffusers / ComfyUI)" : "official names under '" + *prefix + "'";
  Tensors t(ckpt, *prefix, v.config);
  const int64_t z = config.latent_channels;
  {
    auto w = t.get("post_quant_conv.weight", {z, z, 1, 1, 1});
    auto b = t.get("post_quant_conv.bias", {z});
    v.post_quant = cpu::pack_conv(w, b, z, z, 1, 1, 1);
  }
  v.decoder = build_decoder(t, config);
  v.has_encoder = t.has_under("encoder.") || t.has_under("quant_conv.");
  if (v.has_encoder) {
    v.encoder = build_encoder(t, config);
    auto w = t.get("quant_conv.weight", {2 * z, 2 * z, 1, 1, 1});
    auto b = t.get("quant_conv.bias", {2 * z});
    // Only the mean (first z output channels) is used: the posterior's mode.
    w.resize(static_cast<size_t>(z * 2 * z));
    b.resize(static_cast<size_t>(z));
    v.quant_mean = cpu::pack_conv(w, b, z, 2 * z, 1, 1, 1);
  }
  t.finish();
  return v;
}

HunyuanVae HunyuanVae::load(const std::string& path) {
  const auto files = resolve_hunyuan_vae_files(path);
  const Checkpoint ckpt = Checkpoint::open(files.weights);
  return load(ckpt, hunyuan_vae_config_for(ckpt, files.config_json));
}

Frames hunyuan_frames_to_rgb(const Tensor& frames) {
  if (frames.device() != Device::CPU || frames.dtype() != DType::F32 || frames.ndim() != 4 || frames.dim(0) != 3)
    fail("HunyuanVideo frames to RGB: expected a CPU f32 [3, F, H, W] tensor, got {}", frames.shape().str());
  Frames f;
  f.count = static_cast<int>(frames.dim(1)), f.height = static_cast<int>(frames.dim(2)),
  f.width = static_cast<int>(frames.dim(3));
  const size_t plane = static_cast<size_t>(frames.dim(1) * frames.dim(2) * frames.dim(3));
  f.rgb.resize(plane * 3);
  const float* x = frames.data_as<float>();
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) {
      // Official: (image / 2 + 0.5).clamp(0, 1), then (x * 255).numpy().astype(np.uint8).
      const float y = x[c * plane + i] / 2.0f + 0.5f;
      const float v = y > 0.0f ? (y < 1.0f ? y : 1.0f) : 0.0f;  // NaN -> 0
      f.rgb[i * 3 + c] = static_cast<uint8_t>(v * 255.0f);
    }
  return f;
}

}  // namespace jenga::hunyuan
