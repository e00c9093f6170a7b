#include "models/hunyuan/hunyuan_tiny_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/temp_paths.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_encoder_shapes.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_config.h"
#include "models/hunyuan/hunyuan_vae_random.h"
#include "models/hunyuan/text_template.h"
#include "models/random_checkpoint.h"
#include "text/added_tokens.h"
#include "text/byte_bpe.h"
#include "text/regex_split.h"

namespace jenga::hunyuan {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The Llama-3 split rule (REFERENCE-hunyuan section 11).
const char* const kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kSpecials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                 "<|end_header_id|>", "<|eot_id|>", "<pad>"};

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
  if (!f) fail("{}: cannot write", p.string());
}
void write_json(const fs::path& p, const json& j) { write_text(p, j.dump(2) + "\n"); }

// writes `dir`/model.safetensors + config.json
void write_encoder(const fs::path& dir, const TensorShapes& tensors, const json& config, uint64_t seed, DType dtype) {
  write_random_model_folder(dir.string(), tensors, config, seed, dtype, encoder_special_init);
  fs::rename(dir / "diffusion_pytorch_model.safetensors", dir / "model.safetensors");
}

// The byte-level Llama tokenizer: 256 byte tokens, the template's pre-tokens as whole words
// (ignore_merges emits a known pre-token as is), then the special tokens. Words are taken until
// the template prefix is exactly crop_start tokens (the rest stay byte by byte).
int64_t write_llm_tokenizer(const fs::path& dir, int64_t& vocab_size, bool i2v = false,
                            int64_t* image_id = nullptr, int64_t* pad_id = nullptr) {
  const PromptTemplate& t = i2v ? i2v_video_template() : video_template();
  const std::string prefix(t.text.substr(0, t.text.find("{}")));
  const std::string suffix(t.text.substr(t.text.find("{}") + 2));
  std::vector<std::string> special_names(std::begin(kSpecials), std::end(kSpecials));
  if (i2v) special_names.push_back("<image>");
  std::vector<text::AddedToken> added;
  for (const auto& s : special_names) added.push_back({s, 0, false, false});
  const text::AddedTokenMatcher matcher(added);
  const text::RegexSplitter split(kLlama3Split, false, "tiny tokenizer");
  std::map<std::string, int64_t> occurrences;  // byte-level word -> count
  std::vector<std::string> order;
  int64_t specials = 0, words = 0;
  for (const auto& piece : matcher.split(prefix)) {
    if (piece.id >= 0) {
      ++specials;
      continue;
    }
    for (const auto w : split.split(piece.text)) {
      if (w.empty()) continue;
      ++words;
      const std::string bl = text::byte_level_string(w);
      if (w.size() > 1 && !occurrences.count(bl)) order.push_back(bl);
      if (w.size() > 1) occurrences[bl] += 1;
    }
  }
  // All words whole: 1 (BOS) + specials + words tokens; a word left out adds (bytes - 1) per use.
  int64_t count = 1 + specials + words;
  const int64_t target = t.crop_start;
  std::vector<std::string> kept;
  std::map<std::string, int64_t> bytes;
  for (const auto& w : order) {
    // byte-level chars are 1-2 UTF-8 bytes each; count code points
    int64_t n = 0;
    for (unsigned char c : w) n += (c & 0xC0) != 0x80;
    bytes[w] = n;
  }
  // Largest extra first, while it fits.
  std::vector<std::string> by_extra = order;
  std::stable_sort(by_extra.begin(), by_extra.end(), [&](const std::string& a, const std::string& b) {
    return occurrences[a] * (bytes[a] - 1) > occurrences[b] * (bytes[b] - 1);
  });
  // I2V: "\n\n" stays one token (the crop finds the assistant header by it) at Llama-3's id 271.
  const std::string double_return = text::byte_level_string("\n\n");
  std::set<std::string> dropped;
  for (const auto& w : by_extra) {
    const int64_t extra = occurrences[w] * (bytes[w] - 1);
    if (i2v && w == double_return) continue;
    if (count + extra <= target) count += extra, dropped.insert(w);
  }
  json vocab = json::object();
  int64_t id = 0;
  for (int b = 0; b < 256; ++b) vocab[text::byte_level_string(std::string(1, static_cast<char>(b)))] = id++;
  if (i2v) {
    while (id < 271) vocab["<tiny_unused_" + std::to_string(id) + ">"] = id, ++id;  // never a pre-token
    vocab[double_return] = id++;
    // The suffix's words whole too: the crop drops exactly the 4 ids before the last "\n\n".
    for (const auto& piece : matcher.split(suffix))
      if (piece.id < 0)
        for (const auto w : split.split(piece.text))
          if (w.size() > 1 && !vocab.contains(text::byte_level_string(w))) vocab[text::byte_level_string(w)] = id++;
  }
  for (const auto& w : order)
    if (!dropped.count(w) && !vocab.contains(w)) vocab[w] = id++;
  json added_json = json::array();
  std::map<std::string, int64_t> special_id;
  for (const auto& s : special_names) {
    special_id[s] = id;
    added_json.push_back({{"id", id++}, {"content", s}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                          {"normalized", false}, {"special", true}});
  }
  vocab_size = id;
  if (image_id) *image_id = i2v ? special_id["<image>"] : -1;
  if (pad_id) *pad_id = special_id["<pad>"];
  const std::string bos = kSpecials[0];
  json tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added_json},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Split}}}, {"behavior", "Isolated"}, {"invert", false}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", json::array({{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"special_tokens", {{bos, {{"id", bos}, {"ids", {special_id[bos]}}, {"tokens", {bos}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", true},
        {"vocab", vocab}, {"merges", json::array()}}}};
  write_json(dir / "tokenizer.json", tok);
  write_json(dir / "tokenizer_config.json", {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"bos_token", bos},
                                             {"eos_token", "<|end_of_text|>"}, {"pad_token", "<pad>"},
                                             {"padding_side", "right"}, {"model_max_length", 8192}});
  write_json(dir / "special_tokens_map.json",
             {{"bos_token", bos}, {"eos_token", "<|end_of_text|>"}, {"pad_token", "<pad>"}});
  return count;
}

