#include "models/hunyuan/llava_vision.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_t5vae.h"
#include "core/error.h"
#include "io/json_file.h"
#include "models/hunyuan/clip_encoder_layers.h"

namespace jenga::hunyuan {
namespace {

nlohmann::json read_json(const std::filesystem::path& p) { return read_json_file(p.string()); }

int64_t json_int(const nlohmann::json& j, const char* key, int64_t dflt) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : dflt;
}

// "crop_size": {"height": H, "width": W} | N
void crop_field(const nlohmann::json& j, int& h, int& w) {
  if (j.is_number_integer()) {
    h = w = j.get<int>();
  } else if (j.is_object()) {
    if (j.contains("height")) h = j["height"].get<int>();
    if (j.contains("width")) w = j["width"].get<int>();
  }
}

// "size": N | {"shortest_edge": N} (aspect kept) | {"height": H, "width": W} (straight to HxW),
// checked in that order as CLIPImageProcessor.resize does.
void size_field(const nlohmann::json& j, ClipImageProcessorConfig& c, const std::string& file) {
  if (j.is_number_integer()) {
    c.shortest_edge = j.get<int>();
  } else if (j.is_object() && j.contains("shortest_edge")) {
    c.shortest_edge = j["shortest_edge"].get<int>();
  } else if (j.is_object() && j.contains("height") && j.contains("width")) {
    c.resize_height = j["height"].get<int>(), c.resize_width = j["width"].get<int>();
    if (c.resize_height < 1 || c.resize_width < 1 || c.resize_height > kMaxImageSide || c.resize_width > kMaxImageSide)
      fail("{}: size {}x{}: each side must be 1..{}", file, c.resize_width, c.resize_height, kMaxImageSide);
  } else {
    fail("{}: size {} needs \"shortest_edge\" or both \"height\" and \"width\"", file, j.dump());
  }
}

}  // namespace

ClipImageProcessorConfig ClipImageProcessorConfig::load(const std::string& path) {
  namespace fs = std::filesystem;
  ClipImageProcessorConfig c;
  std::error_code ec;
  fs::path p(path);
  // transformers' CLIPImageProcessor.from_pretrained (the official I2V loader) raises without the file.
  if (fs::is_directory(p, ec)) {
    p /= "preprocessor_config.json";
    if (!json_file_present(p.string()))
      fail("{}: no preprocessor_config.json (the CLIPImageProcessor settings of the LLaVA image side); copy it from the "
           "model's text_encoder_i2v/ folder", path);
  } else if (p.extension() != ".json") {
    fail("{}: a file; the LLaVA image side needs its folder (text_encoder_i2v/: config.json, the safetensors, "
         "preprocessor_config.json)", path);
  }
  c.source = p.string();
  const auto j = read_json(p);
  // image_mean / image_std: 3 numbers, or one for every channel (transformers' normalize).
  const auto per_channel = [&](const char* key, float* out) {
    if (!j.contains(key)) return;
    const auto& a = j[key];
    const bool ok = a.is_number() || (a.is_array() && a.size() == 3 && std::all_of(a.begin(), a.end(), [](const auto& x) { return x.is_number(); }));
    if (!ok) fail("{}: {} needs 3 numbers (one per RGB channel), got {}", p.string(), key, a.dump());
    for (int i = 0; i < 3; ++i) out[i] = (a.is_number() ? a : a[i]).template get<float>();
  };
  per_channel("image_mean", c.mean);
  per_channel("image_std", c.std);
  try {
    c.do_resize = j.value("do_resize", true);
    c.do_center_crop = j.value("do_center_crop", true);
    c.do_rescale = j.value("do_rescale", true);
    c.do_normalize = j.value("do_normalize", true);
    if (j.contains("size")) size_field(j["size"], c, p.string());
    if (j.contains("crop_size")) crop_field(j["crop_size"], c.crop_height, c.crop_width);
    c.rescale_factor = j.value("rescale_factor", 1.0 / 255.0);
    const int resample = j.value("resample", 3);
    if (resample != 2 && resample != 3) fail("{}: resample {} is not supported (2 bilinear, 3 bicubic)", p.string(), resample);
    c.resample = resample == 2 ? PilFilter::Bilinear : PilFilter::Bicubic;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: unexpected field type ({})", p.string(), e.what());
  }
  if (c.shortest_edge < 1 || c.crop_height < 1 || c.crop_width < 1 || c.shortest_edge > kMaxImageSide)
    fail("{}: sizes must be positive (shortest_edge {}, crop {}x{})", p.string(), c.shortest_edge, c.crop_width, c.crop_height);
  return c;
}

