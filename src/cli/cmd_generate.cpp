// `jenga generate`: flags as stable-diffusion.cpp users know them.
// The generate path goes through the C API (include/jenga/jenga.h): jenga_open and
// jenga_generate get every flag; this file parses and checks flags, reads --prompts and prints
// what the API's callbacks report.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "io/file_checks.h"
#include "io/mp4_libav.h"
#include "io/utf8.h"
#include "io/video_writer.h"
#include "jenga/jenga.h"
#include "pipeline/progress.h"

namespace jenga::cli {

// Digits only, no sign, no wrap: "99999999999x48" is refused as given, not wrapped.
std::pair<int, int> parse_size(const std::string& flag, const std::string& value) {
  const size_t x = value.find_first_of("xX");
  auto side = [&](std::string_view t) -> int {
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || end != t.data() + t.size() || (ec != std::errc() && ec != std::errc::result_out_of_range) || v == 0)
      usage_fail("{} '{}' is not WIDTHxHEIGHT (e.g. 832x480)", flag, value);
    if (ec == std::errc::result_out_of_range || v > static_cast<uint64_t>(JENGA_MAX_SIDE))
      usage_fail("{} '{}': width and height are at most {}", flag, value, JENGA_MAX_SIDE);
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
  std::string size;  // empty: the model's (or the preset's) default, resolved once the model is known
  int width = 0, height = 0;
  int frames = 0;    // 0: the same
  int steps = 50;
  std::string seed = "42";
  // Set by the user (else the built-in tiny model takes its small defaults).
  CLI::Option *size_opt = nullptr, *frames_opt = nullptr, *steps_opt = nullptr, *w_opt = nullptr, *h_opt = nullptr;
  CLI::Option* output_opt = nullptr;
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
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) usage_fail("--prompts {}: no such file", path);
    usage_fail("--prompts {}: cannot read it ({})", path, std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) usage_fail("--prompts {}: is a {}, not a regular file of prompts", path, file_kind(path));
  std::ifstream in(path);
  if (!in) usage_fail("--prompts {}: cannot open the file ({})", path, std::strerror(errno));
  std::vector<std::string> out;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // a UTF-8 BOM (Windows editors)
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const size_t nul = line.find('\0'); nul != std::string::npos)
      usage_fail("--prompts {}: line {} holds a NUL byte (byte {}); is it a text file?", path, number, nul + 1);
    if (const auto at = utf8_invalid_at(line))
      usage_fail("--prompts {}: line {} is not valid UTF-8 (byte {}); save the file as UTF-8 (e.g. iconv -t UTF-8)",
                 path, number, *at + 1);
    if (line.find_first_not_of(" \t") != std::string::npos) out.push_back(line);
  }
  if (out.empty()) usage_fail("--prompts {}: no prompts (one per line, blank lines are skipped)", path);
  return out;
}

// out.mp4 -> out_0001.mp4 (i = 0); a path without extension (PNG folder) gets the suffix, and
// so does a folder written with its slash (frames/ -> frames_0001/).
std::string numbered(const std::string& path, size_t i) {
  const std::string tag = fmt::format("_{:04d}", i + 1);
  if (path.ends_with('/')) return path.substr(0, path.find_last_not_of('/') + 1) + tag + "/";
  const std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + tag + p.extension().string())).string();
}

// The C API's progress and notes drawn by the CLI's Progress (bar, lines, JSON or nothing), as
// the pipeline's own Progress drew them: a phase ends when done reaches total, or early when the
// next event (a phase, a note, the end of the call) comes first.
class ProgressRelay {
 public:
  explicit ProgressRelay(Progress& progress) : progress_(progress) {}
  ~ProgressRelay() { close(); }

  static void on_progress(const char* phase, int done, int total, void* self) {
    auto& r = *static_cast<ProgressRelay*>(self);
    if (done == 0) {
      r.close();
      r.progress_.begin(phase, total);
      r.open_ = true;
    } else {
      r.progress_.update(done);
    }
    if (done >= total) r.close();
  }
  static void on_log(jenga_log_level level, const char* text, void* self) {
    auto& r = *static_cast<ProgressRelay*>(self);
    if (level != JENGA_LOG_INFO) return;  // errors: main() prints the one the call fails with
    r.close();
    r.progress_.note(text);
  }
  // Ctrl-C / SIGTERM (core/interrupt.h) stop the call at its next event.
  static int on_cancel(void*) { return interrupted() ? 1 : 0; }

  void close() {
    if (open_) progress_.end(), open_ = false;
  }

 private:
  Progress& progress_;
  bool open_ = false;
};

