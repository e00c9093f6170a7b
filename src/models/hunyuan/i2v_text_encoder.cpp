#include "models/hunyuan/i2v_text_encoder.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace jenga::hunyuan {

LlavaSpecialTokens LlavaSpecialTokens::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path cfg = fs::is_directory(path, ec) ? fs::path(path) / "config.json" : fs::path(path).parent_path() / "config.json";
  LlavaSpecialTokens t;
  const auto found = read_json_if_present(cfg.string());
  if (!found) return t;
  const nlohmann::json& j = *found;
  const auto get = [&](const char* key, int64_t dflt) {
    return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : dflt;
  };
  t.config = cfg.string();
  t.image = get("image_token_index", t.image);
  t.pad = get("pad_token_id", -1);  // transformers: -1 (no pad id) when the config has none
  return t;
}

LlavaMergedInput llava_merge_input(const LlamaTextEncoder& llm, std::span<const int64_t> ids,
                                   std::span<const int64_t> mask, const Tensor& image_rows, const LlavaSpecialTokens& sp) {
  const int64_t L = static_cast<int64_t>(ids.size()), D = llm.config().hidden;
  if (mask.size() != ids.size()) fail("I2V text encoder: ids has {} tokens but mask has {}", ids.size(), mask.size());
  if (image_rows.dtype() != DType::F32 || image_rows.ndim() != 2 || image_rows.dim(1) != D || image_rows.dim(0) < 1)
    fail("I2V text encoder: image rows are {} {}, expected f32 [N, {}] (the LLaVA projector's output)",
         dtype_name(image_rows.dtype()), image_rows.shape().str(), D);
  // transformers embeds every id, <image> included, before the merge: it must be a row of the table.
  if (sp.image < 0 || sp.image >= llm.config().vocab)
    fail("{}: image_token_index {} is outside the LLM's {} embedding rows (embed_tokens.weight)",
         sp.config.empty() ? std::string("the LLaVA config") : sp.config, sp.image, llm.config().vocab);
  const int64_t n_img = std::count(ids.begin(), ids.end(), sp.image);
  if (n_img != 1)
    fail("I2V text encoder: the ids hold {} image tokens (id {}), expected exactly one (the template's <image>)", n_img,
         sp.image);
  const int64_t N = image_rows.dim(0), M = L + N - 1;
  // Text embeddings of every id but <image> (its own row is never read).
  std::vector<int64_t> text_ids(ids.begin(), ids.end());
  const int64_t at = std::find(ids.begin(), ids.end(), sp.image) - ids.begin();
  text_ids[at] = 0;
  const Tensor text = llm.embed(text_ids);
  LlavaMergedInput m;
  m.embeds = Tensor::empty(DType::F32, {M, D});
  m.mask.assign(static_cast<size_t>(M), 1);
  float* e = m.embeds.data_as<float>();
  const float* t = text.data_as<float>();
  for (int64_t i = 0, row = 0; i < L; ++i) {
    if (i == at) {
      std::memcpy(e + row * D, image_rows.data_as<float>(), static_cast<size_t>(N * D) * sizeof(float));
      row += N;
      continue;
    }
    // transformers zeroes the embedding of every pad id (whatever its mask says).
    if (ids[i] == sp.pad)
      std::fill(e + row * D, e + (row + 1) * D, 0.0f);
    else
      std::memcpy(e + row * D, t + i * D, static_cast<size_t>(D) * sizeof(float));
    m.mask[row] = mask[i];
    ++row;
  }
  m.positions.resize(static_cast<size_t>(M));
  int64_t c = 0;
  for (int64_t r = 0; r < M; ++r) {
    c += m.mask[r] != 0;
    m.positions[r] = m.mask[r] != 0 ? c - 1 : 1;
  }
  return m;
}

