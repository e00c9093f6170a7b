// `jenga debug curve|neighbors|carve-mask|schedule`: check the Jenga method without a model.
#include <cmath>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "jenga/block_neighbors.h"
#include "jenga/carve_mask.h"
#include "jenga/gilbert_curve.h"
#include "jenga/schedule.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/wan/wan_presets.h"
#include "pipeline/denoise.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/carve_mask_gpu.h"
#include "backend/cuda/cuda_backend.h"
#endif

namespace jenga::cli {
namespace {

// "a,b,c" -> three integers; throws UsageError naming the flag.
std::array<int64_t, 3> parse_triple(const std::string& flag, const std::string& v) {
  std::array<int64_t, 3> out{};
  const char* p = v.data();
  const char* end = v.data() + v.size();
  for (int i = 0; i < 3; ++i) {
    const auto r = std::from_chars(p, end, out[i]);
    if (r.ec != std::errc() || (i < 2 && (r.ptr == end || *r.ptr != ',')) || (i == 2 && r.ptr != end))
      usage_fail("{} {}: expected three comma-separated integers like 21,30,52", flag, v);
    p = r.ptr + 1;
  }
  return out;
}

CurveSpec parse_curve(const std::string& shape_flag, const std::string& shape, bool sliced, const std::string& order) {
  const auto s = parse_triple(shape_flag, shape);
  for (auto d : s)
    if (d <= 0) usage_fail("{} {}: every dimension must be at least 1", shape_flag, shape);
  CurveSpec spec;
  spec.t = s[0];
  spec.h = s[1];
  spec.w = s[2];
  spec.sliced = sliced;
  if (!order.empty()) {
    const auto o = parse_triple("--order", order);
    spec.axes = std::array<int, 3>{static_cast<int>(o[0]), static_cast<int>(o[1]), static_cast<int>(o[2])};
  }
  spec.validate();
  return spec;
}

void print_int_array(std::FILE* f, const std::vector<int32_t>& v, size_t begin, size_t end) {
  std::string buf;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) buf += ',';
    buf += std::to_string(v[i]);
    if (buf.size() > 1 << 16) {
      std::fputs(buf.c_str(), f);
      buf.clear();
    }
  }
  std::fputs(buf.c_str(), f);
}

struct CurveOptions {
  std::string shape, order;
  bool sliced = false, time = false;
  int block = 128;
};

void run_curve(const CurveOptions& o) {
  const CurveSpec spec = parse_curve("--shape", o.shape, o.sliced, o.order);
  if (o.time) {
    // Curve + neighbour sets from scratch (no cache), best of 7 runs.
    double best_curve = 1e30, best_total = 1e30;
    for (int rep = 0; rep < 7; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const Curve c = build_curve(spec);
      const auto t1 = std::chrono::steady_clock::now();
      const BlockNeighbors nb = build_block_neighbors(c, o.block);
      const auto t2 = std::chrono::steady_clock::now();
      best_curve = std::min(best_curve, std::chrono::duration<double, std::milli>(t1 - t0).count());
      best_total = std::min(best_total, std::chrono::duration<double, std::milli>(t2 - t0).count());
      JENGA_ASSERT(nb.blocks > 0);
    }
    std::printf("{\"shape\": \"%s\", \"tokens\": %lld, \"curve_ms\": %.3f, \"curve_plus_neighbors_ms\": %.3f}\n",
                spec.str().c_str(), static_cast<long long>(spec.tokens()), best_curve, best_total);
    return;
  }
  const auto c = cached_curve(spec);
  std::fputs("{\"order\": [", stdout);
  print_int_array(stdout, c->order, 0, c->order.size());
  std::fputs("]}\n", stdout);
}

struct NeighborOptions {
  std::string shape;
  bool sliced = false;
  int block = 128;
};

void run_neighbors(const NeighborOptions& o) {
  const CurveSpec spec = parse_curve("--shape", o.shape, o.sliced, "");
  if (o.block <= 0) usage_fail("--block {}: must be positive", o.block);
  const auto nb = cached_block_neighbors(spec, o.block);
  std::fputs("{\"neighbors\": [", stdout);
  for (int64_t b = 0; b < nb->blocks; ++b) {
    std::fputs(b ? ",[" : "[", stdout);
    print_int_array(stdout, nb->indices, nb->offsets[b], nb->offsets[b + 1]);
    std::fputs("]", stdout);
  }
  std::fputs("]}\n", stdout);
}

