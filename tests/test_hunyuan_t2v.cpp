// HunyuanVideo text-to-video end to end (issue #24): the sampling loop against the official
// FlowMatchDiscreteScheduler + HYVideoDiffusionTransformer (tools/golden/hunyuan_t2v_loop_golden.py,
// our noise fed to the official loop), the official Jenga presets' step plans, the folders users
// download, and `generate` on the whole tiny model folder `debug make-tiny --family hunyuan` writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "backend/block_sparse.h"
#include "core/error.h"
#include "core/rng.h"
#include "golden_compare.h"
#include "io/safetensors.h"
#include "jenga/schedule.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "pipeline/denoise.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::max_rel_error;
namespace fs = std::filesystem;

namespace {

const std::string kGolden = std::string(JENGA_TEST_DATA) + "/hunyuan_t2v/t2v_loop_golden.safetensors";

Conditioning golden_cond(const Checkpoint& g, const std::string& k) {
  Conditioning c;
  c.tokens = g.load(k + "_states", DType::F32);
  const auto mask = g.load(k + "_mask", DType::F32).to_f32_vector();
  int64_t valid = 0;
  for (float m : mask) valid += m > 0.5f;
  c.valid = valid;
  c.pooled = g.load(k + "_pooled", DType::F32);
  return c;
}

// The DiT the golden used: `debug make-tiny --family hunyuan --dit-only --seed 7 --dtype f32`.
struct GoldenDit {
  test::TempDir dir;
  hunyuan::HunyuanDit dit;
  GoldenDit() {
    hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
    dit = hunyuan::load_hunyuan_dit(dir.path().string());
  }
};

}  // namespace

// The whole dense loop (and true CFG, and AccVideo's 5 steps) equals the official one.
// The official pipelines build the guidance input as tensor([s]).to(bf16) * 1000 in bf16.
TEST(HunyuanT2V, GuidanceValueIsTheOfficialBf16Product) {
  EXPECT_EQ(hunyuan::hunyuan_guidance_value(6.0), 6016.0f);  // 6000 is a tie at spacing 32: even -> 6016
  EXPECT_EQ(hunyuan::hunyuan_guidance_value(1.0), 1000.0f);  // exact at spacing 4
  EXPECT_EQ(hunyuan::hunyuan_guidance_value(3.5), 3504.0f);  // 3500 at spacing 16 -> 3504
  EXPECT_EQ(hunyuan::hunyuan_guidance_value(0.0), 0.0f);
}

TEST(HunyuanT2V, LoopMatchesTheOfficialSampler) {
  const Checkpoint g = Checkpoint::open(kGolden);
  GoldenDit m;
  const auto den = hunyuan::make_cpu_denoiser(m.dit);
  const Conditioning cond = golden_cond(g, "cond"), uncond = golden_cond(g, "uncond");
  for (const std::string name : {"dense", "cfg", "accvideo"}) {
    SCOPED_TRACE(name);
    const auto p = g.load(name + ".params", DType::F32).to_f32_vector();  // steps, shift, embedded, cfg
    const int steps = static_cast<int>(p[0]);
    // The official sigma table and timesteps, bit for bit.
    const HunyuanSchedule sch = hunyuan_flow_schedule(steps, p[1]);
    EXPECT_EQ(sch.sigmas, g.load(name + ".sigmas", DType::F32).to_f32_vector());
    EXPECT_EQ(sch.timesteps, g.load(name + ".timesteps", DType::F32).to_f32_vector());
    DenoiseRequest r;
    r.denoiser = den.get();
    r.noise = g.load(name + ".noise", DType::F32);
    r.context = cond, r.context_null = uncond;
    r.steps = steps, r.shift = p[1], r.embedded_guidance = p[2], r.guide_scale = p[3];
    r.true_cfg = p[3] > 1.0f;
    r.solver = "euler";
    Progress quiet(Progress::Mode::Quiet);
    const DenoiseResult res = denoise(r, quiet);
    EXPECT_EQ(res.forwards, steps * (r.true_cfg ? 2 : 1));
    const auto want = g.load(name + ".latents", DType::F32).to_f32_vector();
    const double err = max_rel_error(res.latents.to_f32_vector(), want);
    std::printf("hunyuan t2v loop %s vs official: max rel error %.2e\n", name.c_str(), err);
    EXPECT_LE(err, 1e-4);
  }
}

// Step reuse (ra_forward): a reused step adds the residual the last computed step kept to this
// step's patch embedding; with the same input it reproduces the computed output.
TEST(HunyuanT2V, ReusedStepAddsTheCachedResidual) {
  GoldenDit m;
  const auto& c = m.dit.config;
  Tensor x = Tensor::empty(DType::F32, Shape{16, 2, 4, 4});
  fill_normal({x.data_as<float>(), static_cast<size_t>(x.numel())}, 5);
  Tensor txt = Tensor::empty(DType::F32, Shape{6, c.text_dim}), pooled = Tensor::empty(DType::F32, Shape{c.text_dim_2});
  fill_normal({txt.data_as<float>(), static_cast<size_t>(txt.numel())}, 6);
  fill_normal({pooled.data_as<float>(), static_cast<size_t>(pooled.numel())}, 7);
  std::vector<float> residual(static_cast<size_t>(2 * 2 * 2 * c.hidden), 0.0f);
  DitForwardHooks h;
  h.residual = residual.data();
  auto run = [&](float t) {
    return hunyuan::hunyuan_forward_cpu(m.dit, x.data_as<float>(), 2, 4, 4, t, txt.data_as<float>(), 6, 4,
                                        pooled.data_as<float>(), 6000.0f, &h);
  };
  const auto computed = run(900.0f);
  bool nonzero = false;
  for (float r : residual) nonzero |= r != 0.0f;
  EXPECT_TRUE(nonzero);
  h.reuse_residual = true;
  EXPECT_LE(max_rel_error(run(900.0f), computed), 1e-5);
  // At another timestep the head's modulation differs: not the computed output.
  EXPECT_GT(max_rel_error(run(500.0f), computed), 1e-3);
}

