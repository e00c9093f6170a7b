// `jenga generate`: flags as stable-diffusion.cpp users know them.
#include <algorithm>
#include <charconv>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <optional>
#include <vector>

#include <fstream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/communicator.h"
#include "io/safetensors.h"
#include "io/file_checks.h"
#include "io/mp4_libav.h"
#include "io/utf8.h"
#include "io/video_writer.h"
#include "models/registry.h"
#include "models/video_model.h"
#include "pipeline/generate.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace jenga::cli {

// Digits only, no sign, no wrap: "99999999999x48" is refused as given, not wrapped.
std::pair<int, int> parse_size(const std::string& flag, const std::string& value) {
  const size_t x = value.find_first_of("xX");
  auto side = [&](std::string_view t) -> int {
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || end != t.data() + t.size() || (ec != std::errc() && ec != std::errc::result_out_of_range) || v == 0)
      usage_fail("{} '{}' is not WIDTHxHEIGHT (e.g. 832x480)", flag, value);
    if (ec == std::errc::result_out_of_range || v > static_cast<uint64_t>(kMaxSide))
      usage_fail("{} '{}': width and height are at most {}", flag, value, kMaxSide);
    return static_cast<int>(v);
  };
  if (x == std::string::npos) usage_fail("{} '{}' is not WIDTHxHEIGHT (e.g. 832x480)", flag, value);
  const std::string_view v(value);
  return {side(v.substr(0, x)), side(v.substr(x + 1))};
}

// The full uint64 range, nothing else (no sign, no wrap, no silent clamp).
uint64_t parse_seed(const std::string& value) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size())
    usage_fail("--seed '{}': must be an integer from 0 to 18446744073709551615", value);
  return v;
}

namespace {
// The built-in tiny model's defaults: seconds on a CPU.
constexpr const char* kTinySize = "64x48";
constexpr int kTinyFrames = 9, kTinySteps = 8;

// What -o accepts, as this build can write it.
std::string mp4_help() {
  const auto f = supported_video_formats();
  std::string s;
  if (std::find(f.begin(), f.end(), "mp4") != f.end())
    s += libav_h264_available() ? ".mp4 (H.264 through libavcodec, built in), " : ".mp4 (through the ffmpeg program), ";
  else
    s += ".mp4 (not in this build: needs libavcodec at build time or ffmpeg on PATH), ";
  if (std::find(f.begin(), f.end(), "webp") != f.end()) s += ".webp, ";
  return s;
}

struct GenerateOptions {
  std::string model, diffusion_model, vae, t5xxl, tokenizer;
  std::string text_encoder, text_encoder_2, tokenizer_2;
  bool accvideo = false;
  std::string prompt, negative_prompt;
  std::string image, i2v_resolution;  // image-to-video (HunyuanVideo-I2V)
  bool i2v_stability = false;
  std::string preset = "dense";
  std::string size = "832x480";
  int width = 0, height = 0;
  int frames = 81;
  int steps = 50;
  std::string seed = "42";
  // Set by the user (else the built-in tiny model takes its small defaults).
  CLI::Option *size_opt = nullptr, *frames_opt = nullptr, *steps_opt = nullptr, *w_opt = nullptr, *h_opt = nullptr;
  std::optional<double> cfg_scale, shift, embedded_cfg_scale;
  JengaOverrides jenga;
  std::string attention;
  SvgOverrides svg;
  std::string output;  // empty: output.mp4 when ffmpeg is found, else output.webp / .y4m
  std::string solver;  // empty: the model's (Wan unipc, HunyuanVideo euler)
  std::string device = "auto";
  std::string parallel = "sequence", prompts_file, latents_out;
  bool quiet = false, json_progress = false, t5_cpu = false, offload = false;
};

// One prompt per line; blank lines skipped; a trailing \r (CRLF files) dropped.
std::vector<std::string> read_prompts(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    usage_fail("--prompts {}: is a {}, not a regular file of prompts", path, file_kind(path));
  std::ifstream in(path);
  if (!in) usage_fail("--prompts {}: cannot open the file", path);
  std::vector<std::string> out;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto at = utf8_invalid_at(line))
      usage_fail("--prompts {}: line {} is not valid UTF-8 (byte {}); save the file as UTF-8 (e.g. iconv -t UTF-8)",
                 path, number, *at);
    if (line.find_first_not_of(" \t") != std::string::npos) out.push_back(line);
  }
  if (out.empty()) usage_fail("--prompts {}: no prompts (one per line, blank lines are skipped)", path);
  return out;
}

