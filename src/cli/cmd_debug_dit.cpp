// `jenga debug dit-forward`: one denoiser evaluation on given inputs, so anyone can compare
// our DiT with another implementation tensor for tensor.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "cli/debug_inputs.h"
#include "cli/debug_model.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cpu.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "models/hunyuan/hunyuan_dit_cuda.h"
#include "models/wan/wan_dit_cuda.h"
#endif

namespace jenga::cli {
namespace {

// WanModel's patch embedding is a Conv3d with stride = kernel = patch: frames / rows / columns past
// the last whole patch are dropped, and `out` has the cropped size. The same here (a size below
// one patch stays refused, as Conv3d refuses it).
Tensor crop_to_patches(const Tensor& x, const int64_t* patch) {
  const int64_t C = x.dim(0), F = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t f = F / patch[0] * patch[0], h = H / patch[1] * patch[1], w = W / patch[2] * patch[2];
  if ((f == F && h == H && w == W) || f == 0 || h == 0 || w == 0) return x;
  std::fprintf(stderr, "note: x %s cropped to [%lld, %lld, %lld, %lld], as the official patch embedding drops what "
               "is past the last whole %lldx%lldx%lld patch\n", x.shape().str().c_str(), static_cast<long long>(C),
               static_cast<long long>(f), static_cast<long long>(h), static_cast<long long>(w),
               static_cast<long long>(patch[0]), static_cast<long long>(patch[1]), static_cast<long long>(patch[2]));
  Tensor y = Tensor::empty(DType::F32, Shape{C, f, h, w});
  const float* src = x.data_as<float>();
  float* dst = y.data_as<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < f; ++t)
      for (int64_t r = 0; r < h; ++r) {
        const float* row = src + ((c * F + t) * H + r) * W;
        std::copy(row, row + w, dst + ((c * f + t) * h + r) * w);
      }
  return y;
}

struct DitForwardOptions {
  std::string model, inputs, out;
  std::string device = "cpu";
  bool dump_blocks = false;
  int64_t dump_rows_stride = 1;  // HunyuanVideo dumps: keep image rows 0, S, 2S, ... (and every text row)
  // HunyuanVideo-I2V's token_replace condition: on (--token-replace), off (--no-token-replace) or,
  // neither given, the DiT's own (on for a HunyuanVideo-I2V release's token_replace DiT).
  bool token_replace = false, no_token_replace = false;
};

// HunyuanVideo: x [C, F, H, W], t [1], text_states [L, text_dim], text_mask [L] (1s then 0s;
// default all real), text_states_2 [text_dim_2], guidance [1] (cfg scale x 1000; models with a
// guidance embedding need it). CPU f32 or CUDA bf16; --dump-blocks adds each block's residual
// stream [Li + Lt, hidden] (image rows first, raster order = the official token order; text rows
// padding included); --dump-rows-stride S keeps image rows 0, S, 2S, ...: [ceil(Li/S) + Lt, hidden].
void run_hunyuan_forward(const DitForwardOptions& o, const DebugDit& dit) {
#if JENGA_HAVE_CUDA
  if (o.device == "cuda" && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (o.device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  const auto t0 = std::chrono::steady_clock::now();
  const auto inputs = SafetensorsFile::open(o.inputs);  // its header: a bad file fails before the weights load
  // CUDA: bf16 matrices as the checkpoint holds them (half the host memory; the GPU runs bf16 anyway).
  const hunyuan::HunyuanDit model = hunyuan::load_hunyuan_dit(dit.path, o.device == "cuda" ? DType::BF16 : DType::F32);
  const auto& c = model.config;
  // A HunyuanVideo-I2V release's token_replace DiT runs its own condition unless told otherwise.
  const bool token_replace = o.token_replace || (dit.hunyuan_i2v && !c.is_i2v() && !o.no_token_replace);
  const DebugInputs in(inputs, "a HunyuanVideo DiT",
                       c.guidance_embed ? "x, t, text_states, text_states_2, guidance (+ text_mask)"
                                        : "x, t, text_states, text_states_2 (+ text_mask; no guidance embedding)");
  const Tensor x = in.floats("x", {{c.in_channels, -1, -1, -1}, fmt::format("[{}, F, H, W]", c.in_channels)}, "latents");
  const float t = static_cast<float>(in.scalar("t", "timestep"));
  const Tensor txt = in.floats("text_states", {{-1, c.text_dim}, fmt::format("[L, {}]", c.text_dim)}, "LLM text states");
  const int64_t lt = txt.dim(0);
  const Tensor txt2 =
      in.floats("text_states_2", {{c.text_dim_2}, fmt::format("[{}]", c.text_dim_2)}, "pooled CLIP vector");
  const int64_t valid = in.has("text_mask") ? in.mask_prefix("text_mask", lt) : lt;
  if (valid == 0) fail("{}: 'text_mask' is all 0s; the official forward needs at least one real text token", o.inputs);
  // The official forward takes the guidance only when the DiT has a guidance embedding.
  const float guidance = c.guidance_embed ? static_cast<float>(in.scalar("guidance", "guidance: cfg scale x 1000")) : 0.0f;
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<Tensor> blocks;
  Tensor out;
  if (o.device == "cuda") {
#if JENGA_HAVE_CUDA
    out = hunyuan::hunyuan_forward_cuda(model, x, t, txt.data_as<float>(), lt, valid, txt2.data_as<float>(), guidance,
                                        o.dump_blocks ? &blocks : nullptr, token_replace, o.dump_rows_stride);
#endif
  } else {
    DitForwardHooks hooks;
    if (o.dump_blocks)
      hooks.after_block = [&](int, const float* xs, int64_t tokens) {
        const int64_t S = o.dump_rows_stride, li = tokens - lt, ni = (li + S - 1) / S;
        Tensor h = Tensor::empty(DType::F32, Shape{ni + lt, c.hidden});
        float* dst = h.data_as<float>();
        for (int64_t r = 0; r < ni; ++r, dst += c.hidden) std::copy_n(xs + r * S * c.hidden, c.hidden, dst);
        std::copy(xs + li * c.hidden, xs + tokens * c.hidden, dst);
        blocks.push_back(std::move(h));
      };
    out = Tensor::from_f32(hunyuan::hunyuan_forward_cpu(model, x.data_as<float>(), x.dim(1), x.dim(2), x.dim(3),
                                                        t, txt.data_as<float>(), lt, valid, txt2.data_as<float>(),
                                                        guidance, &hooks, token_replace),
                           Shape{c.out_channels, x.dim(1), x.dim(2), x.dim(3)});
  }
  const auto t2 = std::chrono::steady_clock::now();
  SafetensorsWriter w;
  w.add("out", out);
  for (size_t i = 0; i < blocks.size(); ++i) w.add("block" + std::to_string(i), blocks[i]);
  if (o.dump_blocks) {
    const int64_t li = x.dim(1) / c.patch[0] * (x.dim(2) / c.patch[1]) * (x.dim(3) / c.patch[2]);
    w.set_metadata("image_tokens", std::to_string(li));
    w.set_metadata("text_tokens", std::to_string(lt));
    w.set_metadata("image_row_stride", std::to_string(o.dump_rows_stride));
  }
  w.set_metadata("jenga", fmt::format("debug dit-forward ({}, hunyuanvideo{})",
                                      o.device == "cuda" ? "cuda, bf16" : "cpu, f32",
                                      token_replace ? ", i2v token_replace" : ""));
  w.write(o.out);
  const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  // Which condition ran, and why: the flag, or the DiT's release.
  const std::string condition =
      token_replace ? (o.token_replace ? "I2V token_replace (--token-replace)"
                                       : "I2V token_replace (a HunyuanVideo-I2V DiT; --no-token-replace for T2V's)")
      : dit.hunyuan_i2v && !c.is_i2v() ? "T2V condition (--no-token-replace)"
      : c.is_i2v()                     ? "I2V latent_concat"
                                       : "T2V condition";
  std::printf("wrote %s: out [%lld, %lld, %lld, %lld] (HunyuanVideo %s DiT, %s layout, %lld double + %lld single "
              "blocks, %s; load %.2f s, forward %.2f s on %s)\n",
              o.out.c_str(), static_cast<long long>(c.out_channels), static_cast<long long>(x.dim(1)),
              static_cast<long long>(x.dim(2)), static_cast<long long>(x.dim(3)), c.variant_name().c_str(),
              std::string(hunyuan::layout_name(model.layout)).c_str(), static_cast<long long>(c.double_blocks),
              static_cast<long long>(c.single_blocks), condition.c_str(), secs(t0, t1), secs(t1, t2), o.device.c_str());
}

void run_dit_forward(const DitForwardOptions& o) {
  if (o.dump_rows_stride < 1) usage_fail("--dump-rows-stride {}: must be at least 1", o.dump_rows_stride);
  if (o.dump_rows_stride > 1 && !o.dump_blocks) usage_fail("--dump-rows-stride needs --dump-blocks");
  if (o.token_replace && o.no_token_replace) usage_fail("--token-replace and --no-token-replace: give one");
  // The model first: a missing, damaged or wrong --model is named as such, and the inputs are read
  // for the family it is.
  const DebugDit dit = find_debug_dit(o.model, "debug dit-forward");
  if (dit.hunyuan) return run_hunyuan_forward(o, dit);
  if (o.token_replace || o.no_token_replace)
    usage_fail("--{}token-replace is HunyuanVideo-I2V's condition; {} is a Wan2.1 DiT", o.token_replace ? "" : "no-",
               o.model);
  if (o.dump_rows_stride > 1) usage_fail("--dump-rows-stride is for HunyuanVideo DiTs; {} is a Wan2.1 DiT", o.model);
#if JENGA_HAVE_CUDA
  if (o.device == "cuda" && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (o.device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  const auto t0 = std::chrono::steady_clock::now();
  const auto inputs = SafetensorsFile::open(o.inputs);  // its header: a bad file fails before the weights load
  const wan::WanDit model = wan::load_wan_dit(dit.path, o.device == "cuda" ? DType::BF16 : DType::F32);
  const auto& c = model.config;
  const DebugInputs in(inputs, "a Wan2.1 DiT", "x, t and context");
  const Tensor x = crop_to_patches(
      in.floats("x", {{c.in_dim, -1, -1, -1}, fmt::format("[{}, F, H, W]", c.in_dim)}, "latents"), c.patch);
  const double tv = in.scalar("t", "timestep");
  const Tensor context = in.floats("context", {{-1, c.text_dim}, fmt::format("[L, {}]", c.text_dim)}, "text embeddings");
  if (context.dim(0) > c.text_len)
    fail("{}: 'context' has {} rows; this model takes at most {}", o.inputs, context.dim(0), c.text_len);
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<Tensor> blocks;
  Tensor out;
  if (o.device == "cuda") {
#if JENGA_HAVE_CUDA
    out = wan::wan_forward_cuda(model, x, tv, context, o.dump_blocks ? &blocks : nullptr);
#endif
  } else {
    DitForwardHooks hooks;
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
  auto* c = debug.add_subcommand("dit-forward", "One DiT forward on given inputs: Wan2.1 (x, t, context) or HunyuanVideo (x, t, "
                                  "text_states, text_mask, text_states_2, guidance)");
  c->add_option("--model", o->model, "DiT checkpoint folder or file (Wan2.1: official, diffusers or ComfyUI layout; "
                                 "HunyuanVideo: official or diffusers)")
      ->required();
  c->add_option("--inputs", o->inputs,
                "safetensors: Wan2.1 x [16,F,H,W], t [1], context [L,text_dim]; HunyuanVideo x, t, text_states "
                "[L,text_dim], text_mask [L] (0/1, any int, bool or float type), text_states_2 [text_dim_2], guidance "
                "[1] (a leading batch dim of 1 is fine)")
      ->required();
  c->add_option("--out", o->out, "Output safetensors (holds out [16,F,H,W] f32)")->required();
  c->add_option("--device", o->device, "cpu (f32 reference) or cuda (bf16)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  c->add_flag("--dump-blocks", o->dump_blocks, "Also write block0..blockN: each block's residual stream [tokens, dim]");
  c->add_option("--dump-rows-stride", o->dump_rows_stride,
                "HunyuanVideo: keep only image rows 0, S, 2S, ... of each dumped block (every text row stays): "
                "[ceil(Li/S) + Lt, hidden], so 60 full-size blocks fit on a disk (16: 5.5 GB at 720x1280x125)")
      ->capture_default_str();
  c->add_flag("--token-replace", o->token_replace,
              "HunyuanVideo-I2V (token_replace): the first latent frame's tokens are modulated as at t = 0 without "
              "the guidance term (x's frame 0 holds the image latent); the default for a HunyuanVideo-I2V release's "
              "DiT (its config's image_condition_type, its hunyuan-video-i2v-720p/ folder or its file name says so); "
              "a 33-channel I2V model (latent_concat) takes its concatenated x without this flag");
  c->add_flag("--no-token-replace", o->no_token_replace,
              "HunyuanVideo: T2V's condition (no token_replace) even for a HunyuanVideo-I2V release's DiT");
  c->callback([o] { run_dit_forward(*o); });
}

}  // namespace jenga::cli
