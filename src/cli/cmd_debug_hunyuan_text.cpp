// `jenga debug tokenize --template hunyuan-video` and `jenga debug encode-text --encoder llama|clip`:
// the HunyuanVideo tokenizers and text encoders on their own, so their output can be compared
// with transformers / the official code.
#include "cli/cmd_debug_hunyuan_text.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/hunyuan/clip_text_encoder.h"
#include "models/hunyuan/clip_tokenizer.h"
#include "io/image_reader.h"
#include "models/hunyuan/i2v_text_encoder.h"
#include "models/hunyuan/llava_vision.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/llama_tokenizer.h"
#include "models/hunyuan/text_template.h"
#include "models/hunyuan/tokenizer_files.h"
#include "models/wan/t5_encoder.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "models/hunyuan/clip_text_encoder_cuda.h"
#include "models/hunyuan/llama_text_encoder_cuda.h"
#include "models/hunyuan/llava_vision_cuda.h"
#endif

namespace jenga::cli {
namespace {

std::vector<int64_t> int_row(const SafetensorsFile& f, const std::string& name) {
  if (!f.find(name)) fail("--ids {}: has no tensor named '{}'", f.path(), name);
  Tensor t = f.load(name);
  if (t.dtype() != DType::I64 && t.dtype() != DType::I32)
    fail("--ids {}: '{}' is {}, expected i64 (or i32)", f.path(), name, dtype_name(t.dtype()));
  if (!(t.ndim() == 1 || (t.ndim() == 2 && t.dim(0) == 1)))
    fail("--ids {}: '{}' has shape {}, expected [1, L] (one prompt)", f.path(), name, t.shape().str());
  Tensor i = t.to(DType::I64);
  return std::vector<int64_t>(i.data_as<int64_t>(), i.data_as<int64_t>() + i.numel());
}

}  // namespace

void add_hunyuan_tokenize_options(CLI::App& t, HunyuanTextOptions& o) {
  t.add_option("--template", o.template_name,
               "HunyuanVideo LLM prompt template (strip, template, 256 + 95 tokens): hunyuan-video, hunyuan-image, "
               "hunyuan-i2v-video")
      ->check(CLI::IsMember({"hunyuan-video", "hunyuan-image", "hunyuan-i2v-video"}));
  o.text_len = t.get_option("--text-len");
}

void add_hunyuan_encode_options(CLI::App& e, HunyuanTextOptions& o) {
  e.add_option("--encoder", o.encoder, "auto (from the weights), umt5, llama (HunyuanVideo LLM) or clip (CLIP-L)")
      ->check(CLI::IsMember({"auto", "umt5", "llama", "clip"}))
      ->capture_default_str();
  e.add_option("--skip-layers", o.skip_layers, "llama: output hidden_states[-(N + 1)] (2 = HunyuanVideo's layer 30 of 32)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  o.crop_start_opt = e.add_option("--crop-start", o.crop_start,
                                  "llama: drop the first N rows and mask entries (95 = the video template; with "
                                  "--image the I2V template's 103 unless given)")
                          ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
                          ->capture_default_str();
  e.add_option("--precision", o.precision,
               "llama / clip / --image with --device cuda: fp16 (fp16 GEMM operands, f32 accumulation: what generate runs) or "
               "f32 (the exact reference: every product in f32)")
      ->check(CLI::IsMember({"fp16", "f32"}))
      ->capture_default_str();
  e.add_option("--image", o.image,
               "HunyuanVideo-I2V: PNG/JPEG reference image; --text-encoder is then the LLaVA folder "
               "(text_encoder_i2v/) and the output the official I2V text states (image rows every "
               "--image-interleave-th, then the text crop) + mask");
  o.prompt_opt = e.add_option("--prompt", o.prompt,
               "with --image: the prompt, tokenized with the folder's tokenizer.json and the I2V template (instead of --ids)");
  e.add_option("--text-len-i2v", o.text_len_i2v, "with --prompt: text tokens after the template (official --text-len)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16))
      ->capture_default_str();
  e.add_option("--double-return-id", o.double_return_id, "with --image: the id of the \"\\n\\n\" token the crop looks for")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  e.add_option("--image-interleave", o.interleave, "with --image: keep every N-th image row (4 token_replace, 2 latent_concat; 6 or more keep all, as the official)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
}

namespace {

// A HunyuanVideo model folder given as --tokenizer: with --template, its LLM tokenizer folder
// (the official ckpts layout's text_encoder_i2v/ or text_encoder/, diffusers' tokenizer/);
// without, say which sub-folder to pass. Returns `path` unchanged when it is no such folder.
std::string tokenizer_in_model_folder(const HunyuanTextOptions& o, const std::string& path) {
  std::error_code ec;
  const std::filesystem::path root(path);
  if (!std::filesystem::is_directory(root, ec)) return path;
  auto llm = [&](const char* sub) { return hunyuan::detect_tokenizer((root / sub).string()) == hunyuan::TokenizerKind::Llama; };
  std::vector<const char*> subs = {"text_encoder", "tokenizer"};
  if (o.template_name == "hunyuan-i2v-video") subs.insert(subs.begin(), "text_encoder_i2v");
  for (const char* sub : subs)
    if (llm(sub)) {
      if (!o.template_name.empty()) return (root / sub).string();
      if (std::filesystem::exists(root / "spiece.model", ec)) return path;
      usage_fail("--tokenizer {}: a HunyuanVideo model folder; add --template hunyuan-video to tokenize for its LLM "
                 "({}/), or pass {} for CLIP-L",
                 path, sub, (root / (sub == std::string("tokenizer") ? "tokenizer_2" : "text_encoder_2")).string());
    }
  return path;
}

}  // namespace

bool run_hunyuan_tokenize(const HunyuanTextOptions& o, const std::string& given_path, const std::string& text,
                          int64_t text_len) {
  const std::string path = tokenizer_in_model_folder(o, given_path);
  const auto kind = hunyuan::detect_tokenizer(path);
  if (kind == hunyuan::TokenizerKind::None) {
    if (o.template_name.empty()) return false;  // the umT5 tokenizer
    fail("--tokenizer {}: holds no tokenizer.json or vocab.json + merges.txt; --template needs the HunyuanVideo LLM "
         "tokenizer folder (text_encoder/ or tokenizer/)", path);
  }
  const bool given = o.text_len && o.text_len->count() > 0;
  hunyuan::TokenizedText t;
  nlohmann::json j;
  if (kind == hunyuan::TokenizerKind::Clip) {
    if (!o.template_name.empty())
      usage_fail("--template {}: {} is a CLIP tokenizer, which takes the plain prompt; pass the LLM tokenizer folder",
                 o.template_name, path);
    t = hunyuan::ClipTokenizer::open(path).encode(hunyuan::python_strip(text), given ? text_len : hunyuan::kClipMaxLength);
  } else {
    const auto tok = hunyuan::LlamaTokenizer::open(path);
    if (o.template_name.empty()) {
      t = tok.encode(text, given ? text_len : hunyuan::kLlmMaxLength);
    } else {
      const auto* tp = hunyuan::find_template(o.template_name);
      JENGA_ASSERT(tp);
      // The official length: text_len + the release's video-template crop, whichever template
      // runs: T2V's 95 (also for its image template), HunyuanVideo-I2V's 103 (its inference.py).
      const bool i2v = tp == &hunyuan::i2v_video_template();
      const int64_t crop = (i2v ? hunyuan::i2v_video_template() : hunyuan::video_template()).crop_start;
      const int64_t max_length = (given ? text_len : 256) + crop;
      t = hunyuan::tokenize_llm_prompt(tok, text, *tp, max_length);
      j["crop_start"] = tp->crop_start;
    }
  }
  j["ids"] = t.ids;
  j["mask"] = t.mask;
  std::printf("%s\n", j.dump().c_str());
  return true;
}

namespace {

// encode-text --image: the HunyuanVideo-I2V text encoder (LLaVA image + Llama, official crop).
void run_i2v_encode_text(const HunyuanTextOptions& o, const std::string& weights, const std::string& ids_file,
                         const std::string& out, const std::string& device) {
  // --device cuda: the vision tower + projector, then the LLM (from the merged embeddings), on the GPU.
#if JENGA_HAVE_CUDA
  if (device == "cuda" && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (device == "cuda") fail("--device cuda: the HunyuanVideo text encoders run on the CPU only in this build; use --device cpu");
#endif
  if (o.encoder != "auto" && o.encoder != "llama")
    usage_fail("--image needs the LLaVA encoder (--encoder auto or llama), not --encoder {}", o.encoder);
  if (ids_file.empty() != o.has_prompt()) usage_fail("--image needs exactly one of --ids and --prompt");
  // Inputs are read before any weights: a bad image or ids file fails first.
  const RgbImage img = read_image_rgb(o.image);
  std::vector<int64_t> ids, mask;
  if (!ids_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(ids_file, ec)) fail("--ids {}: no such file", ids_file);
    const auto f = SafetensorsFile::open(ids_file);
    ids = int_row(*f, "ids"), mask = int_row(*f, "mask");
  }
  const auto& tpl = hunyuan::i2v_video_template();
  hunyuan::I2vTextCrop crop;
  crop.crop_start = o.crop_start_opt && o.crop_start_opt->count() > 0 ? o.crop_start : tpl.crop_start;
  crop.double_return_id = o.double_return_id;
  crop.interleave = o.interleave;
  // The image side (and its preprocessor_config.json) before the tokenizer: a T2V or file path is named first.
  const auto vision = hunyuan::LlavaVisionEncoder::open(weights);
  const auto processor = hunyuan::ClipImageProcessorConfig::load(weights);
  vision.check_processor(processor);
  if (o.has_prompt()) {
    if (hunyuan::detect_tokenizer(weights) != hunyuan::TokenizerKind::Llama)
      fail("--text-encoder {}: holds no Llama tokenizer.json for --prompt; pass token ids with --ids instead", weights);
    const auto tok = hunyuan::LlamaTokenizer::open(weights);
    const auto t = hunyuan::tokenize_llm_prompt(tok, o.prompt, tpl, o.text_len_i2v + tpl.crop_start);
    ids = t.ids, mask = t.mask;
  }
  const auto llm = hunyuan::LlamaTextEncoder::open(weights);
  const auto special = hunyuan::LlavaSpecialTokens::load(weights);
  const auto at = std::find(ids.begin(), ids.end(), special.image);
  if (at == ids.end())
    fail("{}: no image token (id {}, the model config's image_token_index) in the ids; the I2V template has one "
         "<image>, and the tokenizer must give it that id",
         ids_file.empty() ? std::string("--prompt") : "--ids " + ids_file, special.image);
  crop.image_emb_start = at - ids.begin();  // 5 in the official template (image_emb_start)
  const Tensor pixels = hunyuan::clip_preprocess(img, processor);
  hunyuan::LlavaImageFeatures image;
  Tensor hidden;
  hunyuan::I2vTextStates s;
#if JENGA_HAVE_CUDA
  if (device == "cuda") {
    const auto precision = o.precision == "f32" ? hunyuan::TextEncoderPrecision::F32 : hunyuan::TextEncoderPrecision::F16;
    image = hunyuan::LlavaVisionEncoderCuda::upload(vision, precision)->encode(pixels);
    const auto m = hunyuan::llava_merge_input(llm, ids, mask, image.projected, special);
    hidden = hunyuan::LlamaTextEncoderCuda::upload(llm, o.skip_layers, precision)
                 ->encode_embeddings(m.embeds, m.positions, m.mask);
    s = hunyuan::i2v_crop_states(hidden, ids, mask, image.projected.dim(0), crop);
  }
#endif
  if (device != "cuda") {
    image = vision.encode(pixels);
    s = hunyuan::i2v_encode_text(llm, ids, mask, image.projected, special, crop, o.skip_layers, &hidden);
  }
  Tensor m = Tensor::empty(DType::I64, {static_cast<int64_t>(s.mask.size())});
  std::copy(s.mask.begin(), s.mask.end(), m.data_as<int64_t>());
  SafetensorsWriter w;
  w.add("hidden_states", s.states);  // [image rows + text rows, D]
  w.add("mask", m);
  w.add("merged_hidden_states", hidden);  // [L + N - 1, D]: before the crop
  w.write(out);
  nlohmann::json j = {{"hidden_states", s.states.shape().str()},
                      {"image_rows", crop.image_rows(image.projected.dim(0))},
                      {"text_rows", s.states.dim(0) - crop.image_rows(image.projected.dim(0))},
                      {"crop_start", crop.crop_start},
                      {"image_emb_start", crop.image_emb_start}};
  std::printf("wrote %s: %s\n", out.c_str(), j.dump().c_str());
}

}  // namespace

bool run_hunyuan_encode_text(const HunyuanTextOptions& o, const std::string& weights, const std::string& ids_file,
                             const std::string& out, const std::string& device) {
  if (!o.image.empty()) {
    run_i2v_encode_text(o, weights, ids_file, out, device);
    return true;
  }
  if (o.has_prompt()) usage_fail("--prompt goes with --image (the HunyuanVideo-I2V encoder); other encoders take --ids");
  std::string kind = o.encoder;
  if (kind == "umt5") return false;
  if (kind == "auto") {
    // Anything unreadable or unrecognised is left to the umT5 path and its errors.
    std::shared_ptr<Checkpoint> c;
    try {
      c = hunyuan::open_encoder_checkpoint(weights);
    } catch (const Error&) {
      return false;
    }
    kind = hunyuan::looks_like_llama_encoder(*c) ? "llama" : hunyuan::looks_like_clip_text_encoder(*c) ? "clip" : "";
    if (kind.empty() || wan::looks_like_t5_encoder(*c)) return false;
  }
#if JENGA_HAVE_CUDA
  if (device == "cuda" && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (device == "cuda") fail("--device cuda: the HunyuanVideo text encoders run on the CPU only in this build; use --device cpu");
#endif
#if JENGA_HAVE_CUDA
  const auto precision = o.precision == "f32" ? hunyuan::TextEncoderPrecision::F32 : hunyuan::TextEncoderPrecision::F16;
#endif
  std::error_code ec;
  if (!std::filesystem::exists(ids_file, ec)) fail("--ids {}: no such file", ids_file);
  const auto f = SafetensorsFile::open(ids_file);
  const auto ids = int_row(*f, "ids"), mask = int_row(*f, "mask");
  SafetensorsWriter w;
  if (kind == "llama") {
    const auto enc = hunyuan::LlamaTextEncoder::open(weights);
    const int64_t L = static_cast<int64_t>(ids.size());
    if (o.crop_start >= L) usage_fail("--crop-start {} leaves no rows of {} tokens", o.crop_start, L);
    Tensor hs;
#if JENGA_HAVE_CUDA
    if (device == "cuda") hs = hunyuan::LlamaTextEncoderCuda::upload(enc, o.skip_layers, precision)->encode(ids, mask);
#endif
    if (device != "cuda") hs = enc.encode(ids, mask, o.skip_layers);
    const int64_t D = enc.config().hidden, n = L - o.crop_start;
    Tensor states = Tensor::empty(DType::F32, {n, D});
    std::copy(hs.data_as<float>() + o.crop_start * D, hs.data_as<float>() + L * D, states.data_as<float>());
    Tensor m = Tensor::empty(DType::I64, {n});
    std::copy(mask.begin() + o.crop_start, mask.end(), m.data_as<int64_t>());
    w.add("hidden_states", states);
    w.add("mask", m);
    w.write(out);
    std::printf("wrote %s: hidden_states %s (hidden_states[-%lld] of the %lld-layer LLM, rows %lld..), mask\n", out.c_str(),
                states.shape().str().c_str(), static_cast<long long>(o.skip_layers + 1),
                static_cast<long long>(enc.config().layers), static_cast<long long>(o.crop_start));
  } else {
    const auto enc = hunyuan::ClipTextEncoder::open(weights);
    hunyuan::ClipTextOutput r;
#if JENGA_HAVE_CUDA
    if (device == "cuda") r = hunyuan::ClipTextEncoderCuda::upload(enc, precision)->encode(ids, mask);
#endif
    if (device != "cuda") r = enc.encode(ids, mask);
    w.add("last_hidden_state", r.last_hidden_state);
    w.add("pooled", r.pooled);
    w.write(out);
    std::printf("wrote %s: pooled %s, last_hidden_state %s (CLIP %lld layers, width %lld)\n", out.c_str(),
                r.pooled.shape().str().c_str(), r.last_hidden_state.shape().str().c_str(),
                static_cast<long long>(enc.config().layers), static_cast<long long>(enc.config().hidden));
  }
  return true;
}

}  // namespace jenga::cli
