#include "models/wan/vae_model.h"

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/wan/vae_names.h"

namespace jenga::wan {

const float kWanLatentMean[16] = {-0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
                                  0.4134f,  -0.0715f, 0.5517f,  -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f};
const float kWanLatentStd[16] = {2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                                 3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f};

namespace {

class Reader {
 public:
  explicit Reader(const Checkpoint& c) : c_(c) {
    if (is_diffusers_vae(c.names())) {
      alias_ = diffusers_vae_to_official(c.names());
      layout_ = "diffusers";
    } else {
      for (const auto& n : c.names()) alias_[n] = n;
    }
    for (const auto& [n, unused] : alias_) {
      // Every prefix ending in '.', so "does layer i exist" is one lookup.
      for (size_t p = n.find('.'); p != std::string::npos; p = n.find('.', p + 1)) prefixes_.insert(n.substr(0, p + 1));
    }
  }
  bool has(const std::string& name) const { return alias_.count(name) != 0; }
  bool has_prefix(const std::string& p) const { return prefixes_.count(p) != 0; }

  std::vector<float> vec(const std::string& name, int64_t expect_numel) const {
    need(name);
    Tensor t = c_.load(alias_.at(name), DType::F32);
    if (t.numel() != expect_numel)
      fail("{}: tensor {} has shape {}, expected {} values; is this a Wan2.1 VAE?", c_.path(), name,
           t.shape().str(), expect_numel);
    auto v = t.to_f32_vector();
    for (float x : v)
      if (!std::isfinite(x)) fail("{}: tensor {} holds NaN or inf", c_.path(), name);
    return v;
  }
  std::vector<int64_t> shape(const std::string& name) const {
    need(name);
    return c_.info(alias_.at(name)).shape;
  }
  // A conv weight [cout, cin, (kt,) kh, kw] and its bias; `dims` is 5 for Conv3d, 4 for Conv2d.
  cpu::PackedConv conv(const std::string& prefix, int dims) const {
    const auto s = shape(prefix + "weight");
    if (static_cast<int>(s.size()) != dims)
      fail("{}: {}weight has shape with {} dims, expected a Conv{}d weight", c_.path(), prefix, s.size(), dims - 2);
    const int kt = dims == 5 ? static_cast<int>(s[2]) : 1;
    const int kh = static_cast<int>(s[dims - 2]), kw = static_cast<int>(s[dims - 1]);
    auto w = vec(prefix + "weight", s[0] * s[1] * kt * kh * kw);
    std::vector<float> b;
    if (has(prefix + "bias")) b = vec(prefix + "bias", s[0]);
    return cpu::pack_conv(w, b, s[0], s[1], kt, kh, kw);
  }
  const std::string& path() const { return c_.path(); }

