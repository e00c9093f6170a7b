#include "pipeline/generate.h"

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
#include "core/sha256.h"
#include "dist/communicator.h"
#include "io/frames.h"
#include "io/image_reader.h"
#include "io/safetensors.h"
#include "io/video_writer.h"
#include "jenga/schedule.h"
#include "jenga/version.h"
#include "io/utf8.h"
#include "models/video_model.h"
#include "pipeline/denoise.h"
#include "pipeline/output_target.h"
#include "pipeline/sidecar.h"
#include "pipeline/step_cost.h"

namespace jenga {
namespace fs = std::filesystem;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr int kDefaultFramesAreAVideo = 2;  // check_output_target's "more than one frame"

// --latents-out (debug): a folder in the way or a missing folder failed only after the run.
void check_latents_target(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) usage_fail("--latents-out {}: is a folder; name the .safetensors file to write", path);
  const fs::path parent = fs::absolute(path).parent_path();
  if (!fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK | X_OK) != 0)
    usage_fail("--latents-out {}: folder {} does not exist or is not writable", path, parent.string());
}

void check_request(const T2VRequest& r) {
  // 0 = the model's default, filled in once the model is known (resolve_video_size).
  if (r.width < 0 || r.height < 0 || r.width % 16 || r.height % 16)
    usage_fail("size {}x{}: width and height must be positive multiples of 16 (e.g. 832x480)", r.width, r.height);
  if (r.frames < 0 || (r.frames > 0 && (r.frames - 1) % 4))
    usage_fail("--frames {}: must be 4k+1 (e.g. 81, 49, 17, 1)", r.frames);
  if (r.steps < 0 || r.steps > 1000) usage_fail("--steps {}: must be between 1 and 1000", r.steps);
  check_shift_and_cfg(r.shift, r.guide_scale);
  if (r.embedded_guidance && !(*r.embedded_guidance >= 0 && *r.embedded_guidance <= 100))
    usage_fail("--embedded-cfg-scale {}: must be between 0 and 100 (official 6.0)", *r.embedded_guidance);
  if (!r.solver.empty() && r.solver != "unipc" && r.solver != "euler" && r.solver != "dpm++")
    usage_fail("--solver {}: use unipc, dpm++ or euler", r.solver);
  if (!r.preset.empty() && !is_preset_name(r.preset)) {
    std::string names;
    for (const auto& n : preset_short_names()) names += (names.empty() ? "" : ", ") + n;
    usage_fail("--preset {}: not a preset; use one of {} (the model says which of them it runs)", r.preset, names);
  }
  check_jenga_overrides(r.preset, r.jenga);
  (void)resolve_attention(r.attention, !r.preset.empty() && r.preset != "dense", r.svg);
  if (r.image.empty() && r.image_stability) usage_fail("--i2v-stability goes with --image (image-to-video)");
  if (r.image.empty() && !r.image_resolution.empty()) usage_fail("--i2v-resolution goes with --image (image-to-video)");
  if (!r.image.empty()) {
    try {  // decoded here so a bad image fails before any model loads (the reader names --image)
      (void)read_image_rgb(r.image);
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      usage_fail("{}", e.what());
    }
  }
  check_video_path(r.output);
  if (!r.latents_out.empty()) check_latents_target(r.latents_out);
  // A folder in the way, an unwritable parent: before any work (every model's default is a video).
  check_output_target(r.output, r.frames > 0 ? r.frames : kDefaultFramesAreAVideo);
  for (const auto& [text, flag] : {std::pair{&r.prompt, "--prompt"}, {&r.negative_prompt, "--negative-prompt"}})
    if (const auto at = utf8_invalid_at(*text))
      usage_fail("{}: not valid UTF-8 (byte {}); save the text as UTF-8 (e.g. iconv -t UTF-8) and try again", flag,
                 *at + 1);
}

}  // namespace

