#pragma once
// The HunyuanVideo halves of `jenga bench vae` and `jenga bench text-encoder` (bench_hunyuan.cpp),
// chosen there by `--model hunyuan`, and of `jenga bench dit` (bench_hunyuan_dit.cpp, `--config hunyuan`).
#include <cstdint>
#include <optional>
#include <string>

namespace jenga::cli {

struct BenchHunyuanVaeOptions {
  std::string weights;  // a HunyuanVideo VAE file or folder; "" = write random full-size weights
  std::string size;     // WIDTHxHEIGHT
  int frames = 0, iters = 0, warmup = 0;
  uint64_t seed = 0;
  bool json = false;
  bool encode = false;  // time the encoder on random frames instead of the decoder
  bool breakdown = false;  // GPU ms per kind of work (conv input, conv GEMM, norm, attention, io)
  // One untimed pass over a small clip first (latents 2x16x16, as the official peer's warm-up):
  // kernels loaded and GEMM plans made before the timed calls.
  bool warmup_small = false;
};

struct BenchHunyuanTextOptions {
  std::string llm, clip;  // text_encoder/ and text_encoder_2/ folders (or files); clip may be ""
  int tokens = 351;       // LLM prompt length (the video template's max_length)
  int valid = 0;          // real tokens before right padding (0 = all)
  int iters = 0, warmup = 0;
  bool json = false;
};

// `jenga bench text-encoder --model hunyuan-i2v`: HunyuanVideo-I2V's LLaVA vision tower + projector
// (one 336x336 image -> 576 rows) on the GPU.
struct BenchHunyuanVisionOptions {
  std::string llava;  // a LLaVA folder; one without weights gets random full-size ones (kept)
  int iters = 0, warmup = 0;
  uint64_t seed = 0;
  bool json = false;
  std::string precision = "fp16";  // or f32 (the exact reference)
};
void run_bench_hunyuan_vision(const BenchHunyuanVisionOptions& o);

// `jenga bench dit --config hunyuan` (bench_hunyuan_dit.cpp): one DiT forward with random bf16
// weights drawn on the GPU.
struct BenchHunyuanDitOptions {
  std::string size;  // WIDTHxHEIGHT
  int frames = 0, iters = 0, warmup = 0;
  int text_valid = 40;  // real text tokens of the 256 rows (the peer anchor's 40)
  uint64_t seed = 0;
  bool json = false, graph = false, breakdown = false;
  bool offload = false;  // the blocks' matrices stream from pinned host memory
  // "dense" or "svg": Sparse VideoGen in every block past the official warm-up layers, with the
  // official HunyuanVideo script's settings (svg_defaults) unless overridden.
  std::string attention = "dense";
  std::optional<double> svg_sparsity, first_layers_fp;
  std::optional<int64_t> num_sampled_rows, sample_mse_max_row;
};
void run_bench_hunyuan_dit(const BenchHunyuanDitOptions& o);

// These fail with a one-line error on a build without CUDA or a machine without a GPU.
void run_bench_hunyuan_vae(const BenchHunyuanVaeOptions& o);
void run_bench_hunyuan_text(const BenchHunyuanTextOptions& o);

}  // namespace jenga::cli