// out.mp4 -> out_0001.mp4 (i = 0); a path without extension (PNG folder) gets the suffix.
std::string numbered(const std::string& path, size_t i) {
  const std::filesystem::path p(path);
  const std::string tag = fmt::format("_{:04d}", i + 1);
  return (p.parent_path() / (p.stem().string() + tag + p.extension().string())).string();
}

void run_generate(const GenerateOptions& o) {
  // A model generate cannot run yet (HunyuanVideo) fails here, from the safetensors headers alone,
  // before any flag check that would not matter or any weight is read.
  if (!o.model.empty()) reject_unrunnable_model("--model", o.model);
  if (!o.diffusion_model.empty()) reject_unrunnable_model("--diffusion-model", o.diffusion_model);
  // No model: the built-in tiny model at a size that finishes in seconds, unless the user chose.
  const bool builtin = o.model.empty() && o.diffusion_model.empty() && o.vae.empty() && o.t5xxl.empty() &&
                       o.text_encoder.empty() && o.text_encoder_2.empty();
  if (o.steps_opt->count() && (o.steps < 1 || o.steps > 1000))
    usage_fail("--steps {}: must be between 1 and 1000", o.steps);
  std::vector<std::string> tiny_defaults;
  std::string size = o.size;
  int frames = o.frames, steps = o.steps;
  if (builtin) {
    if (!o.size_opt->count() && !o.w_opt->count() && !o.h_opt->count()) size = kTinySize, tiny_defaults.push_back(fmt::format("--size {}", kTinySize));
    if (!o.frames_opt->count()) frames = kTinyFrames, tiny_defaults.push_back(fmt::format("--frames {}", kTinyFrames));
    if (!o.steps_opt->count()) steps = kTinySteps, tiny_defaults.push_back(fmt::format("--steps {}", kTinySteps));
  } else if (!o.steps_opt->count()) {
    steps = 0;  // the preset's, else the model's (50; AccVideo 5)
  }
  if (!o.image.empty() && (o.size_opt->count() || o.w_opt->count() || o.h_opt->count()))
    usage_fail("--image: the video's size is the model's bucket for the image (--i2v-resolution); drop --size / "
               "--width / --height");
  auto [w, h] = parse_size("--size", size);
  if (o.width) w = o.width;
  if (o.height) h = o.height;
  if (!o.model.empty() && !std::filesystem::exists(o.model))
    usage_fail("--model {}: no such file or folder", o.model);
  T2VRequest r;
  r.model_dir = o.model;
  r.dit = o.diffusion_model, r.vae = o.vae, r.t5 = o.t5xxl, r.tokenizer = o.tokenizer;
  r.text_encoder = o.text_encoder, r.text_encoder_2 = o.text_encoder_2, r.tokenizer_2 = o.tokenizer_2;
  r.accvideo = o.accvideo;
  r.embedded_guidance = o.embedded_cfg_scale;
  r.prompt = o.prompt, r.negative_prompt = o.negative_prompt;
  r.image = o.image, r.image_resolution = o.i2v_resolution, r.image_stability = o.i2v_stability;
  r.width = w, r.height = h, r.frames = frames, r.steps = steps;
  r.seed = parse_seed(o.seed);
  r.guide_scale = o.cfg_scale, r.shift = o.shift;
  r.jenga = o.jenga;
  r.attention = o.attention, r.svg = o.svg;
  r.t5_cpu = o.t5_cpu;
  r.offload = o.offload;
  r.solver = o.solver, r.preset = o.preset, r.device = o.device;
  r.output = o.output;
  if (r.output.empty()) {
    const auto f = supported_video_formats();
    r.output = std::find(f.begin(), f.end(), "mp4") != f.end()    ? "output.mp4"
               : std::find(f.begin(), f.end(), "webp") != f.end() ? "output.webp"
                                                                   : "output.y4m";
  }
  r.parallel = o.parallel;
  r.latents_out = o.latents_out;
  std::vector<T2VJob> jobs;
  if (!o.prompts_file.empty()) {
    if (!o.prompt.empty()) usage_fail("give either -p/--prompt or --prompts FILE, not both");
    const auto prompts = read_prompts(o.prompts_file);
    for (size_t i = 0; i < prompts.size(); ++i)
      jobs.push_back({prompts[i], numbered(r.output, i), o.latents_out.empty() ? "" : numbered(o.latents_out, i)});
  } else {
    jobs.push_back({r.prompt, r.output, r.latents_out});
  }
  // Every rank checks the flags before MPI starts: a usage error ends each one cleanly.
  for (const auto& j : jobs) {
    T2VRequest c = r;
    c.output = j.output;
    check_t2v_request(c);
  }
  auto comm = dist::make_communicator();
  // Under mpirun even one process takes the parallel code path (mpirun -np 1 checks it).
  if (comm->size() > 1 || dist::launched_by_mpi()) r.comm = comm.get();
#if JENGA_HAVE_CUDA
  // One process per GPU: the local rank picks it.
  if (comm->size() > 1 && o.device != "cpu" && cuda::available()) cuda::set_device(comm->local_rank() % cuda::device_count());
#endif
  // Only rank 0 prints progress.
  const bool quiet = o.quiet || comm->rank() != 0;
  Progress progress(quiet ? Progress::Mode::Quiet : o.json_progress ? Progress::Mode::Json : Progress::Mode::Auto);
  if (!tiny_defaults.empty())
    progress.note(fmt::format("no --model: the built-in tiny model uses small defaults ({}), a few seconds on a CPU; "
                              "set them to change", fmt::join(tiny_defaults, " ")));
  try {
    // --parallel prompts: a rank without a prompt (more ranks than prompts) loads nothing.
    if (r.comm && r.parallel == "prompts" && static_cast<size_t>(comm->rank()) >= jobs.size()) return;
    const double t_start = generate_clock_s();
    ModelSpec spec{r.model_dir, r.dit, r.vae, r.t5, r.tokenizer};
    spec.text_encoder = r.text_encoder, spec.text_encoder_2 = r.text_encoder_2, spec.tokenizer_2 = r.tokenizer_2;
    spec.accvideo = r.accvideo;
    spec.device = r.device, spec.width = r.width, spec.height = r.height, spec.frames = r.frames, spec.offload = r.offload;
    const auto model = open_model(spec, progress);
    generate_batch(*model, r, jobs, progress, t_start);
  } catch (const std::exception& e) {
    if (comm->size() <= 1) throw;
    // The other ranks may wait in a collective: end them all.
    const bool usage = dynamic_cast<const UsageError*>(&e) != nullptr;
    std::fprintf(stderr, "error: (rank %d of %d) %s\n", comm->rank(), comm->size(), e.what());
    std::fflush(stderr);
    comm->abort(usage ? 2 : 1);
  }
}
}  // namespace