I2vTextStates i2v_crop_states(const Tensor& hidden, std::span<const int64_t> ids, std::span<const int64_t> mask,
                              int64_t N, const I2vTextCrop& crop) {
  const int64_t L = static_cast<int64_t>(ids.size());
  if (hidden.dtype() != DType::F32 || hidden.ndim() != 2 || hidden.dim(0) != L + N - 1)
    fail("I2V text crop: hidden states {} do not hold {} ids + {} image rows", hidden.shape().str(), L, N);
  if (crop.interleave < 1) fail("I2V text crop: image interleave {} must be at least 1", crop.interleave);
  if (crop.image_emb_start < 0 || crop.image_emb_start + N > L + N - 1)
    fail("I2V text crop: image rows {}..{} are outside the {} hidden rows", crop.image_emb_start,
         crop.image_emb_start + N, L + N - 1);
  // d = the last "\n\n"; only 3 (the prompt was truncated before the assistant header) -> d = L.
  std::vector<int64_t> dr;
  for (int64_t i = 0; i < L; ++i)
    if (ids[i] == crop.double_return_id) dr.push_back(i);
  if (dr.empty())
    fail("I2V text crop: the ids hold no \"\\n\\n\" token (id {}); were they made with the I2V template?",
         crop.double_return_id);
  const int64_t d = dr.size() == 3 ? L : dr.back();
  // The official crop is Python slices: [crop_start, d - 4) is empty when d - 4 <= crop_start (only
  // the ids from d on remain, none when d = L). A crop_start at or past L is no template at all.
  if (crop.crop_start < 1 || crop.crop_start >= L)
    fail("I2V text crop: the template's {} tokens leave no prompt in {} ids; were the ids made with the I2V template "
         "(else give --crop-start)?", crop.crop_start, L);
  if (d < 4) fail("I2V text crop: the last \"\\n\\n\" at {} has no 4-id assistant header before it", d);
  const int64_t D = hidden.dim(1);
  // hidden rows [crop_start - 1 + N, d - 5 + N) ++ [d - 1 + N, L + N - 1); mask [crop_start, d - 4) ++ [d, L).
  std::vector<int64_t> rows, mrows;
  for (int64_t r = crop.image_emb_start; r < crop.image_emb_start + N; r += crop.image_step()) rows.push_back(r);
  const int64_t n_img = static_cast<int64_t>(rows.size());
  for (int64_t r = crop.crop_start - 1 + N; r < d - 5 + N; ++r) rows.push_back(r);
  for (int64_t r = d - 1 + N; r < L + N - 1; ++r) rows.push_back(r);
  for (int64_t i = crop.crop_start; i < d - 4; ++i) mrows.push_back(i);
  for (int64_t i = d; i < L; ++i) mrows.push_back(i);
  JENGA_ASSERT(static_cast<int64_t>(mrows.size()) + n_img == static_cast<int64_t>(rows.size()));
  I2vTextStates s;
  s.states = Tensor::empty(DType::F32, {static_cast<int64_t>(rows.size()), D});
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(s.states.data_as<float>() + static_cast<int64_t>(i) * D, hidden.data_as<float>() + rows[i] * D,
                static_cast<size_t>(D) * sizeof(float));
  s.mask.assign(static_cast<size_t>(n_img), 1);
  for (const int64_t i : mrows) s.mask.push_back(mask[i]);
  return s;
}

I2vTextStates i2v_encode_text(const LlamaTextEncoder& llm, std::span<const int64_t> ids, std::span<const int64_t> mask,
                              const Tensor& image_rows, const LlavaSpecialTokens& sp, const I2vTextCrop& crop,
                              int64_t skip, Tensor* hidden_out) {
  LlavaMergedInput m = llava_merge_input(llm, ids, mask, image_rows, sp);
  const Tensor hidden = llm.encode_embeddings(m.embeds, m.positions, m.mask, skip);
  if (hidden_out) *hidden_out = hidden;
  return i2v_crop_states(hidden, ids, mask, image_rows.dim(0), crop);
}

}  // namespace jenga::hunyuan
