// `jenga debug ...`: small tools to check parts of the engine without a real model.
#include <chrono>
#include <filesystem>
#include <set>
#include <cstdio>

#include "cli/commands.h"
#include "core/error.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/hunyuan/hunyuan_tiny_folder.h"
#include "models/random_checkpoint.h"
#include "models/wan/wan_config.h"
#include "models/wan/wan_tiny.h"
#include "models/wan/wan_builtin.h"

namespace jenga::cli {
namespace {

struct MakeTinyOptions {
  std::string family = "wan";
  std::string out;
  std::string size = "tiny";
  std::string dtype = "f32";
  uint64_t seed = 0;
  bool dit_only = false;    // wan: only diffusion_pytorch_model.safetensors + config.json
  int64_t in_channels = 0;  // hunyuan: 0 = the config's (16); 33 = the I2V latent concat
  std::string tokenizers;   // hunyuan --size 13b: scripts/fetch_test_tokenizers.sh's folder (real vocabularies)
  bool dtype_given = false;
};

// The whole published T2V folder at full size (~42 GB), streamed; for end-to-end timings.
void run_make_full_hunyuan(const MakeTinyOptions& o) {
  if (o.dtype_given)
    usage_fail("--dtype: the whole --size 13b folder takes the published dtypes (DiT bf16, VAE f32, encoders fp16); "
               "give --dit-only for a DiT in another dtype");
  auto spec = hunyuan::HunyuanFolderSpec::published();
  spec.tokenizers = o.tokenizers;
  const auto t0 = std::chrono::steady_clock::now();
  const auto info = hunyuan::write_random_hunyuan_folder(o.out, spec, o.seed);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s: HunyuanVideo T2V model folder at the published shapes with random weights (seed %llu), %.1f GB "
              "in %.1f s (%.2f GB/s): hunyuan-video-t2v-720p/transformers (13B DiT bf16, %.2f B parameters), "
              "hunyuan-video-t2v-720p/vae (f32), text_encoder (llava-llama-3-8b LM fp16, %d shards, %s tokenizer), "
              "text_encoder_2 (CLIP-L fp16); run it with generate --model %s --device cuda\n",
              o.out.c_str(), static_cast<unsigned long long>(o.seed), info.bytes / 1e9, s, info.bytes / 1e9 / s,
              info.dit_parameters / 1e9, spec.llm_shards, o.tokenizers.empty() ? "tiny byte-level" : "Llama-3",
              o.out.c_str());
}

// A folder already holding another model (make-tiny --family hunyuan over a Wan folder) became
// a mix that generate ran as the Wan model, though make-tiny said "run it with generate --model";
// only this family's own names may already be there (writing the same folder again is fine).
void require_out_for_this_family(const MakeTinyOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(o.out, ec)) return;  // new, or a file the writers name
  const bool dit_only = o.dit_only || o.in_channels > 0;
  std::set<std::string> ours;
  if (o.family == "wan")
    ours = {"diffusion_pytorch_model.safetensors", "config.json", "Wan2.1_VAE.safetensors",
            "models_t5_umt5-xxl-enc-bf16.safetensors", "google"};
  else if (dit_only)
    ours = {"diffusion_pytorch_model.safetensors", "config.json"};
  else if (o.family == "hunyuan")
    ours = {"hunyuan-video-t2v-720p", "text_encoder", "text_encoder_2"};
  else
    ours = {"hunyuan-video-i2v-720p", "text_encoder_i2v", "text_encoder_2"};
  for (const auto& e : fs::directory_iterator(o.out, ec))
    if (const std::string n = e.path().filename().string(); !ours.count(n))
      usage_fail("--out {}: already holds {} (not part of a --family {} folder); give a new or empty folder, so "
                 "generate --model runs the model written", o.out, n, o.family);
}