// CLIP's byte-level vocabulary without merges: every byte, every byte with "</w>", then
// <|startoftext|> and <|endoftext|> (pad = end, as openai/clip-vit-large-patch14).
int64_t write_clip_tokenizer(const fs::path& dir) {
  json vocab = json::object();
  int64_t id = 0;
  for (int b = 0; b < 256; ++b) vocab[text::byte_level_string(std::string(1, static_cast<char>(b)))] = id++;
  for (int b = 0; b < 256; ++b) vocab[text::byte_level_string(std::string(1, static_cast<char>(b))) + "</w>"] = id++;
  vocab["<|startoftext|>"] = id++;
  vocab["<|endoftext|>"] = id++;
  write_json(dir / "vocab.json", vocab);
  write_text(dir / "merges.txt", "#version: 0.2\n");
  write_json(dir / "tokenizer_config.json", {{"tokenizer_class", "CLIPTokenizer"}, {"bos_token", "<|startoftext|>"},
                                             {"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"},
                                             {"unk_token", "<|endoftext|>"}, {"model_max_length", 77}});
  return id;
}

// The CLIP-L text tower (CLIPTextModel names), hidden = the DiT's text_dim_2, + its tokenizer.
void write_clip_folder(const fs::path& clip, int64_t h, uint64_t seed, DType dtype) {
  const int64_t clip_vocab = write_clip_tokenizer(clip);
  TensorShapes t;
  const json cfg = clip_text_tensors(t, ClipTextShape::tiny(h, clip_vocab));
  write_encoder(clip, t, cfg, seed, dtype);
}

HunyuanVaeConfig tiny_vae(int64_t latent_channels) {
  HunyuanVaeConfig vae;
  vae.block_out_channels = {8, 8, 16, 16};
  vae.layers_per_block = 1;
  vae.norm_num_groups = 4;
  vae.latent_channels = latent_channels;
  vae.sample_size = 32, vae.sample_tsize = 16;
  return vae;
}

void make_dirs(std::initializer_list<fs::path> dirs) {
  std::error_code ec;
  for (const auto& d : dirs) {
    fs::create_directories(d, ec);
    if (ec) fail("{}: cannot create the folder ({})", d.string(), ec.message());
  }
}

