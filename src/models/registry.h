#pragma once
// The one model registry: recognises which model a checkpoint holds from its tensor names and
// shapes (inspect, generate, debug), and opens a model it runs behind the interface
// (models/video_model.h), the built-in tiny model included. A new model is a folder under
// src/models/ plus its entries here (detect_model and open_model).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/detect.h"

namespace jenga {
class Checkpoint;
class Progress;
class VideoModel;

// detect_model(ckpt, path) (models/detect.h): the table of what each model's weights look like.

// What `path` (a file or folder, and a diffusers pipeline folder's transformer/) holds: every
// detection with the path it was found at, path first; what does not open as a checkpoint is
// skipped (no error).
struct FoundModel {
  std::string path;
  DetectedModel model;
};
std::vector<FoundModel> detect_models_at(const std::string& path);

// Fails in one line when `path` (given with `flag`) holds a model generate cannot run yet
// (a HunyuanVideo-I2V latent_concat DiT, 33 input channels), from the headers alone; anything else passes.
void reject_unrunnable_model(const std::string& flag, const std::string& path);

// --i2v-resolution's value (720p, 540p, 360p or a bucket base in pixels), before any model loads:
// the pipeline knows only the model interface, the registry knows the image-to-video model.
void check_image_resolution(const std::string& resolution);

// The files and device of a model to open: a published folder (model_dir) and/or single
// components; all empty = the built-in tiny random model. device: auto | cpu | cuda.
struct ModelSpec {
  std::string model_dir, dit, vae, t5, tokenizer;
  // HunyuanVideo: the LLM and CLIP-L encoders and CLIP's tokenizer (`tokenizer` is the LLM's);
  // accvideo: the DiT is AccVideo's 5-step one (a DiT path naming accvideo says so too).
  std::string text_encoder, text_encoder_2, tokenizer_2;
  bool accvideo = false;
  std::string device = "auto";
  // The run's size, checked against free memory from the DiT's header before any weight is read
  // (pipeline/memory_estimate.h); 0 = the model's default size.
  int width = 0, height = 0, frames = 0;
  // --offload; open_model turns it on when the run fits the GPU only with the DiT streamed.
  bool offload = false;
};

// Resolves the components (UsageError naming the flag when one is missing), picks the device,
// checks the run's memory (may turn spec.offload on, see ModelSpec) and loads the model's DiT; the
// text encoder and VAE load when the generate path asks.
std::unique_ptr<VideoModel> open_model(ModelSpec& spec, Progress& progress);

}  // namespace jenga
