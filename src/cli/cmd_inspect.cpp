// `jenga inspect PATH`: what a checkpoint holds and which model it is.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "core/error.h"
#include "io/fp8_weights.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "models/detect.h"
#include "models/hunyuan/clip_tokenizer.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/hunyuan/llama_tokenizer.h"
#include "models/wan/wan_folder.h"
#include "io/file_checks.h"
#include <filesystem>
#include <optional>
#include "models/wan/tokenizer.h"
#include "models/wan/wan_config.h"

namespace jenga::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool summary = false;
  std::string state_key;
};

// "torch zip, state dict under 'module'" for the report.
std::string file_format(const TensorSource& f) {
  std::string s = f.format();
  if (const auto* t = dynamic_cast<const TorchFile*>(&f); t && !t->unwrapped().empty())
    s += fmt::format(", state dict under '{}'", t->unwrapped());
  return s;
}

// For official-layout Wan and HunyuanVideo checkpoints: names the official list has and this file lacks, and back.
std::pair<std::vector<std::string>, std::vector<std::string>> official_key_diff(const Checkpoint& ck,
                                                                           const std::string& path) {
  std::set<std::string> expected;
  if (auto layout = wan::detect_layout(ck); layout && *layout == wan::Layout::Official) {
    for (const auto& [n, s] : wan::official_tensors(wan::detect_config(ck, *layout, nullptr))) expected.insert(n);
  } else if (auto hl = hunyuan::detect_layout(ck); hl && *hl == hunyuan::Layout::Official) {
    // The RoPE split does not change the tensor list: it need not be known here.
    for (const auto& [n, s] : hunyuan::official_tensors(hunyuan::detect_config(ck, *hl, nullptr, false)))
      expected.insert(n);
  } else {
    return {};
  }
  std::vector<std::string> missing, extra;
  for (const auto& n : expected)
    if (!ck.contains(n)) missing.push_back(n);
  for (const auto& n : ck.names())
    if (!expected.count(n) && !is_fp8_scale_tensor(n)) extra.push_back(n);  // ComfyUI fp8 scales belong
  (void)path;
  return {missing, extra};
}

// One component of a model folder: found or missing, the file, what its tensors say it is.
nlohmann::json component_report(const wan::WanComponent& c, bool tokenizer) {
  nlohmann::json j;
  std::error_code ec;
  if (c.path.empty()) {
    j = {{"status", "missing"}, {"expected", c.expected}};
    if (!c.note.empty()) j["note"] = c.note;
    return j;
  }
  j = {{"status", "found"}, {"path", std::filesystem::absolute(c.path).lexically_normal().string()}};
  try {
    if (tokenizer) {
      require_regular_file((std::filesystem::path(c.path) / "spiece.model").string(), "tokenizer");
      // Opened as generate opens it (a second or less): a damaged file is named here, not at run time.
      if (wan::UmT5Tokenizer::available()) (void)wan::UmT5Tokenizer::open(c.path);
      j["model"] = "SentencePiece model (spiece.model)";
      return j;
    }
    if (!std::filesystem::is_directory(c.path, ec)) require_regular_file(c.path, "");
    const auto m = detect_model(Checkpoint::open(c.path), c.path);
    if (m) {
      j["model"] = fmt::format("{}{}{} ({} layout)", m->family, m->variant.empty() ? "" : " ", m->variant, m->layout);
    } else {
      j["status"] = "unrecognised";
      j["model"] = nullptr;
    }
  } catch (const std::exception& e) {
    j["status"] = "unreadable";
    j["error"] = e.what();
  }
  return j;
}

std::string not_usable_reason(const wan::WanFolder& f, const std::vector<std::string>& missing,
                              const std::vector<std::string>& extra, const std::string& bad_component = "") {
  const auto p = f.problems();
  if (!p.empty()) return p.front();
  if (!missing.empty() || !extra.empty()) return "the DiT's tensors differ from the official list (see above)";
  if (!bad_component.empty()) return bad_component;
  return "a component is unreadable or not what its slot needs (see above)";
}