Tensor clip_preprocess(const RgbImage& img, const ClipImageProcessorConfig& cfg) {
  int rw = img.width, rh = img.height;  // the resized size
  if (cfg.do_resize && cfg.resize_height > 0) {  // size {"height", "width"}: no aspect kept
    rw = cfg.resize_width, rh = cfg.resize_height;
  } else if (cfg.do_resize) {  // transformers' get_resize_output_image_size(default_to_square=False)
    const bool w_short = img.width <= img.height;
    const int64_t s = w_short ? img.width : img.height, l = w_short ? img.height : img.width;
    const int new_long = static_cast<int>(static_cast<double>(cfg.shortest_edge * l) / static_cast<double>(s));
    rw = w_short ? cfg.shortest_edge : new_long, rh = w_short ? new_long : cfg.shortest_edge;
  }
  int H = rh, W = rw, top = 0, left = 0;
  if (cfg.do_center_crop) {  // transformers' center_crop: floor offsets when cropping
    H = cfg.crop_height;
    W = cfg.crop_width;
    top = (rh - H) / 2;
    left = (rw - W) / 2;
    // Zero padding when smaller: ceil((crop - size) / 2) before, so an odd extra pixel goes top/left.
    if (rh < H) top = -((H - rh + 1) / 2);
    if (rw < W) left = -((W - rw + 1) / 2);
  }
  // Resize only the part the crop keeps (the same pixels; a very long image stays cheap).
  const int y0 = std::max(0, top), y1 = std::min(rh, top + H), x0 = std::max(0, left), x1 = std::min(rw, left + W);
  const PixelWindow window{x0, y0, x1 - x0, y1 - y0};
  const RgbImage kept = cfg.do_resize ? pil_resize_window(img, rw, rh, cfg.resample, window) : img;
  const int ky = cfg.do_resize ? y0 : 0, kx = cfg.do_resize ? x0 : 0;  // kept's origin in the resized image
  Tensor out = Tensor::empty(DType::F32, {3, H, W});
  float* p = out.data_as<float>();
  const size_t plane = static_cast<size_t>(H) * W;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const int sy = y + top, sx = x + left;
      const bool inside = sy >= y0 && sy < y1 && sx >= x0 && sx < x1;
      for (int c = 0; c < 3; ++c) {
        float v = inside ? kept.pixel(sy - ky, sx - kx)[c] : 0.0f;
        if (cfg.do_rescale) v = static_cast<float>(static_cast<double>(v) * cfg.rescale_factor);  // f64 then f32
        if (cfg.do_normalize) v = (v - cfg.mean[c]) / cfg.std[c];
        p[c * plane + static_cast<size_t>(y) * W + x] = v;
      }
    }
  return out;
}