struct CarveOptions {
  std::string q, k, out, neighbors_shape;
  int64_t top_k = -1;
  double p = -1;
  int64_t text_blocks = 0, first_frame_blocks = 0;
  bool sliced = false;
  std::string device = "cpu";  // cuda: the GPU chain the CUDA denoisers run (bf16 q/k)
  std::string rounding;         // bf16 | f32; empty: bf16 on cuda, f32 on the CPU (as each DiT runs)
};

Tensor load_qk(const std::string& path, const std::string& name, const std::string& flag) {
  std::shared_ptr<SafetensorsFile> f;
  f = SafetensorsFile::open(path);
  const TensorInfo* info = f->find(name);
  if (!info) usage_fail("{} {}: no tensor named '{}' in the file", flag, path, name);
  Tensor t = f->load(name);
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16)
    usage_fail("{} {}: tensor '{}' is {}; use f32 or bf16", flag, path, name, dtype_name(t.dtype()));
  if (t.ndim() != 4) usage_fail("{} {}: '{}' has shape {}; expected [B, H, N, D]", flag, path, name, t.shape().str());
  for (int i = 0; i < 4; ++i)
    if (t.dim(i) <= 0) usage_fail("{} {}: '{}' has an empty dimension in {}", flag, path, name, t.shape().str());
  return t;
}

