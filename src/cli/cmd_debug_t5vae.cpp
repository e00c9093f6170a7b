// `jenga debug encode-text | vae-decode | vae-encode | tokenize`: run one Wan component (or the
// HunyuanVideo VAE) on tensors in safetensors files, so its output can be compared with another
// implementation.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <nlohmann/json.hpp>

#include "cli/cmd_debug_hunyuan_text.h"
#include "cli/commands.h"
#include "cli/debug_inputs.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/tokenizer.h"
#include "models/wan/vae_cpu.h"
#include "models/wan/vae_model.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "models/wan/vae_cuda.h"
#include "models/hunyuan/hunyuan_vae_cuda.h"
#include "models/wan/t5_encoder_cuda.h"
#endif

namespace jenga::cli {
namespace {

void require_cpu(const std::string& device, const char* what) {
  if (device == "cuda") fail("--device cuda: the CUDA {} encoder is not in this build yet; use --device cpu", what);
}

std::shared_ptr<SafetensorsFile> open_input(const std::string& path, const char* flag) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("{} {}: no such file", flag, path);
  return SafetensorsFile::open(path);
}

void require_tensor(const SafetensorsFile& f, const std::string& name, const char* flag) {
  if (!f.find(name)) fail("{} {}: has no tensor named '{}'", flag, f.path(), name);
}

// A [C, T, H, W] float input (any float dtype, f64 included; a leading batch dim of 1 is fine).
Tensor f32_input(const std::shared_ptr<SafetensorsFile>& f, const std::string& name, const char* flag) {
  require_tensor(*f, name, flag);
  return DebugInputs(f, "the VAE", "'" + name + "'").floats(name, {{-1, -1, -1, -1}, "[C, T, H, W]"}, name.c_str());
}

// WanVAE_.encode reads frame 0, then whole chunks of 4 (1 + (F - 1) // 4 of them): frames past the
// last whole chunk are not encoded. The same here, said on stderr, instead of a refusal.
Tensor wan_whole_chunks(const Tensor& x) {
  if (x.ndim() != 4 || x.dim(1) < 1 || (x.dim(1) - 1) % 4 == 0) return x;
  const int64_t C = x.dim(0), F = x.dim(1), keep = 1 + (F - 1) / 4 * 4, plane = x.dim(2) * x.dim(3);
  std::fprintf(stderr, "note: frames %s: the official encoder reads 1 + 4k frames; the last %lld are dropped as it does\n",
               x.shape().str().c_str(), static_cast<long long>(F - keep));
  Tensor y = Tensor::empty(DType::F32, Shape{C, keep, x.dim(2), x.dim(3)});
  for (int64_t c = 0; c < C; ++c)
    std::copy(x.data_as<float>() + c * F * plane, x.data_as<float>() + (c * F + keep) * plane,
              y.data_as<float>() + c * keep * plane);
  return y;
}

Checkpoint open_weights(const std::string& path, const char* flag) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("{} {}: no such file or folder", flag, path);
  return Checkpoint::open(path);
}

// Either VAE; the one place that tells them apart, by tensor names (HunyuanVideo: official /
// diffusers / ComfyUI names, a folder with config.json; otherwise Wan2.1).
struct AnyVae {
  std::optional<wan::WanVae> wan;
  std::optional<hunyuan::HunyuanVae> hunyuan;
};

AnyVae load_vae(const std::string& path) {
  const auto files = hunyuan::resolve_hunyuan_vae_files(path);
  const Checkpoint c = open_weights(files.weights, "--vae");
  AnyVae v;
  if (hunyuan::looks_like_hunyuan_vae(c)) {
    v.hunyuan = hunyuan::HunyuanVae::load(c, hunyuan::hunyuan_vae_config_for(c, files.config_json));
    return v;
  }
  if (!wan::looks_like_wan_vae(c) && wan::looks_like_t5_encoder(c))
    fail("{} is a umT5 text encoder, not a Wan2.1 VAE; pass the VAE (Wan2.1_VAE weights) to --vae", path);
  v.wan = wan::WanVae::load(c);
  return v;
}


std::string tiles_note(const hunyuan::HyTilePlan& p) {
  if (!p.temporal && !p.spatial) return "untiled";
  return fmt::format("official tiles: {} temporal x {} x {} spatial", p.t.start.size(), p.h.start.size(),
                     p.w.start.size());
}

void write_one(const std::string& out, const std::string& name, const Tensor& t) {
  SafetensorsWriter w;
  w.add(name, t);
  w.write(out);
}

struct Options {
  std::string weights, input, out, device = "cpu", text, precision = "bf16";
  int64_t text_len = 512;
  bool no_clamp = false;
  bool no_tiling = false;
  HunyuanTextOptions hunyuan;  // tokenize / encode-text hand over to HunyuanVideo's encoders
};

