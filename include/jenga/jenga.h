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
 * `jenga generate` is a client of this API: every one of its flags is a field below (the flag
 * is named beside it), and it prints what the callbacks report. The same checks, outputs (video
 * file + JSON sidecar) and error messages (they name the CLI's flags).
 *
 * Parameter structs: always fill them with their _init function first, then set fields. The
 * init function sets `struct_size` to the size this header declares; the library reads only
 * that many bytes, so a program built against an older jenga.h keeps working (newer fields take
 * their defaults), and a struct from a newer header than the library is refused as a usage error.
 * Optional numbers are pointers (NULL = the default); lists are a pointer and a count (0 = the
 * default). Nothing the structs point to is kept after a call returns.
 *
 * Calls on one model must not overlap; different models may run on different threads, but the
 * GPU is shared. Plain C (C99); every string is UTF-8.
 */
#ifndef JENGA_JENGA_H
#define JENGA_JENGA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits jenga_generate refuses past (as given, never clamped): width and height, frames (4k+1). */
#define JENGA_MAX_SIDE 8192
#define JENGA_MAX_FRAMES 1001

typedef struct jenga_model jenga_model;
typedef struct jenga_processes jenga_processes;

typedef enum {
  JENGA_OK = 0,
  JENGA_ERROR_USAGE = 1,      /* a bad parameter (size, frames, preset, output path, ...) */
  JENGA_ERROR_RUNTIME = 2,    /* everything else: missing or corrupt weights, out of memory, NaNs */
  JENGA_ERROR_CANCELLED = 3,  /* the cancel callback asked to stop (or the host's Ctrl-C handler
                                 in the jenga CLI); no output was written */
} jenga_status;

typedef enum { JENGA_LOG_INFO = 0, JENGA_LOG_ERROR = 1 } jenga_log_level;

/* A phase ("load", "text", "denoise", "decode") began (done 0) or finished `done` of `total`
 * steps. A phase is over when done reaches total, or early (an error, a NaN stop) when another
 * phase begins, a note comes or the call returns. */
typedef void (*jenga_progress_fn)(const char* phase, int done, int total, void* user_data);
/* A one-line note ("loaded ...", "wrote ...") or the error a call fails with. */
typedef void (*jenga_log_fn)(jenga_log_level level, const char* text, void* user_data);
/* Polled at every progress event and note: nonzero stops the call (JENGA_ERROR_CANCELLED). */
typedef int (*jenga_cancel_fn)(void* user_data);

typedef struct {
  size_t struct_size;          /* set by jenga_open_params_init */
  /* Single components over (or instead of) the path given to jenga_open; NULL = from it. */
  const char* diffusion_model; /* --diffusion-model: DiT weights file (ComfyUI style) */
  const char* vae;             /* --vae */
  const char* t5xxl;           /* --t5xxl: umT5 text encoder (Wan2.1) */
  const char* tokenizer;       /* --tokenizer: umT5 spiece.model; HunyuanVideo: the LLM's tokenizer */
  const char* text_encoder;    /* --text-encoder: HunyuanVideo's LLM (llava-llama-3-8b) */
  const char* text_encoder_2;  /* --text-encoder-2: HunyuanVideo's CLIP-L */
  const char* tokenizer_2;     /* --tokenizer-2: CLIP's tokenizer folder */
  int accvideo;                /* --accvideo: the HunyuanVideo DiT is AccVideo's 5-step one */
  const char* device;          /* --device: "auto" (default), "cpu" or "cuda" */
  int offload;                 /* --offload: CUDA streams the DiT's blocks from pinned host memory */
  /* The run's size, checked against free memory from the DiT's header before any weight is
   * read; 0 = the model's default size (as jenga_generate_params). */
  int width, height, frames;
  /* Several processes: the group from jenga_processes_join (GPU = local rank); NULL = alone. */
  jenga_processes* processes;
  jenga_progress_fn progress;  /* weight loading ("load"); NULL = none */
  jenga_log_fn log;            /* notes while opening; NULL = silent */
  jenga_cancel_fn cancel;      /* NULL = never */
  void* user_data;
} jenga_open_params;

/* One video of a batch: its prompt and where it goes. */
typedef struct {
  const char* prompt;
  const char* output;
  const char* latents_out; /* NULL = no latents dump */
} jenga_job;

typedef struct {
  size_t struct_size;               /* set by jenga_generate_params_init */
  const char* prompt;               /* -p */
  const char* negative_prompt;      /* -n; NULL or "": the model's default */
  const char* image;                /* --image: image-to-video from this first frame; NULL = text-to-video */
  const char* image_resolution;     /* --i2v-resolution: "720p" (NULL: the model's default), "540p", "360p" */
  int image_stability;              /* --i2v-stability: the official stability mode (shift 7, 0.999 blend) */
  /* 0 (default) = a Jenga preset's script's, else the model's official default: Wan2.1 1.3B
   * 832x480x81, 14B 1280x720x81, HunyuanVideo 1280x720x129, AccVideo 960x544x93; with an image,
   * the size is the model's bucket for it. */
  int width, height, frames;
  int steps;                        /* default 50; 0 = the preset's, else the model's (AccVideo 5) */
  uint64_t seed;                    /* default 42 */
  const double* cfg_scale;          /* --cfg-scale in [0, 100]; NULL = the model's / preset's */
  const double* shift;              /* --shift in [0.01, 100]; NULL = the model's / preset's */
  const double* embedded_cfg_scale; /* --embedded-cfg-scale in [0, 100] (HunyuanVideo); NULL = the preset's, else 6.0 */
  const char* preset;               /* "dense" (default), "base", "turbo", "flash", "3stage" */
  const char* solver;               /* NULL: the model's (Wan "unipc", HunyuanVideo "euler"); "dpm++" */
  const char* attention;            /* NULL: what the preset implies; "dense", "jenga", "svg" */
  /* The official Jenga flags over the preset (NULL / 0 = the preset's). */
  const double* sa_drop_rates;        size_t n_sa_drop_rates;        /* --sa-drop-rates */
  const double* res_rate_list;        size_t n_res_rate_list;        /* --res-rate-list */
  const double* step_rate_list;       size_t n_step_rate_list;       /* --step-rate-list */
  const double* scheduler_shift_list; size_t n_scheduler_shift_list; /* --scheduler-shift-list */
  const double* p_remain_rates;       /* --p-remain-rates */
  const double* teacache_thresh;      /* --teacache-thresh */
  const double* scale_txt_amp;        /* --scale-txt-amp */
  /* Sparse VideoGen (attention "svg"); NULL = the official defaults. */
  const double* svg_sparsity;         /* --svg-sparsity */
  const double* first_times_fp;       /* --first-times-fp */
  const double* first_layers_fp;      /* --first-layers-fp */
  const int64_t* num_sampled_rows;    /* --num-sampled-rows */
  const int64_t* sample_mse_max_row;  /* --sample-mse-max-row */
  int text_encoder_on_cpu;          /* --t5-cpu: keep the text encoder on the CPU with CUDA */
  const char* output;               /* -o: the video file (.mp4, .webp, .y4m, .png or a folder) */
  const char* latents_out;          /* --latents-out (debug): also the final latents; NULL = no */
  /* --prompts: several videos on the loaded weights; every one takes the settings above (seed
   * included). n_jobs 0 = one video of prompt / output / latents_out. */
  const jenga_job* jobs;
  size_t n_jobs;
  /* With a group of processes: "sequence" (default; every rank runs each video's DiT, rank 0
   * writes) or "prompts" (job i on rank i % size). */
  const char* parallel;
} jenga_generate_params;

/* Fill the structs with the defaults above (everything else NULL / 0) and set struct_size. */
void jenga_open_params_init(jenga_open_params* params);
void jenga_generate_params_init(jenga_generate_params* params);

/* The checks jenga_open makes first, from the file headers alone (no weights read): fails when
 * path or params->diffusion_model is "" or missing, or holds a model this build cannot generate
 * with (a HunyuanVideo-I2V latent_concat DiT). Whether the weights load is jenga_open's to say. */
jenga_status jenga_check_model(const char* path, const jenga_open_params* params);

/* path: a published model folder or a .safetensors file (as `jenga generate --model`); NULL
 * (and no components in params): the built-in tiny random model (a smoke test); "" is refused
 * (an unset variable, not a request for that model). params may be
 * NULL (defaults). Returns NULL on failure; jenga_last_error() / jenga_last_status() say why. */
jenga_model* jenga_open(const char* path, const jenga_open_params* params);

/* The cheap checks of jenga_generate (sizes, frames, steps, flags, output formats and folders),
 * without a model: a usage error before anything heavy (or MPI) starts. */
jenga_status jenga_check_generate(const jenga_generate_params* params);

/* Writes each output and its JSON sidecar (output + ".json"). Callbacks may be NULL. */
jenga_status jenga_generate(jenga_model* model, const jenga_generate_params* params, jenga_progress_fn progress,
                            jenga_log_fn log, jenga_cancel_fn cancel, void* user_data);

/* The message and status of the last failing call on this thread ("" and JENGA_OK after a
 * success). */
const char* jenga_last_error(void);
jenga_status jenga_last_status(void);

void jenga_free(jenga_model* model);

/* Several processes (`mpirun -np N`, one per GPU): every rank joins, opens the same model with
 * the group and generates with the same parameters. Launched by mpirun: MPI starts here (once
 * per process); else a group of one (rank 0 of 1) and nothing starts. Returns NULL on failure
 * (several processes but a build without MPI). */
jenga_processes* jenga_processes_join(void);
int jenga_processes_rank(const jenga_processes* group);
int jenga_processes_size(const jenga_processes* group);
/* After an error on one rank, whose peers may wait in a collective: ends every process of the
 * run with this exit status. Does not return. */
void jenga_processes_abort(jenga_processes* group, int exit_code);
/* Leaves the group (MPI ends here); after the models opened with it are freed. */
void jenga_processes_free(jenga_processes* group);

const char* jenga_version(void);

#ifdef __cplusplus
}
#endif

#endif /* JENGA_JENGA_H */