// A failed C API call as the exception main() reports: the API worded the message as main does
// (core/error_report.h); a stop by a signal ends with the signal's message and exit code.
[[noreturn]] void throw_status(jenga_status status) {
  if (status == JENGA_ERROR_CANCELLED && interrupt_signal()) throw Interrupted(interrupt_signal());
  if (status == JENGA_ERROR_USAGE) throw UsageError(jenga_last_error());
  throw Error(jenga_last_error());
}

const char* cstr(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }
template <class T>
const T* ptr(const std::optional<T>& v) {
  return v ? &*v : nullptr;
}

void run_generate(const GenerateOptions& o) {
  jenga_open_params op;
  jenga_open_params_init(&op);
  op.diffusion_model = cstr(o.diffusion_model), op.vae = cstr(o.vae), op.t5xxl = cstr(o.t5xxl);
  op.tokenizer = cstr(o.tokenizer);
  op.text_encoder = cstr(o.text_encoder), op.text_encoder_2 = cstr(o.text_encoder_2);
  op.tokenizer_2 = cstr(o.tokenizer_2);
  op.accvideo = o.accvideo;
  op.device = o.device.c_str();
  op.offload = o.offload;
  // A model generate cannot run yet (HunyuanVideo-I2V) fails here, from the safetensors headers
  // alone, before any flag check that would not matter or any weight is read.
  if (const jenga_status st = jenga_check_model(cstr(o.model), &op); st != JENGA_OK) throw_status(st);
  // No model: the built-in tiny model at a size that finishes in seconds, unless the user chose.
  const bool builtin = o.model.empty() && o.diffusion_model.empty() && o.vae.empty() && o.t5xxl.empty() &&
                       o.text_encoder.empty() && o.text_encoder_2.empty();
  if (o.steps_opt->count() && (o.steps < 1 || o.steps > 1000))
    usage_fail("--steps {}: must be between 1 and 1000", o.steps);
  // 0 means "the default" inside (the C API's unset); given on the command line it is a mistake.
  if (o.frames_opt->count() && o.frames <= 0)
    usage_fail("--frames {}: must be 4k+1 (e.g. 125); leave --frames out for the default", o.frames);
  for (const auto& [opt, v, name] : {std::tuple{o.w_opt, o.width, "--width"}, {o.h_opt, o.height, "--height"}})
    if (opt->count() && v <= 0) usage_fail("{} {}: must be a positive multiple of 16", name, v);
  if (o.output_opt->count() && o.output.empty()) usage_fail("-o '': an empty path; give a file name such as out.mp4");
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
  auto [w, h] = size.empty() ? std::pair{0, 0} : parse_size("--size", size);  // 0: the model's default
  if (o.width) w = o.width;
  if (o.height) h = o.height;
  if (!o.model.empty() && !std::filesystem::exists(o.model))
    usage_fail("--model {}: no such file or folder", o.model);
  op.width = w, op.height = h, op.frames = frames;

  // Every flag of the video, as the C API takes it (pointers into `o` and the locals below).
  jenga_generate_params gp;
  jenga_generate_params_init(&gp);
  gp.prompt = cstr(o.prompt), gp.negative_prompt = cstr(o.negative_prompt);
  gp.image = cstr(o.image), gp.image_resolution = cstr(o.i2v_resolution), gp.image_stability = o.i2v_stability;
  gp.width = w, gp.height = h, gp.frames = frames, gp.steps = steps;
  gp.seed = parse_seed(o.seed);
  gp.cfg_scale = ptr(o.cfg_scale), gp.shift = ptr(o.shift), gp.embedded_cfg_scale = ptr(o.embedded_cfg_scale);
  gp.preset = o.preset.c_str(), gp.solver = cstr(o.solver), gp.attention = cstr(o.attention);
  const JengaOverrides& jo = o.jenga;
  gp.sa_drop_rates = jo.sa_drop_rates.data(), gp.n_sa_drop_rates = jo.sa_drop_rates.size();
  gp.res_rate_list = jo.res_rate_list.data(), gp.n_res_rate_list = jo.res_rate_list.size();
  gp.step_rate_list = jo.step_rate_list.data(), gp.n_step_rate_list = jo.step_rate_list.size();
  gp.scheduler_shift_list = jo.scheduler_shift_list.data(), gp.n_scheduler_shift_list = jo.scheduler_shift_list.size();
  gp.p_remain_rates = ptr(jo.p_remain_rates), gp.teacache_thresh = ptr(jo.teacache_thresh);
  gp.scale_txt_amp = ptr(jo.scale_txt_amp);
  gp.svg_sparsity = ptr(o.svg.sparsity), gp.first_times_fp = ptr(o.svg.first_times_fp);
  gp.first_layers_fp = ptr(o.svg.first_layers_fp);
  gp.num_sampled_rows = ptr(o.svg.num_sampled_rows), gp.sample_mse_max_row = ptr(o.svg.sample_mse_max_row);
  gp.text_encoder_on_cpu = o.t5_cpu;
  std::string output = o.output;
  if (output.empty()) {
    const auto f = supported_video_formats();
    output = std::find(f.begin(), f.end(), "mp4") != f.end()    ? "output.mp4"
             : std::find(f.begin(), f.end(), "webp") != f.end() ? "output.webp"
                                                                 : "output.y4m";
  }
  gp.output = output.c_str();
  gp.latents_out = cstr(o.latents_out);
  gp.parallel = o.parallel.c_str();
  std::vector<std::string> prompts, outputs, latents;
  std::vector<jenga_job> jobs;
  if (!o.prompts_file.empty()) {
    if (!o.prompt.empty()) usage_fail("give either -p/--prompt or --prompts FILE, not both");
    check_video_path(output);  // the format, named as the user wrote it (not out_0001.avi)
    prompts = read_prompts(o.prompts_file);
    for (size_t i = 0; i < prompts.size(); ++i) {
      outputs.push_back(numbered(output, i));
      latents.push_back(o.latents_out.empty() ? "" : numbered(o.latents_out, i));
    }
    for (size_t i = 0; i < prompts.size(); ++i) jobs.push_back({prompts[i].c_str(), outputs[i].c_str(), cstr(latents[i])});
    gp.jobs = jobs.data(), gp.n_jobs = jobs.size();
  }
  const size_t n_videos = jobs.empty() ? 1 : jobs.size();
  // Every rank checks the flags before MPI starts: a usage error ends each one cleanly.
  if (const jenga_status st = jenga_check_generate(&gp); st != JENGA_OK) throw_status(st);
  const std::unique_ptr<jenga_processes, void (*)(jenga_processes*)> group(jenga_processes_join(), jenga_processes_free);
  if (!group) throw_status(jenga_last_status());
  const int rank = jenga_processes_rank(group.get()), world = jenga_processes_size(group.get());
  op.processes = group.get();
  // Only rank 0 prints progress.
  const bool quiet = o.quiet || rank != 0;
  Progress progress(quiet ? Progress::Mode::Quiet : o.json_progress ? Progress::Mode::Json : Progress::Mode::Auto);
  if (!tiny_defaults.empty())
    progress.note(fmt::format("no --model: the built-in tiny model uses small defaults ({}), a few seconds on a CPU; "
                              "set them to change", fmt::join(tiny_defaults, " ")));
  // An empty prompt is a valid (unconditional) request, but more often a forgotten -p.
  if (o.prompts_file.empty() && o.prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    progress.note("no prompt (-p \"...\"): the video follows no text");
  // --parallel prompts: a rank without a prompt (more ranks than prompts) loads nothing.
  if (world > 1 && o.parallel == "prompts" && static_cast<size_t>(rank) >= n_videos) return;
  ProgressRelay relay(progress);
  op.progress = ProgressRelay::on_progress, op.log = ProgressRelay::on_log, op.cancel = ProgressRelay::on_cancel;
  op.user_data = &relay;
  jenga_status st = JENGA_OK;
  {
    const std::unique_ptr<jenga_model, void (*)(jenga_model*)> model(jenga_open(cstr(o.model), &op), jenga_free);
    st = model ? jenga_generate(model.get(), &gp, ProgressRelay::on_progress, ProgressRelay::on_log,
                                ProgressRelay::on_cancel, &relay)
               : jenga_last_status();
    relay.close();
  }
  if (st == JENGA_OK) return;
  if (world <= 1) throw_status(st);
  // The other ranks may wait in a collective: end them all.
  std::fprintf(stderr, "error: (rank %d of %d) %s\n", rank, world, jenga_last_error());
  std::fflush(stderr);
  jenga_processes_abort(group.get(), st == JENGA_ERROR_USAGE ? 2 : 1);
}
// A path flag given an empty value (an unset shell variable: --model "$MODEL") would mean "not
// given": --model '' ran the built-in random model, --image '' asked for an image. Refused by name.
void refuse_empty_paths(const CLI::App& c) {
  for (const char* flag : {"--model", "--diffusion-model", "--vae", "--t5xxl", "--tokenizer", "--text-encoder",
                           "--text-encoder-2", "--tokenizer-2", "--image", "--i2v-resolution", "--prompts",
                           "--latents-out"}) {
    const CLI::Option* opt = c.get_option(flag);
    if (!opt->count()) continue;
    for (const std::string& v : opt->results())
      if (v.empty())
        usage_fail("{} '': an empty value (an unset shell variable?); give {} or leave {} out", flag,
                   std::string_view(flag) == "--i2v-resolution" ? "720p, 540p or 360p" : "a path", flag);
  }
}

}  // namespace

