#pragma once
// Key names of the two published Wan VAE layouts: official (Wan2.1_VAE.pth: encoder.downsamples.*,
// decoder.upsamples.*, conv1/conv2) and diffusers (vae/: AutoencoderKLWan, encoder.down_blocks.*,
// decoder.up_blocks.{s}.resnets/upsamplers.*, mid_block.*, quant_conv/post_quant_conv).
#include <map>
#include <string>
#include <vector>

namespace jenga::wan {

// True when the names are the diffusers AutoencoderKLWan layout.
bool is_diffusers_vae(const std::vector<std::string>& names);

// official name -> name in the file, for every tensor of a diffusers-layout VAE.
std::map<std::string, std::string> diffusers_vae_to_official(const std::vector<std::string>& names);

}  // namespace jenga::wan