// No --size / --frames (0): the Jenga preset's script's, else the model's official sampler's.
std::string resolve_video_size(T2VRequest& r, const Geometry& g, const std::optional<Preset>& jenga, bool image) {
  std::string took;
  if (!image && (r.width == 0 || r.height == 0)) {
    if (r.width == 0) r.width = jenga ? jenga->width : g.default_width;
    if (r.height == 0) r.height = jenga ? jenga->height : g.default_height;
    took = fmt::format("--size {}x{} ", r.width, r.height);
  }
  if (r.frames == 0) {
    r.frames = jenga ? jenga->frames : g.default_frames;
    took += fmt::format("--frames {} ", r.frames);
  }
  if (took.empty()) return "";
  return fmt::format("{}({}; give --size / --frames to choose)", took,
                     jenga ? jenga->script : "the official sampler's default");
}

void check_t2v_request(const T2VRequest& r) {
  check_request(r);
  if (r.frames > kMaxFrames) usage_fail("--frames {}: at most {}", r.frames, kMaxFrames);
  if (r.width > kMaxSide || r.height > kMaxSide)
    usage_fail("--size {}x{}: width and height are at most {}", r.width, r.height, kMaxSide);
  if (r.parallel != "sequence" && r.parallel != "prompts")
    usage_fail("--parallel {}: use sequence or prompts", r.parallel);
}

double generate_clock_s() { return now_s(); }

namespace {
// A VAE whose weights overflow (finite, so its loader's NaN check passes them) decodes to NaN
// pixels, which no video format holds (the uint8 cast is undefined): refuse them here, naming
// the VAE, instead of writing a garbage video with exit 0.
void check_decoded_finite(const Tensor& video, const VideoModel& model) {
  const float* v = video.data_as<float>();
  int64_t bad = 0;
  for (int64_t i = 0; i < video.numel(); ++i) bad += !std::isfinite(v[i]);
  if (bad == 0) return;
  std::string vae;
  const nlohmann::json described = model.describe();
  if (const auto c = described.find("components"); c != described.end() && c->is_object())
    if (const auto e = c->find("vae"); e != c->end() && e->is_object() && e->contains("path") && (*e)["path"].is_string())
      vae = " (" + (*e)["path"].get<std::string>() + ")";
  fail("the VAE decoder produced NaN/inf ({} of {} values); the VAE's weights{} may be corrupt; no output was written",
       bad, video.numel(), vae);
}
}  // namespace

