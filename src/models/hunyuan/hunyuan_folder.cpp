#include "models/hunyuan/hunyuan_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"

namespace jenga::hunyuan {
namespace fs = std::filesystem;

std::string_view release_name(Release r) {
  switch (r) {
    case Release::T2V: return "T2V";
    case Release::AccVideo: return "AccVideo";
    case Release::I2V: return "I2V";
  }
  return "?";
}

namespace {

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}
bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A transformers/ folder: the released .pt, else whatever the folder holds (Checkpoint reads a
// folder of safetensors or its one .pt).
std::string dit_in(const fs::path& transformers) {
  if (path_exists(transformers / "mp_rank_00_model_states.pt")) return (transformers / "mp_rank_00_model_states.pt").string();
  return is_dir(transformers) ? transformers.string() : "";
}

std::string accvideo_in(const fs::path& root) {
  for (const auto& d : {root / "accvideo-t2v-5-steps", root / "AccVideo" / "accvideo-t2v-5-steps"}) {
    if (path_exists(d / "diffusion_pytorch_model.pt")) return (d / "diffusion_pytorch_model.pt").string();
    if (is_dir(d)) return d.string();
  }
  return "";
}

// The folder the official encoders sit in: the ckpts/ root, or above the 720p folder given.
fs::path official_root(const fs::path& model_dir) {
  if (is_dir(model_dir / "transformers") && !is_dir(model_dir / "text_encoder")) return model_dir.parent_path();
  return model_dir;
}

// The names that can tell the release: the DiT's own name and, while that name is one the
// releases share (mp_rank_00_model_states.pt, diffusion_pytorch_model*, transformers/,
// transformer/), the folder above it: hunyuan-video-i2v-720p/transformers/mp_rank_00_model_states.pt,
// HunyuanVideo-I2V/transformer, accvideo-t2v-5-steps/diffusion_pytorch_model.pt. Folders above a
// name of the user's own (a T2V release kept under ~/i2v-tests/) say nothing.
std::vector<std::string> release_names(fs::path p) {
  while (!p.empty() && !p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  const auto generic = [](const std::string& n) {
    return n.starts_with("mp_rank_") || n.starts_with("diffusion_pytorch_model") || n == "transformers" ||
           n == "transformer";
  };
  std::vector<std::string> names;
  for (int level = 0; level < 3 && !p.empty() && p.has_filename(); ++level, p = p.parent_path()) {
    names.push_back(lower(p.filename().string()));
    if (!generic(names.back())) break;
  }
  return names;
}

}  // namespace

Release release_from_path(const std::string& dit_path) {
  const auto names = release_names(fs::path(dit_path));
  const auto any = [&](std::initializer_list<const char*> tags) {
    for (const auto& n : names)
      for (const char* tag : tags)
        if (n.find(tag) != std::string::npos) return true;
    return false;
  };
  if (any({"accvideo"})) return Release::AccVideo;
  // The official folder hunyuan-video-i2v-720p, diffusers' HunyuanVideo-I2V, ComfyUI's *image_to_video* files.
  if (any({"i2v", "image_to_video", "image2video", "img2vid"})) return Release::I2V;
  return Release::T2V;
}

std::string find_hunyuan_dit(const std::string& model_dir) {
  if (model_dir.empty() || !is_dir(model_dir)) return "";
  const fs::path m(model_dir);
  if (is_dir(m / "hunyuan-video-t2v-720p" / "transformers")) return dit_in(m / "hunyuan-video-t2v-720p" / "transformers");
  if (is_dir(m / "transformers")) return dit_in(m / "transformers");
  if (is_dir(m / "transformer")) return (m / "transformer").string();  // diffusers
  if (auto a = accvideo_in(m); !a.empty()) return a;
  if (is_dir(m / "hunyuan-video-i2v-720p" / "transformers")) return dit_in(m / "hunyuan-video-i2v-720p" / "transformers");
  return "";
}

bool is_hunyuan_release_folder(const std::string& model_dir) {
  if (model_dir.empty() || !is_dir(model_dir)) return false;
  const fs::path m(model_dir);
  return is_dir(m / "hunyuan-video-t2v-720p") || is_dir(m / "hunyuan-video-i2v-720p") || is_dir(m / "transformers") ||
         !accvideo_in(m).empty();
}

HunyuanPaths resolve_hunyuan(const std::string& model_dir, const HunyuanComponents& flags, bool accvideo,
                             bool i2v_dit) {
  HunyuanPaths p;
  // A --model that is itself the DiT (a transformer/ folder) holds no other component.
  const bool folder = !model_dir.empty() && is_dir(model_dir) && flags.dit != model_dir;
  const fs::path m(model_dir);
  const bool diffusers = folder && is_dir(m / "transformer");
  p.layout = !folder ? "single files" : diffusers ? "diffusers" : "official ckpts";
  const fs::path root = folder ? official_root(m) : fs::path();

  // Each component: the flag, else the first folder candidate that exists, else a one-line error
  // (with `hint`: why the folder was searched where it was).
  std::string hint;
  auto pick = [&](std::string& out, const std::string& flag_value, const char* what, const char* flag,
                  std::vector<fs::path> candidates) {
    if (!flag_value.empty()) {
      if (!path_exists(flag_value)) usage_fail("{} {}: no such file or folder ({})", flag, flag_value, what);
      out = flag_value;
      return;
    }
    for (const auto& c : candidates)
      if (!c.empty() && path_exists(c)) {
        out = c.string();
        return;
      }
    std::string where;
    for (const auto& c : candidates) where += (where.empty() ? "" : " or ") + c.string();
    if (!folder)
      fail("HunyuanVideo: the {} is missing; pass it with {} FILE (or --model with the published folder)", what, flag);
    // A missing file, as Wan's (exit 1); only a bad flag or argument is a usage error (exit 2).
    fail("HunyuanVideo: the {} is missing: expected {}; download it there or pass {} FILE{}", what, where, flag, hint);
  };

  std::vector<fs::path> dit_c;
  if (folder) {
    if (const auto d = find_hunyuan_dit(model_dir); !d.empty()) dit_c.push_back(d);
    // The release's path when nothing is there (the error names it): I2V's where only its folder
    // is there, else T2V's.
    const char* release_dir = is_dir(root / "hunyuan-video-i2v-720p") && !is_dir(root / "hunyuan-video-t2v-720p")
                                  ? "hunyuan-video-i2v-720p"
                                  : "hunyuan-video-t2v-720p";
    dit_c.push_back(diffusers                    ? m / "transformer"
                    : is_dir(m / "transformers") ? m / "transformers" / "mp_rank_00_model_states.pt"
                                                 : root / release_dir / "transformers" / "mp_rank_00_model_states.pt");
  }
  pick(p.dit, flags.dit, "DiT (transformer)", "--diffusion-model", dit_c);
  // I2V: the weights (33 input channels, the caller's i2v_dit) or the path (the released
  // token_replace DiT has T2V's shapes; its folder is hunyuan-video-i2v-720p). Its LLM is the
  // whole LLaVA in text_encoder_i2v/ (tokenizer and image processor files beside it).
  const bool i2v = i2v_dit || release_from_path(p.dit) == Release::I2V;
  // The other release's DiT given into a folder of one release (its path says I2V or T2V).
  if (folder && !diffusers && !is_dir(m / "transformers")) {
    const bool has_t2v = is_dir(root / "hunyuan-video-t2v-720p"), has_i2v = is_dir(root / "hunyuan-video-i2v-720p");
    if (i2v && has_t2v && !has_i2v)
      hint = fmt::format(" (the DiT {} is HunyuanVideo-I2V's by its path; this folder holds the T2V release)", p.dit);
    else if (!i2v && has_i2v && !has_t2v)
      hint = fmt::format(" (the DiT {} is text-to-video's by its path; this folder holds the I2V release)", p.dit);
  }
  const fs::path release_dir = folder && is_dir(m / "transformers")
                                   ? m
                                   : root / (i2v ? "hunyuan-video-i2v-720p" : "hunyuan-video-t2v-720p");
  std::vector<fs::path> vae_c, llm_c, clip_c, tok_c, tok2_c;
  if (folder) {
    if (diffusers) {
      vae_c = {m / "vae"}, llm_c = {m / "text_encoder"}, clip_c = {m / "text_encoder_2"};
    } else {
      vae_c = {release_dir / "vae"}, llm_c = {root / (i2v ? "text_encoder_i2v" : "text_encoder")};
      clip_c = {root / "text_encoder_2"};
    }
  }
  pick(p.vae, flags.vae, "VAE", "--vae", vae_c);
  pick(p.text_encoder, flags.text_encoder, i2v ? "LLaVA text encoder (llava-llama-3-8b-v1_1, text_encoder_i2v)"
                                               : "LLM text encoder (llava-llama-3-8b)", "--text-encoder", llm_c);
  pick(p.text_encoder_2, flags.text_encoder_2, "CLIP-L text encoder", "--text-encoder-2", clip_c);
  // Tokenizers: diffusers keeps them in tokenizer/ and tokenizer_2/, the official folders beside
  // the weights; a single encoder file may have them beside it.
  const auto beside = [](const std::string& enc) { return is_dir(enc) ? fs::path(enc) : fs::path(enc).parent_path(); };
  if (folder && diffusers) tok_c.push_back(m / "tokenizer"), tok2_c.push_back(m / "tokenizer_2");
  tok_c.push_back(beside(p.text_encoder) / "tokenizer.json");
  tok2_c.push_back(beside(p.text_encoder_2) / "vocab.json");
  tok2_c.push_back(beside(p.text_encoder_2) / "tokenizer.json");
  pick(p.tokenizer, flags.tokenizer, "LLM tokenizer (tokenizer.json)", "--tokenizer", tok_c);
  pick(p.tokenizer_2, flags.tokenizer_2, "CLIP tokenizer (vocab.json + merges.txt)", "--tokenizer-2", tok2_c);
  if (fs::path(p.tokenizer_2).filename() == "vocab.json") p.tokenizer_2 = fs::path(p.tokenizer_2).parent_path().string();

  if (i2v && accvideo)
    usage_fail("--accvideo: {} is the HunyuanVideo-I2V DiT; AccVideo is a text-to-video DiT (drop --accvideo, or pass "
               "AccVideo's checkpoint with --diffusion-model)", p.dit);
  p.release = i2v ? Release::I2V : accvideo ? Release::AccVideo : release_from_path(p.dit);
  return p;
}

}  // namespace jenga::hunyuan
