#include "pipeline/wan_t2v.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/rng.h"
#include "dist/communicator.h"
#include "io/frames.h"
#include "io/safetensors.h"
#include "io/video_writer.h"
#include "jenga/schedule.h"
#include "jenga/version.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/tokenizer.h"
#include "models/wan/torch_pickle.h"
#include "models/wan/vae_cpu.h"
#include "models/wan/vae_model.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cpu.h"
#include "models/wan/wan_folder.h"
#include "pipeline/memory_estimate.h"
#include "pipeline/output_target.h"
#include "pipeline/sidecar.h"
#include "pipeline/tiny_model.h"
#include "core/temp_paths.h"
#include "io/utf8.h"
#include "pipeline/wan_denoise.h"
#include "sampling/flow_unipc.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "models/wan/t5_encoder_cuda.h"
#include "models/wan/vae_cuda.h"
#endif

namespace jenga {
namespace fs = std::filesystem;

const char* const kWanDefaultNegativePrompt =
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走";

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Where the DiT runs.
bool use_cuda(const std::string& device) {
#if JENGA_HAVE_CUDA
  if (device == "cuda" && !cuda::available()) fail("--device cuda: no CUDA device found; use --device cpu");
  return device == "cuda" || (device == "auto" && cuda::available());
#else
  if (device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
  return false;
#endif
}

// The run's memory, estimated from the DiT's header before any weight is read (memory_estimate.h).
void check_memory(const std::string& dit_path, const T2VRequest& r, bool cuda) {
  MemoryNeed need;
  need.width = r.width, need.height = r.height, need.frames = r.frames;
  need.cuda = cuda, need.offload = r.offload, need.bytes_per_weight = cuda ? 2 : 4;
  try {
    const Checkpoint ck = Checkpoint::open(wan::wan_dit_path(dit_path));
    const auto layout = wan::detect_layout(ck);
    if (!layout) return;  // the loader says what is wrong
    const wan::WanConfig c = wan::detect_config(ck, *layout, nullptr);
    need.dit_params = c.parameter_count(), need.dim = c.dim, need.ffn_dim = c.ffn_dim;
  } catch (const std::exception&) {
    return;  // the loader says what is wrong, in its own words
  }
  uint64_t available = available_host_bytes();
  std::string where = "host memory";
#if JENGA_HAVE_CUDA
  if (cuda) {
    const auto info = cuda::device_info();
    const size_t used = cuda::device_used_bytes();
    available = info.total_memory > used ? info.total_memory - used : 0;
    where = "GPU memory";
  }
#endif
  require_memory_fits(need, available, where);
}

void check_request(const T2VRequest& r) {
  if (r.width <= 0 || r.height <= 0 || r.width % 16 || r.height % 16)
    usage_fail("size {}x{}: width and height must be positive multiples of 16 (e.g. 832x480)", r.width, r.height);
  if (r.frames < 1 || (r.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1 (e.g. 81, 49, 17, 1)", r.frames);
  if (r.steps < 1 || r.steps > 1000) usage_fail("--steps {}: must be between 1 and 1000", r.steps);
  if (r.shift && (!(*r.shift > 0) || !std::isfinite(*r.shift))) usage_fail("--shift {}: must be positive", *r.shift);
  if (r.guide_scale && (!(*r.guide_scale >= 0) || !std::isfinite(*r.guide_scale)))
    usage_fail("--cfg-scale {}: must be >= 0", *r.guide_scale);
  if (r.solver != "unipc" && r.solver != "euler" && r.solver != "dpm++")
    usage_fail("--solver {}: use unipc, dpm++ or euler", r.solver);
  check_jenga_overrides(r.preset, r.jenga);
  (void)resolve_attention(r.attention, !r.preset.empty() && r.preset != "dense", r.svg);
  check_video_path(r.output);
  check_output_target(r.output, r.frames);  // a folder in the way, an unwritable parent: before any work
  for (const auto& [text, flag] : {std::pair{&r.prompt, "--prompt"}, {&r.negative_prompt, "--negative-prompt"}})
    if (const auto at = utf8_invalid_at(*text))
      usage_fail("{}: not valid UTF-8 (byte {}); save the text as UTF-8 (e.g. iconv -t UTF-8) and try again", flag, *at);
}

}  // namespace

void check_t2v_request(const T2VRequest& r) {
  check_request(r);
  if (r.frames > kMaxFrames) usage_fail("--frames {}: at most {}", r.frames, kMaxFrames);
  if (r.width > kMaxSide || r.height > kMaxSide)
    usage_fail("--size {}x{}: width and height are at most {}", r.width, r.height, kMaxSide);
  if (r.parallel != "sequence" && r.parallel != "prompts")
    usage_fail("--parallel {}: use sequence or prompts", r.parallel);
}

T2VResult generate_wan_t2v(const T2VRequest& req, Progress& progress) {
  auto res = generate_wan_t2v_batch(req, {{req.prompt, req.output, req.latents_out}}, progress);
  return res.empty() ? T2VResult{} : res.front();
}

std::vector<T2VResult> generate_wan_t2v_batch(const T2VRequest& req, const std::vector<T2VJob>& all_jobs,
                                              Progress& progress) {
  for (const auto& j : all_jobs) {
    T2VRequest r = req;
    r.output = j.output;
    r.prompt = j.prompt;
    check_t2v_request(r);
  }
  const double t_start = now_s();
  const int world = req.comm ? req.comm->size() : 1, rank = req.comm ? req.comm->rank() : 0;
  // sequence: all ranks run every job's DiT; rank 0 alone encodes text, decodes and writes.
  // prompts: each rank runs its own jobs alone.
  const bool seq = req.parallel == "sequence" && req.comm;
  const bool root = !seq || rank == 0;
  std::vector<T2VJob> jobs;
  for (size_t i = 0; i < all_jobs.size(); ++i)
    if (seq || static_cast<int>(i % static_cast<size_t>(world)) == rank) jobs.push_back(all_jobs[i]);
  std::vector<T2VResult> results;
  if (jobs.empty()) return results;

  // Components.
  TinyModelPaths paths;
  std::optional<TempPath> tiny_dir;  // removed on every exit the process can catch, a second signal included
  const bool builtin = req.model_dir.empty() && req.dit.empty() && req.vae.empty() && req.t5.empty();
  if (builtin) {
    tiny_dir.emplace((fs::temp_directory_path() / ("jenga-tiny-" + std::to_string(::getpid()))).string());
    paths = write_tiny_wan_model(tiny_dir->path());
    progress.note("no --model given: running the built-in tiny random model (a smoke test; expect noise)");
  } else {
    // One place knows every layout's file names (models/wan/wan_folder.h).
    const auto folder = wan::resolve_wan_folder(req.model_dir, {req.dit, req.vae, req.t5, req.tokenizer});
    wan::require_complete(folder, req.model_dir.empty() ? "" : "--model " + req.model_dir);
    paths = {folder.dit.path, folder.vae.path, folder.t5.path, folder.tokenizer.path};
    wan::reject_torch_pickle(paths.vae);  // names the one-time conversion until .pth is read
    wan::reject_torch_pickle(paths.t5);
  }
  const bool cuda = use_cuda(req.device);
  check_memory(paths.dit, req, cuda);
  // What made the video: absolute paths and fingerprints (sidecar.h says what they are).
  const nlohmann::json components = {{"dit", file_record(paths.dit)}, {"vae", file_record(paths.vae)},
                                     {"text_encoder", file_record(paths.t5)}, {"tokenizer", file_record(paths.tokenizer)}};  // before any weight is read
  progress.note("loading the DiT " + fs::absolute(paths.dit).string());
  // The GPU computes with bf16 matrices: loading them so halves host memory (28 GB, not 56, for 14B).
  const double t_load0 = now_s();
  bool load_started = false;
  const wan::WanDit model = wan::load_wan_dit(paths.dit, cuda ? DType::BF16 : DType::F32, [&](int64_t done, int64_t total) {
    if (!load_started) progress.begin("load", static_cast<int>(total)), load_started = true;  // blocks
    progress.update(static_cast<int>(done));
  });
  if (load_started) progress.end();
  const double t_load = now_s() - t_load0;
  const auto& cfg = model.config;
  // Heads must divide over the ranks: say so before the text encoder runs.
  if (seq && cfg.num_heads % world != 0)
    fail("--parallel sequence: the model's {} attention heads do not divide over {} processes; "
         "run a number of processes that divides {}, or --parallel prompts", cfg.num_heads, world, cfg.num_heads);
  // Preset with the user's overrides; dense = the plain Wan2.1 loop.
  const std::optional<Preset> jenga = wan_preset_for(req.preset, cfg.size_name(), req.jenga, req.steps);
  const double shift = req.shift.value_or(jenga ? jenga->flow_shift : 5.0);
  const double guide = req.guide_scale.value_or(jenga ? jenga->guide_scale : 5.0);
  std::optional<wan::WanVae> vae;
  if (root) {
    vae.emplace(wan::WanVae::load(Checkpoint::open(paths.vae)));
    if (vae->z_dim != cfg.in_dim) fail("{}: VAE latent channels {} do not match the DiT's {}", paths.vae, vae->z_dim, cfg.in_dim);
  }
  progress.note(fmt::format("loaded Wan2.1 {} DiT ({} layers, dim {}) in {} on {}{}{}", cfg.size_name(), cfg.num_layers, cfg.dim,
                            Progress::format_duration(t_load),
                            cuda ? "cuda" : "cpu", cuda && req.offload ? " (--offload: blocks streamed from host memory)" : "",
                            world > 1 ? fmt::format(", {} processes, {} parallel", world, req.parallel) : ""));
  if (req.offload && !cuda) progress.note("--offload: the DiT runs on the CPU here; the flag changes nothing");
  // GPU memory by phase (text, denoise, VAE): the allocator's peak since the last phase ended.
  double gpu_peak_all = 0;
  auto gpu_phase_peak = [&]() -> double {
#if JENGA_HAVE_CUDA
    if (!cuda) return 0.0;
    const double p = static_cast<double>(cuda::memory_stats().peak) / (1ull << 30);
    cuda::reset_peak_memory();
    gpu_peak_all = std::max(gpu_peak_all, p);
    return p;
#else
    return 0.0;
#endif
  };

  // Text: every job's contexts first (on the GPU the encoder lives only for this block: its
  // ~11 GB are free before the DiT loads). Under sequence parallel rank 0 encodes and
  // broadcasts.
  const double t_text0 = now_s();
  const bool t5_cuda = cuda && !req.t5_cpu;
  const std::string neg = req.negative_prompt.empty() ? kWanDefaultNegativePrompt : req.negative_prompt;
  std::vector<std::array<Tensor, 2>> ctx(jobs.size());
  if (root) {
    const auto tok = wan::UmT5Tokenizer::open(paths.tokenizer);
    const auto t5 = wan::T5Encoder::open(paths.t5);
    if (t5.config().dim != cfg.text_dim)
      fail("{}: text encoder width {} does not match the DiT's text_dim {}", paths.t5, t5.config().dim, cfg.text_dim);
#if JENGA_HAVE_CUDA
    std::unique_ptr<wan::T5EncoderCuda> t5_gpu = t5_cuda ? wan::T5EncoderCuda::from_encoder(t5) : nullptr;
#endif
    auto encode = [&](const std::string& text) {
      const auto tp = tok.encode(text, cfg.text_len);
      for (int64_t id : tp.ids)
        if (id >= t5.config().vocab) fail("{}: token id {} is outside the text encoder's vocabulary", paths.tokenizer, id);
#if JENGA_HAVE_CUDA
      if (t5_gpu) return t5_gpu->encode(tp.ids, tp.mask);
#endif
      return t5.encode(tp.ids, tp.mask);
    };
    progress.begin("text", static_cast<int>(jobs.size()) + 1);  // the negative prompt, then each prompt
    const Tensor uncond = encode(neg);
    progress.update(1);
    for (size_t j = 0; j < jobs.size(); ++j) {
      ctx[j] = {encode(jobs[j].prompt), uncond};
      progress.update(static_cast<int>(j) + 2);
    }
    progress.end();
  }
  if (seq) {
    for (auto& pair : ctx)
      for (Tensor& t : pair) {
        std::vector<float> v;
        if (root) v.assign(t.data_as<float>(), t.data_as<float>() + t.numel());
        dist::broadcast_floats(*req.comm, v, 0);
        const int64_t rows = static_cast<int64_t>(v.size()) / cfg.text_dim;
        if (!root) t = Tensor::from_f32(v, Shape{rows, cfg.text_dim});
      }
  }
  check_interrupt();
  const double t_text = (now_s() - t_text0) / static_cast<double>(jobs.size());
  const double gpu_peak_text = gpu_phase_peak();  // the encoder is freed by now

  const int64_t lt = (req.frames - 1) / 4 + 1, lh = req.height / 8, lw = req.width / 8;
  if (lh % cfg.patch[1] || lw % cfg.patch[2] || lt % cfg.patch[0])
    usage_fail("size {}x{}: the latent {}x{} does not divide by the patch size", req.width, req.height, lh, lw);
  for (size_t j = 0; j < jobs.size(); ++j) {
    const double t_job0 = now_s();
    // Latents: [z, 1 + (F-1)/4, H/8, W/8], Philox normal noise (counter-based: the same on any
    // device and rank). A preset that starts smaller draws the first stage's noise, then the
    // full-size noise for the re-noise, from one stream (as jenga_wan.py draws both from one
    // generator).
    DenoiseRequest dr;
    dr.model = &model;
    dr.cuda = cuda;
    dr.jenga = jenga;
    dr.comm = seq ? req.comm : nullptr;
    dr.offload = req.offload && cuda;
    dr.attention = resolve_attention(req.attention, jenga.has_value(), req.svg);
    dr.svg = svg_settings(req.svg, req.seed);
    uint64_t offset = 0;
    auto draw = [&](const std::array<int64_t, 3>& l) {
      Tensor t = Tensor::empty(DType::F32, Shape{cfg.in_dim, l[0], l[1], l[2]});
      fill_normal(std::span<float>(t.data_as<float>(), static_cast<size_t>(t.numel())), req.seed, offset);
      offset += static_cast<uint64_t>(t.numel());
      return t;
    };
    const auto sizes = stage_latents(jenga, lt, lh, lw);
    dr.noise = draw(sizes[0]);
    for (size_t k = 1; k < sizes.size(); ++k) dr.renoise.push_back(draw(sizes[k]));
    dr.context = ctx[j][0], dr.context_null = ctx[j][1];
    dr.steps = req.steps, dr.shift = shift, dr.guide_scale = guide, dr.solver = req.solver;
    const double t_dn0 = now_s();
    const DenoiseResult dn = denoise_wan(dr, progress);
    const double t_denoise = now_s() - t_dn0;
    const double gpu_peak_denoise = gpu_phase_peak();  // the DiT is freed by now (it lives in denoise_wan)
    if (!root) continue;
    const Tensor& x = dn.latents;
    if (!jobs[j].latents.empty()) {
      SafetensorsWriter w;
      w.add("latents", x);
      w.write(jobs[j].latents);
    }

    // Decode and write.
    const double t_vae0 = now_s();
    auto vae_cpu_decode = [&] {
      progress.begin("decode", static_cast<int>(x.dim(1)));  // latent frames
      Tensor v = wan::vae_decode(*vae, x, [&](int64_t done, int64_t) { progress.update(static_cast<int>(done)); });
      progress.end();
      return v;
    };
    // The DiT is gone by now (it lives inside denoise_wan): the decoder gets the GPU to itself.
#if JENGA_HAVE_CUDA
    const Tensor video = cuda ? wan::vae_decode_cuda(*vae, x) : vae_cpu_decode();
#else
    const Tensor video = vae_cpu_decode();
#endif
    check_interrupt();
    const double t_vae = now_s() - t_vae0;
    const double gpu_peak_vae = gpu_phase_peak();
    const Frames frames = frames_from_unit_range(video.data_as<float>(), static_cast<int>(video.dim(1)),
                                                 static_cast<int>(video.dim(2)), static_cast<int>(video.dim(3)));
    T2VResult res;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    nlohmann::json report = {
        {"engine", {{"name", "jenga.cpp"}, {"version", JENGA_VERSION_STRING}, {"commit", JENGA_GIT_COMMIT}}},
        {"run", run_record(cuda)},
        {"model", {{"builtin_tiny", builtin}, {"dit", builtin ? "built-in" : paths.dit}, {"dit_size", cfg.size_name()},
                   {"dit_layout", std::string(wan::layout_name(model.layout))},
                   {"components", components}}},
        {"settings", {{"prompt", jobs[j].prompt}, {"negative_prompt", neg}, {"width", req.width}, {"height", req.height},
                      {"frames", req.frames}, {"steps", req.steps}, {"seed", req.seed},
                      {"cfg_scale", guide}, {"shift", shift}, {"solver", req.solver},
                      {"preset", jenga ? jenga->name : "dense"}, {"attention", attention_mode_name(*dr.attention)},
                      {"device", cuda ? "cuda" : "cpu"}, {"offload", req.offload}, {"fps", 16},
                      {"devices", {{"text_encoder", t5_cuda ? "cuda" : "cpu"}, {"dit", cuda ? "cuda" : "cpu"},
                                   {"vae", cuda ? "cuda" : "cpu"}}},
                      {"parallel", {{"world_size", world}, {"mode", req.comm ? req.parallel : "none"},
                                    {"communicator", cuda && seq ? "nccl" : req.comm ? std::string(req.comm->name()) : "single"},
                                    {"rank", rank}}},
                      {"noise", "philox4x32-10 normal, counter-based"}}},
        {"forwards", dn.forwards},
        {"forwards_reused", dn.forwards_reused},
        {"denoise", dn.report},
        {"timings_s", {{"load", t_load}, {"text", t_text}, {"denoise", t_denoise}, {"vae_decode", t_vae},
                       {"total", now_s() - (j == 0 ? t_start : t_job0)}}},
        {"peak_host_rss_gib", static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0)}};
    if (jobs.size() > 1 || all_jobs.size() > 1) report["settings"]["batch"] = {{"jobs", all_jobs.size()}};
    if (*dr.attention == AttentionMode::svg)
      report["settings"]["svg"] = {{"sparsity", dr.svg.sparsity}, {"first_times_fp", dr.svg.first_times_fp},
                                   {"first_layers_fp", dr.svg.first_layers_fp}, {"num_sampled_rows", dr.svg.num_sampled_rows},
                                   {"sample_mse_max_row", dr.svg.sample_mse_max_row}, {"rows_seed", dr.svg.seed},
                                   {"source", "svg-project/Sparse-VideoGen scripts/wan/wan_t2v_720p_svg.sh"}};
    if (jenga)
      report["settings"]["jenga"] = {{"sa_drop_rates", jenga->sa_drop_rates}, {"p_remain_rates", jenga->p_remain},
                                     {"res_rate_list", jenga->res_rates}, {"teacache_thresh", jenga->teacache_thresh},
                                     {"use_ret_steps", jenga->use_ret_steps}, {"curve", "sliced gilbert"},
                                     {"script", jenga->script}};
    if (cuda) {
      // Since the run began (all phases, every job so far), and per phase of this job (the text
      // phase is shared by all jobs: every prompt is encoded first).
      report["peak_gpu_alloc_gib"] = gpu_peak_all;
      report["peak_gpu_alloc_gib_by_phase"] = {{"text", gpu_peak_text}, {"denoise", gpu_peak_denoise}, {"vae_decode", gpu_peak_vae}};
    }
    // The video and its sidecar (sidecar_path: the output's name + ".json"), both or neither.
    res.output = commit_video_and_sidecar(
        jobs[j].output, frames.count, [&](const std::string& tmp) { return write_video(tmp, frames, 16); },
        [&](const std::string& final_path) {
          report["output"] = final_path;
          return report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        });
    res.sidecar = sidecar_path(res.output);
    res.report = report;
    progress.note("wrote " + res.output + " and " + res.sidecar);
    results.push_back(std::move(res));
  }
  return results;
}

}  // namespace jenga