void run_make_tiny(const MakeTinyOptions& o) {
  require_out_for_this_family(o);
  // fp8-e4m3-scaled: ComfyUI's scaled fp8 DiT (matrices fp8 with a per-tensor scale_weight, the
  // rest bf16), written as f32 then rewritten; HunyuanVideo's DiT only.
  const bool scaled = o.dtype == "fp8-e4m3-scaled";
  const auto dt = scaled ? std::optional<DType>(DType::F32) : dtype_parse(o.dtype);
  if (!dt || !dtype_is_float(*dt)) usage_fail("--dtype {}: use f32, bf16, f16, fp8-e4m3 or fp8-e4m3-scaled", o.dtype);
  if (scaled && o.family != "hunyuan")
    usage_fail("--dtype fp8-e4m3-scaled is for --family hunyuan (its DiT as ComfyUI's scaled fp8 files)");
  if (o.family == "hunyuan-i2v") {
    if (o.size != "tiny" || o.dit_only || o.in_channels > 0)
      usage_fail("--family hunyuan-i2v writes the whole tiny I2V folder only (no --size, --dit-only, --in-channels)");
    const auto info = hunyuan::write_tiny_hunyuan_i2v_folder(o.out, o.seed, *dt);
    std::printf("wrote %s: HunyuanVideo-I2V tiny model folder in the official ckpts layout with random weights (%s, "
                "seed %llu): hunyuan-video-i2v-720p/transformers (token_replace DiT, %.2f M parameters), "
                "hunyuan-video-i2v-720p/vae, text_encoder_i2v (LLaVA + tokenizer.json + preprocessor_config.json, I2V "
                "template %lld tokens), text_encoder_2 (CLIP-L + vocab.json); run it with generate --model %s --image "
                "PATH\n",
                o.out.c_str(), o.dtype.c_str(), static_cast<unsigned long long>(o.seed), info.dit_parameters / 1e6,
                static_cast<long long>(info.template_tokens), o.out.c_str());
    return;
  }
  if (!o.tokenizers.empty() && (o.family != "hunyuan" || o.size != "13b" || o.dit_only || o.in_channels > 0))
    usage_fail("--tokenizers is for the whole --family hunyuan --size 13b folder");
  if (o.family == "hunyuan") {
    if (o.size != "tiny" && o.size != "13b") usage_fail("--size {}: HunyuanVideo has tiny or 13b", o.size);
    if (o.size == "13b" && !o.dit_only && o.in_channels <= 0) return run_make_full_hunyuan(o);
    if (!o.dit_only && o.in_channels <= 0 && o.size == "tiny") {
      const auto info = hunyuan::write_tiny_hunyuan_folder(o.out, o.seed, *dt);
      if (scaled)
        rewrite_as_scaled_fp8(o.out + "/hunyuan-video-t2v-720p/transformers/diffusion_pytorch_model.safetensors");
      std::printf("wrote %s: HunyuanVideo tiny model folder in the official ckpts layout with random weights (%s, seed "
                  "%llu): hunyuan-video-t2v-720p/transformers (DiT, %.2f M parameters), hunyuan-video-t2v-720p/vae, "
                  "text_encoder (LLM + tokenizer.json, template %lld tokens), text_encoder_2 (CLIP-L + vocab.json); "
                  "run it with generate --model %s\n",
                  o.out.c_str(), o.dtype.c_str(), static_cast<unsigned long long>(o.seed), info.dit_parameters / 1e6,
                  static_cast<long long>(info.template_tokens), o.out.c_str());
      return;
    }
    auto cfg = o.size == "tiny" ? hunyuan::HunyuanConfig::tiny() : hunyuan::HunyuanConfig::t2v_720p();
    if (o.in_channels > 0) cfg.in_channels = o.in_channels;
    hunyuan::write_random_checkpoint(o.out, cfg, o.seed, *dt);
    if (scaled) rewrite_as_scaled_fp8(o.out + "/diffusion_pytorch_model.safetensors");
    std::printf("wrote %s: HunyuanVideo %s DiT with random weights (%s, seed %llu, %.1f M parameters)\n",
                o.out.c_str(), o.size.c_str(), o.dtype.c_str(), static_cast<unsigned long long>(o.seed),
                cfg.parameter_count() / 1e6);
    return;
  }
  if (o.size == "13b") usage_fail("--size 13b is a HunyuanVideo size; Wan has tiny, 1.3b or 14b");
  if (o.in_channels > 0) usage_fail("--in-channels is for --family hunyuan");
  wan::WanConfig cfg = o.size == "tiny" ? wan::WanConfig::tiny()
                       : o.size == "1.3b" ? wan::WanConfig::wan_1_3b()
                                          : wan::WanConfig::wan_14b();
  if (o.dit_only) {
    wan::write_random_checkpoint(o.out, cfg, o.seed, *dt);
  } else {
    write_tiny_wan_folder(o.out, cfg, o.seed, *dt);  // the published folder, every component
  }
  std::printf("wrote %s: Wan2.1 %s %s with random weights (%s, seed %llu, %.1f M DiT parameters)\n", o.out.c_str(),
              o.size.c_str(),
              o.dit_only ? "DiT" : "model folder (DiT, config.json, Wan2.1_VAE, umT5, google/umt5-xxl tokenizer)",
              o.dtype.c_str(), static_cast<unsigned long long>(o.seed), cfg.parameter_count() / 1e6);
}

}  // namespace

