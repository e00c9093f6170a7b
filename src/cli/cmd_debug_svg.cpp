// `jenga debug svg-classify`: run Sparse VideoGen's head classification and layout on given q/k/v,
// without a model, and print per head the chosen pattern and both profiling errors as JSON.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "jenga/svg/svg_plan.h"

namespace jenga::cli {
namespace {

struct SvgOptions {
  std::string q, k, v, rows, out;
  int64_t frames = 0, frame_tokens = 0;
  int64_t num_sampled_rows = 64, sample_mse_max_row = 10000;
  double sparsity = 0.25;
  uint64_t seed = 0;
  int block = 128;
};

// [H, N, D] or [1, H, N, D] f32/bf16/f16 -> f32 [H, N, D].
void require_file(const std::string& flag, const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) usage_fail("{} {}: no such file; give a safetensors file", flag, path);
}

Tensor load_heads(const std::string& flag, const std::string& path, const std::string& name) {
  require_file(flag, path);
  auto f = SafetensorsFile::open(path);
  if (!f->find(name)) usage_fail("{} {}: no tensor named '{}' in the file", flag, path, name);
  Tensor t = f->load(name);
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16)
    usage_fail("{} {}: tensor '{}' is {}; use f32, bf16 or f16", flag, path, name, dtype_name(t.dtype()));
  if (t.ndim() == 4 && t.dim(0) == 1) t = t.reshape({t.dim(1), t.dim(2), t.dim(3)});
  if (t.ndim() != 3 || t.numel() == 0)
    usage_fail("{} {}: '{}' has shape {}; expected [heads, tokens, head_dim] (or batch 1 in front)", flag, path, name,
               t.shape().str());
  return t.dtype() == DType::F32 ? t : t.to(DType::F32);
}

std::vector<int32_t> load_rows(const std::string& path) {
  require_file("--sampled-rows", path);
  auto f = SafetensorsFile::open(path);
  const std::string name = f->find("sampled_rows") ? "sampled_rows" : "rows";
  if (!f->find(name)) usage_fail("--sampled-rows {}: no tensor named 'sampled_rows' or 'rows' in the file", path);
  const Tensor t = f->load(name);
  if (t.ndim() != 1 || t.numel() == 0)
    usage_fail("--sampled-rows {}: '{}' has shape {}; expected a non-empty 1-D list of row indices", path, name,
               t.shape().str());
  std::vector<int32_t> rows(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::I32) {
    std::copy_n(t.data_as<int32_t>(), rows.size(), rows.begin());
  } else if (t.dtype() == DType::I64) {
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int32_t>(t.data_as<int64_t>()[i]);
  } else {
    usage_fail("--sampled-rows {}: '{}' is {}; use i32 or i64", path, name, dtype_name(t.dtype()));
  }
  return rows;
}