// The plans of the official scripts at 720x1280x125: stage switches, forwards computed per stage
// (the fixed 23-step list plus the forced step after each switch), top_k (179, not 180, at drop
// 0.8), the text amplifier and the new-shift x0 (REFERENCE-hunyuan 5.3-5.5, 6).
TEST(HunyuanT2V, PresetPlansAreTheOfficialScripts) {
  struct Want {
    std::string name;
    std::vector<int> computed;   // per stage
    std::vector<int64_t> top_k;  // per stage
    std::vector<int> stage_end;  // last step of each stage but the last
  };
  const std::vector<Want> wants = {
      {"base", {12, 11}, {225, 135}, {25}},         {"turbo", {12, 11}, {148, 179}, {25}},
      {"flash", {12, 11}, {98, 45}, {25}},          {"3stage", {8, 4, 11}, {55, 74, 135}, {15, 25}},
      {"multigpu-turbo", {12, 11}, {120, 128}, {25}}, {"accvideo", {3, 2}, {148, 179}, {2}}};
  for (const auto& w : wants) {
    SCOPED_TRACE(w.name);
    const auto p = hunyuan::hunyuan_preset_for(w.name, w.name == "accvideo", {}, 0);
    ASSERT_TRUE(p.has_value());
    const Plan plan = build_plan(*p, p->steps);
    EXPECT_EQ(plan.steps, w.name == "accvideo" ? 5 : 50);
    std::vector<int> computed(w.computed.size(), 0);
    std::vector<int64_t> top_k(w.computed.size(), -1);
    std::vector<int> ends;
    for (const auto& s : plan.step) {
      computed.at(static_cast<size_t>(s.stage)) += s.compute == StepCompute::Computed;
      top_k.at(static_cast<size_t>(s.stage)) = s.top_k;
      if (s.stage_switch) ends.push_back(s.step);
    }
    EXPECT_EQ(computed, w.computed);
    EXPECT_EQ(top_k, w.top_k);
    EXPECT_EQ(ends, w.stage_end);
  }
  // Turbo: text amplifier 0.4312 only in the 0.75 stage; x0 with the new shift-9 sigma 0.9000,
  // re-noise to 0.89256; the step after the switch runs the blocks although 26 is listed anyway.
  const auto turbo = hunyuan::hunyuan_preset_for("turbo", false, {}, 0);
  const Plan tp = build_plan(*turbo, 50);
  EXPECT_NEAR(tp.step[0].text_amp, 0.4312, 1e-4);
  EXPECT_EQ(tp.step[26].text_amp, 0.0);
  ASSERT_TRUE(tp.step[25].stage_switch);
  EXPECT_NEAR(tp.step[25].stage_switch->x0_sigma, 0.9, 1e-6);
  EXPECT_NEAR(tp.step[25].stage_switch->renoise_sigma, 0.89256, 1e-5);
  EXPECT_EQ(tp.step[5].compute, StepCompute::Reused);
  // AccVideo: the switch after step 2, shift 9: x0 = x - 0.93103 v, re-noise to 0.85714.
  const Plan ap = build_plan(*hunyuan::hunyuan_preset_for("accvideo", true, {}, 0), 0);
  EXPECT_NEAR(ap.step[2].stage_switch->x0_sigma, 0.93103, 1e-5);
  EXPECT_NEAR(ap.step[2].stage_switch->renoise_sigma, 0.85714, 1e-5);
}

// The official flag names over a preset, and what the official loop cannot run.
TEST(HunyuanT2V, PresetFlags) {
  JengaOverrides o;
  o.sa_drop_rates = {0.75, 0.85};  // the multi-GPU Turbo drops on one GPU
  const auto p = hunyuan::hunyuan_preset_for("turbo", false, o, 50);
  EXPECT_EQ(build_plan(*p, 50).step[30].top_k, 135);
  JengaOverrides three;
  three.res_rate_list = {0.5, 0.75, 1.0};
  three.step_rate_list = {0.3, 0.5, 1.0};
  three.scheduler_shift_list = {7, 9, 11};
  three.sa_drop_rates = {0.75, 0.85, 0.85};
  three.scale_txt_amp = 0.5;
  const auto q = hunyuan::hunyuan_preset_for("turbo", false, three, 50);
  const Plan qp = build_plan(*q, 50);
  EXPECT_EQ(qp.step.back().stage, 2);
  EXPECT_NEAR(qp.step[0].text_amp, 0.5 * 1.0162, 1e-3);
  JengaOverrides bad = three;
  bad.scheduler_shift_list = {7, 9};
  EXPECT_THROW(hunyuan::hunyuan_preset_for("turbo", false, bad, 50), UsageError);
  JengaOverrides tc;
  tc.teacache_thresh = 0.1;
  EXPECT_THROW(hunyuan::hunyuan_preset_for("turbo", false, tc, 50), UsageError);
  EXPECT_THROW(hunyuan::hunyuan_preset_for("accvideo", false, {}, 5), UsageError);  // T2V DiT
  EXPECT_THROW(hunyuan::hunyuan_preset_for("turbo", true, {}, 5), UsageError);      // AccVideo DiT
  EXPECT_FALSE(hunyuan::hunyuan_preset_for("dense", false, {}, 50).has_value());
}

