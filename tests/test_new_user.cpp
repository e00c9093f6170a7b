// What a new user hits first (issue #27): the no-model smoke test's small defaults, one sidecar
// per output, the sidecar's run record, signals (exit codes, latency, the second signal's
// cleanup). The bad-input table is docs/ERRORS.md, run by test_readme.cpp.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "core/error.h"
#include "jenga/presets.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/wan/wan_config.h"
#include "models/wan/wan_model.h"
#include "pipeline/generate.h"
#include "pipeline/memory_estimate.h"
#include "pipeline/output_target.h"
#include "test_util.h"

using jenga::test::run_jenga;
using jenga::test::TempDir;
namespace fs = std::filesystem;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Starts `jenga ARGS` with output to `log`; returns its pid.
pid_t spawn(const std::string& args, const std::string& log) {
  const std::string cmd = "exec " + std::string(JENGA_BIN) + " " + args + " > " + log + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}
bool wait_for(const std::string& log, const std::string& text, double seconds) {
  for (const double t0 = now_s(); now_s() - t0 < seconds; usleep(20 * 1000))
    if (slurp(log).find(text) != std::string::npos) return true;
  return false;
}
// `jenga generate` on the built-in model writing OUT, its output to LOG; its pid once it is
// denoising, or -1 (it is killed) when it never gets there.
pid_t spawn_denoising(const std::string& size_frames_steps, const std::string& out, const std::string& log) {
  const pid_t pid = spawn("generate -p cat " + size_frames_steps + " --device cpu --json-progress -o " + out, log);
  if (pid > 0 && !wait_for(log, "\"stage\":\"denoise\"", 60)) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}
// pid's exit code; -1 when a signal ended it.
int exit_code_of(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

TEST(NewUser, NoModelUsesSmallDefaultsAndSaysSo) {
  TempDir dir;
  const double t0 = now_s();
  auto r = run_jenga("generate -p 'a corgi' --device cpu -o " + (dir / "a.y4m"));
  const double took = now_s() - t0;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(took, 60.0);  // seconds on 2 cores; the old defaults took ~54 minutes
  EXPECT_NE(r.output.find("small defaults (--size 64x48 --frames 9 --steps 8)"), std::string::npos) << r.output;
  // Every phase shows progress with an ETA: loading (per block), text encoding (per prompt),
  // each denoise step, the VAE decode (per latent frame).
  for (const char* line : {"load 2/2 ", "text 2/2 ", "denoise 8/8 ", "decode 3/3 "})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  EXPECT_NE(r.output.find("eta "), std::string::npos);
  const auto side = nlohmann::json::parse(slurp(dir / "a.y4m.json"));
  EXPECT_EQ(side["settings"]["width"], 64);
  EXPECT_EQ(side["settings"]["height"], 48);
  EXPECT_EQ(side["settings"]["frames"], 9);
  EXPECT_EQ(side["settings"]["steps"], 8);
  // What the user sets wins.
  auto s = run_jenga("generate -p 'a corgi' --device cpu -q --frames 1 --steps 2 -o " + (dir / "b.y4m"));
  ASSERT_EQ(s.exit_code, 0) << s.output;
  const auto sb = nlohmann::json::parse(slurp(dir / "b.y4m.json"));
  EXPECT_EQ(sb["settings"]["frames"], 1);
  EXPECT_EQ(sb["settings"]["steps"], 2);
  EXPECT_EQ(sb["settings"]["width"], 64);
}

TEST(NewUser, EachOutputHasItsOwnSidecarAndNothingElseIsLeft) {
  TempDir dir;
  const std::string args = "generate -p 'a corgi' --device cpu -q --size 32x32 --frames 1 --steps 1 -o ";
  for (const std::string out : {"t.y4m", "t/"}) {
    auto r = run_jenga(args + (dir / out));
    ASSERT_EQ(r.exit_code, 0) << out << ": " << r.output;
  }
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "t.y4m.json"))["output"], dir / "t.y4m");
  EXPECT_EQ(nlohmann::json::parse(slurp(dir / "t.json"))["output"], dir / "t");
  EXPECT_TRUE(fs::exists(dir / "t/frame_00000.png"));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"t", "t.json", "t.y4m", "t.y4m.json"}));
}

