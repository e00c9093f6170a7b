// The C API (include/jenga/jenga.h) over the generate path: the registry opens the model,
// pipeline/generate runs it. `jenga generate` is its client. C++ exceptions stop here: each
// becomes a status code and a thread-local message, worded as the CLI words it
// (core/error_report.h).
#include "jenga/jenga.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/error_report.h"
#include "dist/communicator.h"
#include "jenga/version.h"
#include "models/registry.h"
#include "models/video_model.h"
#include "pipeline/generate.h"
#include "pipeline/progress.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

struct jenga_processes {
  std::unique_ptr<jenga::dist::Communicator> comm;
  // Under mpirun even one process takes the parallel code path (mpirun -np 1 checks it).
  bool parallel = false;
};

struct jenga_model {
  std::unique_ptr<jenga::VideoModel> model;
  jenga_processes* processes = nullptr;
  bool offload = false;
  double t_open = 0;       // when jenga_open began: the first video's total time counts from it
  bool generated = false;  // a jenga_generate call has run
};

static_assert(JENGA_MAX_SIDE == jenga::kMaxSide && JENGA_MAX_FRAMES == jenga::kMaxFrames, "jenga.h's limits are generate's");

namespace {

thread_local std::string g_error;
thread_local jenga_status g_status = JENGA_OK;

// `lost`: what the cancel cost ("the model was not opened", "the output in progress was not
// written": a batch keeps its finished videos).
class Cancelled : public jenga::Error {
 public:
  explicit Cancelled(const char* lost) : Error(std::string("cancelled by the caller; ") + lost) {}
};
constexpr const char* kOpenCancelled = "the model was not opened";
constexpr const char* kGenerateCancelled = "the output in progress was not written";

std::string str(const char* s) { return s ? std::string(s) : std::string(); }
template <class T>
std::optional<T> opt(const T* p) {
  return p ? std::optional<T>(*p) : std::nullopt;
}
// A count with no list is a caller's bug (as n_jobs without jobs), not "the preset's".
std::vector<double> list(const double* p, size_t n, const char* field) {
  if (!p && n) jenga::usage_fail("jenga_generate: n_{} is {} but {} is NULL", field, n, field);
  return p ? std::vector<double>(p, p + n) : std::vector<double>();
}

jenga_status succeed() {
  g_error.clear();
  g_status = JENGA_OK;
  return JENGA_OK;
}

// The status of the exception in flight, its message kept for jenga_last_error().
jenga_status status_of_current_exception(jenga_log_fn log, void* user) {
  jenga_status st = JENGA_ERROR_RUNTIME;
  try {
    throw;
  } catch (const Cancelled& e) {
    g_error = e.what(), st = JENGA_ERROR_CANCELLED;
  } catch (...) {
    const jenga::ErrorReport r = jenga::report_current_exception();
    g_error = r.message;
    // A signal (the CLI's Ctrl-C handler, core/interrupt.h) stops a call as a cancel does.
    st = r.kind == jenga::ErrorReport::Kind::Usage         ? JENGA_ERROR_USAGE
         : r.kind == jenga::ErrorReport::Kind::Interrupted ? JENGA_ERROR_CANCELLED
                                                           : JENGA_ERROR_RUNTIME;
  }
  g_status = st;
  if (log) log(JENGA_LOG_ERROR, g_error.c_str(), user);
  return st;
}

// A copy of the caller's struct: the bytes its header declared (struct_size), the newer
// fields at their defaults. NULL: the defaults.
template <class T>
T read_params(const T* p, void (*init)(T*), const char* name) {
  T out;
  init(&out);
  if (!p) return out;
  if (p->struct_size < sizeof(size_t) + sizeof(void*))
    jenga::usage_fail("{}: struct_size {} is too small; fill the struct with {}_init first", name, p->struct_size, name);
  if (p->struct_size > sizeof(T))
    jenga::usage_fail("{}: struct_size {} is larger than this library's {}; the program was built against a newer "
                      "jenga.h than the library it runs with",
                      name, p->struct_size, sizeof(T));
  std::memcpy(static_cast<void*>(&out), p, p->struct_size);
  out.struct_size = sizeof(T);
  return out;
}

// Progress events to the C callbacks; every event polls cancel (between steps and phases).
jenga::Progress::Listener listener(jenga_progress_fn progress, jenga_log_fn log, jenga_cancel_fn cancel, void* user,
                                   const char* lost) {
  return [=](const std::string& stage, int done, int total, const std::string* note) {
    if (note && log) log(JENGA_LOG_INFO, note->c_str(), user);
    if (!note && progress) progress(stage.c_str(), done, total, user);
    if (cancel && cancel(user)) throw Cancelled(lost);
  };
}

jenga::T2VRequest request_of(const jenga_generate_params& p) {
  jenga::T2VRequest r;
  r.prompt = str(p.prompt), r.negative_prompt = str(p.negative_prompt);
  r.image = str(p.image), r.image_resolution = str(p.image_resolution), r.image_stability = p.image_stability != 0;
  r.width = p.width, r.height = p.height, r.frames = p.frames, r.steps = p.steps;
  r.seed = p.seed;
  r.guide_scale = opt(p.cfg_scale), r.shift = opt(p.shift), r.embedded_guidance = opt(p.embedded_cfg_scale);
  r.preset = p.preset ? p.preset : "dense";
  r.solver = str(p.solver);
  r.attention = str(p.attention);
  auto& j = r.jenga;
  j.sa_drop_rates = list(p.sa_drop_rates, p.n_sa_drop_rates, "sa_drop_rates");
  j.res_rate_list = list(p.res_rate_list, p.n_res_rate_list, "res_rate_list");
  j.step_rate_list = list(p.step_rate_list, p.n_step_rate_list, "step_rate_list");
  j.scheduler_shift_list = list(p.scheduler_shift_list, p.n_scheduler_shift_list, "scheduler_shift_list");
  j.p_remain_rates = opt(p.p_remain_rates), j.teacache_thresh = opt(p.teacache_thresh);
  j.scale_txt_amp = opt(p.scale_txt_amp);
  auto& s = r.svg;
  s.sparsity = opt(p.svg_sparsity), s.first_times_fp = opt(p.first_times_fp), s.first_layers_fp = opt(p.first_layers_fp);
  s.num_sampled_rows = opt(p.num_sampled_rows), s.sample_mse_max_row = opt(p.sample_mse_max_row);
  r.t5_cpu = p.text_encoder_on_cpu != 0;
  r.output = str(p.output);
  r.latents_out = str(p.latents_out);
  r.parallel = p.parallel ? p.parallel : "sequence";
  return r;
}

std::vector<jenga::T2VJob> jobs_of(const jenga_generate_params& p, const jenga::T2VRequest& r) {
  if (p.n_jobs == 0) {
    if (r.output.empty()) jenga::usage_fail("jenga_generate: no output path");
    return {{r.prompt, r.output, r.latents_out}};
  }
  if (!p.jobs) jenga::usage_fail("jenga_generate: n_jobs is {} but jobs is NULL", p.n_jobs);
  std::vector<jenga::T2VJob> jobs;
  for (size_t i = 0; i < p.n_jobs; ++i) {
    if (!p.jobs[i].output || !*p.jobs[i].output) jenga::usage_fail("jenga_generate: job {} has no output path", i + 1);
    jobs.push_back({str(p.jobs[i].prompt), p.jobs[i].output, str(p.jobs[i].latents_out)});
  }
  return jobs;
}

// Each job's request through the cheap checks (UsageError).
void check_jobs(const jenga::T2VRequest& r, const std::vector<jenga::T2VJob>& jobs) {
  for (const auto& j : jobs) {
    jenga::T2VRequest c = r;
    c.prompt = j.prompt, c.output = j.output, c.latents_out = j.latents;
    jenga::check_t2v_request(c);
  }
  jenga::check_image_resolution(r.image_resolution);  // the model's vocabulary, before any model loads
}

void require_exists(const char* flag, const char* path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) jenga::usage_fail("{} {}: no such file or folder", flag, path);
}