std::vector<T2VResult> generate_batch(VideoModel& model, const T2VRequest& request, const std::vector<T2VJob>& all_jobs,
                                      Progress& progress, double t_start) {
  T2VRequest req = request;  // image-to-video: the size becomes the image's bucket below
  if (req.image.empty() && model.geometry().image_condition != ImageCondition::None)
    usage_fail("{} is an image-to-video model: give the reference image with --image PATH (PNG, JPEG or WebP)",
               model.geometry().name);
  for (const auto& j : all_jobs) {
    T2VRequest r = req;
    r.output = j.output;
    r.prompt = j.prompt;
    r.latents_out = j.latents;
    check_t2v_request(r);
  }
  if (t_start <= 0) t_start = now_s();
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

  const Geometry& geo = model.geometry();
  const DenoiserInfo& cfg = model.denoiser_info();
  // Image-to-video: the reference image at the size the model picks for it (its official bucket).
  const bool i2v = !req.image.empty();
  if (i2v && req.attention == "svg" && geo.condition_blocks > 0)  // before any encoder runs
    svg_image_to_video_unsupported();
  ReferenceImage ref;
  std::string image_abs, image_sha;
  if (i2v) {
    if (req.comm) usage_fail("--image: image-to-video runs in one process for now (no mpirun)");
    ref = model.prepare_image(read_image_rgb(req.image), req.image_resolution);
    req.width = ref.width, req.height = ref.height;
    image_abs = fs::absolute(req.image).lexically_normal().string();
    image_sha = sha256_file_hex(req.image);
    check_t2v_request(req);
    progress.note(fmt::format("--image {} ({}x{}): video size {}x{} (resize to {}x{}, center crop)", req.image,
                              ref.source.width, ref.source.height, ref.width, ref.height, ref.resized_width,
                              ref.resized_height));
  }
  const bool cuda = model.device() == "cuda";
  const double t_load = model.load_seconds();
  // Heads must divide over the ranks: say so before the text encoder runs.
  if (seq && cfg.heads % world != 0)
    fail("--parallel sequence: the model's {} attention heads do not divide over {} processes; "
         "run a number of processes that divides {}, or --parallel prompts", cfg.heads, world, cfg.heads);
  // Preset with the user's overrides; dense = the model's plain loop.
  const std::optional<Preset> jenga = model.preset(req.preset, req.jenga, req.steps);
  // A test model's head dim the GPU kernel lacks runs padded there: dense, one process. Said
  // before any work rather than at the first sparse forward.
  if (cfg.padded_head_dim > 0) {
    const std::string why = fmt::format("this DiT's head dim {} runs padded to {}, dense only, on the GPU (a test model)",
                                        cfg.head_dim, cfg.padded_head_dim);
    if (resolve_attention(req.attention, jenga.has_value(), req.svg) != AttentionMode::dense)
      usage_fail("{}: {}; use --preset dense, or --device cpu for every preset",
                 jenga ? "--preset " + req.preset : "--attention " + req.attention, why);
    if (seq) usage_fail("--parallel sequence: {}; run one process, or --device cpu", why);
  }
  const int steps = req.steps > 0 ? req.steps : jenga ? jenga->steps : geo.default_steps;
  const std::string solver = req.solver.empty() ? geo.default_solver : req.solver;
  const double plain_shift =
      req.image_stability && geo.default_shift_stable > 0 ? geo.default_shift_stable : geo.default_shift;
  const double shift = req.shift.value_or(jenga ? jenga->flow_shift : plain_shift);
  // HunyuanVideo: the DiT takes the embedded guidance (when it has a guidance embedding);
  // --cfg-scale > 1 adds the negative branch (true CFG), official default 1.0.
  const bool embedded = geo.guidance == GuidanceKind::Embedded;
  const bool gated = cfg_gated_by_scale(geo.guidance);
  const double guide = req.guide_scale.value_or(gated ? 1.0 : jenga ? jenga->guide_scale : geo.default_guidance);
  const double embedded_guide = req.embedded_guidance.value_or(jenga ? jenga->guide_scale : geo.default_guidance);
  if (req.embedded_guidance && !embedded)
    usage_fail("--embedded-cfg-scale is for DiTs with a guidance embedding (HunyuanVideo T2V); {} has none and takes "
               "--cfg-scale", geo.name);
  if (geo.sigmas == SigmaTable::FlowMatch && solver != "euler")
    usage_fail("--solver {}: {} samples with flow-matching Euler (its official and only solver); use --solver euler",
               solver, geo.name);
  if (const std::string took = resolve_video_size(req, geo, jenga, i2v); !took.empty()) {
    check_t2v_request(req);
    progress.note(took);
  }
  check_jenga_token_grid(jenga, geo, req.width, req.height, req.frames);  // before any heavy work
  std::unique_ptr<Vae> vae;
  const double t_vae_load0 = now_s();
  if (root) vae = model.vae();
  const double t_vae_load = now_s() - t_vae_load0;
  progress.note(fmt::format("loaded {} in {} on {}{}{}", model.summary(), Progress::format_duration(t_load),
                            cuda ? "cuda" : "cpu", cuda && req.offload ? " (--offload: blocks streamed from host memory)" : "",
                            world > 1 ? fmt::format(", {} processes, {} parallel", world, req.parallel) : ""));
  if (req.offload && !cuda) progress.note("--offload: the DiT runs on the CPU here; the flag changes nothing");
  // GPU memory by phase (text, denoise, VAE): the allocator's peak since the last phase ended.
  double gpu_peak_all = 0;
  auto gpu_phase_peak = [&]() -> double {
    if (!cuda) return 0.0;
    const double p = model.take_peak_memory_gib();
    gpu_peak_all = std::max(gpu_peak_all, p);
    return p;
  };

  // Text: every job's contexts first (on the GPU the encoder lives only for this block: its
  // ~11 GB are free before the DiT loads). Under sequence parallel rank 0 encodes and
  // broadcasts.
  const double t_text0 = now_s();
  const bool t5_cuda = cuda && !req.t5_cpu;
  const std::string neg = req.negative_prompt.empty() ? geo.default_negative_prompt : req.negative_prompt;
  const bool two_branch = !gated || guide > 1.0;
  if (i2v && two_branch)
    usage_fail("--image with --cfg-scale {}: image-to-video runs one branch for now (the official default, "
               "--cfg-scale 1)", guide);
  if (gated && !two_branch && !req.negative_prompt.empty())
    progress.note("--negative-prompt: unused at --cfg-scale 1 (one branch, as the official loop); give --cfg-scale > 1 "
                  "for true CFG");
  if (root)  // -o x.png with several frames writes a folder x/ (output_target.h): say so before the run
    for (const auto& job : jobs)
      if (const std::string f = final_output_path(job.output, req.frames); f != job.output && !job.output.ends_with('/'))
        progress.note(fmt::format("-o {}: {} frames are written as the folder {}/ (one PNG a frame; -o {}.mp4 for a "
                                  "video file)", job.output, req.frames, f, f));
  if (!cuda && root) {  // a CPU run at a real size takes hours: say so now, not after the first step
    const int64_t tokens = ((req.frames - 1) / geo.vae_time + 1) / geo.patch[0] *
                           (req.height / geo.vae_space / geo.patch[1]) * (req.width / geo.vae_space / geo.patch[2]);
    const int forwards = steps * (two_branch ? 2 : 1) * static_cast<int>(jobs.size());
    if (const std::string note = cpu_run_note(tokens, cfg.hidden, cfg.layers, forwards); !note.empty())
      progress.note(note);
  }
  std::vector<std::array<Conditioning, 2>> ctx(jobs.size());
  if (root) {
    const auto encoder = model.text_encoder(req.t5_cpu);
    progress.begin("text", static_cast<int>(jobs.size()) + (two_branch ? 1 : 0));  // the negative prompt, then each prompt
    const Conditioning uncond = two_branch ? encoder->encode(neg) : Conditioning{};
    if (two_branch) progress.update(1);
    for (size_t j = 0; j < jobs.size(); ++j) {
      ctx[j] = {i2v ? encoder->encode_with_image(jobs[j].prompt, ref) : encoder->encode(jobs[j].prompt), uncond};
      progress.update(static_cast<int>(j) + (two_branch ? 2 : 1));
    }
    progress.end();
    for (size_t j = 0; j < jobs.size(); ++j)
      if (const Conditioning& c = ctx[j][0]; c.dropped_tokens > 0)
        progress.note(fmt::format("{}: {} tokens past the text encoder's {}-token limit were cut (as the official code "
                                  "does); shorten it to use all of it",
                                  jobs.size() > 1 ? fmt::format("prompt {}", j + 1) : std::string("the prompt"),
                                  c.dropped_tokens, c.token_limit));
    if (uncond.dropped_tokens > 0)
      progress.note(fmt::format("the negative prompt: {} tokens past the text encoder's {}-token limit were cut",
                                uncond.dropped_tokens, uncond.token_limit));
  }
  if (seq) {
    // Token states, the count of real rows and the pooled vector (HunyuanVideo's CLIP; empty for
    // Wan). Image tokens (I2V) stay on rank 0: image-to-video runs in one process.
    for (auto& pair : ctx)
      for (Conditioning& c : pair) {
        if (!two_branch && &c == &pair[1]) continue;
        std::vector<float> v, pooled, valid{static_cast<float>(c.valid)};
        if (root) v.assign(c.tokens.data_as<float>(), c.tokens.data_as<float>() + c.tokens.numel());
        if (root && c.pooled.ndim() > 0) pooled = c.pooled.to_f32_vector();  // a default Tensor is an empty scalar
        dist::broadcast_floats(*req.comm, v, 0);
        dist::broadcast_floats(*req.comm, pooled, 0);
        dist::broadcast_floats(*req.comm, valid, 0);
        if (root) continue;
        const int64_t rows = static_cast<int64_t>(v.size()) / cfg.text_dim;
        c.tokens = Tensor::from_f32(v, Shape{rows, cfg.text_dim});
        if (!pooled.empty()) c.pooled = Tensor::from_f32(pooled, Shape{static_cast<int64_t>(pooled.size())});
        c.valid = static_cast<int64_t>(valid[0]);
      }
  }
  check_interrupt();
  const double t_text = (now_s() - t_text0) / static_cast<double>(jobs.size());
  const double gpu_peak_text = gpu_phase_peak();  // the encoder is freed by now

  const int64_t lt = (req.frames - 1) / geo.vae_time + 1, lh = req.height / geo.vae_space, lw = req.width / geo.vae_space;
  if (lh % geo.patch[1] || lw % geo.patch[2] || lt % geo.patch[0])
    usage_fail("size {}x{}: the latent {}x{} does not divide by the patch size", req.width, req.height, lh, lw);
  // Image-to-video: the reference image through the VAE encoder, one latent frame (the DiT is
  // not loaded yet: the encoder has the device to itself).
  Tensor image_latent;
  double t_image = 0;
  if (i2v) {
    const double t0 = now_s();
    progress.note("encoding the reference image (VAE encoder)");
    image_latent = vae->encode(ref.pixels.reshape({3, 1, ref.pixels.dim(1), ref.pixels.dim(2)}));
    if (image_latent.ndim() != 4 || image_latent.dim(0) != geo.latent_channels || image_latent.dim(1) != 1 ||
        image_latent.dim(2) != lh || image_latent.dim(3) != lw)
      fail("the image latent is {}, expected [{}, 1, {}, {}]", image_latent.shape().str(), geo.latent_channels, lh, lw);
    t_image = now_s() - t0;
    check_interrupt();
  }
  // HunyuanVideo (text rows inside self-attention) takes its own official SVG script's defaults.
  const SvgFamily svg_family = geo.condition_blocks > 0 ? SvgFamily::hunyuan : SvgFamily::wan;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const double t_job0 = now_s();
    // Latents: [z, 1 + (F-1)/4, H/8, W/8], Philox normal noise (counter-based: the same on any
    // device and rank). A preset that starts smaller draws the first stage's noise, then the
    // full-size noise for the re-noise, from one stream (as jenga_wan.py draws both from one
    // generator).
    DenoiseRequest dr;
    dr.jenga = jenga;
    dr.comm = seq ? req.comm : nullptr;
    dr.attention = resolve_attention(req.attention, jenga.has_value(), req.svg);
    dr.svg = svg_settings(req.svg, req.seed, svg_family);
    uint64_t offset = 0;
    auto draw = [&](const std::array<int64_t, 3>& l) {
      Tensor t = Tensor::empty(DType::F32, Shape{geo.latent_channels, l[0], l[1], l[2]});
      fill_normal(std::span<float>(t.data_as<float>(), static_cast<size_t>(t.numel())), req.seed, offset);
      offset += static_cast<uint64_t>(t.numel());
      return t;
    };
    const auto sizes = stage_latents(jenga, lt, lh, lw);
    dr.noise = draw(sizes[0]);
    for (size_t k = 1; k < sizes.size(); ++k) dr.renoise.push_back(draw(sizes[k]));
    if (i2v) {
      dr.first_frame = image_latent;
      if (req.image_stability) blend_toward_first_frame(dr.noise, image_latent, geo.image_blend_t);
    }
    dr.context = ctx[j][0], dr.context_null = ctx[j][1];
    dr.steps = steps, dr.shift = shift, dr.guide_scale = guide, dr.solver = solver;
    dr.embedded_guidance = embedded_guide, dr.true_cfg = gated && two_branch;
    const double t_dn0 = now_s();
    DenoiseResult dn;
    {
      // The DiT lives on the device for this job's loop only (uploaded here, freed after).
      const auto denoiser = model.denoiser(req.offload && cuda);
      dr.denoiser = denoiser.get();
      dn = denoise(dr, progress);
    }
    const double t_denoise = now_s() - t_dn0;
    const double gpu_peak_denoise = gpu_phase_peak();  // the DiT is freed by now
    if (!root) continue;
    const Tensor& x = dn.latents;
    if (!jobs[j].latents.empty()) {
      SafetensorsWriter w;
      w.add("latents", x);
      w.write(jobs[j].latents);
    }

    // Decode and write.
    const double t_vae0 = now_s();
    // The DiT is gone by now: the decoder gets the GPU to itself. Progress per latent frame.
    progress.begin("decode", static_cast<int>(x.dim(1)));  // latent frames
    const Tensor video = vae->decode(x, [&](int64_t done, int64_t) { progress.update(static_cast<int>(done)); });
    progress.end();
    check_interrupt();
    const double t_vae = now_s() - t_vae0;
    const double gpu_peak_vae = gpu_phase_peak();
    check_decoded_finite(video, model);
    const Frames frames = frames_from_unit_range(video.data_as<float>(), static_cast<int>(video.dim(1)),
                                                 static_cast<int>(video.dim(2)), static_cast<int>(video.dim(3)));
    T2VResult res;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    nlohmann::json report = {
        {"engine", {{"name", "jenga.cpp"}, {"version", JENGA_VERSION_STRING}, {"commit", JENGA_GIT_COMMIT}}},
        {"run", run_record(model.gpu_name())},
        {"model", model.describe()},
        {"settings", {{"prompt", jobs[j].prompt}, {"negative_prompt", neg}, {"width", req.width}, {"height", req.height},
                      {"frames", req.frames}, {"steps", steps}, {"seed", req.seed},
                      {"cfg_scale", guide}, {"shift", shift}, {"solver", solver},
                      {"preset", jenga ? jenga->name : "dense"}, {"attention", attention_mode_name(*dr.attention)},
                      {"device", cuda ? "cuda" : "cpu"}, {"offload", req.offload}, {"fps", geo.fps},
                      {"devices", {{"text_encoder", t5_cuda ? "cuda" : "cpu"}, {"dit", cuda ? "cuda" : "cpu"},
                                   {"vae", cuda ? "cuda" : "cpu"}}},
                      {"parallel", {{"world_size", world}, {"mode", req.comm ? req.parallel : "none"},
                                    {"communicator", cuda && seq ? "nccl" : req.comm ? std::string(req.comm->name()) : "single"},
                                    {"rank", rank}}},
                      {"noise", "philox4x32-10 normal, counter-based"}}},
        {"forwards", dn.forwards},
        {"forwards_reused", dn.forwards_reused},
        {"denoise", dn.report},
        {"timings_s", {{"load", t_load}, {"vae_load", t_vae_load}, {"text", t_text}, {"image_encode", t_image}, {"denoise", t_denoise}, {"vae_decode", t_vae},
                       {"total", now_s() - (j == 0 ? t_start : t_job0)}}},
        {"peak_host_rss_gib", static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0)}};
    if (jobs.size() > 1 || all_jobs.size() > 1) report["settings"]["batch"] = {{"jobs", all_jobs.size()}};
    if (*dr.attention == AttentionMode::svg)
      report["settings"]["svg"] = {{"sparsity", dr.svg.sparsity}, {"first_times_fp", dr.svg.first_times_fp},
                                   {"first_layers_fp", dr.svg.first_layers_fp}, {"num_sampled_rows", dr.svg.num_sampled_rows},
                                   {"sample_mse_max_row", dr.svg.sample_mse_max_row}, {"rows_seed", dr.svg.seed},
                                   {"source", svg_defaults_source(svg_family)}};
    if (embedded) report["settings"]["embedded_cfg_scale"] = embedded_guide;
    if (i2v)
      report["settings"]["image"] = {{"path", image_abs}, {"sha256", image_sha},
                                     {"width", ref.source.width}, {"height", ref.source.height},
                                     {"resolution", req.image_resolution.empty() ? geo.default_image_resolution
                                                                                 : req.image_resolution},
                                     {"stability", req.image_stability},
                                     {"resized", {ref.resized_width, ref.resized_height}}};
    if (jenga && jenga->family == ModelFamily::Hunyuan)
      report["settings"]["jenga"] = {{"sa_drop_rates", jenga->sa_drop_rates}, {"p_remain_rates", jenga->p_remain},
                                     {"res_rate_list", jenga->res_rates}, {"step_rate_list", jenga->step_rates},
                                     {"scheduler_shift_list", jenga->shifts}, {"scale_txt_amp", jenga->scale_txt_amp},
                                     {"computed_steps", jenga->computed_steps}, {"curve", "gilbert 3d"},
                                     {"script", jenga->script}};
    else if (jenga)
      report["settings"]["jenga"] = {{"sa_drop_rates", jenga->sa_drop_rates}, {"p_remain_rates", jenga->p_remain},
                                     {"res_rate_list", jenga->res_rates}, {"teacache_thresh", jenga->teacache_thresh},
                                     {"use_ret_steps", jenga->use_ret_steps},
                                     {"curve", geo.curve == CurveKind::FrameSliced ? "sliced gilbert" : "gilbert 3d"},
                                     {"script", jenga->script}};
    if (cuda) {
      // Since the run began (all phases, every job so far), and per phase of this job (the text
      // phase is shared by all jobs: every prompt is encoded first).
      report["peak_gpu_alloc_gib"] = gpu_peak_all;
      report["peak_gpu_alloc_gib_by_phase"] = {{"text", gpu_peak_text}, {"denoise", gpu_peak_denoise}, {"vae_decode", gpu_peak_vae}};
    }
    // An earlier video of that name is replaced (kept if this run fails): say so, nothing silently lost.
    std::error_code ec_old;
    const bool replacing = fs::is_regular_file(final_output_path(jobs[j].output, frames.count), ec_old);
    // The video and its sidecar (sidecar_path: the output's name + ".json"), both or neither.
    res.output = commit_video_and_sidecar(
        jobs[j].output, frames.count,
        [&](const std::string& tmp) {
          const double t_write0 = now_s();
          const std::string written = write_video(tmp, frames, geo.fps);
          report["timings_s"]["write_video"] = now_s() - t_write0;
          return written;
        },
        [&](const std::string& final_path) {
          report["output"] = final_path;
          // This video's whole wall time, its write included (only the sidecar is left).
          report["timings_s"]["total"] = now_s() - (j == 0 ? t_start : t_job0);
          return report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        });
    res.sidecar = sidecar_path(res.output);
    res.report = report;
    progress.note("wrote " + res.output + " and " + res.sidecar + (replacing ? " (replacing the earlier " + res.output + ")" : ""));
    results.push_back(std::move(res));
  }
  return results;
}

}  // namespace jenga