void run_svg_classify(const SvgOptions& o) {
  if (o.frames < 1) usage_fail("--frames {}: must be at least 1", o.frames);
  if (o.frame_tokens < 1) usage_fail("--frame-tokens {}: must be at least 1", o.frame_tokens);
  if (!(o.sparsity > 0.0 && o.sparsity <= 1.0)) usage_fail("--sparsity {}: must be in (0, 1]", o.sparsity);
  if (o.num_sampled_rows < 1) usage_fail("--num-sampled-rows {}: must be at least 1", o.num_sampled_rows);
  if (o.sample_mse_max_row < 1) usage_fail("--sample-mse-max-row {}: must be at least 1", o.sample_mse_max_row);
  if (o.block < 1) usage_fail("--block {}: must be at least 1", o.block);
  const Tensor q = load_heads("--q", o.q, "q"), k = load_heads("--k", o.k, "k"), v = load_heads("--v", o.v, "v");
  if (!(q.shape() == k.shape()) || !(q.shape() == v.shape()))
    usage_fail("q {}, k {} and v {} must have the same shape [heads, tokens, head_dim]", q.shape().str(),
               k.shape().str(), v.shape().str());
  const svg::SvgGrid grid{o.frames, o.frame_tokens};
  const int64_t heads = q.dim(0), n = q.dim(1), d = q.dim(2);
  if (grid.tokens() != n)
    usage_fail("--frames {} x --frame-tokens {} = {} tokens, but q has {} tokens", o.frames, o.frame_tokens,
               grid.tokens(), n);
  svg::SvgParams p;
  p.num_sampled_rows = o.num_sampled_rows;
  p.sample_mse_max_row = o.sample_mse_max_row;
  p.sparsity = o.sparsity;
  std::vector<int32_t> rows = o.rows.empty() ? svg::sample_rows(p, n, o.seed) : load_rows(o.rows);
  for (int32_t r : rows)
    if (r < 0 || r >= n) usage_fail("--sampled-rows {}: row {} is outside [0, {})", o.rows, r, n);
  const svg::SvgPlan plan =
      svg::plan_attention(q.data_as<float>(), k.data_as<float>(), v.data_as<float>(), heads, d, grid, p, rows, o.block);
  std::printf("{\"frames\": %lld, \"frame_tokens\": %lld, \"sampled_rows\": %zu, \"band_width\": %lld, "
              "\"block\": %d, \"density\": %.6f, \"heads\": [\n",
              static_cast<long long>(o.frames), static_cast<long long>(o.frame_tokens), rows.size(),
              static_cast<long long>(plan.band_width), o.block, plan.layout.density());
  for (int64_t h = 0; h < heads; ++h) {
    const auto& c = plan.choices[h];
    std::printf("  {\"head\": %lld, \"pattern\": \"%s\", \"mse_spatial\": %.9g, \"mse_temporal\": %.9g}%s\n",
                static_cast<long long>(h), svg::pattern_name(c.pattern), c.mse_spatial, c.mse_temporal,
                h + 1 < heads ? "," : "");
  }
  std::printf("]}\n");  // stdout stays pure JSON, --out or not
  if (o.out.empty()) return;
  SafetensorsWriter w;
  const std::vector<uint8_t> onehot = plan.layout.to_onehot();
  w.add_raw("mask", DType::U8, {heads, plan.layout.q_blocks, plan.layout.k_blocks},
            std::span<const uint8_t>(onehot.data(), onehot.size()));
  w.add_raw("order", DType::I32, {heads, n},
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(plan.order.data()), plan.order.size() * 4));
  std::vector<int32_t> pattern(static_cast<size_t>(heads));
  for (int64_t h = 0; h < heads; ++h) pattern[h] = static_cast<int32_t>(plan.choices[h].pattern);
  w.add_raw("pattern", DType::I32, {heads},
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pattern.data()), pattern.size() * 4));
  w.set_metadata("block", std::to_string(o.block));
  w.set_metadata("band_width", std::to_string(plan.band_width));
  w.write(o.out);
}

}  // namespace

void register_debug_svg(CLI::App& debug) {
  auto o = std::make_shared<SvgOptions>();
  auto* c = debug.add_subcommand(
      "svg-classify",
      "Sparse VideoGen (v1) head classification on given q/k/v: per head, attend the sampled query rows densely "
      "and under SVG's spatial and temporal profiling masks, pick the smaller mean squared error, and print JSON "
      "(pattern, both errors). --out writes the attention layout: u8 'mask' [heads, blocks, blocks] (1 = kept, over "
      "tokens in placed order), i32 'order' [heads, tokens] (order[i] = original token at placed position i; "
      "temporal heads are token-major) and i32 'pattern' [heads] (0 spatial, 1 temporal)");
  c->add_option("--q", o->q, "safetensors file with tensor 'q' [heads, tokens, head_dim] (or [1, heads, tokens, "
                             "head_dim]; f32, bf16 or f16); tokens frame-major")
      ->required();
  c->add_option("--k", o->k, "safetensors file with tensor 'k', same shape as q")->required();
  c->add_option("--v", o->v, "safetensors file with tensor 'v', same shape as q")->required();
  c->add_option("--frames", o->frames, "Latent frames F of the token grid (tokens = F x frame tokens)")->required();
  c->add_option("--frame-tokens", o->frame_tokens, "Tokens per frame S (Wan 720p: 3600)")->required();
  c->add_option("--sampled-rows", o->rows,
                "safetensors file with a 1-D i32/i64 tensor 'sampled_rows' (or 'rows') of query rows to profile; "
                "default: our Philox sampler (--seed)");
  c->add_option("--num-sampled-rows", o->num_sampled_rows, "Rows our sampler draws (official --num_sampled_rows)")
      ->capture_default_str();
  c->add_option("--sample-mse-max-row", o->sample_mse_max_row,
                "Our sampler draws rows from [0, min(this, tokens)) (official --sample_mse_max_row)")
      ->capture_default_str();
  c->add_option("--seed", o->seed, "Philox seed of our sampler")->capture_default_str();
  c->add_option("--sparsity", o->sparsity,
                "Kept fraction of the attention band in (0, 1] (official --sparsity; its 720p script uses 0.3)")
      ->capture_default_str();
  c->add_option("--block", o->block, "Layout tile size in tokens: 128 for the kernel, 1 for the exact token mask")
      ->capture_default_str();
  c->add_option("--out", o->out, "Optional output safetensors file (mask, order, pattern)");
  c->callback([o] { run_svg_classify(*o); });
}

}  // namespace jenga::cli
