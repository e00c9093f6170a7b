#pragma once
// The image side of HunyuanVideo-I2V's text encoder (a LlavaForConditionalGeneration, f32 on
// the CPU): CLIPImageProcessor (shortest edge -> PIL resize, center crop, rescale, mean/std), the
// CLIP vision tower (patch conv, class embedding, positions, pre-LayerNorm, pre-LN layers with
// quick-GELU MLPs) read at hidden_states[vision_feature_layer] with the CLS row dropped
// ("default" strategy), and the 2-layer projector (linear_1 -> GELU (erf) -> linear_2).
// Weights under the published names: vision_tower.vision_model.*, multi_modal_projector.*.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/image_reader.h"
#include "io/pil_resample.h"
#include "models/hunyuan/text_encoder_weights.h"

namespace jenga::hunyuan {

// preprocessor_config.json (CLIPImageProcessor, transformers 4.46.3); defaults are CLIP ViT-L/14-336's.
struct ClipImageProcessorConfig {
  bool do_resize = true, do_center_crop = true, do_rescale = true, do_normalize = true;
  int shortest_edge = 336, crop_height = 336, crop_width = 336;
  // size {"height": H, "width": W}: resize straight to HxW (no aspect kept); 0 = shortest_edge.
  int resize_height = 0, resize_width = 0;
  PilFilter resample = PilFilter::Bicubic;
  double rescale_factor = 1.0 / 255.0;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  std::string source;  // the preprocessor_config.json read

  // A folder holding preprocessor_config.json (one-line error without it) or that file itself.
  static ClipImageProcessorConfig load(const std::string& path);
};

// img -> pixel_values [3, crop_h, crop_w] f32, as CLIPImageProcessor on a PIL RGB image.
Tensor clip_preprocess(const RgbImage& img, const ClipImageProcessorConfig& cfg);

struct LlavaVisionConfig {
  int64_t image_size = 0, patch = 0, hidden = 0, layers = 0, heads = 0, ffn = 0;
  int64_t proj_hidden = 0, proj_out = 0;  // linear_1: hidden -> proj_hidden; linear_2: -> proj_out
  float ln_eps = 1e-5f;
  bool quick_gelu = true;         // vision hidden_act
  int64_t feature_layer = -2;     // index into hidden_states (embeddings after pre-LN, then each layer)
  bool drop_cls = true;           // vision_feature_select_strategy "default" ("full" keeps it)
  int64_t tokens() const { return (image_size / patch) * (image_size / patch); }
  // The encoder layers run to reach hidden_states[feature_layer] (23 of ViT-L's 24 at -2).
  int64_t layers_run() const { return feature_layer < 0 ? layers + 1 + feature_layer : feature_layer; }
};

struct LlavaImageFeatures {
  Tensor features;   // [N, hidden] f32: hidden_states[feature_layer] (CLS dropped if drop_cls)
  Tensor projected;  // [N, proj_out] f32: multi_modal_projector(features)
};

class LlavaVisionEncoder {
 public:
  // A LLaVA folder (config.json with vision_config, safetensors shards) or a safetensors file with
  // config.json beside it; config.json must agree with the weights' shapes (one-line error naming
  // the field otherwise).
  static LlavaVisionEncoder open(const std::string& path);
  const LlavaVisionConfig& config() const { return cfg_; }

  // pixel_values: [3, image_size, image_size] f32.
  LlavaImageFeatures encode(const Tensor& pixel_values) const;
  // Fails in one line unless pixel_values is f32 [3, image_size, image_size].
  void check_pixels(const Tensor& pixel_values) const;
  // Fails in one line when the processor's crop (or resize without one) is not image_size square.
  void check_processor(const ClipImageProcessorConfig& processor) const;

  // vision_tower.vision_model.* and multi_modal_projector.* (the CUDA encoder uploads them).
  const EncoderWeights& vision_weights() const { return vis_; }
  const EncoderWeights& projector_weights() const { return proj_; }

 private:
  EncoderWeights vis_, proj_;
  LlavaVisionConfig cfg_;
};

}  // namespace jenga::hunyuan