 private:
  void need(const std::string& name) const {
    if (!has(name))
      fail("{}: tensor {} (official name; this file uses {} names) is missing; expected a complete Wan2.1 VAE",
           c_.path(), name, layout_);
  }
  const Checkpoint& c_;
  std::set<std::string> prefixes_;
  std::map<std::string, std::string> alias_;  // official name -> name in the file
  const char* layout_ = "official";
};

VaeCausalConv causal_conv(const Reader& r, const std::string& prefix, int& slots) {
  VaeCausalConv c;
  c.conv = r.conv(prefix, 5);
  if (c.conv.kt != 1 && c.conv.kt != 3) fail("{}: {}weight has temporal kernel {}, expected 1 or 3", r.path(), prefix, c.conv.kt);
  if (c.conv.kh != c.conv.kw || c.conv.kh % 2 == 0)
    fail("{}: {}weight has a {}x{} spatial kernel, expected odd and square", r.path(), prefix, c.conv.kh, c.conv.kw);
  c.pad = c.conv.kh / 2;
  if (c.conv.kt == 3) c.cache_slot = slots++;
  return c;
}

VaeResBlock res_block(const Reader& r, const std::string& p, int& slots) {
  VaeResBlock b;
  b.conv1 = causal_conv(r, p + "residual.2.", slots);
  b.conv2 = causal_conv(r, p + "residual.6.", slots);
  b.gamma1 = r.vec(p + "residual.0.gamma", b.conv1.conv.cin);
  b.gamma2 = r.vec(p + "residual.3.gamma", b.conv2.conv.cin);
  if (r.has(p + "shortcut.weight")) {
    b.has_shortcut = true;
    int unused = 0;
    b.shortcut = causal_conv(r, p + "shortcut.", unused);
    if (b.shortcut.conv.kt != 1 || b.shortcut.conv.kh != 1) fail("{}: {}shortcut is not a 1x1x1 conv", r.path(), p);
  } else if (b.conv1.conv.cin != b.conv2.conv.cout) {
    fail("{}: {} changes channels {} -> {} but has no shortcut", r.path(), p, b.conv1.conv.cin, b.conv2.conv.cout);
  }
  return b;
}

VaeAttnBlock attn_block(const Reader& r, const std::string& p) {
  VaeAttnBlock a;
  a.to_qkv = r.conv(p + "to_qkv.", 4);
  a.proj = r.conv(p + "proj.", 4);
  a.gamma = r.vec(p + "norm.gamma", a.proj.cin);
  if (a.to_qkv.cout != 3 * a.to_qkv.cin || a.to_qkv.kh != 1) fail("{}: {}to_qkv is not a 1x1 c -> 3c conv", r.path(), p);
  return a;
}

VaeResample resample(const Reader& r, const std::string& p, bool up, int& slots) {
  VaeResample s;
  s.spatial = r.conv(p + "resample.1.", 4);
  const bool temporal = r.has(p + "time_conv.weight") || r.has(p + "time_conv.bias");
  if (temporal) {
    s.time_conv = r.conv(p + "time_conv.", 5);
    if (s.time_conv.kt != 3 || s.time_conv.kh != 1) fail("{}: {}time_conv is not a (3,1,1) conv", r.path(), p);
    s.cache_slot = slots++;
  }
  s.mode = up ? (temporal ? ResampleMode::Upsample3d : ResampleMode::Upsample2d)
              : (temporal ? ResampleMode::Downsample3d : ResampleMode::Downsample2d);
  return s;
}

// Appends the layers under `prefix`{0,1,...}. in the order the official Sequential runs them.
void read_layers(const Reader& r, const std::string& prefix, bool up, VaeCoder& c) {
  for (int i = 0;; ++i) {
    const std::string p = prefix + std::to_string(i) + ".";
    if (!r.has_prefix(p)) break;
    if (r.has(p + "residual.0.gamma")) {
      c.layers.emplace_back(res_block(r, p, c.cache_slots));
    } else if (r.has(p + "to_qkv.weight")) {
      c.layers.emplace_back(attn_block(r, p));
    } else if (r.has(p + "resample.1.weight")) {
      auto s = resample(r, p, up, c.cache_slots);
      c.spatial_factor *= 2;
      if (s.cache_slot >= 0) c.temporal_factor *= 2;
      c.layers.emplace_back(std::move(s));
    } else {
      fail("{}: layer {} is neither a residual, attention nor resample block", r.path(), p);
    }
  }
}

VaeCoder coder(const Reader& r, const std::string& root, bool decoder) {
  VaeCoder c;
  c.conv_in = causal_conv(r, root + "conv1.", c.cache_slots);
  if (decoder) {
    read_layers(r, root + "middle.", decoder, c);
    read_layers(r, root + "upsamples.", decoder, c);
  } else {
    read_layers(r, root + "downsamples.", decoder, c);
    read_layers(r, root + "middle.", decoder, c);
  }
  c.conv_out = causal_conv(r, root + "head.2.", c.cache_slots);
  c.head_gamma = r.vec(root + "head.0.gamma", c.conv_out.conv.cin);
  return c;
}

}  // namespace

bool looks_like_wan_vae(const Checkpoint& ckpt) {
  return ckpt.contains("decoder.conv1.weight") || ckpt.contains("encoder.conv1.weight") ||
         ckpt.contains("decoder.conv_in.weight");
}

WanVae WanVae::load(const Checkpoint& ckpt) {
  Reader r(ckpt);
  if (!r.has("decoder.conv1.weight") || !r.has("conv2.weight"))
    fail("{} is not a Wan2.1 VAE: it has neither decoder.conv1.weight + conv2.weight (official Wan2.1_VAE names) "
         "nor decoder.conv_in.weight + post_quant_conv.weight (diffusers vae/)",
         ckpt.path());
  WanVae v;
  v.source = ckpt.path();
  v.post_quant = r.conv("conv2.", 5);
  v.z_dim = v.post_quant.cout;
  if (v.post_quant.cin != v.z_dim || v.post_quant.k() != v.z_dim) fail("{}: conv2 is not a 1x1x1 z -> z conv", ckpt.path());
  if (v.z_dim != 16) fail("{}: z_dim is {}; the Wan2.1 latent statistics are for z_dim 16", ckpt.path(), v.z_dim);
  v.decoder = coder(r, "decoder.", true);
  if (v.decoder.conv_in.conv.cin != v.z_dim)
    fail("{}: decoder.conv1 takes {} channels, expected z_dim {}", ckpt.path(), v.decoder.conv_in.conv.cin, v.z_dim);
  v.base_dim = v.decoder.conv_out.conv.cin;
  if (r.has("encoder.conv1.weight")) {
    v.has_encoder = true;
    v.encoder = coder(r, "encoder.", false);
    v.quant = r.conv("conv1.", 5);
    if (v.quant.cout != 2 * v.z_dim || v.quant.k() != 2 * v.z_dim || v.encoder.conv_out.conv.cout != 2 * v.z_dim)
      fail("{}: encoder head / conv1 do not produce 2*z_dim = {} channels", ckpt.path(), 2 * v.z_dim);
  }
  return v;
}

}  // namespace jenga::wan