// NULL opens the built-in tiny model; "" (an unset variable) is a mistake, not that model.
void check_model_path(const char* path) {
  if (path && !*path)
    jenga::usage_fail("--model '': an empty path (an unset shell variable?); give a model folder or file, or no "
                      "model (NULL) for the built-in tiny random model");
  if (path) require_exists("--model", path);
}

}  // namespace

extern "C" {

void jenga_open_params_init(jenga_open_params* p) {
  if (!p) return;
  *p = jenga_open_params{};
  p->struct_size = sizeof *p;
}

void jenga_generate_params_init(jenga_generate_params* p) {
  if (!p) return;
  *p = jenga_generate_params{};
  p->struct_size = sizeof *p;
  const jenga::T2VRequest d;
  p->width = d.width, p->height = d.height, p->frames = d.frames, p->steps = d.steps;
  p->seed = d.seed;
}

jenga_status jenga_check_model(const char* path, const jenga_open_params* params) {
  try {
    const jenga_open_params p = read_params(params, jenga_open_params_init, "jenga_open_params");
    check_model_path(path);
    if (path && *path) jenga::reject_unrunnable_model("--model", path);
    if (p.diffusion_model && *p.diffusion_model) {
      require_exists("--diffusion-model", p.diffusion_model);
      jenga::reject_unrunnable_model("--diffusion-model", p.diffusion_model);
    }
    return succeed();
  } catch (...) {
    return status_of_current_exception(nullptr, nullptr);
  }
}

jenga_model* jenga_open(const char* path, const jenga_open_params* params) {
  jenga_log_fn log = params ? params->log : nullptr;
  void* user = params ? params->user_data : nullptr;
  try {
    const double t_open = jenga::generate_clock_s();
    const jenga_open_params p = read_params(params, jenga_open_params_init, "jenga_open_params");
    jenga::ModelSpec spec;
    check_model_path(path);
    spec.model_dir = str(path);
    spec.dit = str(p.diffusion_model), spec.vae = str(p.vae), spec.t5 = str(p.t5xxl), spec.tokenizer = str(p.tokenizer);
    spec.text_encoder = str(p.text_encoder), spec.text_encoder_2 = str(p.text_encoder_2);
    spec.tokenizer_2 = str(p.tokenizer_2);
    spec.accvideo = p.accvideo != 0;
    spec.device = p.device ? p.device : "auto";
    if (spec.device != "auto" && spec.device != "cpu" && spec.device != "cuda")
      jenga::usage_fail("device {}: use auto, cpu or cuda", spec.device);
    spec.offload = p.offload != 0;
    spec.width = p.width, spec.height = p.height, spec.frames = p.frames;
#if JENGA_HAVE_CUDA
    // One process per GPU: the local rank picks it.
    if (p.processes && p.processes->comm->size() > 1 && spec.device != "cpu" && jenga::cuda::available())
      jenga::cuda::set_device(p.processes->comm->local_rank() % jenga::cuda::device_count());
#endif
    jenga::Progress progress(jenga::Progress::Mode::Quiet);
    progress.set_listener(listener(p.progress, p.log, p.cancel, p.user_data, kOpenCancelled));
    if (p.cancel && p.cancel(p.user_data)) throw Cancelled(kOpenCancelled);
    auto m = std::make_unique<jenga_model>();
    m->model = jenga::open_model(spec, progress);
    m->processes = p.processes;
    m->offload = spec.offload;
    m->t_open = t_open;
    succeed();
    return m.release();
  } catch (...) {
    status_of_current_exception(log, user);
    return nullptr;
  }
}

jenga_status jenga_check_generate(const jenga_generate_params* params) {
  try {
    if (!params) jenga::usage_fail("jenga_check_generate: no parameters");
    const jenga_generate_params p = read_params(params, jenga_generate_params_init, "jenga_generate_params");
    const jenga::T2VRequest r = request_of(p);
    check_jobs(r, jobs_of(p, r));
    return succeed();
  } catch (...) {
    return status_of_current_exception(nullptr, nullptr);
  }
}

jenga_status jenga_generate(jenga_model* model, const jenga_generate_params* params, jenga_progress_fn progress_fn,
                            jenga_log_fn log, jenga_cancel_fn cancel, void* user) {
  try {
    if (!model || !model->model) jenga::usage_fail("jenga_generate: no model (jenga_open failed or it was freed)");
    if (!params) jenga::usage_fail("jenga_generate: no parameters");
    const jenga_generate_params p = read_params(params, jenga_generate_params_init, "jenga_generate_params");
    jenga::T2VRequest r = request_of(p);
    const std::vector<jenga::T2VJob> jobs = jobs_of(p, r);
    r.offload = model->offload;
    r.device = model->model->device();
    if (model->processes && model->processes->parallel) r.comm = model->processes->comm.get();
    jenga::Progress progress(jenga::Progress::Mode::Quiet);
    progress.set_listener(listener(progress_fn, log, cancel, user, kGenerateCancelled));
    if (cancel && cancel(user)) throw Cancelled(kGenerateCancelled);
    const double t_start = model->generated ? 0.0 : model->t_open;
    model->generated = true;
    jenga::generate_batch(*model->model, r, jobs, progress, t_start);
    return succeed();
  } catch (...) {
    return status_of_current_exception(log, user);
  }
}

const char* jenga_last_error(void) { return g_error.c_str(); }
jenga_status jenga_last_status(void) { return g_status; }

void jenga_free(jenga_model* model) { delete model; }

jenga_processes* jenga_processes_join(void) {
  try {
    auto g = std::make_unique<jenga_processes>();
    g->comm = jenga::dist::make_communicator();
    g->parallel = g->comm->size() > 1 || jenga::dist::launched_by_mpi();
    succeed();
    return g.release();
  } catch (...) {
    status_of_current_exception(nullptr, nullptr);
    return nullptr;
  }
}

int jenga_processes_rank(const jenga_processes* g) { return g ? g->comm->rank() : 0; }
int jenga_processes_size(const jenga_processes* g) { return g ? g->comm->size() : 1; }

void jenga_processes_abort(jenga_processes* g, int exit_code) {
  if (g) g->comm->abort(exit_code);
  std::exit(exit_code);
}

void jenga_processes_free(jenga_processes* g) { delete g; }

const char* jenga_version(void) { return JENGA_VERSION_STRING; }

}  // extern "C"