void register_debug(CLI::App& app) {
  auto* d = app.add_subcommand("debug", "Tools to check parts of the engine without a real model");
  d->require_subcommand(1);

  auto mt = std::make_shared<MakeTinyOptions>();
  auto* c = d->add_subcommand("make-tiny", "Write a random-weight model with the published file and key names");
  c->add_option("--family", mt->family, "Model family")->check(CLI::IsMember({"wan", "hunyuan", "hunyuan-i2v"}))->capture_default_str();
  c->add_option("--out", mt->out, "Output folder")->required();
  c->add_option("--size", mt->size, "tiny (a few blocks) or the published shapes: 1.3b, 14b (wan), 13b (hunyuan)")
      ->check(CLI::IsMember({"tiny", "1.3b", "14b", "13b"}))
      ->capture_default_str();
  auto* dtype_opt = c->add_option("--dtype", mt->dtype,
                "Weight dtype: f32, bf16, f16, fp8-e4m3, fp8-e4m3-scaled (HunyuanVideo: the DiT's matrices in fp8 with "
                "a per-tensor scale_weight, the rest bf16, as ComfyUI's scaled fp8 files)")
      ->capture_default_str();
  c->add_option("--seed", mt->seed, "Random seed")->capture_default_str();
  c->add_flag("--dit-only", mt->dit_only,
              "Write only the DiT (diffusion_pytorch_model.safetensors + config.json); without it the whole "
              "published folder, ready for generate --model (Wan: also Wan2.1_VAE.safetensors, "
              "models_t5_umt5-xxl-enc-bf16.safetensors, google/umt5-xxl/spiece.model; HunyuanVideo: the "
              "official ckpts layout, DiT, VAE, LLM and CLIP-L with tokenizer files; --size 13b writes it at the "
              "published shapes and dtypes, ~42 GB streamed, for end-to-end timings)");
  c->add_option("--in-channels", mt->in_channels, "HunyuanVideo: DiT input channels (33 = I2V latent concat; DiT only)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  c->add_option("--tokenizers", mt->tokenizers,
                "HunyuanVideo --size 13b: a folder with llama3/tokenizer.json and clip-l/vocab.json + merges.txt "
                "(scripts/fetch_test_tokenizers.sh writes it) to ship the real vocabularies; without it tiny "
                "byte-level ones (the template still 95 tokens)");
  c->callback([mt, dtype_opt] {
    mt->dtype_given = dtype_opt->count() > 0;
    run_make_tiny(*mt);
  });

  register_debug_dit(*d);
  register_debug_denoise(*d);
  register_debug_jenga(*d);
  register_debug_t5vae(*d);
  register_debug_svg(*d);
  register_debug_i2v(*d);
}

}  // namespace jenga::cli
