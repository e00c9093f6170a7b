#pragma once
// A whole tiny random HunyuanVideo model in the official ckpts/ layout, every component a real
// loader reads (`jenga debug make-tiny --family hunyuan`, CI smoke tests of every preset):
//   DIR/hunyuan-video-t2v-720p/transformers/   DiT (config.json + safetensors; the release ships
//                                              mp_rank_00_model_states.pt, read the same way)
//   DIR/hunyuan-video-t2v-720p/vae/            VAE (config.json + safetensors), 16 latent channels
//   DIR/text_encoder/                          Llama decoder + tokenizer.json (byte-level BPE)
//   DIR/text_encoder_2/                        CLIP text tower + vocab.json / merges.txt
// The tokenizers are tiny byte-level vocabularies; the LLM's holds the T2V template's words so
// the template is exactly crop_start (95) tokens long, as with the real Llama-3 tokenizer, and
// the prompt's states land where the official crop expects them.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_encoder_shapes.h"
#include "models/hunyuan/hunyuan_vae_config.h"

namespace jenga::hunyuan {

struct TinyFolderInfo {
  int64_t template_tokens = 0;  // the T2V template's tokens (BOS included) with the tiny tokenizer
  double dit_parameters = 0;
  double bytes = 0;  // weights written, all components
};

// What a random T2V folder holds: each component's shapes and dtype. published() = the release
// (`make-tiny --family hunyuan --size 13b`, ~42 GB): the 13B DiT in bf16, the VAE in f32 (its
// pytorch_model.pt is f32), llava-llama-3-8b's language model in fp16 as 4 shards + index (LM head
// included), CLIP-L's text tower in fp16. tiny() = make-tiny's default (seconds on a CPU).
struct HunyuanFolderSpec {
  HunyuanConfig dit;
  HunyuanVaeConfig vae;
  LlmShape llm;          // vocab 0: the tokenizer's size
  ClipTextShape clip;    // vocab 0: the tokenizer's size
  DType dit_dtype = DType::BF16, vae_dtype = DType::F32, llm_dtype = DType::F16, clip_dtype = DType::F16;
  int llm_shards = 4;    // 1: one model.safetensors
  // "": tiny byte-level tokenizers (the T2V template still 95 tokens); else a folder with
  // llama3/tokenizer.json and clip-l/vocab.json + merges.txt (scripts/fetch_test_tokenizers.sh):
  // the real Llama-3 and CLIP vocabularies, copied in.
  std::string tokenizers;
  static HunyuanFolderSpec published();
  static HunyuanFolderSpec tiny(DType dtype);
};

// Every weight file the folder gets (its path under the folder, dtype, tensors in file order;
// the LLM's shards as one entry "text_encoder/" since the split follows the bytes). `llm_vocab`
// and `clip_vocab` stand in for a spec's vocab 0.
struct FolderWeights {
  std::string path;
  DType dtype;
  TensorShapes tensors;
  nlohmann::json config;  // its config.json
};
std::vector<FolderWeights> hunyuan_folder_weights(const HunyuanFolderSpec& spec, int64_t llm_vocab, int64_t clip_vocab);

// Writes the folder (official ckpts layout, as below): streamed file by file, see random_checkpoint.h.
TinyFolderInfo write_random_hunyuan_folder(const std::string& dir, const HunyuanFolderSpec& spec, uint64_t seed);

TinyFolderInfo write_tiny_hunyuan_folder(const std::string& dir, uint64_t seed, DType dtype);

// The HunyuanVideo-I2V layout (`make-tiny --family hunyuan-i2v`):
//   DIR/hunyuan-video-i2v-720p/transformers/   token_replace DiT (T2V's shapes, 16 input channels)
//   DIR/hunyuan-video-i2v-720p/vae/            VAE (encoder and decoder)
//   DIR/text_encoder_i2v/                      LLaVA: Llama + CLIP vision tower (28 px, patch 14)
//                                              + projector, tokenizer.json with <image>,
//                                              preprocessor_config.json
//   DIR/text_encoder_2/                        CLIP text tower + vocab.json / merges.txt
// The LLaVA tokenizer makes the I2V template exactly 103 tokens with <image> at 5 and "\n\n"
// at Llama-3's id 271, so the official crop constants hold.
TinyFolderInfo write_tiny_hunyuan_i2v_folder(const std::string& dir, uint64_t seed, DType dtype);

// LLaVA's image side alone, random (the init above): DIR/model.safetensors (vision_tower.vision_model.*,
// multi_modal_projector.*) + config.json (vision_config, projector) + preprocessor_config.json
// (CLIPImageProcessor at the tower's image size, as a published folder has). The defaults are
// HunyuanVideo-I2V's: CLIP ViT-L/14-336 (24 layers, width 1024, 16 heads, ffn 4096, 577 positions)
// into the 4096-wide LLM. For the full-size vision benches and GPU tests; make-tiny uses the same
// tensor list at its own shape.
struct LlavaVisionShape {
  int64_t hidden = 1024, ffn = 4096, layers = 24, heads = 16, patch = 14, image = 336, proj_out = 4096;
};
void write_random_llava_vision(const std::string& dir, const LlavaVisionShape& shape, uint64_t seed, DType dtype);

}  // namespace jenga::hunyuan