TEST(NewUser, SidecarRecordsTheRunAndEveryComponent) {
  TempDir dir;
  ASSERT_EQ(run_jenga("debug make-tiny --out " + (dir / "m")).exit_code, 0);
  auto r = run_jenga("generate --model " + (dir / "m") +
                     " -p 'a corgi' --device cpu -q --size 32x32 --frames 1 --steps 1 --seed 18446744073709551615 -o " +
                     (dir / "a.y4m"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto side = nlohmann::json::parse(slurp(dir / "a.y4m.json"));
  EXPECT_EQ(side["settings"]["seed"].get<uint64_t>(), 18446744073709551615ull);  // the full range, exactly
  const auto& run = side["run"];
  EXPECT_TRUE(std::regex_match(run["date"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << run;
  EXPECT_NE(run["command_line"].get<std::string>().find("generate --model"), std::string::npos) << run;
  EXPECT_FALSE(run["host"].get<std::string>().empty());
  EXPECT_EQ(run["gpu"], "none");
  for (const char* c : {"dit", "vae", "text_encoder", "tokenizer"}) {
    const auto& comp = side["model"]["components"][c];
    EXPECT_TRUE(fs::path(comp["path"].get<std::string>()).is_absolute()) << comp;
    EXPECT_EQ(comp["fingerprint"].get<std::string>().rfind("fnv1a64:", 0), 0u) << comp;
    EXPECT_GT(comp["bytes"].get<uint64_t>(), 0u) << comp;
  }
  EXPECT_EQ(side["model"]["components"]["dit"]["path"], dir / "m/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(side["model"]["components"]["vae"]["path"], dir / "m/Wan2.1_VAE.safetensors");
  // Another DiT gives another fingerprint.
  ASSERT_EQ(run_jenga("debug make-tiny --seed 9 --out " + (dir / "m2")).exit_code, 0);
  ASSERT_EQ(run_jenga("generate --model " + (dir / "m2") + " -p x --device cpu -q --size 32x32 --frames 1 --steps 1 -o " +
                      (dir / "b.y4m"))
                .exit_code,
            0);
  const auto other = nlohmann::json::parse(slurp(dir / "b.y4m.json"));
  EXPECT_NE(other["model"]["components"]["dit"]["fingerprint"], side["model"]["components"]["dit"]["fingerprint"]);
  EXPECT_EQ(other["model"]["components"]["vae"]["fingerprint"], side["model"]["components"]["vae"]["fingerprint"]);
}

// SIGTERM inside a long DiT block (512x512x33: one block takes seconds on 2 cores): 143, a
// message naming it, within about a second, and nothing left (no output, no temp model folder).
TEST(NewUser, SigtermStopsWithinASecondWithItsOwnExitCode) {
  TempDir dir;
  const std::string log = dir / "run.log";
  const pid_t pid = spawn_denoising("--size 512x512 --frames 33 --steps 2", dir / "v.y4m", log);
  ASSERT_GT(pid, 0) << slurp(log);
  usleep(300 * 1000);  // inside the first forward
  const double t0 = now_s();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  const int code = exit_code_of(pid);
  const double latency = now_s() - t0;
  EXPECT_LT(latency, 2.5) << "the first step takes ~25 s here; a block-level check stops in ~1 s";
  EXPECT_EQ(code, 143) << slurp(log);
  EXPECT_NE(slurp(log).find("error: terminated by SIGTERM"), std::string::npos) << slurp(log);
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / ("jenga-tiny-" + std::to_string(pid))));
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename(), "run.log");
}

// Two Ctrl-C at once: the second ends the process at once, and still removes the temp folder.
TEST(NewUser, SecondSignalStillRemovesTheTempModel) {
  TempDir dir;
  const std::string log = dir / "run.log";
  const pid_t pid = spawn_denoising("--size 256x256 --frames 17 --steps 50", dir / "v.y4m", log);
  ASSERT_GT(pid, 0) << slurp(log);
  ASSERT_TRUE(fs::exists(fs::temp_directory_path() / ("jenga-tiny-" + std::to_string(pid))));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  EXPECT_EQ(exit_code_of(pid), 130) << slurp(log);
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / ("jenga-tiny-" + std::to_string(pid)))) << slurp(log);
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename(), "run.log");
}