// `inspect FOLDER` of a Wan2.1 model: each component, and whether generate can run it.
// Returns false when the folder is not a usable model.
// *bad_component: the first component found but unusable, named for the last line.
bool report_folder(const InspectOptions& o, const wan::WanFolder& f, nlohmann::json* out, bool dit_tensors_ok = true,
                   std::string* bad_component = nullptr) {
  const std::pair<const char*, const wan::WanComponent*> parts[] = {
      {"dit", &f.dit}, {"vae", &f.vae}, {"text_encoder", &f.t5}, {"tokenizer", &f.tokenizer}};
  const char* expect[] = {"wan2.1-", "wan2.1-vae", "umt5-encoder", ""};
  nlohmann::json comps = nlohmann::json::object();
  bool usable = dit_tensors_ok;
  int i = 0;
  for (const auto& [key, c] : parts) {
    nlohmann::json j = component_report(*c, std::string(key) == "tokenizer");
    // Each part must be what its slot needs (a VAE where the DiT belongs is no DiT).
    if (j["status"] == "found" && j.contains("model") && j["model"].is_string() &&
        j["model"].get<std::string>().rfind(expect[i], 0) != 0) {
      j["status"] = "wrong model";
    }
    if (j["status"] != "found") usable = false;
    if (bad_component && bad_component->empty() && j["status"] != "found" && j["status"] != "missing") {
      const std::string name = std::string(key) == "dit" ? "DiT" : std::string(key) == "vae" ? "VAE"
                               : std::string(key) == "text_encoder" ? "text encoder" : "tokenizer";
      const std::string where = j.value("path", c->path);
      *bad_component = j["status"] == "unreadable" ? fmt::format("the {} cannot be read: {}", name, j.value("error", where))
                       : j["model"].is_string()
                           ? fmt::format("the {} {} holds a {}, not a {}", name, where, j["model"].get<std::string>(),
                                         name == "DiT" ? "Wan2.1 DiT" : expect[i])
                           : fmt::format("the {} {} holds no model jenga recognises", name, where);
    }
    comps[key] = j;
    ++i;
  }
  if (out) {
    (*out)["layout"] = f.layout;
    (*out)["components"] = comps;
    (*out)["usable"] = usable;
    return usable;
  }
  (void)o;
  std::printf("\nfolder:       %s (%s layout)\n", f.root.c_str(), f.layout.c_str());
  const char* labels[] = {"DiT:         ", "VAE:         ", "text encoder:", "tokenizer:   "};
  i = 0;
  for (const auto& [key, c] : parts) {
    const auto& j = comps[key];
    const std::string st = j["status"].get<std::string>();
    if (st == "missing") {
      std::printf("%s missing (expected at %s%s%s)\n", labels[i], j["expected"].get<std::string>().c_str(),
                  j.contains("note") ? "; " : "", j.contains("note") ? j["note"].get<std::string>().c_str() : "");
    } else {
      std::string what = j.contains("error") ? j["error"].get<std::string>()
                         : j.contains("model") && j["model"].is_string() ? j["model"].get<std::string>()
                                                                          : "not recognised";
      std::printf("%s %s %s: %s\n", labels[i], st.c_str(), j["path"].get<std::string>().c_str(), what.c_str());
    }
    ++i;
  }
  std::printf("usable:       %s\n", usable ? "yes (generate --model runs it)" : "no (see above)");
  return usable;
}

