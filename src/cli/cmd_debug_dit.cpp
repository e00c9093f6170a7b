// `jenga debug dit-forward`: one denoiser evaluation on given inputs, so anyone can compare
// our DiT with another implementation tensor for tensor.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cpu.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "models/wan/wan_dit_cuda.h"
#endif

namespace jenga::cli {
namespace {

struct DitForwardOptions {
  std::string model, inputs, out;
  std::string device = "cpu";
  bool dump_blocks = false;
};

Tensor load_input(const SafetensorsFile& f, const std::string& name, const char* what) {
  const TensorInfo* info = f.find(name);
  if (!info) fail("{}: no tensor '{}' ({}); the inputs file needs x, t and context", f.path(), name, what);
  if (!info->dtype || !dtype_is_float(*info->dtype))
    fail("{}: tensor '{}' is {}; store it as a float type (f32)", f.path(), name, info->dtype_name);
  Tensor t = f.load(name, DType::F32);
  // Tolerate a leading batch dim of 1 ([1, 16, F, H, W], [1, L, text_dim]).
  if (t.ndim() == 5 && t.dim(0) == 1) return t.reshape({t.dim(1), t.dim(2), t.dim(3), t.dim(4)});
  if (name == "context" && t.ndim() == 3 && t.dim(0) == 1) return t.reshape({t.dim(1), t.dim(2)});
  return t;
}

void run_dit_forward(const DitForwardOptions& o) {
#if JENGA_HAVE_CUDA
  if (o.device == "cuda" && !cuda::available()) fail("--device cuda: no CUDA device found; use --device cpu");
#else
  if (o.device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  const auto t0 = std::chrono::steady_clock::now();
  const auto in = SafetensorsFile::open(o.inputs);
  const Tensor x = load_input(*in, "x", "latents [16, F, H, W]");
  const Tensor t = load_input(*in, "t", "timestep [1]");
  const Tensor context = load_input(*in, "context", "text embeddings [L, text_dim]");
  if (t.numel() != 1) fail("{}: 't' must hold one timestep; it has shape {}", o.inputs, t.shape().str());

  const wan::WanDit model = wan::load_wan_dit(o.model, o.device == "cuda" ? DType::BF16 : DType::F32);
  const auto t1 = std::chrono::steady_clock::now();
  const double tv = static_cast<double>(t.data_as<float>()[0]);
  std::vector<Tensor> blocks;
  Tensor out;
  if (o.device == "cuda") {
#if JENGA_HAVE_CUDA
    out = wan::wan_forward_cuda(model, x, tv, context, o.dump_blocks ? &blocks : nullptr);
#endif
  } else {
    wan::DitForwardHooks hooks;
    if (o.dump_blocks)
      hooks.after_block = [&](int, const float* xs, int64_t tokens) {
        Tensor h = Tensor::empty(DType::F32, Shape{tokens, model.config.dim});
        std::copy(xs, xs + h.numel(), h.data_as<float>());
        blocks.push_back(std::move(h));
      };
    out = wan::wan_forward_cpu(model, x, tv, context, hooks);
  }
  const auto t2 = std::chrono::steady_clock::now();

  SafetensorsWriter w;
  w.add("out", out);
  for (size_t i = 0; i < blocks.size(); ++i) w.add("block" + std::to_string(i), blocks[i]);
  w.set_metadata("jenga", o.device == "cuda" ? "debug dit-forward (cuda, bf16)" : "debug dit-forward (cpu, f32)");
  w.write(o.out);
  const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf("wrote %s: out %s (Wan2.1 %s DiT, %s layout, %lld layers; load %.2f s, forward %.2f s on %s)\n",
              o.out.c_str(), out.shape().str().c_str(), model.config.size_name().c_str(),
              std::string(wan::layout_name(model.layout)).c_str(),
              static_cast<long long>(model.config.num_layers), secs(t0, t1), secs(t1, t2), o.device.c_str());
}

}  // namespace

void register_debug_dit(CLI::App& debug) {
  auto o = std::make_shared<DitForwardOptions>();
  auto* c = debug.add_subcommand("dit-forward", "One Wan2.1 DiT forward on given inputs (x, t, context)");
  c->add_option("--model", o->model, "DiT checkpoint folder or file (official, diffusers or ComfyUI layout)")
      ->required();
  c->add_option("--inputs", o->inputs,
                "safetensors with x [16,F,H,W], t [1], context [L,text_dim] (f32)")
      ->required();
  c->add_option("--out", o->out, "Output safetensors (holds out [16,F,H,W] f32)")->required();
  c->add_option("--device", o->device, "cpu (f32 reference) or cuda (bf16)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  c->add_flag("--dump-blocks", o->dump_blocks, "Also write block0..blockN: each block's residual stream [tokens, dim]");
  c->callback([o] { run_dit_forward(*o); });
}

}  // namespace jenga::cli