// --res-rate-list with a 1.0 before the last stage, or a rate repeated: pipeline_hunyuan_video_prores.py
// resizes and re-noises at a switch only when the stage before ran at a rate other than 1.0, to
// that stage's (int(H_px * r) // 16) * 2 size, even an equal one. At 256x256x29 the official plan
// (its __call__ with ra_forward) keeps 1.0 0.75 1.0 at [8, 32, 32] throughout and re-noises once,
// and runs 0.75 0.75 1.0 at [8, 24, 24] twice (re-noised at the first switch too) then
// [8, 32, 32]. Ours moved to [8, 24, 24] without a resize (1.0 0.75 1.0), and the loop failed
// on 0.75 0.75 1.0 ("re-noise of 90112 values for a stage of 49152").
TEST(HunyuanT2V, ResolutionChangesOnlyAfterAStageBelowFullRate) {
  auto plan_of = [](std::vector<double> res) {
    JengaOverrides o;
    o.res_rate_list = std::move(res);
    o.step_rate_list = {0.3, 0.6, 1.0};
    o.scheduler_shift_list = {7, 8, 9};
    o.sa_drop_rates = {0.5, 0.6, 0.7};
    Preset p = *hunyuan::hunyuan_preset_for("turbo", false, o, 10);
    p.width = p.height = 256, p.frames = 29;
    return std::make_pair(p, build_plan(p, 10));
  };
  const std::array<int64_t, 3> full{8, 32, 32}, small{8, 24, 24};
  auto latents = [](const Plan& plan) {
    std::vector<std::array<int64_t, 3>> v;
    for (const auto& s : plan.step) v.push_back(s.latent);
    return v;
  };
  auto switches = [](const Plan& plan) {
    int n = 0;
    for (const auto& s : plan.step) n += s.stage_switch && s.stage_switch->resolution_changes;
    return n;
  };
  const auto [p1, one] = plan_of({1.0, 0.75, 1.0});
  EXPECT_EQ(latents(one), (std::vector<std::array<int64_t, 3>>(10, full)));
  EXPECT_EQ(one.step[4].top_k, 6);  // int(0.4 * 16): the full grid's 16 blocks at drop 0.6
  EXPECT_EQ(switches(one), 1);
  EXPECT_EQ(stage_latents(p1, 8, 32, 32), (std::vector<std::array<int64_t, 3>>{full, full}));
  const auto [p2, two] = plan_of({0.75, 0.75, 1.0});
  std::vector<std::array<int64_t, 3>> want(7, small);  // steps 0-6: switches after steps 3 and 6
  want.resize(10, full);
  EXPECT_EQ(latents(two), want);
  EXPECT_EQ(switches(two), 2);
  EXPECT_EQ(stage_latents(p2, 8, 32, 32), (std::vector<std::array<int64_t, 3>>{small, small, full}));
  // 0.5 1.0 1.0: the last switch keeps the size (no third noise).
  const auto [p3, three] = plan_of({0.5, 1.0, 1.0});
  EXPECT_EQ(switches(three), 1);
  EXPECT_EQ(stage_latents(p3, 8, 32, 32).size(), 2u);
}

// The official single-GPU Jenga DiT runs its dense flash branch at drop rate 0, which needs no
// whole 128-token blocks: --sa-drop-rates 0 0 runs Turbo at 128x128x5 (stages of 72 and 128
// image tokens), as the official loop does; a stage that runs the block-sparse kernel still needs
// whole blocks, and so do the multi-GPU presets (their path is block-sparse at every drop rate).
// Every grid was refused.
TEST(HunyuanT2V, TokenGridNeedsWholeBlocksOnlyForSparseStages) {
  const Geometry geo = hunyuan::hunyuan_geometry(hunyuan::HunyuanConfig::tiny());
  auto turbo = [](std::vector<double> drops, const char* name = "turbo") {
    JengaOverrides o;
    o.sa_drop_rates = std::move(drops);
    return hunyuan::hunyuan_preset_for(name, false, o, 4);
  };
  EXPECT_NO_THROW(check_jenga_token_grid(turbo({0, 0}), geo, 128, 128, 5));
  EXPECT_NO_THROW(check_jenga_token_grid(turbo({0, 0.8}), geo, 128, 128, 5));  // 128 tokens at full size
  EXPECT_THROW(check_jenga_token_grid(turbo({0.7, 0}), geo, 128, 128, 5), UsageError);  // 72 sparse tokens
  EXPECT_THROW(check_jenga_token_grid(turbo({0, 0}, "multigpu-turbo"), geo, 128, 128, 5), UsageError);
  EXPECT_THROW(check_jenga_token_grid(turbo({0.7, 0.8}), geo, 128, 128, 5), UsageError);
}