// A component that is there but cannot be read (a truncated weights file, a broken config.json):
// the reader's line, or "" when it opens. Headers and configs only: no weight is read.
std::string damaged_component(const std::string& path) {
  try {
    (void)Checkpoint::open(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return "";
  try {  // a folder or FIFO named config.json is named too, never opened
    (void)read_json_if_present((std::filesystem::path(path) / "config.json").string());
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A HunyuanVideo DiT: which release (T2V, AccVideo, I2V) and, for a folder as downloaded, every
// component generate needs (the first missing or unreadable one named with where it was expected).
// Returns whether generate --model runs it.
bool report_hunyuan(const std::string& path, const std::string& dit_path, const DetectedModel& m, bool keys_ok,
                    nlohmann::json* j, std::string* why = nullptr) {
  const bool i2v = m.variant.find("I2V") != std::string::npos ||
                   hunyuan::release_from_path(dit_path) == hunyuan::Release::I2V;
  const hunyuan::Release release = i2v ? hunyuan::Release::I2V : hunyuan::release_from_path(dit_path);
  const std::string rel(hunyuan::release_name(release));
  const bool concat = m.variant.find("I2V") != std::string::npos;  // 33 input channels
  const char* what = release == hunyuan::Release::I2V
                         ? (concat ? "image-to-video, latent_concat (33 input channels; generate runs the released "
                                     "token_replace DiT only)"
                                   : "image-to-video, token_replace (generate --image PATH)")
                     : release == hunyuan::Release::AccVideo
                         ? "AccVideo 5-step distillation (from its path; --accvideo says so for any path)"
                         : "text-to-video (guidance-distilled; an AccVideo DiT is told by its path or --accvideo)";
  std::error_code ec;
  const bool folder = std::filesystem::is_directory(path, ec) && path != dit_path;
  nlohmann::json comp = nlohmann::json::object();
  std::string missing;
  if (folder) {
    try {
      const auto p = hunyuan::resolve_hunyuan(path, {dit_path, "", "", "", "", ""}, false, concat);
      comp = {{"dit", p.dit}, {"vae", p.vae}, {"text_encoder", p.text_encoder}, {"text_encoder_2", p.text_encoder_2},
              {"tokenizer", p.tokenizer}, {"tokenizer_2", p.tokenizer_2}, {"layout", p.layout}};
      for (const auto& [what, where] : {std::pair{"VAE", p.vae}, {"LLM text encoder", p.text_encoder},
                                        {"CLIP-L text encoder", p.text_encoder_2}})
        if (const std::string why = damaged_component(where); !why.empty() && missing.empty())
          missing = fmt::format("the {} cannot be read: {}", what, why);
      // The tokenizers open as generate opens them (JSON and text, a second at most): a damaged
      // tokenizer.json or vocab.json is named here, not when generate starts.
      try {
        if (missing.empty()) (void)hunyuan::LlamaTokenizer::open(p.tokenizer);
        if (missing.empty()) (void)hunyuan::ClipTokenizer::open(p.tokenizer_2);
      } catch (const std::exception& e) {
        missing = fmt::format("a tokenizer cannot be read: {}", e.what());
      }
    } catch (const Error& e) {  // a missing component (Error) or a bad path (UsageError)
      missing = e.what();
    }
  }
  const bool usable = folder && missing.empty() && keys_ok && !concat;
  if (why)  // the last line names the first reason, as for a Wan folder
    *why = !missing.empty() ? (missing.starts_with("HunyuanVideo: ") ? missing.substr(14) : missing)
           : !keys_ok       ? "the DiT's tensors do not match the model (missing / unexpected ones listed above)"
           : concat         ? "a latent_concat DiT (generate runs the released token_replace I2V DiT only)"
                            : "";
  if (j) {
    (*j)["hunyuan"] = {{"release", rel}, {"release_note", what}};
    if (folder) (*j)["hunyuan"]["components"] = comp;
    if (!missing.empty()) (*j)["hunyuan"]["missing_component"] = missing;
    (*j)["usable"] = usable;
    return usable || !folder;
  }
  std::printf("release:    HunyuanVideo %s: %s\n", rel.c_str(), what);
  if (!folder) {
    std::printf("components: a DiT alone; generate also needs --vae, --text-encoder, --text-encoder-2 and the "
                "tokenizers (or --model with the published folder)\n");
    return true;
  }
  for (const auto& [k, v] : comp.items())
    if (k != "layout") std::printf("  %-15s %s\n", k.c_str(), v.get<std::string>().c_str());
  if (comp.contains("layout")) std::printf("layout:     %s\n", comp["layout"].get<std::string>().c_str());
  if (!missing.empty()) std::printf("missing:    %s\n", missing.c_str());
  std::printf("usable:     %s\n", usable ? "yes (generate --model runs it)" : "no (see above)");
  return usable;
}

void run_inspect(const InspectOptions& o) {
  std::error_code ec;
  // A Wan2.1 model folder: the DiT's own files are listed, then each component.
  std::optional<wan::WanFolder> folder;
  std::string dit_path = o.path;
  if (std::filesystem::is_directory(o.path, ec)) {
    auto f = wan::resolve_wan_folder(o.path);
    bool wan_dit = false;
    if (!f.dit.path.empty()) {
      try {
        wan_dit = wan::detect_layout(Checkpoint::open(f.dit.path)).has_value();
      } catch (const std::exception&) {
        wan_dit = true;  // a broken DiT file: the component report says why
      }
    }
    const bool wan_names = !f.vae.path.empty() || !f.t5.path.empty();
    if (wan_dit || wan_names) {
      folder = f;
      if (!f.dit.path.empty()) dit_path = f.dit.path;
    } else if (const auto hy = hunyuan::find_hunyuan_dit(o.path); !hy.empty()) {
      dit_path = hy;  // a HunyuanVideo folder as downloaded (official ckpts/, diffusers)
    } else if (hunyuan::is_hunyuan_release_folder(o.path)) {
      // HunyuanVideo's layout without its DiT: say where it belongs (as generate does), exit 1
      // as for any other missing component.
      (void)hunyuan::resolve_hunyuan(o.path, {}, false, false);
    }
  } else if (std::filesystem::exists(o.path, ec)) {
    require_regular_file(o.path, "");
  }
  if (folder && folder->dit.path.empty()) {
    if (o.json) {
      nlohmann::json j;
      j["path"] = o.path;
      const bool ok = report_folder(o, *folder, &j);
      std::printf("%s\n", j.dump(2).c_str());
      if (!ok) throw Error(fmt::format("{}: not a usable model: {}", o.path, folder->problems().front()));
      return;
    }
    report_folder(o, *folder, nullptr);
    fail("{}: not a usable model: {}", o.path, folder->problems().front());
  }
  CheckpointOptions opts;
  if (!o.state_key.empty()) opts.state_key = o.state_key;
  const Checkpoint ck = Checkpoint::open(dit_path, opts);
  uint64_t total_bytes = 0, total_elems = 0;
  std::map<std::string, size_t> per_dtype;
  size_t fp8 = 0, fp8_scaled = 0;  // fp8 tensors, and those with a ComfyUI scale beside them
  for (const auto& n : ck.names()) {
    const auto& t = ck.info(n);
    total_bytes += t.nbytes();
    total_elems += static_cast<uint64_t>(t.numel());
    per_dtype[t.dtype_name]++;
    if (t.dtype && is_fp8(*t.dtype)) {
      ++fp8;
      const std::string base = n.ends_with(".weight") ? n.substr(0, n.size() - 7) : n;
      fp8_scaled += ck.contains(base + ".scale_weight") || ck.contains(base + ".weight_scale");
    }
  }
  const std::string fp8_note =
      fp8 ? fmt::format("{} fp8 tensors ({} with a per-tensor or per-row scale), dequantised at load (bf16 on the GPU, "
                        "f32 on the CPU)", fp8, fp8_scaled)
          : "";
  const auto model = detect_model(ck, dit_path);
  const auto [missing, extra] = official_key_diff(ck, dit_path);

  if (o.json) {
    nlohmann::json j;
    j["path"] = o.path;
    j["files"] = nlohmann::json::array();
    j["formats"] = nlohmann::json::array();
    for (const auto& f : ck.files()) j["files"].push_back(f->path()), j["formats"].push_back(file_format(*f));
    if (!o.summary) {
      j["tensors"] = nlohmann::json::array();
      for (const auto& n : ck.names()) {
        const auto& t = ck.info(n);
        j["tensors"].push_back({{"name", n}, {"dtype", t.dtype_name}, {"shape", t.shape}, {"bytes", t.nbytes()}});
      }
    }
    j["tensor_count"] = ck.names().size();
    j["parameters"] = total_elems;
    j["bytes"] = total_bytes;
    j["dtypes"] = per_dtype;
    if (fp8) j["fp8"] = {{"tensors", fp8}, {"scaled", fp8_scaled}, {"note", fp8_note}};
    if (model) {
      j["model"] = {{"family", model->family}, {"variant", model->variant}, {"layout", model->layout},
                    {"details", model->details}};
    } else {
      j["model"] = nullptr;
    }
    j["missing"] = missing;
    j["unexpected"] = extra;
    std::string why;
    bool ok = !folder || report_folder(o, *folder, &j, missing.empty() && extra.empty(), &why);
    if (model && model->family == "hunyuanvideo-dit" && !folder)
      ok = report_hunyuan(o.path, dit_path, *model, missing.empty() && extra.empty(), &j, &why);
    std::printf("%s\n", j.dump(2).c_str());
    // (no Wan folder here: a HunyuanVideo one, whose reason report_hunyuan gave)
    if (!ok) fail("{}: not a usable {}model: {}", o.path, folder ? "" : "HunyuanVideo ",
                  folder ? not_usable_reason(*folder, missing, extra, why) : why);
    return;
  }
  if (!o.summary) {
    size_t w = 4;
    for (const auto& n : ck.names()) w = std::max(w, n.size());
    std::printf("%-*s  %-8s  %-24s  %s\n", static_cast<int>(w), "name", "dtype", "shape", "bytes");
    for (const auto& n : ck.names()) {
      const auto& t = ck.info(n);
      std::printf("%-*s  %-8s  %-24s  %llu\n", static_cast<int>(w), n.c_str(), t.dtype_name.c_str(),
                  fmt::format("[{}]", fmt::join(t.shape, ", ")).c_str(),
                  static_cast<unsigned long long>(t.nbytes()));
    }
    std::printf("\n");
  }
  std::printf("files:      %zu (%s)\n", ck.files().size(),
              ck.files().size() == 1 ? file_format(*ck.files()[0]).c_str() : ck.files()[0]->format());
  std::printf("tensors:    %zu\n", ck.names().size());
  const std::string scale = total_elems >= 1'000'000'000 ? fmt::format(" ({:.3f} B)", total_elems / 1e9)
                            : total_elems >= 1'000'000   ? fmt::format(" ({:.1f} M)", total_elems / 1e6)
                                                         : std::string();
  std::printf("parameters: %llu%s\n", static_cast<unsigned long long>(total_elems), scale.c_str());
  std::printf("size:       %s\n", human_bytes(total_bytes).c_str());
  std::string dts;
  for (const auto& [d, c] : per_dtype) dts += fmt::format("{}{} x{}", dts.empty() ? "" : ", ", d, c);
  std::printf("dtypes:     %s\n", dts.c_str());
  if (fp8) std::printf("fp8:        %s\n", fp8_note.c_str());
  if (model) {
    std::printf("model:      %s%s%s (%s layout)\n", model->family.c_str(), model->variant.empty() ? "" : " ",
                model->variant.c_str(), model->layout.c_str());
    std::printf("            %s\n", model->details.c_str());
  } else {
    std::printf("model:      not recognised\n");
  }
  if (!missing.empty() || !extra.empty()) {
    std::printf("missing:    %zu tensor(s)%s\n", missing.size(), missing.empty() ? "" : ":");
    for (const auto& n : missing) std::printf("  - %s\n", n.c_str());
    std::printf("unexpected: %zu tensor(s)%s\n", extra.size(), extra.empty() ? "" : ":");
    for (const auto& n : extra) std::printf("  + %s\n", n.c_str());
  }
  std::string why;
  if (folder && !report_folder(o, *folder, nullptr, missing.empty() && extra.empty(), &why))
    fail("{}: not a usable model: {}", o.path, not_usable_reason(*folder, missing, extra, why));
  if (model && model->family == "hunyuanvideo-dit" && !folder &&
      !report_hunyuan(o.path, dit_path, *model, missing.empty() && extra.empty(), nullptr, &why))
    fail("{}: not a usable HunyuanVideo model: {}", o.path, why);
}
}  // namespace

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u ? fmt::format("{:.2f} {}", v, units[u]) : fmt::format("{} B", b);
}

const CLI::Validator& non_empty() {
  static const CLI::Validator v(
      [](const std::string& s) { return s.empty() ? std::string("an empty value (an unset shell variable?)") : std::string(); },
      "NONEMPTY");
  return v;
}

void register_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* c = app.add_subcommand("inspect", "List the tensors of a checkpoint and detect its model");
  c->add_option("path", o->path, "A .safetensors file, a .pt/.pth torch checkpoint, a sharded index, or a model folder")
      ->required()
      ->check(non_empty());
  c->add_option("--state-key", o->state_key,
                "Which top-level entry of a torch training checkpoint to read (default: 'module' when it holds "
                "'module'/'ema', else 'state_dict' when present, else the whole file)")
      ->check(non_empty());
  c->add_flag("--json", o->json, "Machine-readable output");
  c->add_flag("--summary", o->summary, "Totals and model only, no tensor list");
  c->callback([o] { run_inspect(*o); });
}

}  // namespace jenga::cli