LlavaVisionEncoder LlavaVisionEncoder::open(const std::string& path) {
  auto ckpt = open_encoder_checkpoint(path);
  auto vis = EncoderWeights::find(ckpt, "embeddings.class_embedding", "pre_layrnorm.weight");
  auto proj = EncoderWeights::find(ckpt, "linear_1.weight", "linear_2.weight");
  if (!vis || !proj)
    fail("{}: no LLaVA image side (expected vision_tower.vision_model.embeddings.class_embedding and "
         "multi_modal_projector.linear_1.weight); give the HunyuanVideo-I2V text_encoder_i2v folder", path);
  LlavaVisionEncoder e;
  e.vis_ = std::move(*vis);
  e.proj_ = std::move(*proj);
  LlavaVisionConfig& k = e.cfg_;
  const auto conv = e.vis_.shape("embeddings.patch_embedding.weight");  // [D, 3, p, p]
  const auto pos = e.vis_.shape("embeddings.position_embedding.weight");  // [N+1, D]
  const auto fc1 = e.vis_.shape("encoder.layers.0.mlp.fc1.weight");
  const auto l1 = e.proj_.shape("linear_1.weight"), l2 = e.proj_.shape("linear_2.weight");
  if (conv.size() != 4 || conv[1] != 3 || conv[2] != conv[3] || pos.size() != 2 || fc1.size() != 2 || l1.size() != 2 ||
      l2.size() != 2)
    fail("{}: unexpected vision tower / projector shapes", path);
  k.hidden = conv[0], k.patch = conv[2], k.ffn = fc1[0];
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(pos[0] - 1))));
  k.image_size = side * k.patch;
  while (e.vis_.has("encoder.layers." + std::to_string(k.layers) + ".self_attn.q_proj.weight")) ++k.layers;
  k.proj_hidden = l1[0], k.proj_out = l2[0];
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  const fs::path cfg_path = folder ? fs::path(path) / "config.json" : fs::path(path).parent_path() / "config.json";
  if (!json_file_present(cfg_path.string()))
    fail("{}: no config.json {} (LLaVA's vision_config, text_config, image_token_index); copy it from the model's "
         "text_encoder_i2v/ folder", path, folder ? "in the folder" : "beside the file");
  const auto j = read_json(cfg_path);
  const std::string cfg = cfg_path.string();
  try {
    const bool has_v = j.contains("vision_config");
    const auto v = has_v ? j["vision_config"] : nlohmann::json::object();
    // transformers' values for an absent key: CLIPVisionConfig's defaults inside a vision_config (a
    // saved one omits them), LLaVA's own ViT-L/14-336 without any vision_config.
    const auto vision_value = [&](const char* key, int64_t clip, int64_t llava) { return json_int(v, key, has_v ? clip : llava); };
    k.heads = has_v ? json_int(v, "num_attention_heads", 12) : k.hidden / 64;
    const int64_t hidden = vision_value("hidden_size", 768, 1024), layers = vision_value("num_hidden_layers", 12, 24);
    const int64_t ffn = vision_value("intermediate_size", 3072, 4096), patch = vision_value("patch_size", 32, 14);
    if (hidden != k.hidden)
      fail("{}: vision_config.hidden_size is {} but the weights are {} wide (embeddings.patch_embedding)", cfg, hidden, k.hidden);
    if (layers != k.layers)
      fail("{}: vision_config.num_hidden_layers is {} but the weights hold {} layers (encoder.layers.0..{} without a gap)",
           cfg, layers, k.layers, k.layers - 1);
    if (ffn != k.ffn) fail("{}: vision_config.intermediate_size is {} but the weights hold {} (mlp.fc1)", cfg, ffn, k.ffn);
    if (patch != k.patch) fail("{}: vision_config.patch_size is {} but the patch conv is {}x{}", cfg, patch, k.patch, k.patch);
    // The projector writes LLM rows: text_config.hidden_size wide (Llama's 4096 when absent).
    const bool has_t = j.contains("text_config") && j["text_config"].is_object();
    const int64_t text_hidden = has_t ? json_int(j["text_config"], "hidden_size", 4096) : 4096;
    if (text_hidden != k.proj_out)
      fail("{}: {} but the projector gives {} values per row (multi_modal_projector.linear_2)", cfg,
           has_t ? fmt::format("text_config.hidden_size is {}", text_hidden)
                 : std::string("no text_config (transformers then takes Llama's width 4096)"),
           k.proj_out);
    k.ln_eps = static_cast<float>(v.value("layer_norm_eps", 1e-5));
    const std::string act = v.value("hidden_act", std::string("quick_gelu"));
    if (act != "quick_gelu" && act != "gelu") fail("{}: vision hidden_act '{}' is not supported", cfg, act);
    k.quick_gelu = act == "quick_gelu";
    const int64_t img = json_int(v, "image_size", k.image_size);
    if (img != k.image_size) fail("{}: image_size {} but the position table fits {}", cfg, img, k.image_size);
    if (j.contains("vision_feature_layer") && !j["vision_feature_layer"].is_number_integer())
      fail("{}: vision_feature_layer {} is a list or not an integer; HunyuanVideo-I2V reads one layer (-2), and several "
           "layers concatenated are not supported", cfg, j["vision_feature_layer"].dump());
    k.feature_layer = json_int(j, "vision_feature_layer", -2);
    const std::string strategy = j.value("vision_feature_select_strategy", std::string("default"));
    if (strategy != "default" && strategy != "full") fail("{}: vision_feature_select_strategy '{}' is not supported", cfg, strategy);
    k.drop_cls = strategy == "default";
    const std::string pact = j.value("projector_hidden_act", std::string("gelu"));
    if (pact != "gelu") fail("{}: projector_hidden_act '{}' is not supported (gelu)", cfg, pact);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: unexpected field type ({})", cfg, e.what());
  }
  if (pos[0] != side * side + 1 || pos[1] != k.hidden) fail("{}: position table {}x{} does not fit a square patch grid", path, pos[0], pos[1]);
  if (k.heads <= 0 || k.hidden % k.heads) fail("{}: {} heads do not divide width {}", path, k.heads, k.hidden);
  if (l1[1] != k.hidden || l2[1] != k.proj_hidden) fail("{}: projector shapes do not chain from width {}", path, k.hidden);
  const int64_t run = k.layers_run();
  if (run < 0 || run > k.layers) fail("{}: vision_feature_layer {} is outside 0..{}", path, k.feature_layer, k.layers);
  return e;
}