// LLaVA's image side under its published names (vision_tower.vision_model.*, then
// multi_modal_projector.*: linear_1 width -> proj_out, linear_2 proj_out -> proj_out); returns the
// vision_config.
json llava_vision_tensors(TensorShapes& t, const LlavaVisionShape& s) {
  const int64_t vh = s.hidden, vffn = s.ffn, patch = s.patch, vpos = (s.image / patch) * (s.image / patch) + 1;
  const std::string v = "vision_tower.vision_model.";
  t.push_back({v + "embeddings.class_embedding", {vh}});
  t.push_back({v + "embeddings.patch_embedding.weight", {vh, 3, patch, patch}});
  t.push_back({v + "embeddings.position_embedding.weight", {vpos, vh}});
  t.push_back({v + "pre_layrnorm.weight", {vh}}), t.push_back({v + "pre_layrnorm.bias", {vh}});
  t.push_back({v + "post_layernorm.weight", {vh}}), t.push_back({v + "post_layernorm.bias", {vh}});
  for (int64_t i = 0; i < s.layers; ++i) clip_layer_tensors(t, v + "encoder.layers." + std::to_string(i) + ".", vh, vffn);
  t.push_back({"multi_modal_projector.linear_1.weight", {s.proj_out, vh}});
  t.push_back({"multi_modal_projector.linear_1.bias", {s.proj_out}});
  t.push_back({"multi_modal_projector.linear_2.weight", {s.proj_out, s.proj_out}});
  t.push_back({"multi_modal_projector.linear_2.bias", {s.proj_out}});
  return {{"model_type", "clip_vision_model"}, {"hidden_size", vh}, {"intermediate_size", vffn},
          {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads}, {"image_size", s.image},
          {"patch_size", patch}, {"hidden_act", "quick_gelu"}, {"layer_norm_eps", 1e-5},
          {"projection_dim", vh}};
}

// The CLIPImageProcessor settings a published LLaVA folder ships (llava-llama-3-8b's, at the
// tower's image size): the image side refuses a folder without them.
void write_clip_preprocessor(const fs::path& dir, int64_t image) {
  write_json(dir / "preprocessor_config.json",
             {{"crop_size", {{"height", image}, {"width", image}}}, {"do_center_crop", true}, {"do_convert_rgb", true},
              {"do_normalize", true}, {"do_rescale", true}, {"do_resize", true},
              {"image_mean", {0.48145466, 0.4578275, 0.40821073}}, {"image_std", {0.26862954, 0.26130258, 0.27577711}},
              {"image_processor_type", "CLIPImageProcessor"}, {"resample", 3}, {"rescale_factor", 1.0 / 255.0},
              {"size", {{"shortest_edge", image}}}});
}

}  // namespace

void write_random_llava_vision(const std::string& dir, const LlavaVisionShape& s, uint64_t seed, DType dtype) {
  TensorShapes t;
  const json vision_cfg = llava_vision_tensors(t, s);
  const json cfg = {{"architectures", {"LlavaForConditionalGeneration"}}, {"model_type", "llava"},
                    {"projector_hidden_act", "gelu"}, {"vision_feature_layer", -2},
                    {"vision_feature_select_strategy", "default"}, {"image_seq_length", (s.image / s.patch) * (s.image / s.patch)},
                    {"text_config", {{"model_type", "llama"}, {"hidden_size", s.proj_out}}}, {"vision_config", vision_cfg},
                    {"torch_dtype", "float16"}};
  write_encoder(dir, t, cfg, seed, dtype);
  write_clip_preprocessor(dir, s.image);
}


