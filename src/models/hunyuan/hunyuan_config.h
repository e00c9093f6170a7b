#pragma once
// HunyuanVideo DiT hyper-parameters (HYVideoDiffusionTransformer), detected from the weights
// (or read from a config.json beside them), and the official tensor list for a config.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace jenga {
class Checkpoint;
}

namespace jenga::hunyuan {

// official: the names of the released mp_rank_00_model_states (double_blocks.N.img_attn_qkv ...);
// diffusers: HunyuanVideoTransformer3DModel (transformer_blocks.N.attn.to_q ...).
enum class Layout { Official, Diffusers };
std::string_view layout_name(Layout l);

struct HunyuanConfig {
  int64_t hidden = 3072;          // hidden_size
  int64_t heads = 24;             // heads_num
  int64_t mlp_dim = 12288;        // int(hidden * mlp_width_ratio), double and single blocks
  int64_t double_blocks = 20;     // mm_double_blocks_depth
  int64_t single_blocks = 40;     // mm_single_blocks_depth
  int64_t in_channels = 16;       // 16 latent channels (T2V); 33 = 2*16+1 for the I2V latent concat
  int64_t out_channels = 16;
  int64_t patch[3] = {1, 2, 2};   // t, h, w
  int64_t rope_dim[3] = {16, 56, 56};  // rope_dim_list; sums to the head dim
  int64_t text_dim = 4096;        // text_states_dim (LLM hidden states)
  int64_t text_dim_2 = 768;       // text_states_dim_2 (CLIP pooled vector)
  int64_t freq_dim = 256;         // timestep sinusoid size
  int64_t refiner_depth = 2;      // txt_in.individual_token_refiner blocks
  int64_t refiner_mlp_dim = 12288;
  bool guidance_embed = true;     // guidance_in (the cfg-distilled T2V release has it)
  bool qkv_bias = true;           // double blocks' img/txt qkv and proj biases

  int64_t head_dim() const { return hidden / heads; }
  // "T2V 13B" for the published T2V shapes, "I2V 13B" when in_channels says so, else "custom"
  // ("custom I2V" with the latent concat's input channels).
  std::string variant_name() const;
  bool is_i2v() const { return in_channels > out_channels; }
  int64_t parameter_count() const;

  static HunyuanConfig t2v_720p();  // HYVideo-T/2-cfgdistill as released
  // A few-block random test model (tests and `debug make-tiny --family hunyuan`).
  static HunyuanConfig tiny();

  nlohmann::json to_json() const;                        // HYVideoDiffusionTransformer's argument names
  static HunyuanConfig from_json(const nlohmann::json& j);  // official or diffusers config.json
  bool rope_known() const { return rope_dim[0] > 0; }
  // check_rope false: a config whose RoPE split is unknown ({0, 0, 0}) passes (detection only).
  void validate(bool check_rope = true) const;
};

// The official key names and shapes for a config (what HYVideoDiffusionTransformer.state_dict() holds).
std::vector<std::pair<std::string, std::vector<int64_t>>> official_tensors(const HunyuanConfig& c);

// Which layout the checkpoint uses, or nullopt if it is no HunyuanVideo DiT.
std::optional<Layout> detect_layout(const Checkpoint& ckpt);
// Dimensions from tensor shapes (heads from the q-norm weight, which is [head dim]); the RoPE split
// is the published [16, 56, 56] for head dim 128 and must come from config.json otherwise: without
// it detection fails when `require_rope`, else leaves rope_dim {0, 0, 0} (rope_known() false).
HunyuanConfig detect_config(const Checkpoint& ckpt, Layout layout, const nlohmann::json* config_json,
                            bool require_rope = true);

}  // namespace jenga::hunyuan
