#pragma once
// Where each component of a Wan2.1 model is, in every published layout: the ONE place that
// knows the file names (generate, inspect and the DiT loader all ask it).
//   official  Wan-AI/Wan2.1-T2V-1.3B: diffusion_pytorch_model.safetensors + config.json (14B:
//             diffusion_pytorch_model-0000N-of-0000M.safetensors + .index.json), Wan2.1_VAE.pth,
//             models_t5_umt5-xxl-enc-bf16.pth, google/umt5-xxl/spiece.model; a converted
//             .safetensors beside a .pth (same stem) is preferred
//   diffusers Wan-AI/Wan2.1-T2V-1.3B-Diffusers: model_index.json, transformer/, vae/,
//             text_encoder/, tokenizer/
//   comfyui   a ComfyUI models/ folder (diffusion_models/, vae/, text_encoders/), or a single
//             file from one of them; ComfyUI ships no tokenizer: --tokenizer names it
// Names that differ are found by their tensors (key detection). The DiT never takes another
// component's files: a folder's other .safetensors (a converted VAE, umT5) stay out of it.
#include <string>
#include <vector>

namespace jenga::wan {

struct WanComponent {
  std::string path;      // found: the file, shard index or folder to open; empty when missing
  std::string expected;  // where it was looked for (for "missing X, expected at Y")
  std::string note;      // e.g. "PyTorch .pth (convert it)", "2 candidates: a, b"
};

struct WanFolder {
  std::string root;    // absolute folder the model was found in
  std::string layout;  // official | diffusers | comfyui | file (a DiT file given alone)
  WanComponent dit, vae, t5, tokenizer;
  // "missing VAE, expected at X (...)" for each missing one, in pipeline order.
  std::vector<std::string> problems() const;
};

// Explicit component paths (--diffusion-model, --vae, --t5xxl, --tokenizer) win over the folder.
struct WanComponentOverrides {
  std::string dit, vae, t5, tokenizer;
};

// `model`: a model folder, a DiT file (its other components are looked for beside it), or empty
// (only the overrides). Looks at names and headers only; reads no weights. Never throws for a
// missing component: see problems().
WanFolder resolve_wan_folder(const std::string& model, const WanComponentOverrides& overrides = {});

// Throws Error "--model M: missing VAE, expected at ...; download it or pass --vae FILE" for the
// first missing component.
void require_complete(const WanFolder& f, const std::string& model_flag);

// What to open for the DiT of `path` (a folder: its DiT files only, by index, published name or
// key detection; a file or index: itself). Throws naming what was looked for.
std::string wan_dit_path(const std::string& path);

}  // namespace jenga::wan