TinyFolderInfo write_tiny_hunyuan_i2v_folder(const std::string& out, uint64_t seed, DType dtype) {
  const fs::path root(out);
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) usage_fail("--out {}: exists and is not a folder", out);
  const fs::path model = root / "hunyuan-video-i2v-720p";
  const fs::path llava = root / "text_encoder_i2v", clip = root / "text_encoder_2";
  make_dirs({model / "transformers", model / "vae", llava, clip});
  const HunyuanConfig dit = HunyuanConfig::tiny();  // token_replace: T2V's shapes, 16 input channels
  write_random_checkpoint((model / "transformers").string(), dit, seed, dtype);
  write_random_hunyuan_vae(tiny_vae(dit.out_channels), (model / "vae").string(), seed + 1, dtype);

  TinyFolderInfo info;
  int64_t vocab = 0, image_id = -1, pad_id = -1;
  info.template_tokens = write_llm_tokenizer(llava, vocab, /*i2v=*/true, &image_id, &pad_id);
  // The whole LLaVA: language model, a tiny CLIP vision tower (28 px, patch 14: 4 image rows,
  // every 4th kept -> 1), the GELU projector into the LLM's width.
  TensorShapes t;
  const json text_cfg = llm_tensors(t, "language_model.model.", LlmShape::tiny(dit.text_dim, vocab));
  LlavaVisionShape vs;
  vs.hidden = 16, vs.ffn = 32, vs.layers = 3, vs.heads = 2, vs.patch = 14, vs.image = 28, vs.proj_out = dit.text_dim;
  const int64_t image = vs.image, vpos = (image / vs.patch) * (image / vs.patch) + 1;
  const json vision_cfg = llava_vision_tensors(t, vs);
  const json cfg = {{"architectures", {"LlavaForConditionalGeneration"}}, {"model_type", "llava"},
                    {"image_token_index", image_id}, {"pad_token_id", pad_id}, {"projector_hidden_act", "gelu"},
                    {"vision_feature_layer", -2}, {"vision_feature_select_strategy", "default"},
                    {"image_seq_length", vpos - 1}, {"text_config", text_cfg}, {"vision_config", vision_cfg},
                    {"torch_dtype", "float16"}};
  write_encoder(llava, t, cfg, seed + 2, dtype);
  write_clip_preprocessor(llava, image);
  write_clip_folder(clip, dit.text_dim_2, seed + 3, dtype);
  info.dit_parameters = static_cast<double>(dit.parameter_count());
  return info;
}

HunyuanFolderSpec HunyuanFolderSpec::published() {
  HunyuanFolderSpec s;
  s.dit = HunyuanConfig::t2v_720p();
  return s;
}

HunyuanFolderSpec HunyuanFolderSpec::tiny(DType dtype) {
  HunyuanFolderSpec s;
  s.dit = HunyuanConfig::tiny();
  s.vae = tiny_vae(s.dit.out_channels);
  s.llm = LlmShape::tiny(s.dit.text_dim, 0);
  s.clip = ClipTextShape::tiny(s.dit.text_dim_2, 0);
  s.dit_dtype = s.vae_dtype = s.llm_dtype = s.clip_dtype = dtype;
  s.llm_shards = 1;
  return s;
}

std::vector<FolderWeights> hunyuan_folder_weights(const HunyuanFolderSpec& s, int64_t llm_vocab, int64_t clip_vocab) {
  LlmShape llm = s.llm;
  ClipTextShape clip = s.clip;
  if (llm.vocab == 0) llm.vocab = llm_vocab;
  if (clip.vocab == 0) clip.vocab = clip_vocab;
  TensorShapes l, c;
  const json llm_cfg = llm_tensors(l, "model.", llm);
  const json clip_cfg = clip_text_tensors(c, clip);
  return {{"hunyuan-video-t2v-720p/transformers/diffusion_pytorch_model.safetensors", s.dit_dtype, official_tensors(s.dit),
           s.dit.to_json()},
          {"hunyuan-video-t2v-720p/vae/diffusion_pytorch_model.safetensors", s.vae_dtype, hunyuan_vae_tensors(s.vae),
           hunyuan_vae_config_json(s.vae)},
          {s.llm_shards > 1 ? "text_encoder/" : "text_encoder/model.safetensors", s.llm_dtype, l, llm_cfg},
          {"text_encoder_2/model.safetensors", s.clip_dtype, c, clip_cfg}};
}

namespace {

void copy_tokenizer_file(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) fail("{}: cannot copy to {} ({}); --tokenizers wants scripts/fetch_test_tokenizers.sh's folder", from.string(),
               to.string(), ec.message());
}