// A closed terminal (SIGHUP) and `jenga ... | head` (SIGPIPE once the reader is gone) stop in
// order like SIGTERM: 128 + the signal, and the built-in model's temp folder and the partial
// output removed (both signals used to end the process where it stood).
TEST(NewUser, HangupAndBrokenPipeCleanUp) {
  TempDir dir;
  fs::create_directories(dir / "tmp");
  const std::string log = dir / "run.log";
  const pid_t pid = spawn_denoising("--size 256x256 --frames 17 --steps 50", dir / "v.y4m", log);
  ASSERT_GT(pid, 0) << slurp(log);
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  EXPECT_EQ(exit_code_of(pid), 129) << slurp(log);
  EXPECT_NE(slurp(log).find("SIGHUP"), std::string::npos) << slurp(log);
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / ("jenga-tiny-" + std::to_string(pid))));
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_TRUE(e.path().filename() == "run.log" || e.path().filename() == "tmp");

  // The pipe: TMPDIR is the test's, so the model folder's name needs no pid.
  const std::string cmd = "TMPDIR=" + (dir / "tmp") + " sh -c '(" + JENGA_BIN +
                          " generate -p cat --size 256x256 --frames 17 --steps 50 --device cpu --json-progress -o " +
                          (dir / "p.y4m") + " 2>&1; echo $? > " + (dir / "rc") + ") | head -n 1 > /dev/null'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(slurp(dir / "rc"), "141\n");
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
  EXPECT_FALSE(fs::exists(dir / "p.y4m"));
}

// Both or neither: a sidecar that cannot be made leaves no video, no temp file.
TEST(NewUser, VideoAndSidecarAreCommittedTogether) {
  TempDir dir;
  const std::string out = dir / "v.y4m";
  EXPECT_THROW(jenga::commit_video_and_sidecar(
                   out, 1,
                   [](const std::string& tmp) {
                     std::ofstream(tmp) << "video";
                     return tmp;
                   },
                   [](const std::string&) -> std::string { throw jenga::Error("disk full (simulated)"); }),
               jenga::Error);
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // A writer's failure names the output as the user gave it, not the hidden temp file.
  try {
    jenga::commit_video_and_sidecar(
        out, 1, [](const std::string& tmp) -> std::string { throw jenga::Error(tmp + ": disk full (simulated)"); },
        [](const std::string&) { return std::string("{}"); });
    ADD_FAILURE() << "no error";
  } catch (const jenga::Error& e) {
    EXPECT_EQ(std::string(e.what()).find("jenga-tmp"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(out + ": disk full", 0), 0u) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
  const std::string done = jenga::commit_video_and_sidecar(
      out, 1,
      [](const std::string& tmp) {
        std::ofstream(tmp) << "video";
        return tmp;
      },
      [](const std::string& final_path) { return "{\"output\": \"" + final_path + "\"}\n"; });
  EXPECT_EQ(done, out);
  EXPECT_EQ(slurp(out), "video");
  EXPECT_EQ(slurp(out + ".json"), "{\"output\": \"" + out + "\"}\n");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  EXPECT_EQ(names.size(), 2u);
}

// An output that is a symbolic link to a file (a library folder, a shared "latest.mp4") is written
// through: the link stays, the file it points to (in another folder) holds the new video, and no
// temp file is left on either side. The sidecar goes beside the name the user gave.
TEST(NewUser, SymlinkOutputIsWrittenThrough) {
  TempDir dir;
  fs::create_directories(dir / "store");
  fs::create_directories(dir / "out");
  std::ofstream(dir / "store/clip.y4m") << "old";
  const std::string link = dir / "out/latest.y4m";
  fs::create_symlink(dir / "store/clip.y4m", link);
  std::string tmp_seen;
  const std::string done = jenga::commit_video_and_sidecar(
      link, 1,
      [&](const std::string& tmp) {
        tmp_seen = tmp;
        std::ofstream(tmp) << "video";
        return tmp;
      },
      [](const std::string&) { return std::string("{}\n"); });
  EXPECT_EQ(done, link);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), fs::path(dir / "store/clip.y4m"));
  EXPECT_EQ(slurp(dir / "store/clip.y4m"), "video");
  EXPECT_EQ(fs::canonical(fs::path(tmp_seen).parent_path()), fs::canonical(dir / "store")) << tmp_seen;  // one file system
  EXPECT_TRUE(fs::exists(link + ".json"));
  std::vector<std::string> store, out;
  for (const auto& e : fs::directory_iterator(dir / "store")) store.push_back(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(dir / "out")) out.push_back(e.path().filename().string());
  EXPECT_EQ(store, std::vector<std::string>{"clip.y4m"});
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<std::string>{"latest.y4m", "latest.y4m.json"}));
}

