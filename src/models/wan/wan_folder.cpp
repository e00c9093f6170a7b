#include "models/wan/wan_folder.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "io/file_checks.h"
#include "io/safetensors.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/wan_config.h"

namespace jenga::wan {
namespace {
namespace fs = std::filesystem;

constexpr const char* kDitName = "diffusion_pytorch_model.safetensors";
constexpr const char* kVaeStem = "Wan2.1_VAE";
constexpr const char* kT5Stem = "models_t5_umt5-xxl-enc-bf16";

enum class Kind { Dit, Vae, T5, Other };

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// What a safetensors file (or shard index) holds, from its header alone; anything that does not
// open (corrupt, a FIFO, not safetensors) is Other: it is simply not a candidate.
Kind classify(const fs::path& p) {
  if (!is_file(p)) return Kind::Other;
  try {
    const Checkpoint ck = Checkpoint::open(p.string());
    if (detect_layout(ck)) return Kind::Dit;
    if (looks_like_t5_encoder(ck)) return Kind::T5;
    if ((ck.contains("decoder.conv1.weight") && ck.contains("conv2.weight")) ||
        (ck.contains("decoder.conv_in.weight") && ck.contains("post_quant_conv.weight")))
      return Kind::Vae;
  } catch (const std::exception&) {
  }
  return Kind::Other;
}

// The *.safetensors files (and shard indexes) of a folder, sorted, except `skip`.
std::vector<fs::path> safetensors_in(const fs::path& dir, const std::vector<std::string>& skip = {}) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (!ends_with(n, ".safetensors") && !ends_with(n, ".safetensors.index.json")) continue;
    if (std::find(skip.begin(), skip.end(), fs::absolute(e.path()).lexically_normal().string()) != skip.end()) continue;
    out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Key detection: the one file of `kind` among `files`, or a note naming the candidates.
void detect_into(WanComponent& c, const std::vector<fs::path>& files, Kind kind) {
  std::vector<fs::path> hits;
  for (const auto& f : files) {
    // A shard index stands for its shards: classify it as a whole, and skip its shards.
    if (classify(f) == kind) hits.push_back(f);
  }
  // An index and the shard that holds the first block both detect as a DiT: keep the index.
  if (hits.size() > 1) {
    std::vector<fs::path> idx;
    for (const auto& h : hits)
      if (ends_with(h.string(), ".index.json")) idx.push_back(h);
    if (idx.size() == 1) hits = idx;
  }
  if (hits.size() == 1) {
    c.path = hits[0].string();
  } else if (hits.size() > 1) {
    std::string names;
    for (size_t i = 0; i < hits.size() && i < 4; ++i) names += (i ? ", " : "") + hits[i].filename().string();
    c.note = fmt::format("{} candidates ({}): name the one you mean", hits.size(), names);
  }
}

std::string abs_str(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }

// The official names: STEM.safetensors (converted) before STEM.pth.
void published(WanComponent& c, const fs::path& dir, const char* stem) {
  const fs::path st = dir / (std::string(stem) + ".safetensors"), pth = dir / (std::string(stem) + ".pth");
  c.expected = fmt::format("{} (or the converted {})", abs_str(pth), st.filename().string());
  if (fs::exists(st)) {
    c.path = st.string();
  } else if (fs::exists(pth)) {
    c.path = pth.string();
    c.note = "PyTorch .pth";
  }
}

void official_dit(WanComponent& c, const fs::path& dir) {
  c.expected = fmt::format("{} (14B: diffusion_pytorch_model-0000N-of-0000M.safetensors with its .index.json)",
                           abs_str(dir / kDitName));
  const fs::path index = dir / (std::string(kDitName) + ".index.json");
  if (fs::exists(index)) return void(c.path = index.string());
  if (fs::exists(dir / kDitName)) return void(c.path = (dir / kDitName).string());
  std::vector<fs::path> indexes;
  for (const auto& f : safetensors_in(dir))
    if (ends_with(f.string(), ".index.json")) indexes.push_back(f);
  if (indexes.size() == 1 && classify(indexes[0]) == Kind::Dit) return void(c.path = indexes[0].string());
  detect_into(c, safetensors_in(dir), Kind::Dit);
}

void tokenizer_in(WanComponent& c, const std::vector<fs::path>& dirs) {
  c.expected = abs_str(dirs.front() / "spiece.model");
  for (const auto& d : dirs)
    if (fs::exists(d / "spiece.model")) return void(c.path = d.string());
}

// VAE and umT5 of an official-style folder: by name, else by their tensors among the folder's
// other safetensors (never the DiT's).
void official_rest(WanFolder& f, const fs::path& dir) {
  published(f.vae, dir, kVaeStem);
  published(f.t5, dir, kT5Stem);
  std::vector<std::string> skip;
  if (!f.dit.path.empty()) skip.push_back(abs_str(f.dit.path));
  if (f.vae.path.empty() || f.t5.path.empty()) {
    const auto files = safetensors_in(dir, skip);
    if (f.vae.path.empty()) detect_into(f.vae, files, Kind::Vae);
    if (f.t5.path.empty()) detect_into(f.t5, files, Kind::T5);
  }
  tokenizer_in(f.tokenizer, {dir / "google" / "umt5-xxl", dir / "tokenizer", dir});
}

// A diffusers sub-folder: present when it holds safetensors.
void diffusers_part(WanComponent& c, const fs::path& dir) {
  c.expected = abs_str(dir) + "/ (*.safetensors)";
  if (is_dir(dir) && !safetensors_in(dir).empty()) c.path = dir.string();
}

// ComfyUI's models/ sub-folders.
void comfy_part(WanComponent& c, const fs::path& dir, Kind kind) {
  c.expected = abs_str(dir) + "/ (a Wan2.1 " + (kind == Kind::Dit ? "DiT" : kind == Kind::Vae ? "VAE" : "umT5 encoder") +
               " .safetensors)";
  if (is_dir(dir)) detect_into(c, safetensors_in(dir), kind);
}

void comfy_rest(WanFolder& f, const fs::path& models) {
  comfy_part(f.vae, models / "vae", Kind::Vae);
  comfy_part(f.t5, is_dir(models / "text_encoders") ? models / "text_encoders" : models / "clip", Kind::T5);
  tokenizer_in(f.tokenizer, {models / "tokenizer", models / "google" / "umt5-xxl"});
  if (f.tokenizer.path.empty())
    f.tokenizer.note = "ComfyUI ships no umT5 tokenizer: pass --tokenizer with the google/umt5-xxl folder of "
                       "Wan-AI/Wan2.1-T2V-1.3B";
}

}  // namespace

std::vector<std::string> WanFolder::problems() const {
  std::vector<std::string> out;
  const std::pair<const WanComponent*, const char*> parts[] = {
      {&dit, "DiT"}, {&vae, "VAE"}, {&t5, "text encoder"}, {&tokenizer, "tokenizer"}};
  for (const auto& [c, name] : parts)
    if (c->path.empty())
      out.push_back(fmt::format("missing {}, expected at {}{}{}", name, c->expected, c->note.empty() ? "" : "; ", c->note));
  return out;
}

WanFolder resolve_wan_folder(const std::string& model, const WanComponentOverrides& o) {
  WanFolder f;
  if (!model.empty()) {
    const fs::path m(model);
    if (is_dir(m)) {
      f.root = abs_str(m);
      if (fs::exists(m / "model_index.json") || (is_dir(m / "transformer") && is_dir(m / "vae"))) {
        f.layout = "diffusers";
        diffusers_part(f.dit, m / "transformer");
        diffusers_part(f.vae, m / "vae");
        diffusers_part(f.t5, m / "text_encoder");
        tokenizer_in(f.tokenizer, {m / "tokenizer", m / "google" / "umt5-xxl"});
      } else if (is_dir(m / "diffusion_models")) {
        f.layout = "comfyui";
        comfy_part(f.dit, m / "diffusion_models", Kind::Dit);
        comfy_rest(f, m);
      } else {
        f.layout = "official";
        official_dit(f.dit, m);
        official_rest(f, m);
      }
    } else {
      // A DiT file (or shard index) given alone: the rest is looked for beside it.
      const fs::path dir = m.parent_path().empty() ? fs::path(".") : m.parent_path();
      f.root = abs_str(dir);
      f.dit.path = model;
      f.dit.expected = abs_str(m);
      if (dir.filename() == "diffusion_models" || abs_str(dir).ends_with("/diffusion_models")) {
        f.layout = "comfyui";
        comfy_rest(f, fs::path(abs_str(dir)).parent_path());
      } else {
        f.layout = "file";
        official_rest(f, dir);
      }
    }
  }
  auto over = [](WanComponent& c, const std::string& p) {
    if (p.empty()) return;
    c.path = p;
    c.expected = abs_str(p);
    c.note.clear();
  };
  over(f.dit, o.dit), over(f.vae, o.vae), over(f.t5, o.t5), over(f.tokenizer, o.tokenizer);
  const char* flags[] = {"--diffusion-model FILE", "--vae FILE", "--t5xxl FILE", "--tokenizer FOLDER"};
  WanComponent* parts[] = {&f.dit, &f.vae, &f.t5, &f.tokenizer};
  for (int i = 0; i < 4; ++i)
    if (parts[i]->expected.empty()) parts[i]->expected = fmt::format("(no --model: pass {})", flags[i]);
  return f;
}

void require_complete(const WanFolder& f, const std::string& model_flag) {
  const char* flags[] = {"--diffusion-model FILE", "--vae FILE", "--t5xxl FILE", "--tokenizer FOLDER"};
  const WanComponent* parts[] = {&f.dit, &f.vae, &f.t5, &f.tokenizer};
  const char* names[] = {"DiT", "VAE", "text encoder", "tokenizer"};
  for (int i = 0; i < 4; ++i) {
    const WanComponent& c = *parts[i];
    if (c.path.empty() && model_flag.empty() && c.expected.starts_with("(no --model"))
      fail("missing {}: with no --model, pass {} (or --model with the model's folder)", names[i], flags[i]);
    if (c.path.empty())
      fail("{}missing {}, expected at {}{}{}; download it or pass {}", model_flag.empty() ? "" : model_flag + ": ",
           names[i], c.expected, c.note.empty() ? "" : "; ", c.note, flags[i]);
    std::error_code ec;
    if (!fs::exists(c.path, ec)) fail("{} {}: no such file or folder", names[i], c.path);
    if (!fs::is_directory(c.path, ec)) require_regular_file(c.path, names[i]);
  }
}

std::string wan_dit_path(const std::string& path) {
  if (!is_dir(path)) return path;
  const WanFolder f = resolve_wan_folder(path);
  if (f.dit.path.empty())
    fail("{}: holds no Wan2.1 DiT; expected {}{}{}", path, f.dit.expected, f.dit.note.empty() ? "" : "; ", f.dit.note);
  return f.dit.path;
}

}  // namespace jenga::wan