// The real vocabularies (scripts/fetch_test_tokenizers.sh's llama3/ and clip-l/), as the release
// ships them beside the weights.
void copy_real_tokenizers(const fs::path& from, const fs::path& llm, const fs::path& clip) {
  copy_tokenizer_file(from / "llama3" / "tokenizer.json", llm / "tokenizer.json");
  copy_tokenizer_file(from / "llama3" / "tokenizer_config.json", llm / "tokenizer_config.json");
  write_json(llm / "special_tokens_map.json", {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|end_of_text|>"},
                                               {"pad_token", "<pad>"}, {"unk_token", "<unk>"}});
  copy_tokenizer_file(from / "clip-l" / "vocab.json", clip / "vocab.json");
  copy_tokenizer_file(from / "clip-l" / "merges.txt", clip / "merges.txt");
  write_json(clip / "tokenizer_config.json", {{"tokenizer_class", "CLIPTokenizer"}, {"bos_token", "<|startoftext|>"},
                                              {"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"},
                                              {"unk_token", "<|endoftext|>"}, {"model_max_length", 77}});
}

}  // namespace

TinyFolderInfo write_random_hunyuan_folder(const std::string& out, const HunyuanFolderSpec& spec, uint64_t seed) {
  const fs::path root(out);
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) usage_fail("--out {}: exists and is not a folder", out);
  if (!spec.tokenizers.empty() && (spec.llm.vocab == 0 || spec.clip.vocab == 0))
    usage_fail("--tokenizers: the real vocabularies need the published encoder shapes (--size 13b)");
  const fs::path model = root / "hunyuan-video-t2v-720p";
  const fs::path llm = root / "text_encoder", clip = root / "text_encoder_2";
  // What this call creates goes again if it fails (a full disk halfway through --size 13b's 42 GB,
  // Ctrl-C): the folder itself when it is new, else each component folder that is new.
  std::vector<std::unique_ptr<TempPath>> created;
  for (const fs::path& p : fs::exists(root, ec) ? std::vector<fs::path>{model, llm, clip} : std::vector<fs::path>{root})
    if (!fs::exists(p, ec)) created.push_back(std::make_unique<TempPath>(p.string()));
  make_dirs({model / "transformers", model / "vae", llm, clip});

  TinyFolderInfo info;
  int64_t llm_vocab = 0, clip_vocab = 0;
  if (spec.tokenizers.empty()) {
    info.template_tokens = write_llm_tokenizer(llm, llm_vocab);
    clip_vocab = write_clip_tokenizer(clip);
  } else {
    copy_real_tokenizers(spec.tokenizers, llm, clip);
    info.template_tokens = video_template().crop_start;  // the real Llama-3 tokenizer's count
  }
  const auto weights = hunyuan_folder_weights(spec, llm_vocab, clip_vocab);
  write_random_checkpoint((model / "transformers").string(), spec.dit, seed, spec.dit_dtype);
  write_random_hunyuan_vae(spec.vae, (model / "vae").string(), seed + 1, spec.vae_dtype);
  const FolderWeights& l = weights[2];
  if (spec.llm_shards > 1) {
    write_random_sharded(llm.string(), random_tensor_plan(l.tensors, encoder_special_init), seed + 2, l.dtype,
                         spec.llm_shards, {{"format", "pt"}, {"jenga", "random weights, not a trained model"}});
    write_json(llm / "config.json", l.config);
  } else {
    write_encoder(llm, l.tensors, l.config, seed + 2, l.dtype);
  }
  write_encoder(clip, weights[3].tensors, weights[3].config, seed + 3, weights[3].dtype);
  info.dit_parameters = static_cast<double>(spec.dit.parameter_count());
  for (const auto& w : weights)
    for (const auto& [name, shape] : w.tensors) {
      double n = static_cast<double>(dtype_size(w.dtype));
      for (int64_t d : shape) n *= static_cast<double>(d);
      info.bytes += n;
    }
  for (auto& c : created) c->release();
  return info;
}

TinyFolderInfo write_tiny_hunyuan_folder(const std::string& out, uint64_t seed, DType dtype) {
  return write_random_hunyuan_folder(out, HunyuanFolderSpec::tiny(dtype), seed);
}

}  // namespace jenga::hunyuan