void register_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* c = app.add_subcommand("generate", "Generate a video from a text prompt");
  c->add_option("-m,--model", o->model, "Model folder as published (or a .safetensors file); "
                                        "none = built-in tiny random model");
  c->add_option("--diffusion-model", o->diffusion_model, "DiT weights file (ComfyUI style)");
  c->add_option("--vae", o->vae, "VAE weights file");
  c->add_option("--t5xxl", o->t5xxl, "umT5 text encoder weights file");
  c->add_option("--tokenizer", o->tokenizer,
                "umT5 spiece.model (default: MODEL/google/umt5-xxl); HunyuanVideo: the LLM's tokenizer.json or folder");
  c->add_option("--text-encoder", o->text_encoder,
                "HunyuanVideo LLM text encoder (llava-llama-3-8b: official text_encoder/ or ComfyUI llava_llama3_fp16)");
  c->add_option("--text-encoder-2", o->text_encoder_2, "HunyuanVideo CLIP-L text encoder (text_encoder_2/ or clip_l)");
  c->add_option("--tokenizer-2", o->tokenizer_2, "HunyuanVideo CLIP tokenizer folder (vocab.json + merges.txt)");
  c->add_flag("--accvideo", o->accvideo,
              "The HunyuanVideo DiT is AccVideo's 5-step one (a --diffusion-model path naming accvideo says so too)");
  c->add_option("--embedded-cfg-scale", o->embedded_cfg_scale,
                "HunyuanVideo embedded guidance the DiT takes (official 6.0); --cfg-scale > 1 adds true CFG");
  c->add_option("-p,--prompt", o->prompt, "What the video shows");
  c->add_option("-n,--negative-prompt", o->negative_prompt, "What to avoid (default: the model's)");
  c->add_option("--image", o->image,
                "Image-to-video (HunyuanVideo-I2V): the reference image, PNG or JPEG; the video takes the official "
                "bucket size for it (--i2v-resolution) and starts from it");
  c->add_option("--i2v-resolution", o->i2v_resolution,
                "With --image: 720p (default), 540p or 360p (official bucket bases 960 / 720 / 480), or a bucket "
                "base in pixels (a multiple of 32)");
  c->add_flag("--i2v-stability", o->i2v_stability,
              "With --image: the official stability mode (noise blended 0.999 / 0.001 toward the image latent; "
              "default --shift 7 instead of 17)");
  c->add_option("--preset", o->preset,
                "Speed preset: dense (official Wan2.1), base / turbo (official Jenga Wan2.1 scripts), flash "
                "(HunyuanVideo Flash settings on Wan Turbo), 3stage (HunyuanVideo 3Stage on Wan)")
      ->check(CLI::IsMember({"dense", "base", "turbo", "flash", "3stage"}))
      ->capture_default_str();
  add_jenga_flags(*c, o->jenga);
  add_attention_flags(*c, o->attention, o->svg);
  o->size_opt = c->add_option("-s,--size", o->size,
                               fmt::format("WIDTHxHEIGHT, multiples of 16, each at most {} (without --model: {})",
                                           kMaxSide, kTinySize))
                    ->capture_default_str();
  o->w_opt = c->add_option("-W,--width", o->width, "Width (overrides --size)");
  o->h_opt = c->add_option("-H,--height", o->height, "Height (overrides --size)");
  o->frames_opt = c->add_option("-f,--frames", o->frames,
                                fmt::format("Frames, 4k+1, at most {} (without --model: {})", kMaxFrames, kTinyFrames))
                      ->capture_default_str();
  o->steps_opt = c->add_option("--steps", o->steps, fmt::format("Sampling steps, 1 to 1000 (default 50, the preset's or the model's: AccVideo 5; "
                                                              "without --model: {})", kTinySteps));
  c->add_option("--seed", o->seed, "Random seed, 0 to 18446744073709551615")->capture_default_str();
  c->add_option("--cfg-scale", o->cfg_scale, "Classifier-free guidance scale (Wan default 5, Jenga presets 6; HunyuanVideo 1 = one branch, > 1 "
                "adds the negative prompt)");
  c->add_option("--shift", o->shift, "Flow-matching sigma shift (Wan default 5, Jenga presets 8; HunyuanVideo 7)");
  c->add_option("-o,--output", o->output,
                 fmt::format("Output: {}.y4m, .png or a folder of PNGs (default output.mp4, else .webp); the sidecar "
                             "is the output's name + .json (t.mp4 -> t.mp4.json)", mp4_help()));
  c->add_option("--solver", o->solver, "Sampler: unipc (Wan's official default), dpm++ (Wan's official option), euler "
                                       "(HunyuanVideo's only one, its default)")
      ->check(CLI::IsMember({"unipc", "dpm++", "euler"}));
  c->add_option("--device", o->device, "auto|cpu|cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  c->add_option("--prompts", o->prompts_file,
                "A file of prompts, one per line (blank lines skipped): one run, weights loaded once; "
                "-o out.mp4 gives out_0001.mp4, out_0002.mp4, ...");
  c->add_option("--parallel", o->parallel,
                "Under mpirun: sequence (every rank shares each video's DiT, Ulysses) or prompts "
                "(each rank takes whole prompts)")
      ->check(CLI::IsMember({"sequence", "prompts"}))
      ->capture_default_str();
  c->add_option("--latents-out", o->latents_out, "Debug: also write the final latents (f32) to this .safetensors")
      ->group("");
  c->add_flag("--t5-cpu", o->t5_cpu,
              "Run the umT5 text encoder on the CPU. Without it the encoder runs on the GPU and is freed before "
              "the DiT loads, so it never shares the GPU with the DiT");
  c->add_flag("--offload", o->offload,
              "Keep the DiT's blocks in pinned host memory and stream them to the GPU two at a time, overlapped with "
              "compute (for 24 GB cards: 14B weights need ~28 GB resident); same output. On the CPU: a note, "
              "nothing else");
  c->add_flag("-q,--quiet", o->quiet, "No progress output");
  c->add_flag("--json-progress", o->json_progress, "Progress as JSON lines on stderr");
  c->callback([o] { run_generate(*o); });
}

}  // namespace jenga::cli
