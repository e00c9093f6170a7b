// `jenga convert IN OUT`: a safetensors copy of any checkpoint jenga reads (a .pt/.pth torch
// pickle, a sharded folder), with the same tensor names, dtypes and values, for other tools.
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/wan/wan_folder.h"

namespace jenga::cli {
namespace {
namespace fs = std::filesystem;

struct ConvertOptions {
  std::string in, out, state_key;
};

// OUT must be a new or replaceable file in a writable folder, and not the input itself.
void check_output(const std::string& in, const std::string& out) {
  std::error_code ec;
  if (fs::is_directory(out, ec)) usage_fail("OUT {}: is a folder; name the .safetensors file to write", out);
  if (fs::path(out).extension() != ".safetensors")
    usage_fail("OUT {}: convert writes safetensors; name the output .safetensors", out);
  if (fs::exists(out, ec) && !fs::is_regular_file(out, ec)) usage_fail("OUT {}: exists and is not a regular file", out);
  if (fs::exists(out, ec) && fs::equivalent(in, out, ec)) usage_fail("OUT {}: is the input; write the copy elsewhere", out);
  const fs::path parent = fs::absolute(fs::path(out)).parent_path();
  if (!fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0)
    usage_fail("OUT {}: folder {} does not exist or is not writable", out, parent.string());
}

// A whole model folder holds several components (DiT, VAE, text encoders): reading it as one
// checkpoint merged them (Wan) or found nothing (HunyuanVideo's subfolders), while inspect
// reports its DiT. Convert one component, named.
void refuse_model_folder(const std::string& in) {
  std::error_code ec;
  if (!fs::is_directory(in, ec)) return;
  const auto wan = wan::resolve_wan_folder(in);
  if (!wan.vae.path.empty() || !wan.t5.path.empty())
    usage_fail("IN {}: a Wan2.1 model folder (DiT, VAE, text encoder); convert one component{}", in,
               wan.dit.path.empty() ? std::string() : fmt::format(", e.g. the DiT: jenga convert {} OUT", wan.dit.path));
  if (const std::string dit = hunyuan::find_hunyuan_dit(in); !dit.empty() && !fs::equivalent(dit, in, ec))
    usage_fail("IN {}: a HunyuanVideo model folder (DiT, VAE, text encoders in subfolders); convert one component, "
               "e.g. the DiT: jenga convert {} OUT", in, dit);
}

void run_convert(const ConvertOptions& o) {
  check_output(o.in, o.out);
  refuse_model_folder(o.in);
  CheckpointOptions opts;
  if (!o.state_key.empty()) opts.state_key = o.state_key;
  const Checkpoint ck = Checkpoint::open(o.in, opts);
  SafetensorsWriter w;
  // A safetensors input's own metadata (a model card's title, ...) is kept.
  for (const auto& f : ck.files())
    if (const auto* st = dynamic_cast<const SafetensorsFile*>(f.get()))
      for (const auto& [k, v] : st->header().metadata) w.set_metadata(k, v);
  w.set_metadata("format", "pt");
  uint64_t total = 0;
  for (const auto& name : ck.names()) {
    const TensorInfo& t = ck.info(name);
    TensorBytes b = ck.bytes(name);  // zero-copy from the mapping unless a strided view
    w.add_view(name, t.dtype_name, t.shape, b.bytes, b.owner);
    total += t.nbytes();
  }
  struct statvfs vfs {};
  const fs::path parent = fs::absolute(fs::path(o.out)).parent_path();
  if (::statvfs(parent.c_str(), &vfs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (free_bytes < total + (1u << 20))
      fail("{}: needs {} but {} has {} free; free some space or write elsewhere", o.out, human_bytes(total),
           parent.string(), human_bytes(free_bytes));
  }
  w.write(o.out);
  std::string from = ck.files().size() == 1 ? ck.files()[0]->format() : fmt::format("{} files", ck.files().size());
  if (ck.files().size() == 1)
    if (const auto* tf = dynamic_cast<const TorchFile*>(ck.files()[0].get()); tf && !tf->unwrapped().empty())
      from += fmt::format(", state dict under '{}'", tf->unwrapped());
  std::printf("wrote %s: %zu tensor%s, %s (from %s)\n", o.out.c_str(), ck.names().size(),
              ck.names().size() == 1 ? "" : "s", human_bytes(total).c_str(),
              from.c_str());
}

}  // namespace

void register_convert(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  auto* c = app.add_subcommand("convert", "Write a safetensors copy of a checkpoint (.pt/.pth torch pickles included)");
  c->add_option("in", o->in, "A .pt/.pth/.bin torch checkpoint, a .safetensors file, a sharded index or a folder")
      ->required()
      ->check(non_empty());
  c->add_option("out", o->out, "The .safetensors file to write (written to a hidden temp file beside it, then renamed)")
      ->required()
      ->check(non_empty());
  c->add_option("--state-key", o->state_key,
                "Which top-level entry of a training checkpoint to read (default: 'module' when it holds "
                "'module'/'ema', else 'state_dict' when present, else the whole file)")
      ->check(non_empty());
  c->callback([o] { run_convert(*o); });
}

}  // namespace jenga::cli
