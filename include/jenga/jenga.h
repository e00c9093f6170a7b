/* jenga.cpp C API: open a video model, generate videos with it, free it.
 *
 *   jenga_open_params op;
 *   jenga_open_params_init(&op);
 *   jenga_model* m = jenga_open("Wan2.1-T2V-1.3B", &op);   // NULL path: the built-in tiny model
 *   if (!m) { fprintf(stderr, "%s\n", jenga_last_error()); ... }
 *   jenga_generate_params gp;
 *   jenga_generate_params_init(&gp);
 *   gp.prompt = "a cat surfing";
 *   gp.output = "cat.mp4";
 *   if (jenga_generate(m, &gp, on_progress, on_log, should_cancel, user) != JENGA_OK) ...
 *   jenga_free(m);
 *
 * The same generate path as `jenga generate` (models/registry.h opens the model,
 * pipeline/generate.h runs it): the same checks, outputs (video file + JSON sidecar) and
 * errors. Calls on one model must not overlap; different models may run on different threads,
 * but the GPU is shared. Plain C (C99); every string is UTF-8 and copied before a call returns.
 */
#ifndef JENGA_JENGA_H
#define JENGA_JENGA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jenga_model jenga_model;

typedef enum {
  JENGA_OK = 0,
  JENGA_ERROR_USAGE = 1,      /* a bad parameter (size, frames, preset, output path, ...) */
  JENGA_ERROR_RUNTIME = 2,    /* everything else: missing or corrupt weights, out of memory, NaNs */
  JENGA_ERROR_CANCELLED = 3,  /* the cancel callback asked to stop; no output was written */
} jenga_status;

typedef enum { JENGA_LOG_INFO = 0, JENGA_LOG_ERROR = 1 } jenga_log_level;

/* `done` of `total` steps of `phase` ("denoise") have finished. */
typedef void (*jenga_progress_fn)(const char* phase, int done, int total, void* user_data);
/* A one-line note ("loaded ...", "wrote ...") or the error a call fails with. */
typedef void (*jenga_log_fn)(jenga_log_level level, const char* text, void* user_data);
/* Polled between steps and phases: nonzero stops the generation (JENGA_ERROR_CANCELLED). */
typedef int (*jenga_cancel_fn)(void* user_data);

typedef struct {
  /* Single components over (or instead of) the folder given to jenga_open; NULL = from it. */
  const char* diffusion_model; /* DiT weights file */
  const char* vae;
  const char* text_encoder;    /* umT5 weights (Wan2.1) */
  const char* tokenizer;       /* spiece.model */
  const char* device;          /* "auto" (default), "cpu" or "cuda" */
  jenga_log_fn log;            /* notes while opening; NULL = silent */
  void* user_data;
} jenga_open_params;

typedef struct {
  const char* prompt;
  const char* negative_prompt; /* NULL or "": the model's default */
  int width, height, frames, steps; /* defaults 832, 480, 81, 50 */
  uint64_t seed;                    /* default 42 */
  double cfg_scale;                 /* < 0: the model's / preset's default */
  double shift;                     /* < 0: the model's / preset's default */
  const char* preset;               /* "dense" (default), "base", "turbo", "flash", "3stage" */
  const char* solver;               /* NULL: the model's (Wan "unipc", HunyuanVideo "euler"); "dpm++" */
  const char* attention;            /* NULL: what the preset implies; "dense", "jenga", "svg" */
  int offload;                      /* CUDA: stream the DiT's blocks from host memory */
  int text_encoder_on_cpu;          /* keep the text encoder on the CPU with CUDA */
  const char* output;               /* the video file (.mp4, .webp, .y4m, .png or a folder); required */
  const char* latents_out;          /* debug: also write the final latents (.safetensors); NULL = no */
} jenga_generate_params;

/* Fill the structs with the defaults above (everything else NULL / 0). */
void jenga_open_params_init(jenga_open_params* params);
void jenga_generate_params_init(jenga_generate_params* params);

/* path: a published model folder or a DiT .safetensors file; NULL (and no components in
 * params): the built-in tiny random model (a smoke test). params may be NULL (defaults).
 * Returns NULL on failure; jenga_last_error() says why. */
jenga_model* jenga_open(const char* path, const jenga_open_params* params);

/* Writes params->output and its JSON sidecar. Callbacks may be NULL. */
jenga_status jenga_generate(jenga_model* model, const jenga_generate_params* params, jenga_progress_fn progress,
                            jenga_log_fn log, jenga_cancel_fn cancel, void* user_data);

/* The message of the last failing call on this thread ("" after a success). */
const char* jenga_last_error(void);

void jenga_free(jenga_model* model);

const char* jenga_version(void);

#ifdef __cplusplus
}
#endif

#endif /* JENGA_JENGA_H */
