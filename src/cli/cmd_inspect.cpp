// `jenga inspect PATH`: what a checkpoint holds and which model it is.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "models/detect.h"
#include "models/hunyuan/hunyuan_config.h"
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

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u ? fmt::format("{:.2f} {}", v, units[u]) : fmt::format("{} B", b);
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
    if (!expected.count(n)) extra.push_back(n);
  (void)path;
  return {missing, extra};
}

void run_inspect(const InspectOptions& o) {
  CheckpointOptions opts;
  if (!o.state_key.empty()) opts.state_key = o.state_key;
  const Checkpoint ck = Checkpoint::open(o.path, opts);
  uint64_t total_bytes = 0, total_elems = 0;
  std::map<std::string, size_t> per_dtype;
  for (const auto& n : ck.names()) {
    const auto& t = ck.info(n);
    total_bytes += t.nbytes();
    total_elems += static_cast<uint64_t>(t.numel());
    per_dtype[t.dtype_name]++;
  }
  const auto model = detect_model(ck, o.path);
  const auto [missing, extra] = official_key_diff(ck, o.path);

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
    if (model) {
      j["model"] = {{"family", model->family}, {"variant", model->variant}, {"layout", model->layout},
                    {"details", model->details}};
    } else {
      j["model"] = nullptr;
    }
    j["missing"] = missing;
    j["unexpected"] = extra;
    std::printf("%s\n", j.dump(2).c_str());
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
  std::printf("parameters: %llu (%.3f B)\n", static_cast<unsigned long long>(total_elems), total_elems / 1e9);
  std::printf("size:       %s\n", human_bytes(total_bytes).c_str());
  std::string dts;
  for (const auto& [d, c] : per_dtype) dts += fmt::format("{}{} x{}", dts.empty() ? "" : ", ", d, c);
  std::printf("dtypes:     %s\n", dts.c_str());
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
}
}  // namespace

void register_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* c = app.add_subcommand("inspect", "List the tensors of a checkpoint and detect its model");
  c->add_option("path", o->path, "A .safetensors file, a .pt/.pth torch checkpoint, a sharded index, or a model folder")
      ->required();
  c->add_option("--state-key", o->state_key,
                "Which top-level entry of a torch training checkpoint to read (default 'module' when it holds "
                "'module'/'ema')");
  c->add_flag("--json", o->json, "Machine-readable output");
  c->add_flag("--summary", o->summary, "Totals and model only, no tensor list");
  c->callback([o] { run_inspect(*o); });
}

}  // namespace jenga::cli
