// `jenga debug image-prep | encode-image`: the HunyuanVideo-I2V reference-image preparation and
// the LLaVA image side of its text encoder on any PNG/JPEG, so the bucket, pixels and image
// tokens can be compared with the official code.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "io/image_reader.h"
#include "io/safetensors.h"
#include "models/hunyuan/i2v_image_prep.h"
#include "models/hunyuan/llava_vision.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "models/hunyuan/llava_vision_cuda.h"
#endif

namespace jenga::cli {
namespace {

struct ImagePrepOptions {
  std::string image, out, json_out, resolution = "720p";
};

void run_image_prep(const ImagePrepOptions& o) {
  hunyuan::i2v_bucket_base(o.resolution);  // a bad flag fails before the image is read
  const RgbImage img = read_image_rgb(o.image);
  const hunyuan::I2vImage prep = hunyuan::prepare_i2v_image(img, o.resolution);
  const nlohmann::json info = {
      {"resolution", o.resolution},
      {"image_height", img.height},
      {"image_width", img.width},
      {"bucket_height", prep.bucket.height},
      {"bucket_width", prep.bucket.width},
      {"resized_height", prep.resized_h},
      {"resized_width", prep.resized_w},
  };
  SafetensorsWriter w;
  w.add("pixels", prep.pixels);  // [3, H, W] f32 in [-1, 1]
  w.set_metadata("bucket", info.dump());
  w.write(o.out);
  if (!o.json_out.empty()) {
    const std::string tmp = o.json_out + ".tmp";
    {
      std::ofstream f(tmp);
      f << info.dump(2) << "\n";
      if (!f) fail("--json {}: cannot write it (full disk or no permission?)", o.json_out);
    }
    if (std::rename(tmp.c_str(), o.json_out.c_str()) != 0) fail("--json {}: cannot write it", o.json_out);
  }
  std::printf("%s\n", info.dump().c_str());
}

struct EncodeImageOptions {
  std::string text_encoder, image, out, device = "cpu", precision = "fp16";
};

void run_encode_image(const EncodeImageOptions& o) {
#if JENGA_HAVE_CUDA
  if (o.device == "cuda" && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (o.device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  // Both inputs are checked before the weights are read.
  const RgbImage img = read_image_rgb(o.image);
  const auto enc = hunyuan::LlavaVisionEncoder::open(o.text_encoder);
  const auto proc = hunyuan::ClipImageProcessorConfig::load(o.text_encoder);
  enc.check_processor(proc);
  const Tensor pixels = hunyuan::clip_preprocess(img, proc);
  hunyuan::LlavaImageFeatures r;
#if JENGA_HAVE_CUDA
  if (o.device == "cuda") {
    const auto p = o.precision == "f32" ? hunyuan::TextEncoderPrecision::F32 : hunyuan::TextEncoderPrecision::F16;
    r = hunyuan::LlavaVisionEncoderCuda::upload(enc, p)->encode(pixels);
  }
#endif
  if (o.device != "cuda") r = enc.encode(pixels);
  SafetensorsWriter w;
  w.add("pixel_values", pixels);  // [3, S, S]
  w.add("features", r.features);    // [N, vision hidden]: hidden_states[feature_layer], CLS dropped
  w.add("projected", r.projected);  // [N, text hidden]: the image token rows of the Llama input
  w.write(o.out);
  std::printf("%s\n", nlohmann::json{{"pixel_values", pixels.shape().str()},
                                     {"features", r.features.shape().str()},
                                     {"projected", r.projected.shape().str()}}
                          .dump()
                          .c_str());
}

}  // namespace

void register_debug_i2v(CLI::App& debug) {
  auto o = std::make_shared<ImagePrepOptions>();
  auto* c = debug.add_subcommand("image-prep", "HunyuanVideo-I2V reference image -> bucket + [3,H,W] f32 pixels in [-1,1]");
  c->add_option("--image", o->image, "PNG, JPEG or WebP file")->required();
  c->add_option("--size,--i2v-resolution", o->resolution, "720p (bucket base 960), 540p (720) or 360p (480)")
      ->check(CLI::IsMember({"720p", "540p", "360p"}))
      ->capture_default_str();
  c->add_option("--out", o->out, "Output .safetensors (tensor 'pixels' [3,H,W] f32; metadata 'bucket')")->required();
  c->add_option("--json", o->json_out, "Also write the chosen bucket as JSON to this file (it is always printed)");
  c->callback([o] { run_image_prep(*o); });

  auto e = std::make_shared<EncodeImageOptions>();
  auto* ei = debug.add_subcommand("encode-image", "LLaVA image side of the HunyuanVideo-I2V text encoder (CPU f32 or CUDA)");
  ei->add_option("--text-encoder", e->text_encoder, "text_encoder_i2v folder (LLaVA: config.json, safetensors, preprocessor_config.json)")
      ->required();
  ei->add_option("--image", e->image, "PNG, JPEG or WebP file")->required();
  ei->add_option("--out", e->out, "Output .safetensors: pixel_values [3,S,S], features [N,D], projected [N,D_text]")->required();
  ei->add_option("--device", e->device, "cpu (f32) or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  ei->add_option("--precision", e->precision,
                 "with --device cuda: fp16 (fp16 GEMM operands, f32 accumulation: what generate runs) or f32 (the exact reference)")
      ->check(CLI::IsMember({"fp16", "f32"}))
      ->capture_default_str();
  ei->callback([e] { run_encode_image(*e); });
}

}  // namespace jenga::cli