// The folders as published: official ckpts/ (or its 720p folder), diffusers, single files; the
// release from the DiT's path; a missing component named with where it was expected.
TEST(HunyuanT2V, FoldersAsDownloaded) {
  test::TempDir dir;
  const fs::path root = dir.path() / "ckpts";
  for (const auto& d : {root / "hunyuan-video-t2v-720p/transformers", root / "hunyuan-video-t2v-720p/vae",
                        root / "text_encoder", root / "text_encoder_2", root / "AccVideo/accvideo-t2v-5-steps"})
    fs::create_directories(d);
  std::ofstream(root / "hunyuan-video-t2v-720p/transformers/mp_rank_00_model_states.pt") << "x";
  std::ofstream(root / "AccVideo/accvideo-t2v-5-steps/diffusion_pytorch_model.pt") << "x";
  std::ofstream(root / "text_encoder/tokenizer.json") << "{}";
  std::ofstream(root / "text_encoder_2/vocab.json") << "{}";
  auto p = hunyuan::resolve_hunyuan(root.string(), {}, false, false);
  EXPECT_EQ(p.dit, (root / "hunyuan-video-t2v-720p/transformers/mp_rank_00_model_states.pt").string());
  EXPECT_EQ(p.vae, (root / "hunyuan-video-t2v-720p/vae").string());
  EXPECT_EQ(p.text_encoder_2, (root / "text_encoder_2").string());
  EXPECT_EQ(p.tokenizer_2, (root / "text_encoder_2").string());
  EXPECT_EQ(p.release, hunyuan::Release::T2V);
  EXPECT_EQ(p.layout, "official ckpts");
  // The 720p folder itself: the encoders beside it.
  p = hunyuan::resolve_hunyuan((root / "hunyuan-video-t2v-720p").string(), {}, false, false);
  EXPECT_EQ(p.text_encoder, (root / "text_encoder").string());
  // AccVideo over the same encoders and VAE.
  hunyuan::HunyuanComponents acc;
  acc.dit = (root / "AccVideo/accvideo-t2v-5-steps/diffusion_pytorch_model.pt").string();
  p = hunyuan::resolve_hunyuan(root.string(), acc, false, false);
  EXPECT_EQ(p.release, hunyuan::Release::AccVideo);
  EXPECT_EQ(p.vae, (root / "hunyuan-video-t2v-720p/vae").string());
  // A missing component: named, with where it was expected and the flag.
  fs::remove_all(root / "text_encoder_2");
  try {
    hunyuan::resolve_hunyuan(root.string(), {}, false, false);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    FAIL() << "a missing component is a missing file (Error, exit 1), not a usage error: " << e.what();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("CLIP-L text encoder is missing"), std::string::npos) << m;
    EXPECT_NE(m.find((root / "text_encoder_2").string()), std::string::npos) << m;
    EXPECT_NE(m.find("--text-encoder-2"), std::string::npos) << m;
  }
  // diffusers: transformer/ vae/ text_encoder/ text_encoder_2/ tokenizer/ tokenizer_2/.
  const fs::path d = dir.path() / "HunyuanVideo";
  for (const char* s : {"transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"})
    fs::create_directories(d / s);
  p = hunyuan::resolve_hunyuan(d.string(), {}, false, false);
  EXPECT_EQ(p.layout, "diffusers");
  EXPECT_EQ(p.dit, (d / "transformer").string());
  EXPECT_EQ(p.tokenizer, (d / "tokenizer").string());
  EXPECT_EQ(p.tokenizer_2, (d / "tokenizer_2").string());
  // Single files without a folder: the missing one is named with its flag.
  hunyuan::HunyuanComponents files;
  files.dit = acc.dit;
  try {
    hunyuan::resolve_hunyuan("", files, false, false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(dynamic_cast<const UsageError*>(&e), nullptr) << "a missing file is exit 1, not a usage error";
    EXPECT_NE(std::string(e.what()).find("--vae"), std::string::npos) << e.what();
  }
}

// The release told by the names of the download only: the file's own name, and the release
// folders right above a generic file name or a diffusers folder; never a user folder further up.
TEST(HunyuanT2V, ReleaseFromTheDownloadsOwnNames) {
  test::TempDir dir;
  const fs::path u = dir.path() / "i2v-tests" / "AccVideo-notes";  // the user's folders: say nothing
  const fs::path t2v = u / "ckpts/hunyuan-video-t2v-720p/transformers", i2v = u / "ckpts/hunyuan-video-i2v-720p/transformers";
  const fs::path diff_t2v = u / "HunyuanVideo/transformer", diff_i2v = u / "HunyuanVideo-I2V/transformer";
  const fs::path acc = u / "AccVideo/accvideo-t2v-5-steps";
  for (const auto& d : {t2v, i2v, diff_t2v, diff_i2v, acc}) fs::create_directories(d);
  const auto rel = [](const fs::path& p) { return hunyuan::release_from_path(p.string()); };
  EXPECT_EQ(rel(t2v / "mp_rank_00_model_states.pt"), hunyuan::Release::T2V);
  EXPECT_EQ(rel(t2v), hunyuan::Release::T2V);
  EXPECT_EQ(rel(u / "ckpts/hunyuan-video-t2v-720p/"), hunyuan::Release::T2V);
  EXPECT_EQ(rel(i2v / "mp_rank_00_model_states.pt"), hunyuan::Release::I2V);
  EXPECT_EQ(rel(diff_t2v), hunyuan::Release::T2V);
  EXPECT_EQ(rel(diff_t2v.string() + "/"), hunyuan::Release::T2V);
  EXPECT_EQ(rel(diff_i2v), hunyuan::Release::I2V);
  EXPECT_EQ(rel(acc / "diffusion_pytorch_model.pt"), hunyuan::Release::AccVideo);
  // ComfyUI single files: the file name says it, the folder it sits in does not.
  EXPECT_EQ(rel(u / "hunyuan_video_image_to_video_720p_bf16.safetensors"), hunyuan::Release::I2V);
  EXPECT_EQ(rel(u / "hunyuan_video_720_cfgdistill_bf16.safetensors"), hunyuan::Release::T2V);
  EXPECT_EQ(rel(dir.path() / "i2v/hunyuan_video_720_cfgdistill_fp8_e4m3fn.safetensors"), hunyuan::Release::T2V);
}