Tensor encode_on(const std::string& device, const wan::T5Encoder& enc, const std::vector<int64_t>& ids,
                 const std::vector<int64_t>& mask) {
  if (device != "cuda") return enc.encode(ids, mask);
#if JENGA_HAVE_CUDA
  if (!cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
  return wan::T5EncoderCuda::from_encoder(enc)->encode(ids, mask);
#else
  fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
}

void run_encode_text(const Options& o) {
  if (o.input.empty() && o.hunyuan.image.empty()) usage_fail("encode-text: --ids is required");
  if (run_hunyuan_encode_text(o.hunyuan, o.weights, o.input, o.out, o.device)) return;
  std::error_code ec;
  if (!std::filesystem::exists(o.weights, ec)) fail("--text-encoder {}: no such file or folder", o.weights);
  const auto enc = wan::T5Encoder::open(o.weights);
  const auto f = open_input(o.input, "--ids");
  // ids as the tokenizer writes them; the mask any 0/1 dtype (i64 from the tokenizer, bool or float from torch).
  require_tensor(*f, "ids", "--ids");
  require_tensor(*f, "mask", "--ids");
  const DebugInputs in(f, "a umT5 encoder", "ids and mask");
  const auto ids = in.int_row("ids", "token ids"), mask = in.int_row("mask", "attention mask");
  if (mask.size() != ids.size())
    fail("--ids {}: 'mask' has {} entries for {} ids", o.input, mask.size(), ids.size());
  for (const int64_t m : mask)
    if (m != 0 && m != 1) fail("--ids {}: 'mask' holds {}; a mask holds 0s and 1s", o.input, m);
  const Tensor ctx = encode_on(o.device, enc, ids, mask);
  write_one(o.out, "context", ctx);
  std::printf("wrote %s: context %s (umT5 %lld layers, dim %lld)\n", o.out.c_str(), ctx.shape().str().c_str(),
              static_cast<long long>(enc.config().layers), static_cast<long long>(enc.config().dim));
}

void run_vae_decode(const Options& o) {
#if JENGA_HAVE_CUDA
  if (o.device == "cuda" && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (o.device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  const auto any = load_vae(o.weights);
  const auto f = open_input(o.input, "--latents");
  const Tensor z = f32_input(f, "latents", "--latents");
  if (any.hunyuan) {
    Tensor frames;
    std::string convs = "f32 CPU";
#if JENGA_HAVE_CUDA
    if (o.device == "cuda") {
      const auto gpu = hunyuan::HunyuanVaeCuda::from_model(*any.hunyuan);
      frames = hunyuan::hunyuan_vae_decode(*any.hunyuan, z, !o.no_tiling, !o.no_clamp,
                                           [&](const hunyuan::HyClip& c) { return gpu->decode_tile(c); });
      convs = std::string("CUDA fp16, 3x3x3 convs: ") + gpu->conv_kernel();
    }
#endif
    if (o.device == "cpu") frames = hunyuan::hunyuan_vae_decode(*any.hunyuan, z, !o.no_tiling, !o.no_clamp);
    write_one(o.out, "frames", frames);
    const auto plan = hunyuan::hy_decode_plan(*any.hunyuan, z.dim(1), z.dim(2), z.dim(3), !o.no_tiling);
    std::printf("wrote %s: frames %s (HunyuanVideo VAE, %s; %s)\n", o.out.c_str(), frames.shape().str().c_str(),
                tiles_note(plan).c_str(), convs.c_str());
    return;
  }
  const auto& vae = *any.wan;
  Tensor frames;
#if JENGA_HAVE_CUDA
  if (o.device == "cuda")
    frames = wan::vae_decode_cuda(vae, z, !o.no_clamp,
                                  o.precision == "f32" ? wan::VaePrecision::F32 : wan::VaePrecision::Bf16);
#endif
  if (o.device == "cpu") frames = wan::vae_decode(vae, z, !o.no_clamp);
  write_one(o.out, "frames", frames);
  std::printf("wrote %s: frames %s\n", o.out.c_str(), frames.shape().str().c_str());
}

void run_vae_encode(const Options& o) {
  const auto any = load_vae(o.weights);
  if (!any.hunyuan) require_cpu(o.device, "Wan2.1 VAE");
#if JENGA_HAVE_CUDA
  if (o.device == "cuda" && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (o.device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  const auto f = open_input(o.input, "--frames");
  const Tensor x = f32_input(f, "frames", "--frames");
  if (any.hunyuan) {
    Tensor z;
#if JENGA_HAVE_CUDA
    if (o.device == "cuda") z = hunyuan::hunyuan_vae_encode_cuda(*any.hunyuan, x, !o.no_tiling);
#endif
    if (o.device == "cpu") z = hunyuan::hunyuan_vae_encode(*any.hunyuan, x, !o.no_tiling);
    write_one(o.out, "latents", z);
    const auto plan = hunyuan::hy_encode_plan(*any.hunyuan, x.dim(1), x.dim(2), x.dim(3), !o.no_tiling);
    std::printf("wrote %s: latents %s (HunyuanVideo VAE, mode x scaling_factor, %s)\n", o.out.c_str(),
                z.shape().str().c_str(), tiles_note(plan).c_str());
    return;
  }
  const Tensor z = wan::vae_encode(*any.wan, wan_whole_chunks(x));
  write_one(o.out, "latents", z);
  std::printf("wrote %s: latents %s\n", o.out.c_str(), z.shape().str().c_str());
}

void run_tokenize(const Options& o) {
  if (run_hunyuan_tokenize(o.hunyuan, o.weights, o.text, o.text_len)) return;
  const auto tok = wan::UmT5Tokenizer::open(o.weights);
  const auto t = tok.encode(o.text, o.text_len);
  nlohmann::json j;
  j["ids"] = t.ids;
  j["mask"] = t.mask;
  std::printf("%s\n", j.dump().c_str());
}

}  // namespace

void register_debug_t5vae(CLI::App& debug) {
  auto o = std::make_shared<Options>();
  const auto device = [&](CLI::App* c) {
    c->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  };

  auto* e = debug.add_subcommand("encode-text", "Run a text encoder (umT5; HunyuanVideo's LLM or CLIP-L) on token ids (ids, mask: i64 [1, L])");
  e->add_option("--text-encoder", o->weights, "umT5, HunyuanVideo LLM (text_encoder/) or CLIP (text_encoder_2/) weights, safetensors")->required();
  e->add_option("--ids", o->input, "safetensors with 'ids' and 'mask' (required unless --image with --prompt)");
  e->add_option("--out", o->out, "output safetensors: umT5 'context' [valid tokens, dim]; llama 'hidden_states' [L, dim] + 'mask'; clip 'pooled' [dim] + 'last_hidden_state' [L, dim] (f32)")->required();
  device(e);
  add_hunyuan_encode_options(*e, o->hunyuan);
  e->callback([o] { run_encode_text(*o); });

  const char* tiling_help =
      "HunyuanVideo VAE: run in one piece instead of the official tiles (from the config's sample_size / "
      "sample_tsize); the Wan VAE is never tiled";
  auto* d = debug.add_subcommand("vae-decode", "Decode latents [16, T, H, W] to frames [3, 4(T-1)+1, 8H, 8W] (Wan2.1 or HunyuanVideo VAE)");
  d->add_option("--vae", o->weights,
                "VAE weights: Wan2.1 (official or diffusers names), or HunyuanVideo (a file, or a folder with "
                "config.json; official / diffusers / ComfyUI names)")
      ->required();
  d->add_option("--latents", o->input,
                "safetensors with 'latents' as the denoiser sees them (Wan: normalised; HunyuanVideo: scaled by "
                "scaling_factor 0.476986)")
      ->required();
  d->add_option("--out", o->out, "output safetensors: 'frames' f32 in [-1, 1]")->required();
  d->add_flag("--no-clamp", o->no_clamp, "Keep values outside [-1, 1]");
  d->add_flag("--no-tiling", o->no_tiling, tiling_help);
  d->add_option("--precision", o->precision, "CUDA conv operands: bf16 (fast) or f32 (reference)")
      ->check(CLI::IsMember({"bf16", "f32"}))
      ->capture_default_str();
  device(d);
  d->callback([o] { run_vae_decode(*o); });

  auto* v = debug.add_subcommand("vae-encode", "Encode frames [3, 4k+1, H, W] in [-1, 1] to latents as the denoiser sees them");
  v->add_option("--vae", o->weights, "VAE weights (as for vae-decode)")->required();
  v->add_option("--frames", o->input, "safetensors with 'frames'")->required();
  v->add_option("--out", o->out, "output safetensors: 'latents' [16, k+1, H/8, W/8] f32")->required();
  v->add_flag("--no-tiling", o->no_tiling, tiling_help);
  device(v);
  v->callback([o] { run_vae_encode(*o); });

  auto* t = debug.add_subcommand("tokenize", "Tokenize a prompt as the Wan or HunyuanVideo pipeline does; prints JSON ids/mask");
  t->add_option("--tokenizer", o->weights, "umT5 spiece.model (or its folder), or a HunyuanVideo tokenizer folder (text_encoder/ tokenizer.json; text_encoder_2/ CLIP vocab.json + merges.txt)")->required();
  t->add_option("--text", o->text, "prompt (UTF-8)")->required();
  t->add_option("--text-len", o->text_len, "pad/truncate to this many tokens (HunyuanVideo: LLM text tokens after the template crop, default 256; CLIP default 77)")->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  add_hunyuan_tokenize_options(*t, o->hunyuan);
  t->callback([o] { run_tokenize(*o); });
}

}  // namespace jenga::cli
