// The C API (include/jenga/jenga.h) over the same path as `jenga generate`: the registry opens
// the model, pipeline/generate runs it. C++ exceptions stop here: each becomes a status code and
// a thread-local message.
#include "jenga/jenga.h"

#include <filesystem>
#include <memory>
#include <new>
#include <string>

#include "core/error.h"
#include "jenga/version.h"
#include "models/registry.h"
#include "models/video_model.h"
#include "pipeline/generate.h"
#include "pipeline/progress.h"

struct jenga_model {
  std::unique_ptr<jenga::VideoModel> model;
};

namespace {

thread_local std::string g_error;

class Cancelled : public jenga::Error {
 public:
  Cancelled() : Error("cancelled by the caller; no output was written") {}
};

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

// The status of the exception in flight, its message kept for jenga_last_error().
jenga_status status_of_current_exception(jenga_log_fn log, void* user) {
  jenga_status st = JENGA_ERROR_RUNTIME;
  try {
    throw;
  } catch (const Cancelled& e) {
    g_error = e.what(), st = JENGA_ERROR_CANCELLED;
  } catch (const jenga::UsageError& e) {
    g_error = e.what(), st = JENGA_ERROR_USAGE;
  } catch (const std::bad_alloc&) {
    g_error = "out of host memory; try a smaller size or fewer frames";
  } catch (const std::exception& e) {
    g_error = e.what();
  } catch (...) {
    g_error = "unknown error";
  }
  if (log) log(JENGA_LOG_ERROR, g_error.c_str(), user);
  return st;
}

}  // namespace

extern "C" {

void jenga_open_params_init(jenga_open_params* p) {
  if (p) *p = jenga_open_params{};
}

void jenga_generate_params_init(jenga_generate_params* p) {
  if (!p) return;
  *p = jenga_generate_params{};
  const jenga::T2VRequest d;
  p->width = d.width, p->height = d.height, p->frames = d.frames, p->steps = d.steps;
  p->seed = d.seed;
  p->cfg_scale = -1, p->shift = -1;
}

jenga_model* jenga_open(const char* path, const jenga_open_params* params) {
  const jenga_open_params defaults{};
  const jenga_open_params& p = params ? *params : defaults;
  try {
    jenga::ModelSpec spec;
    const std::string where = str(path);
    if (!where.empty()) {
      std::error_code ec;
      if (!std::filesystem::exists(where, ec)) jenga::usage_fail("{}: no such file or folder", where);
      // A file is the DiT (ComfyUI style), a folder a published model (as `generate --model`).
      (std::filesystem::is_regular_file(where, ec) ? spec.dit : spec.model_dir) = where;
    }
    if (p.diffusion_model) spec.dit = p.diffusion_model;
    spec.vae = str(p.vae), spec.t5 = str(p.text_encoder), spec.tokenizer = str(p.tokenizer);
    spec.device = p.device ? p.device : "auto";
    if (spec.device != "auto" && spec.device != "cpu" && spec.device != "cuda")
      jenga::usage_fail("device {}: use auto, cpu or cuda", spec.device);
    jenga::Progress progress(jenga::Progress::Mode::Quiet);
    if (p.log)
      progress.set_listener([&](const std::string&, int, int, const std::string* note) {
        if (note) p.log(JENGA_LOG_INFO, note->c_str(), p.user_data);
      });
    auto m = std::make_unique<jenga_model>();
    m->model = jenga::open_model(spec, progress);
    g_error.clear();
    return m.release();
  } catch (...) {
    status_of_current_exception(p.log, p.user_data);
    return nullptr;
  }
}

jenga_status jenga_generate(jenga_model* model, const jenga_generate_params* params, jenga_progress_fn progress_fn,
                            jenga_log_fn log, jenga_cancel_fn cancel, void* user) {
  try {
    if (!model || !model->model) jenga::usage_fail("jenga_generate: no model (jenga_open failed or it was freed)");
    if (!params) jenga::usage_fail("jenga_generate: no parameters");
    const jenga_generate_params& p = *params;
    if (!p.output || !*p.output) jenga::usage_fail("jenga_generate: no output path");
    jenga::T2VRequest r;
    r.prompt = str(p.prompt), r.negative_prompt = str(p.negative_prompt);
    r.width = p.width, r.height = p.height, r.frames = p.frames, r.steps = p.steps;
    r.seed = p.seed;
    if (p.cfg_scale >= 0) r.guide_scale = p.cfg_scale;
    if (p.shift >= 0) r.shift = p.shift;
    if (p.preset) r.preset = p.preset;
    if (p.solver) r.solver = p.solver;
    r.attention = str(p.attention);
    r.offload = p.offload != 0;
    r.t5_cpu = p.text_encoder_on_cpu != 0;
    r.device = model->model->device();
    r.output = p.output;
    r.latents_out = str(p.latents_out);
    jenga::Progress progress(jenga::Progress::Mode::Quiet);
    progress.set_listener([&](const std::string& stage, int done, int total, const std::string* note) {
      if (note && log) log(JENGA_LOG_INFO, note->c_str(), user);
      if (!note && progress_fn) progress_fn(stage.c_str(), done, total, user);
      if (cancel && cancel(user)) throw Cancelled();
    });
    if (cancel && cancel(user)) throw Cancelled();
    jenga::generate_batch(*model->model, r, {{r.prompt, r.output, r.latents_out}}, progress);
    g_error.clear();
    return JENGA_OK;
  } catch (...) {
    return status_of_current_exception(log, user);
  }
}

const char* jenga_last_error(void) { return g_error.c_str(); }

void jenga_free(jenga_model* model) { delete model; }

const char* jenga_version(void) { return JENGA_VERSION_STRING; }

}  // extern "C"
