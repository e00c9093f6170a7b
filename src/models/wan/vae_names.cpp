#include "models/wan/vae_names.h"

#include <algorithm>
#include <regex>

#include "core/error.h"

namespace jenga::wan {

bool is_diffusers_vae(const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), "decoder.conv_in.weight") != names.end() &&
         std::find(names.begin(), names.end(), "post_quant_conv.weight") != names.end();
}

namespace {

// Inside a residual block: norm1 / conv1 / norm2 / conv2 / conv_shortcut -> the official
// Sequential indices residual.{0,2,3,6} and shortcut.
std::string resnet_part(const std::string& rest) {
  static const std::pair<const char*, const char*> kMap[] = {{"norm1.", "residual.0."},
                                                             {"conv1.", "residual.2."},
                                                             {"norm2.", "residual.3."},
                                                             {"conv2.", "residual.6."},
                                                             {"conv_shortcut.", "shortcut."}};
  for (const auto& [d, o] : kMap)
    if (rest.rfind(d, 0) == 0) return o + rest.substr(std::char_traits<char>::length(d));
  return rest;
}

}  // namespace

std::map<std::string, std::string> diffusers_vae_to_official(const std::vector<std::string>& names) {
  static const std::regex kUp(R"(^decoder\.up_blocks\.(\d+)\.(resnets|upsamplers)\.(\d+)\.(.*)$)");
  static const std::regex kMid(R"(^(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.*)$)");
  static const std::regex kDown(R"(^encoder\.down_blocks\.(\d+)\.(.*)$)");
  // The official decoder.upsamples list is flat: each stage's res blocks, then its resample.
  std::map<int, int> stage_resnets, stage_upsamplers;
  std::smatch m;
  for (const auto& n : names)
    if (std::regex_match(n, m, kUp)) {
      auto& count = m[2] == "resnets" ? stage_resnets[std::stoi(m[1])] : stage_upsamplers[std::stoi(m[1])];
      count = std::max(count, std::stoi(m[3]) + 1);
    }
  std::map<int, int> offset;
  int acc = 0;
  for (const auto& [s, nres] : stage_resnets) {
    offset[s] = acc;
    acc += nres + stage_upsamplers[s];
  }
  std::map<std::string, std::string> out;
  for (const auto& n : names) {
    std::string o;
    if (std::regex_match(n, m, kUp)) {
      const int s = std::stoi(m[1]), j = std::stoi(m[3]);
      o = m[2] == "resnets" ? "decoder.upsamples." + std::to_string(offset[s] + j) + "." + resnet_part(m[4])
                            : "decoder.upsamples." + std::to_string(offset[s] + stage_resnets[s] + j) + "." + m[4].str();
    } else if (std::regex_match(n, m, kMid)) {
      // mid_block runs resnets[0], attentions[0], resnets[1], ...: official middle.{0,1,2,...}
      const int j = std::stoi(m[3]);
      o = m[1].str() + ".middle." + std::to_string(m[2] == "resnets" ? 2 * j : 2 * j + 1) + "." +
          (m[2] == "resnets" ? resnet_part(m[4]) : m[4].str());
    } else if (std::regex_match(n, m, kDown)) {
      o = "encoder.downsamples." + m[1].str() + "." + resnet_part(m[2]);
    } else {
      static const std::pair<const char*, const char*> kTop[] = {
          {"quant_conv.", "conv1."},        {"post_quant_conv.", "conv2."},        {"encoder.conv_in.", "encoder.conv1."},
          {"decoder.conv_in.", "decoder.conv1."}, {"encoder.norm_out.", "encoder.head.0."}, {"decoder.norm_out.", "decoder.head.0."},
          {"encoder.conv_out.", "encoder.head.2."}, {"decoder.conv_out.", "decoder.head.2."}};
      for (const auto& [d, off] : kTop)
        if (n.rfind(d, 0) == 0) o = off + n.substr(std::char_traits<char>::length(d));
      if (o.empty()) o = n;  // unknown: kept, so a missing official tensor is reported by name
    }
    out[o] = n;
  }
  return out;
}

}  // namespace jenga::wan
