/* The C API end to end on the built-in tiny model, compiled as C99 against include/jenga/jenga.h:
 * open, generate (progress, log), the same latents and video as `jenga generate`, a batch of
 * jobs, the checks without a model, struct_size (an older caller's struct, an uninitialised one),
 * a usage error, cancellation (no output written), a group of one process, bad handles. Exit 0
 * when every check holds. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jenga/jenga.h"

static int failures = 0;
#define CHECK(c)                                                                  \
  do {                                                                            \
    if (!(c)) {                                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
      ++failures;                                                                 \
    }                                                                             \
  } while (0)

typedef struct {
  int progress_calls, last_done, last_total, denoise_done, denoise_total, notes, errors, polls, cancel_after;
  char phase[32], first_note[256];
} Seen;

static void on_progress(const char* phase, int done, int total, void* user) {
  Seen* s = (Seen*)user;
  ++s->progress_calls;
  s->last_done = done, s->last_total = total;
  snprintf(s->phase, sizeof s->phase, "%s", phase);
  if (strcmp(phase, "denoise") == 0) s->denoise_done = done, s->denoise_total = total;
}

static void on_log(jenga_log_level level, const char* text, void* user) {
  Seen* s = (Seen*)user;
  if (level == JENGA_LOG_ERROR) ++s->errors;
  else if (s->notes++ == 0) snprintf(s->first_note, sizeof s->first_note, "%s", text);
}

static int on_cancel(void* user) {
  Seen* s = (Seen*)user;
  ++s->polls;
  return s->cancel_after >= 0 && s->polls > s->cancel_after;
}

static long file_size(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int same_bytes(const char* a, const char* b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb, ca = 0, cb = 0;
  while (same && ca != EOF) {
    ca = fgetc(fa), cb = fgetc(fb);
    same = ca == cb;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

int main(void) {
  char dir[] = "/tmp/jenga-c-api-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char out_a[128], lat_a[128], out_b[128], lat_b[128], out_c[128], cmd[1024];
  snprintf(out_a, sizeof out_a, "%s/a.y4m", dir);
  snprintf(lat_a, sizeof lat_a, "%s/a.safetensors", dir);
  snprintf(out_b, sizeof out_b, "%s/b.y4m", dir);
  snprintf(lat_b, sizeof lat_b, "%s/b.safetensors", dir);
  snprintf(out_c, sizeof out_c, "%s/c.y4m", dir);

  CHECK(strlen(jenga_version()) > 0);
  /* A missing model: NULL and a message. */
  CHECK(jenga_open("/nonexistent/jenga-model", NULL) == NULL);
  CHECK(strstr(jenga_last_error(), "no such file") != NULL);
  CHECK(jenga_check_model("/nonexistent/jenga-model", NULL) == JENGA_ERROR_USAGE);
  /* "" is an unset variable, not the built-in model (NULL). */
  CHECK(jenga_open("", NULL) == NULL);
  CHECK(strstr(jenga_last_error(), "empty path") != NULL);
  CHECK(jenga_check_model("", NULL) == JENGA_ERROR_USAGE);

  Seen seen;
  memset(&seen, 0, sizeof seen);
  seen.cancel_after = -1;
  jenga_open_params op;
  jenga_open_params_init(&op);
  op.device = "cpu";
  op.log = on_log;
  op.user_data = &seen;
  jenga_model* m = jenga_open(NULL, &op);
  CHECK(m != NULL);
  if (!m) {
    fprintf(stderr, "jenga_open: %s\n", jenga_last_error());
    return 1;
  }
  CHECK(strstr(seen.first_note, "built-in tiny") != NULL);

  jenga_generate_params gp;
  jenga_generate_params_init(&gp);
  CHECK(gp.width == 0 && gp.height == 0 && gp.frames == 0 && gp.steps == 50 && gp.seed == 42);  /* 0: the model's default */
  gp.prompt = "a cat";
  gp.width = 64, gp.height = 64, gp.frames = 5, gp.steps = 3;
  gp.output = out_a;
  gp.latents_out = lat_a;
  memset(&seen, 0, sizeof seen);
  seen.cancel_after = -1;
  jenga_status st = jenga_generate(m, &gp, on_progress, on_log, on_cancel, &seen);
  if (st != JENGA_OK) fprintf(stderr, "jenga_generate: %s\n", jenga_last_error());
  CHECK(st == JENGA_OK);
  CHECK(strcmp(jenga_last_error(), "") == 0);
  CHECK(seen.denoise_done == 3 && seen.denoise_total == 3);
  /* The VAE decode reports last, per latent frame: 5 frames -> 2 latent frames. */
  CHECK(strcmp(seen.phase, "decode") == 0);
  CHECK(seen.last_done == 2 && seen.last_total == 2);
  CHECK(seen.progress_calls >= 4); /* begin + 3 steps */
  CHECK(seen.polls > seen.progress_calls); /* cancel polled at every event */
  CHECK(seen.errors == 0);
  CHECK(file_size(out_a) > 0 && file_size(lat_a) > 0);

  /* The CLI on the same settings writes the same latents and video. */
  snprintf(cmd, sizeof cmd,
           "%s generate -q -p 'a cat' --size 64x64 -f 5 --steps 3 --device cpu -o %s --latents-out %s",
           JENGA_BIN, out_b, lat_b);
  CHECK(system(cmd) == 0);
  CHECK(same_bytes(lat_a, lat_b));
  CHECK(same_bytes(out_a, out_b));

  /* A bad parameter: a usage error naming the flag, logged once, nothing written. */
  gp.frames = 4;
  gp.output = out_c;
  gp.latents_out = NULL;
  memset(&seen, 0, sizeof seen);
  seen.cancel_after = -1;
  CHECK(jenga_generate(m, &gp, NULL, on_log, NULL, &seen) == JENGA_ERROR_USAGE);
  CHECK(strstr(jenga_last_error(), "--frames 4") != NULL);
  CHECK(seen.errors == 1);
  /* A list's count without the list: the caller's bug named (it was taken as "the preset's"). */
  gp.frames = 5;
  gp.n_sa_drop_rates = 2;
  CHECK(jenga_generate(m, &gp, NULL, NULL, NULL, NULL) == JENGA_ERROR_USAGE);
  CHECK(strstr(jenga_last_error(), "n_sa_drop_rates is 2 but sa_drop_rates is NULL") != NULL);
  gp.n_sa_drop_rates = 0;

  /* Cancelled after the first denoise event: no output. */
  gp.frames = 5;
  memset(&seen, 0, sizeof seen);
  seen.cancel_after = 2;
  CHECK(jenga_generate(m, &gp, on_progress, on_log, on_cancel, &seen) == JENGA_ERROR_CANCELLED);
  CHECK(strstr(jenga_last_error(), "cancelled") != NULL);
  CHECK(file_size(out_c) < 0);

  /* The checks without a model: the same usage error, and a good request passes. */
  gp.frames = 4;
  CHECK(jenga_check_generate(&gp) == JENGA_ERROR_USAGE);
  CHECK(jenga_last_status() == JENGA_ERROR_USAGE);
  CHECK(strstr(jenga_last_error(), "--frames 4") != NULL);
  gp.frames = 5;
  CHECK(jenga_check_generate(&gp) == JENGA_OK);
  CHECK(jenga_last_status() == JENGA_OK && strcmp(jenga_last_error(), "") == 0);

  /* struct_size: an uninitialised struct is refused; a caller built against an older, shorter
   * struct gets the defaults for what it lacks (here everything past `prompt`: no output). */
  {
    jenga_generate_params bad = gp;
    bad.struct_size = 0;
    CHECK(jenga_check_generate(&bad) == JENGA_ERROR_USAGE);
    CHECK(strstr(jenga_last_error(), "jenga_generate_params_init") != NULL);
    bad.struct_size = sizeof bad + 8;
    CHECK(jenga_check_generate(&bad) == JENGA_ERROR_USAGE);
    CHECK(strstr(jenga_last_error(), "newer") != NULL);
    jenga_generate_params old = gp;
    old.struct_size = offsetof(jenga_generate_params, negative_prompt);
    CHECK(jenga_check_generate(&old) == JENGA_ERROR_USAGE);
    CHECK(strstr(jenga_last_error(), "no output") != NULL);
  }

  /* A batch of two jobs on the loaded weights: the first equals the single run above. */
  {
    char out_j1[128], lat_j1[128], out_j2[128];
    snprintf(out_j1, sizeof out_j1, "%s/j1.y4m", dir);
    snprintf(lat_j1, sizeof lat_j1, "%s/j1.safetensors", dir);
    snprintf(out_j2, sizeof out_j2, "%s/j2.y4m", dir);
    jenga_job jobs[2];
    jobs[0].prompt = "a cat", jobs[0].output = out_j1, jobs[0].latents_out = lat_j1;
    jobs[1].prompt = "a dog", jobs[1].output = out_j2, jobs[1].latents_out = NULL;
    jenga_generate_params bp = gp;
    bp.jobs = jobs, bp.n_jobs = 2;
    memset(&seen, 0, sizeof seen);
    seen.cancel_after = -1;
    CHECK(jenga_generate(m, &bp, on_progress, on_log, on_cancel, &seen) == JENGA_OK);
    CHECK(same_bytes(lat_a, lat_j1));
    CHECK(same_bytes(out_a, out_j1));
    CHECK(file_size(out_j2) > 0 && !same_bytes(out_a, out_j2));
  }

  /* Not launched by mpirun: a group of one. */
  {
    jenga_processes* g = jenga_processes_join();
    CHECK(g != NULL);
    CHECK(jenga_processes_rank(g) == 0 && jenga_processes_size(g) == 1);
    jenga_processes_free(g);
  }

  /* Bad handles. */
  CHECK(jenga_generate(NULL, &gp, NULL, NULL, NULL, NULL) == JENGA_ERROR_USAGE);
  CHECK(jenga_generate(m, NULL, NULL, NULL, NULL, NULL) == JENGA_ERROR_USAGE);
  jenga_free(m);
  jenga_free(NULL);

  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("C API: all checks passed\n");
  return failures ? 1 : 0;
}
