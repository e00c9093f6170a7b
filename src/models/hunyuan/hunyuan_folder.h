#pragma once
// Where each HunyuanVideo component is in the folders users download, and which release a DiT
// is (T2V, AccVideo, I2V):
//   official ckpts/:  hunyuan-video-t2v-720p/transformers/mp_rank_00_model_states.pt,
//                     hunyuan-video-t2v-720p/vae/, text_encoder/ (LLM + tokenizer.json),
//                     text_encoder_2/ (CLIP-L + vocab.json/merges.txt); the 720p folder itself
//                     may be given (the encoders are then beside it); AccVideo's
//                     accvideo-t2v-5-steps/diffusion_pytorch_model.pt under ckpts/ or ckpts/AccVideo/
//   diffusers:        transformer/ vae/ text_encoder/ text_encoder_2/ tokenizer/ tokenizer_2/
//   ComfyUI files:    --diffusion-model --vae --text-encoder --text-encoder-2 (+ --tokenizer,
//                     --tokenizer-2: the files carry no tokenizer)
// A component given on its own flag wins over the folder's.
#include <memory>
#include <string>
#include <vector>

namespace jenga {
class TempPath;
}

namespace jenga::hunyuan {

enum class Release { T2V, AccVideo, I2V };
std::string_view release_name(Release r);  // "T2V", "AccVideo", "I2V"

struct HunyuanComponents {
  std::string dit, vae, text_encoder, text_encoder_2, tokenizer, tokenizer_2;
};

struct HunyuanPaths : HunyuanComponents {
  Release release = Release::T2V;
  std::string layout;  // "official ckpts", "diffusers", "single files"
  std::shared_ptr<TempPath> builtin_dir;  // a temporary tiny model (removed with the model)
};

// The DiT a folder holds in any of the layouts above (T2V first, then AccVideo, then I2V), or
// "" when none is there.
std::string find_hunyuan_dit(const std::string& model_dir);

// True when the folder is laid out as HunyuanVideo's own releases (hunyuan-video-t2v-720p/ or
// -i2v-720p/, a transformers/ folder, accvideo-t2v-5-steps/), whatever state its DiT is in: a
// missing or damaged DiT there is HunyuanVideo's to report. A diffusers transformer/ folder does
// not count (Wan's diffusers folders have one too).
bool is_hunyuan_release_folder(const std::string& model_dir);

// Every component from the folder (may be empty) and the flags. `accvideo`: the user said the
// DiT is AccVideo (--accvideo); without it a DiT path naming accvideo says so. A missing
// component fails in one line naming it, where it was looked for and the flag that gives it.
HunyuanPaths resolve_hunyuan(const std::string& model_dir, const HunyuanComponents& flags, bool accvideo,
                             bool i2v_dit);

// The release a DiT path suggests (accvideo, i2v / image_to_video in a name), T2V otherwise. Only
// the names that belong to the download count: the file's own name, and for the releases' generic
// file names (mp_rank_00_model_states.pt, diffusion_pytorch_model*) or a folder the release folders
// right above it; a folder further up that happens to say i2v does not.
Release release_from_path(const std::string& dit_path);

}  // namespace jenga::hunyuan