// The estimate grows with what the run holds, and a published setting is in a plausible range
// (1.3B on the CPU in f32 at 832x480x81: 5.7 GB of weights plus activations and the decode).
TEST(NewUser, MemoryEstimateIsPlausibleAndRefusesWithWhatFits) {
  jenga::MemoryNeed n;
  n.width = 832, n.height = 480, n.frames = 81;
  n.dit_params = 1'418'996'800, n.dim = 1536, n.ffn_dim = 8960;
  const auto e = jenga::estimate_wan_t2v_memory(n);
  EXPECT_GT(e.total(), 8.0 * (1ull << 30));
  EXPECT_LT(e.total(), 40.0 * (1ull << 30));
  EXPECT_NEAR(e.weights, 1'418'996'800.0 * 4, 1.0);
  jenga::MemoryNeed big = n;
  big.frames = 161;
  EXPECT_GT(jenga::estimate_wan_t2v_memory(big).total(), e.total());
  // 10 GiB free: 81 frames (~11.7 GiB) do not fit, fewer do, and the error says how many.
  try {
    jenga::require_memory_fits(n, 10ull << 30, "host memory");
    FAIL() << "expected a refusal";
  } catch (const jenga::Error& err) {
    const std::string m = err.what();
    EXPECT_NE(m.find("832x480, 81 frames needs ~"), std::string::npos) << m;
    EXPECT_NE(m.find("fits"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(jenga::require_memory_fits(n, 64ull << 30, "host memory"));
  EXPECT_NO_THROW(jenga::require_memory_fits(n, 0, "host memory"));  // unknown: nothing refused
  EXPECT_GT(jenga::available_host_bytes(), 0u);
}

// On the GPU the DiT is freed before the VAE decodes and the frames stay on the host, so the need
// is the larger phase, not the sum: HunyuanVideo 13B at 1280x720x125 peaks at 35.5 GiB on an H100
// (docs/BENCHMARKS.md) and must not be refused on a 40 GB card; a 24 GB card needs --offload.
TEST(NewUser, GpuMemoryNeedIsTheLargerPhase) {
  jenga::MemoryNeed n;
  n.width = 1280, n.height = 720, n.frames = 125;
  n.dit_params = 12'821'000'000, n.dim = 3072, n.ffn_dim = 12288;
  n.cuda = true, n.bytes_per_weight = 2;
  const auto e = jenga::estimate_wan_t2v_memory(n);
  EXPECT_TRUE(e.phased);
  EXPECT_DOUBLE_EQ(e.total(), std::max(e.weights + e.activations, e.vae_decode));
  EXPECT_EQ(e.video, 0.0);
  EXPECT_NO_THROW(jenga::require_memory_fits(n, 39ull << 30, "GPU memory"));
  try {
    jenga::require_memory_fits(n, 23ull << 30, "GPU memory");
    FAIL() << "expected a refusal";
  } catch (const jenga::Error& err) {
    const std::string m = err.what();
    EXPECT_NE(m.find("--offload"), std::string::npos) << m;
    EXPECT_NE(m.find("while denoising"), std::string::npos) << m;
  }
  // Without --offload on a 24 GB card: streamed it fits, so generate streams instead of refusing,
  // when the host can hold the pinned copy of the 25.6 GB of weights.
  EXPECT_TRUE(jenga::should_stream_dit(n, 23ull << 30, 64ull << 30));
  EXPECT_FALSE(jenga::should_stream_dit(n, 23ull << 30, 16ull << 30));  // no room on the host: refused as above
  EXPECT_FALSE(jenga::should_stream_dit(n, 39ull << 30, 64ull << 30));  // fits resident
  EXPECT_FALSE(jenga::should_stream_dit(n, 8ull << 30, 64ull << 30));   // not even streamed
  EXPECT_FALSE(jenga::should_stream_dit(n, 0, 64ull << 30));            // unknown
  n.offload = true;
  EXPECT_FALSE(jenga::should_stream_dit(n, 23ull << 30, 64ull << 30));  // already asked for
  EXPECT_NO_THROW(jenga::require_memory_fits(n, 23ull << 30, "GPU memory"));
  // On the CPU everything is held at once: the sum.
  n.cuda = false, n.offload = false, n.bytes_per_weight = 4;
  const auto c = jenga::estimate_wan_t2v_memory(n);
  EXPECT_FALSE(c.phased);
  EXPECT_DOUBLE_EQ(c.total(), c.weights + c.activations + c.vae_decode + c.video);
}

// No --size / --frames: the Jenga preset's script's, else the model's official default. The
// README's `generate --model ckpts -p ... --preset turbo` used to take Wan's 832x480x81 and be
// refused by the Jenga token grid.
TEST(NewUser, VideoSizeDefaultsAreTheModelsAndThePresets) {
  using namespace jenga;
  const hunyuan::HunyuanConfig hc = hunyuan::HunyuanConfig::t2v_720p();
  const Geometry hy = hunyuan::hunyuan_geometry(hc, hunyuan::Release::T2V);
  const Geometry acc = hunyuan::hunyuan_geometry(hc, hunyuan::Release::AccVideo);
  T2VRequest r;
  EXPECT_EQ(r.width, 0);
  EXPECT_EQ(r.frames, 0);
  const std::string note = resolve_video_size(r, hy, std::nullopt, false);
  EXPECT_EQ(std::tie(r.width, r.height, r.frames), std::tuple(1280, 720, 129));  // sample_video.py
  EXPECT_NE(note.find("--size 1280x720 --frames 129"), std::string::npos) << note;
  T2VRequest t;
  const std::optional<Preset> turbo = find_preset(ModelFamily::Hunyuan, "turbo");
  resolve_video_size(t, hy, turbo, false);
  EXPECT_EQ(std::tie(t.width, t.height, t.frames), std::tuple(turbo->width, turbo->height, turbo->frames));
  EXPECT_EQ(t.frames, 125);
  EXPECT_NO_THROW(check_jenga_token_grid(turbo, hy, t.width, t.height, t.frames));
  T2VRequest a;
  resolve_video_size(a, acc, std::nullopt, false);
  EXPECT_EQ(std::tie(a.width, a.height, a.frames), std::tuple(960, 544, 93));  // AccVideo's sample_t2v.py
  // What the user named stays; only the rest is filled; nothing named -> no note.
  T2VRequest u;
  u.width = 848, u.height = 480;
  EXPECT_NE(resolve_video_size(u, hy, std::nullopt, false).find("--frames 129"), std::string::npos);
  EXPECT_EQ(std::tie(u.width, u.height), std::tuple(848, 480));
  EXPECT_EQ(resolve_video_size(u, hy, std::nullopt, false), "");
  // Image-to-video: the size is the bucket's (already set); frames still default.
  T2VRequest i;
  i.width = 1248, i.height = 704;
  resolve_video_size(i, hy, std::nullopt, true);
  EXPECT_EQ(std::tie(i.width, i.height, i.frames), std::tuple(1248, 704, 129));
  // Wan2.1: 1.3B at 480p, 14B at 720p, 81 frames.
  const Geometry w13 = wan::wan_geometry(wan::WanConfig::wan_1_3b()), w14 = wan::wan_geometry(wan::WanConfig::wan_14b());
  EXPECT_EQ(std::tie(w13.default_width, w13.default_height, w13.default_frames), std::tuple(832, 480, 81));
  EXPECT_EQ(std::tie(w14.default_width, w14.default_height, w14.default_frames), std::tuple(1280, 720, 81));
}

// Every preset the README names passes the early check; a typo fails it before any model loads.
TEST(NewUser, PresetNamesOfEveryModelPassTheEarlyCheck) {
  using namespace jenga;
  for (const char* n : {"dense", "base", "turbo", "flash", "3stage", "accvideo", "multigpu-turbo", "multigpu-3stage",
                        "turbo-1.3b", "base-14b", "i2v-base", "Turbo"})
    EXPECT_TRUE(is_preset_name(n)) << n;
  for (const char* n : {"trubo", "fast", "", "multigpu", "base-2b"}) EXPECT_FALSE(is_preset_name(n)) << n;
  T2VRequest r;
  r.prompt = "a cat";
  r.output = (std::filesystem::temp_directory_path() / "jenga-preset-check.mp4").string();
  r.preset = "accvideo";
  EXPECT_NO_THROW(check_t2v_request(r));
  r.preset = "trubo";
  try {
    check_t2v_request(r);
    FAIL() << "expected a refusal";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--preset trubo: not a preset"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("multigpu-turbo"), std::string::npos) << e.what();  // the list from presets()
  }
}