void register_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* c = app.add_subcommand("generate", "Generate a video from a text prompt (and an image with --image)");
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
                "Image-to-video (HunyuanVideo-I2V): the reference image, PNG, JPEG or WebP; the video takes the official "
                "bucket size for it (--i2v-resolution) and starts from it");
  c->add_option("--i2v-resolution", o->i2v_resolution,
                "With --image: 720p (default), 540p or 360p (official bucket bases 960 / 720 / 480), or a bucket "
                "base in pixels (a multiple of 32)");
  c->add_flag("--i2v-stability", o->i2v_stability,
              "With --image: the official stability mode (noise blended 0.999 / 0.001 toward the image latent; "
              "default --shift 7 instead of 17)");
  // The model says which names it runs (Geometry::presets; an unknown one is refused with the list).
  c->add_option("--preset", o->preset,
                "Speed preset: dense (the official loop), base / turbo / flash / 3stage (the official Jenga scripts; "
                "Wan2.1's flash / 3stage carry HunyuanVideo's settings over), HunyuanVideo also multigpu-base / "
                "multigpu-turbo / multigpu-flash / multigpu-3stage, AccVideo accvideo, HunyuanVideo-I2V base")
      ->capture_default_str();
  add_jenga_flags(*c, o->jenga);
  add_attention_flags(*c, o->attention, o->svg);
  o->size_opt = c->add_option("-s,--size", o->size,
                               fmt::format("WIDTHxHEIGHT, multiples of 16, each at most {} (default: a Jenga preset's "
                                           "script's, else the model's: Wan2.1 1.3B 832x480, 14B 1280x720, HunyuanVideo "
                                           "1280x720, AccVideo 960x544; without --model: {})",
                                           JENGA_MAX_SIDE, kTinySize));
  o->w_opt = c->add_option("-W,--width", o->width, "Width (overrides --size)");
  o->h_opt = c->add_option("-H,--height", o->height, "Height (overrides --size)");
  o->frames_opt = c->add_option("-f,--frames", o->frames,
                                fmt::format("Frames, 4k+1, at most {} (default: a Jenga preset's script's, else the "
                                            "model's: Wan2.1 81, HunyuanVideo 129 (its Jenga presets 125), AccVideo 93; "
                                            "without --model: {})",
                                            JENGA_MAX_FRAMES, kTinyFrames));
  o->steps_opt = c->add_option("--steps", o->steps, fmt::format("Sampling steps, 1 to 1000 (default 50, the preset's or the model's: AccVideo 5; "
                                                              "without --model: {})", kTinySteps));
  c->add_option("--seed", o->seed, "Random seed, 0 to 18446744073709551615")->capture_default_str();
  c->add_option("--cfg-scale", o->cfg_scale, "Classifier-free guidance scale (Wan default 5, Jenga presets 6; HunyuanVideo 1 = one branch, > 1 "
                "adds the negative prompt)");
  c->add_option("--shift", o->shift, "Flow-matching sigma shift (Wan default 5, Jenga presets 8; HunyuanVideo 7; -I2V 17, 7 with --i2v-stability, its Jenga Base 5)");
  o->output_opt = c->add_option("-o,--output", o->output,
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
              "Run the text encoder on the CPU (Wan: umT5; HunyuanVideo: the LLM and CLIP-L). Without "
              "it the encoder runs on the GPU and is freed before the DiT loads, so it never shares the GPU with the "
              "DiT");
  c->add_flag("--offload", o->offload,
              "Keep the DiT's blocks in pinned host memory and stream them to the GPU two at a time, overlapped with "
              "compute (for 24 GB cards: 14B weights need ~28 GB resident, HunyuanVideo's 13B ~24 GB); same output. "
              "On the CPU: a note, nothing else");
  c->add_flag("-q,--quiet", o->quiet, "No progress output");
  c->add_flag("--json-progress", o->json_progress, "Progress as JSON lines on stderr");
  c->callback([o, c] {
    refuse_empty_paths(*c);
    run_generate(*o);
  });
}

}  // namespace jenga::cli