// `debug make-tiny --family hunyuan` writes the whole official layout; `generate --model` runs it
// on the CPU (dense: Euler, shift 7, embedded guidance 6, 24 fps) and says what it ran.
TEST(HunyuanT2V, GenerateRunsTheTinyFolder) {
  test::TempDir dir;
  const std::string model = dir / "ckpts";
  auto m = test::run_jenga("debug make-tiny --family hunyuan --seed 3 --out " + model);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_NE(m.output.find("template 95 tokens"), std::string::npos) << m.output;
  for (const char* f : {"hunyuan-video-t2v-720p/transformers/diffusion_pytorch_model.safetensors",
                        "hunyuan-video-t2v-720p/vae/config.json", "text_encoder/tokenizer.json",
                        "text_encoder/model.safetensors", "text_encoder_2/vocab.json", "text_encoder_2/merges.txt"})
    EXPECT_TRUE(fs::exists(fs::path(model) / f)) << f;
  const std::string out = dir / "cat.y4m";
  auto g = test::run_jenga("generate --model " + model + " -p \"a cat walks\" --size 32x32 --frames 5 --steps 3 -q -o " + out);
  ASSERT_EQ(g.exit_code, 0) << g.output;
  std::ifstream sc(out + ".json");
  const auto j = nlohmann::json::parse(sc);
  EXPECT_EQ(j["model"]["release"], "T2V");
  EXPECT_EQ(j["model"]["folder_layout"], "official ckpts");
  EXPECT_EQ(j["settings"]["solver"], "euler");
  EXPECT_EQ(j["settings"]["shift"], 7.0);
  EXPECT_EQ(j["settings"]["embedded_cfg_scale"], 6.0);
  EXPECT_EQ(j["settings"]["cfg_scale"], 1.0);
  EXPECT_EQ(j["settings"]["fps"], 24);
  EXPECT_EQ(j["forwards"], 3);
  // True CFG: two branches a step.
  auto c = test::run_jenga("generate --model " + model + " -p cat --size 32x32 --frames 5 --steps 2 --cfg-scale 3 -o " +
                           (dir / "cfg.y4m"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  // Loading shows progress per DiT block (double + single), as Wan's does (it showed nothing).
  const std::regex load_line("load (\\d+)/(\\d+) ");
  std::smatch last;
  for (auto it = std::sregex_iterator(c.output.begin(), c.output.end(), load_line); it != std::sregex_iterator(); ++it)
    last = *it;
  ASSERT_FALSE(last.empty()) << c.output;
  EXPECT_EQ(last[1], last[2]) << c.output;
  EXPECT_GE(std::stoi(last[2]), 2) << c.output;
  std::ifstream sc2(dir / "cfg.y4m.json");
  EXPECT_EQ(nlohmann::json::parse(sc2)["forwards"], 4);
  // Jenga on a grid its kernel cannot take: one line saying which sizes work.
  auto bad = test::run_jenga("generate --model " + model + " -p cat --size 32x32 --frames 5 --preset turbo -o " +
                             (dir / "t.y4m"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("not a multiple of 128"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("1280x720x125"), std::string::npos) << bad.output;
  // The AccVideo preset on the T2V DiT, a solver it has not.
  auto acc = test::run_jenga("generate --model " + model + " -p cat --preset accvideo -o " + (dir / "a.y4m"));
  EXPECT_EQ(acc.exit_code, 2) << acc.output;
  auto sol = test::run_jenga("generate --model " + model + " -p cat --solver unipc -o " + (dir / "u.y4m"));
  EXPECT_EQ(sol.exit_code, 2) << sol.output;
  EXPECT_NE(sol.output.find("Euler"), std::string::npos) << sol.output;
  // AccVideo by the flag: 5 steps by default (its only preset besides dense is accvideo).
  auto a5 = test::run_jenga("generate --model " + model + " --accvideo -p cat --size 32x32 --frames 5 -q -o " +
                            (dir / "acc.y4m"));
  ASSERT_EQ(a5.exit_code, 0) << a5.output;
  std::ifstream sc3(dir / "acc.y4m.json");
  const auto ja = nlohmann::json::parse(sc3);
  EXPECT_EQ(ja["model"]["release"], "AccVideo");
  EXPECT_EQ(ja["forwards"], 5);
  auto at = test::run_jenga("generate --model " + model + " --accvideo -p cat --preset turbo -o " + (dir / "at.y4m"));
  EXPECT_EQ(at.exit_code, 2) << at.output;
  // inspect: the release and every component of the folder.
  auto in = test::run_jenga("inspect --summary " + model);
  ASSERT_EQ(in.exit_code, 0) << in.output;
  EXPECT_NE(in.output.find("release:    HunyuanVideo T2V"), std::string::npos) << in.output;
  EXPECT_NE(in.output.find("usable:     yes"), std::string::npos) << in.output;
  // A missing component, named (by generate and by inspect).
  fs::remove_all(fs::path(model) / "hunyuan-video-t2v-720p/vae");
  auto ins = test::run_jenga("inspect --summary " + model);
  EXPECT_EQ(ins.exit_code, 1) << ins.output;
  EXPECT_NE(ins.output.find("the VAE is missing"), std::string::npos) << ins.output;
  auto miss = test::run_jenga("generate --model " + model + " -p cat -o " + (dir / "m.y4m"));
  EXPECT_EQ(miss.exit_code, 1) << miss.output;  // a missing file, as Wan's (docs/ERRORS.md)
  EXPECT_NE(miss.output.find("the VAE is missing"), std::string::npos) << miss.output;
  EXPECT_NE(miss.output.find("hunyuan-video-t2v-720p/vae"), std::string::npos) << miss.output;
}

// A damaged or missing DiT in HunyuanVideo's own layout is reported as HunyuanVideo's, naming the
// file (it was answered with Wan's "missing DiT, expected at <folder>/diffusion_pytorch_model...").
TEST(HunyuanT2V, DamagedOrMissingDitIsNamed) {
  test::TempDir dir;
  const std::string model = dir / "ckpts";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --out " + model).exit_code, 0);
  const fs::path tr = fs::path(model) / "hunyuan-video-t2v-720p/transformers";
  const std::string gen = "generate --model " + model + " -p cat --size 32x32 --frames 5 --steps 2 -o " + (dir / "x.y4m");
  fs::resize_file(tr / "diffusion_pytorch_model.safetensors", 1000);
  auto cut = test::run_jenga(gen);
  EXPECT_NE(cut.exit_code, 0) << cut.output;
  EXPECT_NE(cut.output.find("transformers/diffusion_pytorch_model.safetensors: not a valid safetensors file"),
            std::string::npos) << cut.output;
  EXPECT_EQ(cut.output.find("missing DiT"), std::string::npos) << cut.output;
  fs::remove_all(model);
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --out " + model).exit_code, 0);
  {
    std::ofstream(tr / "config.json") << "{\"_clas";
  }
  auto json = test::run_jenga(gen);
  EXPECT_NE(json.output.find("transformers/config.json: not valid JSON"), std::string::npos) << json.output;
  fs::remove_all(tr);
  for (const std::string& cmd : {gen, "inspect --summary " + model}) {
    auto gone = test::run_jenga(cmd);
    EXPECT_NE(gone.exit_code, 0) << cmd << ": " << gone.output;
    EXPECT_NE(gone.output.find("HunyuanVideo: the DiT (transformer) is missing: expected"), std::string::npos)
        << cmd << ": " << gone.output;
    EXPECT_NE(gone.output.find("hunyuan-video-t2v-720p/transformers/mp_rank_00_model_states.pt"), std::string::npos)
        << cmd << ": " << gone.output;
  }
  EXPECT_FALSE(fs::exists(dir / "x.y4m"));
  // An I2V folder without its DiT: the I2V release's path is named.
  const std::string i2v = dir / "i2v";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan-i2v --out " + i2v).exit_code, 0);
  fs::remove_all(fs::path(i2v) / "hunyuan-video-i2v-720p/transformers");
  auto gone = test::run_jenga("inspect --summary " + i2v);
  EXPECT_NE(gone.output.find("hunyuan-video-i2v-720p/transformers/mp_rank_00_model_states.pt"), std::string::npos)
      << gone.output;
}

// Text-encoder files that would run but give wrong states are refused by name: an empty
// merges.txt (every word into bytes), a config.json with a negative norm epsilon (NaN later).
TEST(HunyuanT2V, DamagedTextEncoderFilesAreNamed) {
  test::TempDir dir;
  const std::string model = dir / "ckpts";
  const std::string gen = "generate --model " + model + " -p cat --size 32x32 --frames 5 --steps 2 -q -o " + (dir / "x.y4m");
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --out " + model).exit_code, 0);
  { std::ofstream(fs::path(model) / "text_encoder_2/merges.txt", std::ios::trunc); }
  auto merges = test::run_jenga(gen);
  EXPECT_NE(merges.exit_code, 0);
  EXPECT_NE(merges.output.find("text_encoder_2/merges.txt: is empty"), std::string::npos) << merges.output;
  fs::remove_all(model);
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --out " + model).exit_code, 0);
  const fs::path cfg = fs::path(model) / "text_encoder/config.json";
  std::ifstream in(cfg);
  auto j = nlohmann::json::parse(in);
  in.close();
  j["rms_norm_eps"] = -1;
  std::ofstream(cfg, std::ios::trunc) << j.dump();
  auto eps = test::run_jenga(gen);
  EXPECT_NE(eps.exit_code, 0);
  EXPECT_NE(eps.output.find("rms_norm_eps -1"), std::string::npos) << eps.output;
  // The LLM's files given as CLIP-L's: said so, with the flag to fix.
  j["rms_norm_eps"] = 1e-5;
  std::ofstream(cfg, std::ios::trunc) << j.dump();
  auto swap = test::run_jenga(gen + " --text-encoder-2 " + model + "/text_encoder/model.safetensors");
  EXPECT_NE(swap.exit_code, 0);
  EXPECT_NE(swap.output.find("the Llama-3 tokenizer (the LLM's), not CLIP-L's"), std::string::npos) << swap.output;
  EXPECT_FALSE(fs::exists(dir / "x.y4m"));
}

// Flags that name the wrong thing are named before any work: a VAE or an empty file as the DiT, a
// Jenga list longer than the preset's stages, --accvideo on the I2V DiT, a bucket base past 4096;
// and -o x.png for several frames says it writes a folder.
TEST(HunyuanT2V, WrongFlagsAreNamedBeforeWork) {
  test::TempDir dir;
  const std::string model = dir / "ckpts", i2v = dir / "i2v";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --out " + model).exit_code, 0);
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan-i2v --out " + i2v).exit_code, 0);
  ASSERT_EQ(test::run_jenga("generate -p ball --frames 1 -q -o " + (dir / "ref.png")).exit_code, 0);
  { std::ofstream(dir / "empty.safetensors"); }
  const std::string gen = "generate --model " + model + " -p cat --size 32x32 --frames 5 --steps 2 -q ";
  const std::string vae = model + "/hunyuan-video-t2v-720p/vae/diffusion_pytorch_model.safetensors";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"--diffusion-model " + vae, "is a hunyuanvideo-vae, not a diffusion model (DiT)"},
           {"--diffusion-model " + (dir / "empty.safetensors"), "--diffusion-model " + (dir / "empty.safetensors") + ": "},
           {"--preset turbo --sa-drop-rates 0.5 0.5 0.5", "one rate per stage (2 stages, got 3)"}}) {
    auto r = test::run_jenga(gen + args + " -o " + (dir / "x.y4m"));
    EXPECT_NE(r.exit_code, 0) << args << ": " << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << ": " << r.output;
  }
  const std::string gi = "generate --model " + i2v + " --image " + (dir / "ref.png") + " -p ball --frames 5 --steps 2 -q ";
  auto acc = test::run_jenga(gi + "--i2v-resolution 64 --accvideo -o " + (dir / "a.y4m"));
  EXPECT_EQ(acc.exit_code, 2) << acc.output;
  EXPECT_NE(acc.output.find("--accvideo"), std::string::npos) << acc.output;
  // The I2V release's DiT into the T2V folder: why the I2V release's VAE was looked for.
  auto swap = test::run_jenga(gen + "--diffusion-model " + i2v + "/hunyuan-video-i2v-720p/transformers -o " + (dir / "s.y4m"));
  EXPECT_NE(swap.exit_code, 0) << swap.output;
  EXPECT_NE(swap.output.find("is HunyuanVideo-I2V's by its path; this folder holds the T2V release"), std::string::npos)
      << swap.output;
  auto big = test::run_jenga(gi + "--i2v-resolution 32768 -o " + (dir / "b.y4m"));
  EXPECT_EQ(big.exit_code, 2) << big.output;
  EXPECT_NE(big.output.find("--i2v-resolution 32768"), std::string::npos) << big.output;
  auto png = test::run_jenga("generate --model " + model + " -p cat --size 32x32 --frames 5 --steps 2 -o " + (dir / "v.png"));
  ASSERT_EQ(png.exit_code, 0) << png.output;
  EXPECT_NE(png.output.find("are written as the folder"), std::string::npos) << png.output;
  EXPECT_TRUE(fs::is_directory(dir / "v"));
  EXPECT_FALSE(fs::exists(dir / "x.y4m"));
  // inspect reads each component's header: a truncated text encoder is not "usable: yes".
  fs::resize_file(fs::path(model) / "text_encoder/model.safetensors", 100000);
  auto ins = test::run_jenga("inspect --summary " + model);
  EXPECT_EQ(ins.exit_code, 1) << ins.output;
  EXPECT_NE(ins.output.find("the LLM text encoder cannot be read"), std::string::npos) << ins.output;
}

// Turbo with its sparse attention against the official Jenga loop (HunyuanVideoPipelineProRes +
// ra_forward + its DiT blocks; tools/golden/hunyuan_jenga_sparse_golden.py): AttenCarve masks at
// 768 and 1408 image tokens, the text amplifier of stage 0, 256 text rows with 37 real, the
// official stage-0 rounding, the fixed reuse list. `jenga debug denoise` on the golden file (it is
// the inputs file) as a user runs it; rel 7.5e-7 at the time of writing.
TEST(HunyuanT2V, DebugDenoiseTurboSparseMatchesTheOfficialJengaLoop) {
  GoldenDit m;  // make-tiny --family hunyuan --seed 7 --dtype f32
  const std::string golden = std::string(JENGA_TEST_DATA) + "/hunyuan_t2v/jenga_turbo_sparse_golden.safetensors";
  const std::string out = m.dir / "out.safetensors";
  const auto r = test::run_jenga("debug denoise -q --preset turbo --steps 8 --model " + m.dir.path().string() +
                                 " --inputs " + golden + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto g = SafetensorsFile::open(golden);
  const auto o = SafetensorsFile::open(out);
  const auto want = g->load("official_latents", DType::F32).to_f32_vector();
  const auto got = o->load("latents", DType::F32).to_f32_vector();
  ASSERT_EQ(got.size(), want.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) num += (got[i] - want[i]) * double(got[i] - want[i]), den += double(want[i]) * want[i];
  EXPECT_LT(std::sqrt(num / den), 1e-5);
  const auto computed = g->load("official_computed", DType::F32).to_f32_vector();
  const auto calls = o->load("teacache_computed", DType::F32).to_f32_vector();  // cond, uncond per step
  ASSERT_EQ(calls.size(), 2 * computed.size());
  for (size_t i = 0; i < computed.size(); ++i) EXPECT_EQ(calls[2 * i], computed[i]) << "step " << i;
}

// A Jenga preset through the model-neutral loop on the tiny DiT: ProRes switch (0.75 -> 1.0 at the
// new size), the fixed reuse list (a reused step between computed ones), sparse attention with
// the text rows as condition blocks.
TEST(HunyuanT2V, TurboRunsThroughTheLoop) {
  GoldenDit m;
  const auto den = hunyuan::make_cpu_denoiser(m.dit);
  const auto p = hunyuan::hunyuan_preset_for("turbo", false, {}, 8);
  ASSERT_TRUE(p.has_value());
  const auto sizes = stage_latents(p, 2, 8, 8);
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_EQ(sizes[0], (std::array<int64_t, 3>{2, 6, 6}));  // int(64 px * 0.75) // 16 * 2
  DenoiseRequest r;
  r.denoiser = den.get();
  r.jenga = p;
  auto randn = [](std::array<int64_t, 3> l, uint64_t seed) {
    Tensor t = Tensor::empty(DType::F32, Shape{16, l[0], l[1], l[2]});
    fill_normal({t.data_as<float>(), static_cast<size_t>(t.numel())}, seed);
    return t;
  };
  r.noise = randn(sizes[0], 1);
  r.renoise = {randn(sizes[1], 2)};
  r.context.tokens = Tensor::empty(DType::F32, Shape{6, m.dit.config.text_dim});
  fill_normal({r.context.tokens.data_as<float>(), static_cast<size_t>(r.context.tokens.numel())}, 3);
  r.context.valid = 4;
  r.context.pooled = Tensor::empty(DType::F32, Shape{m.dit.config.text_dim_2});
  fill_normal({r.context.pooled.data_as<float>(), static_cast<size_t>(r.context.pooled.numel())}, 4);
  r.steps = 8, r.shift = 7.0, r.embedded_guidance = 6.0, r.solver = "euler";
  Progress quiet(Progress::Mode::Quiet);
  const DenoiseResult res = denoise(r, quiet);
  const Plan plan = build_plan(*p, 8);
  int reused = 0;
  for (const auto& s : plan.step) reused += s.compute == StepCompute::Reused;
  EXPECT_GT(reused, 0);
  EXPECT_EQ(res.forwards, 8);
  EXPECT_EQ(res.forwards_reused, reused);
  EXPECT_EQ(res.latents.dim(2), 8);
  ASSERT_EQ(res.report["stages"].size(), 2u);
  for (float v : res.latents.to_f32_vector()) ASSERT_TRUE(std::isfinite(v));
  EXPECT_GT(res.report["sparse_block_density"].get<double>(), 0.0);
}

// Turbo, 3Stage and Base (drop rates 0: dense attention) through our loop equal the official
// pieces stepped as the ProRes pipeline and ra_forward do (tools/golden/hunyuan_prores_loop_golden.py):
// the switch (new shift first, x0 with the new table, trilinear, re-noise with our noise), the
// fixed reuse list with the forced step after each switch, the cached residual.
TEST(HunyuanT2V, ProResAndStepReuseMatchTheOfficialPieces) {
  const Checkpoint g = Checkpoint::open(std::string(JENGA_TEST_DATA) + "/hunyuan_t2v/prores_loop_golden.safetensors");
  GoldenDit m;
  const auto den = hunyuan::make_cpu_denoiser(m.dit);
  const Conditioning cond = golden_cond(g, "cond");
  for (const std::string name : {"turbo", "3stage", "base"}) {
    SCOPED_TRACE(name);
    const int steps = static_cast<int>(g.load(name + ".steps", DType::F32).to_f32_vector()[0]);
    JengaOverrides o;
    o.sa_drop_rates.assign(name == "3stage" ? 3 : 2, 0.0);  // the official dense branch
    const auto p = hunyuan::hunyuan_preset_for(name, false, o, steps);
    ASSERT_TRUE(p.has_value());
    DenoiseRequest r;
    r.denoiser = den.get();
    r.jenga = p;
    r.noise = g.load(name + ".noise0", DType::F32);
    for (int k = 1; g.contains(name + ".noise" + std::to_string(k)); ++k)
      r.renoise.push_back(g.load(name + ".noise" + std::to_string(k), DType::F32));
    r.context = cond;
    r.steps = steps, r.shift = 7.0, r.embedded_guidance = 6.0, r.solver = "euler";
    Progress quiet(Progress::Mode::Quiet);
    const DenoiseResult res = denoise(r, quiet);
    const auto want_computed = g.load(name + ".computed", DType::F32).to_f32_vector();
    ASSERT_EQ(want_computed.size(), static_cast<size_t>(steps));
    for (int i = 0; i < steps; ++i) EXPECT_EQ(res.computed_calls[2 * i], want_computed[i] > 0.5f) << "step " << i;
    const double err = max_rel_error(res.latents.to_f32_vector(), g.load(name + ".latents", DType::F32).to_f32_vector());
    std::printf("hunyuan %s (dense attention) loop vs official pieces: max rel error %.2e\n", name.c_str(), err);
    EXPECT_LE(err, 1e-4);
  }
}

// Under a Jenga layout the CPU DiT follows the official sparse path: the text rows attend over
// every key, padding included (so with padded text an all-kept layout is not the dense model),
// and the key-block bias (text amplifier) reaches the image rows.
TEST(HunyuanT2V, SparsePathFollowsTheOfficialTextRows) {
  GoldenDit m;
  const auto& c = m.dit.config;
  Tensor x = Tensor::empty(DType::F32, Shape{16, 2, 16, 16});  // 128 image tokens: 1 block
  fill_normal({x.data_as<float>(), static_cast<size_t>(x.numel())}, 8);
  Tensor txt = Tensor::empty(DType::F32, Shape{9, c.text_dim}), pooled = Tensor::empty(DType::F32, Shape{c.text_dim_2});
  fill_normal({txt.data_as<float>(), static_cast<size_t>(txt.numel())}, 9);
  fill_normal({pooled.data_as<float>(), static_cast<size_t>(pooled.numel())}, 10);
  auto fwd = [&](int64_t valid, const DitForwardHooks* h) {
    return hunyuan::hunyuan_forward_cpu(m.dit, x.data_as<float>(), 2, 16, 16, 800.0f, txt.data_as<float>(), 9, valid,
                                        pooled.data_as<float>(), 6000.0f, h);
  };
  const BlockSparseLayout all = BlockSparseLayout::dense(1, c.heads, 2, 2);
  DitForwardHooks h;
  h.self_attn_layout = [&](int, const float*, const float*, int64_t, int64_t) { return &all; };
  EXPECT_LE(max_rel_error(fwd(9, &h), fwd(9, nullptr)), 1e-4);  // no padding: the dense model
  EXPECT_GT(max_rel_error(fwd(5, &h), fwd(5, nullptr)), 1e-4);  // text rows now see the padding
  const auto no_amp = fwd(5, &h);
  std::vector<float> bias;
  int64_t seen_blocks = 0;
  h.key_block_bias = [&](int, int64_t heads, int64_t kb) -> const float* {
    seen_blocks = kb;
    bias.assign(static_cast<size_t>(heads * kb), 0.0f);
    for (int64_t i = 0; i < heads; ++i) bias[static_cast<size_t>(i * kb + kb - 1)] = 0.4312f * std::log(2.0f);
    return bias.data();
  };
  EXPECT_GT(max_rel_error(fwd(5, &h), no_amp), 1e-4);
  EXPECT_EQ(seen_blocks, 2);
}

// The CUDA path loads the DiT's matrices as bf16 (half the host memory of f32): every Linear weight
// and the patch embedding bf16, equal to the f32 load rounded; biases and norms stay f32.
TEST(HunyuanT2V, DitLoadsBf16MatricesForTheGpu) {
  test::TempDir dir;
  hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
  const auto f = hunyuan::load_hunyuan_dit(dir.path().string());
  const auto b = hunyuan::load_hunyuan_dit(dir.path().string(), DType::BF16);
  const auto& fw = f.weights;
  const auto& bw = b.weights;
  for (const auto& [got, want] : {std::pair{&bw.img_in_w, &fw.img_in_w}, {&bw.doubles[1].txt.fc2.w, &fw.doubles[1].txt.fc2.w},
                                  {&bw.singles[0].linear1.w, &fw.singles[0].linear1.w}, {&bw.final_linear.w, &fw.final_linear.w},
                                  {&bw.refiner[0].qkv.w, &fw.refiner[0].qkv.w}, {&bw.time0.w, &fw.time0.w}}) {
    ASSERT_EQ(got->dtype(), DType::BF16);
    ASSERT_EQ(got->shape(), want->shape());
    EXPECT_EQ(got->to_f32_vector(), want->to(DType::BF16).to_f32_vector());
  }
  for (const auto& [got, want] : {std::pair{&bw.img_in_b, &fw.img_in_b}, {&bw.doubles[0].img.q_norm, &fw.doubles[0].img.q_norm},
                                  {&bw.singles[1].linear2.b, &fw.singles[1].linear2.b}, {&bw.refiner[0].norm1_w, &fw.refiner[0].norm1_w}}) {
    ASSERT_EQ(got->dtype(), DType::F32);
    EXPECT_EQ(got->to_f32_vector(), want->to_f32_vector());
  }
  EXPECT_THROW(hunyuan::load_hunyuan_dit(dir.path().string(), DType::F16), Error);
}