void run_carve(const CarveOptions& o) {
  if (o.top_k < 0) usage_fail("--top-k {}: must be >= 0", o.top_k);
  // As the official builder: p = 0 keeps the top block (and top_k), p >= 1 every block.
  if (!(o.p >= 0.0 && std::isfinite(o.p))) usage_fail("--p {}: must be a number >= 0 (0 keeps the top block, 1 every block)", o.p);
#if !JENGA_HAVE_CUDA
  if (o.device == "cuda") usage_fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  // The CPU builder widens to f32 exactly; the GPU chain reads bf16 (f32 / f16 inputs are rounded).
  const DType want = o.device == "cuda" ? DType::BF16 : DType::F32;
  Tensor q = load_qk(o.q, "q", "--q");
  Tensor k = load_qk(o.k, "k", "--k");
  if (q.dtype() != want) q = q.to(want);
  if (k.dtype() != want) k = k.to(want);
  if (!(q.shape() == k.shape()))
    usage_fail("q {} and k {} must have the same shape [B, H, N, D]", q.shape().str(), k.shape().str());
  const int64_t n = q.dim(2);
  CarveParams prm;
  prm.top_k = o.top_k;
  prm.p = o.p;
  prm.text_blocks = o.text_blocks;
  prm.first_frame_blocks = o.first_frame_blocks;
  const std::string rounding = !o.rounding.empty() ? o.rounding : o.device == "cuda" ? "bf16" : "f32";
  prm.bf16_rounding = rounding == "bf16";
  std::shared_ptr<const BlockNeighbors> nb;
  if (!o.neighbors_shape.empty()) {
    const CurveSpec spec = parse_curve("--neighbors-shape", o.neighbors_shape, o.sliced, "");
    const int64_t vision = n - 128 * o.text_blocks;
    if (spec.tokens() != vision)
      usage_fail("--neighbors-shape {} holds {} tokens but the input has {} vision tokens ({} tokens - 128 x {} text "
                 "blocks)",
                 o.neighbors_shape, spec.tokens(), vision, n, o.text_blocks);
    nb = cached_block_neighbors(spec, 128);
    prm.neighbors = nb.get();
  } else if (o.sliced) {
    usage_fail("--sliced needs --neighbors-shape");
  }
  CarveMask m;
  if (o.device == "cuda") {
#if JENGA_HAVE_CUDA
    if (!cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
    m = cuda::build_carve_mask_gpu(q.data_as<uint16_t>(), k.data_as<uint16_t>(), q.dim(0), q.dim(1), n, q.dim(3), prm);
#endif
  } else {
    m = build_carve_mask(q.data_as<float>(), k.data_as<float>(), q.dim(0), q.dim(1), n, q.dim(3), prm);
  }
  SafetensorsWriter w;
  w.add_raw("mask", DType::U8, {m.batch, m.heads, m.blocks, m.blocks},
            std::span<const uint8_t>(m.onehot.data(), m.onehot.size()));
  w.set_metadata("normal_blocks", std::to_string(m.normal_blocks));
  w.set_metadata("device", o.device);
  w.set_metadata("rounding", rounding);
  w.write(o.out);
  std::printf("wrote %s: mask [%lld, %lld, %lld, %lld], %lld vision blocks, density %.4f\n", o.out.c_str(),
              static_cast<long long>(m.batch), static_cast<long long>(m.heads), static_cast<long long>(m.blocks),
              static_cast<long long>(m.blocks), static_cast<long long>(m.normal_blocks), m.layout().density());
}

struct ScheduleOptions {
  std::string preset, model;
  std::string wan_size = "1.3b";  // wan presets come per size: turbo = turbo-1.3b
  int steps = 0;
  std::string size;  // WxH pixels; empty = the preset's (1280x720)
  int frames = 0;    // 0 = the preset's (125)
  JengaOverrides jenga;
};

std::string preset_names(ModelFamily f) {
  std::string s;
  for (const auto& p : presets())
    if (p.family == f) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

// HunyuanVideo's dense run as a plan (the official sample_video.py / AccVideo / I2V sampler loop:
// every step computed, full attention, one stage), so `--preset dense` answers like the others.
Preset hunyuan_dense_preset(hunyuan::Release release, const Geometry& g) {
  Preset d;
  d.name = "dense";
  d.family = ModelFamily::Hunyuan;
  d.script = release == hunyuan::Release::AccVideo ? "sample_t2v.py (AccVideo)"
             : release == hunyuan::Release::I2V    ? "sample_image2video.py"
                                                   : "sample_video.py";
  // The checkpoint name as the release's Jenga preset in the table gives it.
  d.model = find_preset(ModelFamily::Hunyuan, release == hunyuan::Release::AccVideo ? "accvideo"
                                              : release == hunyuan::Release::I2V    ? "i2v-base"
                                                                                    : "base")
                .model;
  d.steps = g.default_steps;
  d.width = g.default_width, d.height = g.default_height, d.frames = g.default_frames;
  d.sa_drop_rates = {0.0};
  d.p_remain = 0.0;
  d.flow_shift = g.default_shift;  // I2V: 17 (dynamic); --i2v-stability runs 7
  d.shifts = {d.flow_shift};
  d.guide_scale = g.default_guidance;
  return d;
}

void run_schedule(const ScheduleOptions& o) {
  const ModelFamily fam = o.model == "wan" ? ModelFamily::Wan : ModelFamily::Hunyuan;
  // The family's short names, as generate takes them: wan + turbo = turbo-<--wan-size>.
  std::string name = o.preset;
  if (fam == ModelFamily::Wan && CLI::detail::to_lower(name) == "dense")
    usage_fail("--preset dense: Wan2.1's dense run is the official loop (every step, both guidance branches computed, "
               "full attention), no Jenga plan; name one of {}",
               preset_names(ModelFamily::Wan));
  if (fam == ModelFamily::Wan && name.find('-') == std::string::npos) name += "-" + o.wan_size;
  if (o.steps < 0) usage_fail("--steps {}: must be positive (0 = the preset's default)", o.steps);
  if (fam == ModelFamily::Wan) {
    // As jenga_wan.py takes them: --sa_drop_rates, --p_remain_rates, --teacache_thresh, --enable_turbo's
    // rates, and any --size / --frame_num (the token grid is size / 16, frames (F + 3) / 4).
    Preset p = *wan_preset_for(name, "", o.jenga, o.steps);
    if (!o.size.empty()) {
      const auto [w, h] = parse_size("--size", o.size);
      if (w % 16 || h % 16) usage_fail("--size {}x{}: multiples of 16", w, h);
      p.width = w, p.height = h;
    }
    if (o.frames) {
      if (o.frames < 1 || (o.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1 (e.g. 81)", o.frames);
      p.frames = o.frames;
    }
    std::printf("%s\n", plan_to_json(build_plan(p, o.steps)).c_str());
    return;
  }
  // HunyuanVideo: the preset as generate resolves it (official flags applied), at the run's size.
  const std::string lname = [&] {
    std::string s = name;
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }();
  // The release: by --model (hunyuan-i2v, accvideo), else by the preset's name.
  const hunyuan::Release release = o.model == "accvideo" || (o.model == "hunyuan" && lname == "accvideo")
                                       ? hunyuan::Release::AccVideo
                                   : o.model == "hunyuan-i2v" || lname == "i2v-base" ? hunyuan::Release::I2V
                                                                                     : hunyuan::Release::T2V;
  const Geometry geo = hunyuan::hunyuan_geometry(hunyuan::HunyuanConfig::t2v_720p(), release);
  auto p = hunyuan::hunyuan_preset_for(lname, release, o.jenga, o.steps);
  if (!p) {  // dense (hunyuan_preset_for has refused Jenga flags with it)
    p = hunyuan_dense_preset(release, geo);
    if (o.steps > 0) p->steps = o.steps;
    p->computed_steps.resize(static_cast<size_t>(p->steps));
    std::iota(p->computed_steps.begin(), p->computed_steps.end(), 0);
  }
  if (!o.size.empty()) {
    const auto [w, h] = parse_size("--size", o.size);
    p->width = w, p->height = h;
  }
  if (o.frames) {
    if (o.frames < 1 || (o.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1 (e.g. 125)", o.frames);
    p->frames = o.frames;
  }
  if (p->width % 16 || p->height % 16) usage_fail("--size {}x{}: multiples of 16", p->width, p->height);
  // The sizes generate refuses are refused here too, with the same line.
  if (p->name != "dense") check_jenga_token_grid(p, geo, p->width, p->height, p->frames);
  const Plan plan = build_plan(*p, p->steps);
  std::printf("%s\n", plan_to_json(plan).c_str());
}

}  // namespace

void register_debug_jenga(CLI::App& debug) {
  auto co = std::make_shared<CurveOptions>();
  auto* c = debug.add_subcommand(
      "curve", "Print the Jenga gilbert curve over a token grid as JSON {\"order\": [...]}: order[i] is the raster "
               "index t*H*W + h*W + w of the i-th token along the curve");
  c->add_option("--shape", co->shape, "Token grid T,H,W (latent frames, height, width after patchify)")->required();
  c->add_flag("--sliced", co->sliced,
              "Per-frame 2D curves joined by flips (Wan); default the full 3D curve (HunyuanVideo)");
  c->add_option("--order", co->order,
                "Axis order a,b,c of the transposed 3D curve (official transpose_gilbert_mapping): the curve runs "
                "with depth = dims[a], height = dims[b], width = dims[c] of dims = (T,H,W); 0,1,2 is the plain 3D "
                "curve, 2,1,0 walks T fastest. As in the official code, --sliced is ignored when --order is given");
  c->add_flag("--time", co->time, "Instead of the curve, print the best-of-5 time of curve + neighbour sets (ms)");
  c->add_option("--block", co->block, "Block size for --time")->capture_default_str();
  c->callback([co] { run_curve(*co); });

  auto no = std::make_shared<NeighborOptions>();
  auto* n = debug.add_subcommand(
      "neighbors", "Print the 3D block-neighbour sets as JSON {\"neighbors\": [[...], ...]}: per block of curve "
                   "positions, the sorted blocks holding a token 26-adjacent to one of its tokens (itself included)");
  n->add_option("--shape", no->shape, "Token grid T,H,W")->required();
  n->add_flag("--sliced", no->sliced, "Use the sliced (per-frame) curve (Wan); default the full 3D curve");
  n->add_option("--block", no->block, "Tokens per block")->capture_default_str();
  n->callback([no] { run_neighbors(*no); });

  auto ko = std::make_shared<CarveOptions>();
  auto* k = debug.add_subcommand(
      "carve-mask",
      "Build the AttenCarve block mask (official _build_block_index_with_importance_optimized semantics; f32 "
      "math, or the official bf16-autocast rounding with --rounding bf16, see below; bf16/f16 inputs are widened "
      "exactly) and write it as u8 'mask' [B, H, blocks, blocks], blocks = "
      "ceil(N/128), 1 = kept. The sequence is zero-padded to a multiple of 128 and the padding counts in the "
      "last block's mean. The last --text-blocks blocks are text: every vision query block keeps them, and text "
      "query block rows are all ones (the official code runs text queries through dense attention)");
  k->add_option("--q", ko->q, "safetensors file with tensor 'q' [B, H, N, D] (f32, bf16 or f16)")->required();
  k->add_option("--k", ko->k, "safetensors file with tensor 'k' [B, H, N, D] (same shape as q)")->required();
  k->add_option("--top-k", ko->top_k, "Minimum number of kept vision key blocks per query block (>= 0)")->required();
  k->add_option("--p", ko->p, "Cumulative probability threshold >= 0 (official p_remain_rates; 0 keeps the top block and --top-k, 1 or more every block)")->required();
  k->add_option("--text-blocks", ko->text_blocks, "Trailing text blocks (HunyuanVideo 2, Wan 0)")->capture_default_str();
  k->add_option("--first-frame-blocks", ko->first_frame_blocks,
                "Query blocks < F always keep key blocks < F (Wan: blocks/21)")
      ->capture_default_str();
  k->add_option("--neighbors-shape", ko->neighbors_shape,
                "Token grid T,H,W of the vision tokens; OR the 3D block-neighbour sets into the mask. T*H*W must "
                "equal N - 128 * text blocks");
  k->add_flag("--sliced", ko->sliced, "Neighbour sets of the sliced curve (Wan)");
  k->add_option("--device", ko->device,
                "cpu (the reference) or cuda (the GPU chain the CUDA denoisers run on bf16 q/k; f32 inputs are "
                "rounded to bf16; with the same --rounding, rows may differ from the CPU only where a sum lies within "
                "rounding of a cut)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  k->add_option("--rounding", ko->rounding,
                "bf16: pooled means and scores rounded to bf16 as the official builder under bf16 autocast (the "
                "official GPU pipelines; what the CUDA denoisers run); f32: f32 throughout (the official builder on "
                "f32 q/k; the CPU DiT). Default: bf16 with --device cuda, f32 on the CPU")
      ->check(CLI::IsMember({"bf16", "f32"}));
  k->add_option("--out", ko->out, "Output safetensors file")->required();
  k->callback([ko] { run_carve(*ko); });

  auto so = std::make_shared<ScheduleOptions>();
  auto* s = debug.add_subcommand(
      "schedule", "Print the per-step plan of a preset (HunyuanVideo dense: the official loop) as JSON: stage, token grid, timestep, sigma, shift, drop "
                  "rate, dense/sparse attention, top_k, and whether the DiT is computed, reused, or decided by "
                  "TeaCache at run time (model-dependent)");
  s->add_option("--preset", so->preset,
                "wan: " + preset_names(ModelFamily::Wan) + "; hunyuan: " + preset_names(ModelFamily::Hunyuan))
      ->required();
  s->add_option("--model", so->model,
                "wan, hunyuan, hunyuan-i2v (base = i2v-base) or accvideo; hunyuan's dense is the official loop")
      ->required()
      ->check(CLI::IsMember({"wan", "hunyuan", "hunyuan-i2v", "accvideo"}));
  s->add_option("--steps", so->steps, "Sampling steps (default: the preset's, 50; AccVideo 5)");
  s->add_option("--size", so->size,
                "WIDTHxHEIGHT in pixels (default the scripts': hunyuan 1280x720, dense the model's, AccVideo "
                "960x544; wan 832x480 or 1280x720 for 14b)");
  s->add_option("--frames", so->frames, "frames, 4k+1 (default the scripts': hunyuan 125, dense the model's 129, "
                                        "AccVideo 93; wan 81)");
  add_jenga_flags(*s, so->jenga);
  s->add_option("--wan-size", so->wan_size, "wan: which size a short preset name (base, turbo, flash, 3stage) means")
      ->check(CLI::IsMember({"1.3b", "14b"}))
      ->capture_default_str();
  s->callback([so] { run_schedule(*so); });
}

}  // namespace jenga::cli