void LlavaVisionEncoder::check_pixels(const Tensor& pixel_values) const {
  const LlavaVisionConfig& k = cfg_;
  if (pixel_values.dtype() != DType::F32 || pixel_values.ndim() != 3 || pixel_values.dim(0) != 3 ||
      pixel_values.dim(1) != k.image_size || pixel_values.dim(2) != k.image_size)
    fail("encode-image: pixel_values has shape {}, expected [3, {}, {}] f32 (the vision tower's image_size): "
         "preprocessor_config.json's resize and crop must give that", pixel_values.shape().str(), k.image_size, k.image_size);
}

void LlavaVisionEncoder::check_processor(const ClipImageProcessorConfig& p) const {
  const int64_t s = cfg_.image_size;
  const bool resized = p.do_resize && p.resize_height > 0;  // size {"height", "width"}
  const char* what = p.do_center_crop ? "crop_size" : "size";
  const int64_t h = p.do_center_crop ? p.crop_height : p.resize_height, w = p.do_center_crop ? p.crop_width : p.resize_width;
  if ((p.do_center_crop || resized) && (h != s || w != s))
    fail("{}: {} {}x{} but the vision tower takes {}x{} images (config.json's vision_config.image_size); the two files "
         "disagree", p.source, what, w, h, s, s);
}

LlavaImageFeatures LlavaVisionEncoder::encode(const Tensor& pixel_values) const {
  const LlavaVisionConfig& k = cfg_;
  check_pixels(pixel_values);
  const int64_t D = k.hidden, P = k.patch, G = k.image_size / P, N = G * G, L = N + 1, H = k.heads, F = k.ffn;
  const float* px = pixel_values.data_as<float>();

  // Patch conv (no bias) as a GEMM: patches [N, 3*P*P] ordered (c, i, j) like the weight.
  std::vector<float> patches(static_cast<size_t>(N * 3 * P * P));
  for (int64_t gy = 0; gy < G; ++gy)
    for (int64_t gx = 0; gx < G; ++gx)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < P; ++i)
          for (int64_t j = 0; j < P; ++j)
            patches[(gy * G + gx) * 3 * P * P + (c * P + i) * P + j] =
                px[c * k.image_size * k.image_size + (gy * P + i) * k.image_size + gx * P + j];
  std::vector<float> x(static_cast<size_t>(L * D));
  {
    const auto w = vis_.f32("embeddings.patch_embedding.weight", {D, 3, P, P});
    cpu::linear(patches.data(), w.data(), nullptr, x.data() + D, N, D, 3 * P * P);
    const auto cls = vis_.f32("embeddings.class_embedding", {D});
    std::copy(cls.begin(), cls.end(), x.begin());
    const auto pe = vis_.f32("embeddings.position_embedding.weight", {L, D});
    for (int64_t i = 0; i < L * D; ++i) x[i] += pe[i];
    const auto g = vis_.f32("pre_layrnorm.weight", {D}), b = vis_.f32("pre_layrnorm.bias", {D});
    cpu::layer_norm(x.data(), x.data(), L, D, g.data(), b.data(), k.ln_eps);
  }
  run_clip_encoder_layers(vis_, {L, D, H, F, k.ln_eps, k.quick_gelu}, k.layers_run(), x.data(), nullptr, nullptr);
  const int64_t first = k.drop_cls ? 1 : 0, T = L - first;
  LlavaImageFeatures out;
  out.features = Tensor::empty(DType::F32, {T, D});
  std::copy(x.begin() + first * D, x.end(), out.features.data_as<float>());
  std::vector<float> mid(static_cast<size_t>(T * k.proj_hidden));
  {
    const auto w = proj_.f32("linear_1.weight", {k.proj_hidden, D}), b = proj_.f32("linear_1.bias", {k.proj_hidden});
    cpu::linear(out.features.data_as<float>(), w.data(), b.data(), mid.data(), T, k.proj_hidden, D);
  }
  for (auto& v : mid) v = 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f)));  // nn.GELU() (exact)
  out.projected = Tensor::empty(DType::F32, {T, k.proj_out});
  {
    const auto w = proj_.f32("linear_2.weight", {k.proj_out, k.proj_hidden}), b = proj_.f32("linear_2.bias", {k.proj_out});
    cpu::linear(mid.data(), w.data(), b.data(), out.projected.data_as<float>(), T, k.proj_out, k.proj_hidden);
  }
  const float* pr = out.projected.data_as<float>();
  for (int64_t i = 0; i < out.projected.numel(); ++i)
    if (!std::isfinite(pr[i])) fail("{}: the LLaVA image encoder produced NaN or inf (bad weights?)", vis_.path());
  return out;
}

}  // namespace jenga::hunyuan
