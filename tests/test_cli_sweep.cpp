// Bad input found by a new-user sweep of the CLI over make-tiny's folders (session 16): each
// one gets one clear line naming the cause, exits 1 or 2 and leaves nothing behind; none hangs.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/wan/tokenizer.h"
#include "test_util.h"

using jenga::test::run_jenga;
using jenga::test::run_jenga_with_prefix;
using jenga::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A hang is a failure, not a stuck suite.
jenga::test::RunResult run_bounded(const std::string& args) { return run_jenga_with_prefix("timeout -s KILL 60 ", args); }

std::string last_line(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const size_t at = s.rfind('\n');
  return at == std::string::npos ? s : s.substr(at + 1);
}

// Every tensor of a safetensors file set to `value` (the file rewritten in place, as f32).
void fill_weights(const std::string& file, float value) {
  jenga::SafetensorsWriter w;
  {
    const jenga::Checkpoint ck = jenga::Checkpoint::open(file);
    for (const auto& n : ck.names()) {
      const jenga::Tensor t = ck.load(n, jenga::DType::F32);  // may map the file: not written
      const std::vector<float> v(static_cast<size_t>(t.numel()), value);
      w.add(n, jenga::Tensor::from_f32(v, t.shape()));
    }
  }
  w.write(file);
}

bool has_output(const TempDir& d) {
  for (const auto& e : fs::directory_iterator(d.path()))
    if (e.path().filename().string().rfind("o", 0) == 0 || e.path().filename().string().rfind(".o", 0) == 0) return true;
  return false;
}

}  // namespace

// A FIFO or a folder where a component's config.json belongs: inspect named nothing and hung
// on the FIFO (open(2) waits for a writer), or died with "internal error (ios_failure)" on the
// folder; generate took it as "no config" and failed later about shapes.
TEST(CliSweep, ConfigJsonThatIsAFifoOrFolderIsNamedNeverOpened) {
  TempDir d;
  const std::string m = d / "hy";
  ASSERT_EQ(run_jenga("debug make-tiny --family hunyuan --out " + m).exit_code, 0);
  for (const std::string comp : {"hunyuan-video-t2v-720p/vae", "text_encoder", "text_encoder_2",
                                 "hunyuan-video-t2v-720p/transformers"}) {
    const std::string cfg = m + "/" + comp + "/config.json";
    const std::string keep = d / "config.keep";
    fs::rename(cfg, keep);
    for (const bool fifo : {true, false}) {
      if (fifo) {
        ASSERT_EQ(::mkfifo(cfg.c_str(), 0600), 0);
      } else {
        fs::create_directory(cfg);
      }
      const std::string kind = fifo ? "is a FIFO (named pipe), not a JSON file" : "is a folder, not a JSON file";
      auto r = run_bounded("inspect --summary " + m);
      EXPECT_EQ(r.exit_code, 1) << comp << "\n" << r.output;
      EXPECT_NE(last_line(r.output).find(cfg + ": " + kind), std::string::npos) << comp << "\n" << r.output;
      EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
      r = run_bounded("generate -q --model " + m + " -p x --size 32x32 --frames 5 --steps 1 -o " + (d / "o.mp4"));
      EXPECT_EQ(r.exit_code, 1) << comp << "\n" << r.output;
      EXPECT_NE(last_line(r.output).find(cfg + ": " + kind), std::string::npos) << comp << "\n" << r.output;
      EXPECT_FALSE(has_output(d)) << comp;
      fs::remove(cfg);
    }
    fs::rename(keep, cfg);
  }
  // The folder is whole again: it runs.
  EXPECT_EQ(run_bounded("inspect --summary " + m).exit_code, 0);
}

// A damaged HunyuanVideo config.json is named by byte, as a Wan one is, without the JSON
// library's "[json.exception.parse_error.101] ..." text.
TEST(CliSweep, DamagedHunyuanConfigJsonIsNamedWithoutLibraryText) {
  TempDir d;
  const std::string m = d / "hy";
  ASSERT_EQ(run_jenga("debug make-tiny --family hunyuan --out " + m).exit_code, 0);
  for (const std::string comp : {"hunyuan-video-t2v-720p/vae", "hunyuan-video-t2v-720p/transformers"}) {
    const std::string cfg = m + "/" + comp + "/config.json";
    fs::resize_file(cfg, 8);
    const auto r = run_bounded("generate -q --model " + m + " -p x --size 32x32 --frames 5 --steps 1 -o " + (d / "o.mp4"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(last_line(r.output).find(cfg + ": not valid JSON (near byte"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("json.exception"), std::string::npos) << r.output;
    EXPECT_FALSE(has_output(d));
    ASSERT_EQ(run_jenga("debug make-tiny --family hunyuan --out " + (d / "fresh")).exit_code, 0);
    fs::copy_file(d / ("fresh/" + comp + "/config.json"), cfg, fs::copy_options::overwrite_existing);
    fs::remove_all(d / "fresh");
  }
}

// NaN weights in the Wan DiT: the message blamed "DiT input x" at step 2; it names the DiT's
// output at step 1. A Wan VAE whose finite weights overflow (1e38) decoded to NaN pixels and
// wrote them as a video (NaN to uint8 is undefined) with exit 0.
TEST(CliSweep, NanFromWanWeightsIsNamedAndNothingIsWritten) {
  TempDir d;
  const std::string m = d / "wan";
  ASSERT_EQ(run_jenga("debug make-tiny --family wan --out " + m).exit_code, 0);
  const std::string gen = "generate -q --model " + m + " -p x --size 64x48 --frames 5 --steps 2 -o " + (d / "o.mp4");

  fs::copy_file(m + "/diffusion_pytorch_model.safetensors", d / "dit.keep");
  fill_weights(m + "/diffusion_pytorch_model.safetensors", NAN);
  auto r = run_bounded(gen);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(last_line(r.output).find("error: the DiT produced NaN/inf at step 1; its weights may be corrupt"),
            std::string::npos) << r.output;
  EXPECT_FALSE(has_output(d));
  fs::copy_file(d / "dit.keep", m + "/diffusion_pytorch_model.safetensors", fs::copy_options::overwrite_existing);

  fill_weights(m + "/Wan2.1_VAE.safetensors", 1e38f);  // finite: the loader's NaN check passes them
  r = run_bounded(gen);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(last_line(r.output).find("error: the VAE decoder produced NaN/inf"), std::string::npos) << r.output;
  EXPECT_NE(last_line(r.output).find("Wan2.1_VAE.safetensors"), std::string::npos) << r.output;
  EXPECT_FALSE(has_output(d));
}

// A name the file system cannot hold with the temp suffix failed only after the whole run
// ("File name too long" from the writer); it is refused before any work.
TEST(CliSweep, OutputNameTooLongIsRefusedBeforeTheRun) {
  TempDir d;
  const long name_max = ::pathconf(d.path().c_str(), _PC_NAME_MAX);
  ASSERT_GT(name_max, 20);
  // Fits NAME_MAX itself but not with ".NAME-jenga-tmp-PID.partial.y4m".
  const std::string name = std::string(static_cast<size_t>(name_max) - 4, 'a') + ".y4m";
  const auto r = run_bounded("generate -q -p x --frames 1 --steps 1 -o " + (d / name));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("the file name is too long"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("denoise"), std::string::npos) << r.output;  // nothing ran
  EXPECT_TRUE(fs::is_empty(d.path()));
}

// An extension-less output names a PNG folder; a FIFO or device there (-o /dev/full) was
// called an "existing PNG folder".
TEST(CliSweep, NonFolderAtAnExtensionlessOutputIsNamed) {
  TempDir d;
  ASSERT_EQ(::mkfifo((d / "out").c_str(), 0600), 0);
  const auto r = run_bounded("generate -q -p x --frames 1 --steps 1 -o " + (d / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("(a folder of PNGs, as it has no extension) is a FIFO (named pipe) in the way"),
            std::string::npos) << r.output;
}

// `inspect --json` of a HunyuanVideo folder missing a component read a Wan folder that was
// never made ("missing DiT, expected at "); both forms' last lines name what is missing.
TEST(CliSweep, InspectOfAnIncompleteHunyuanFolderNamesTheMissingPart) {
  TempDir d;
  const std::string m = d / "hy";
  ASSERT_EQ(run_jenga("debug make-tiny --family hunyuan --out " + m).exit_code, 0);
  fs::remove_all(m + "/text_encoder_2");
  for (const std::string flag : {"--json", "--summary"}) {
    const auto r = run_bounded("inspect " + flag + " " + m);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(last_line(r.output).find("not a usable HunyuanVideo model: the CLIP-L text encoder is missing"),
              std::string::npos) << flag << "\n" << r.output;
  }
}

// A damaged umT5 spiece.model: inspect said "usable: yes" and generate showed sentencepiece's
// source lines; inspect now opens it and both name it in words.
TEST(CliSweep, DamagedTokenizerIsNamedByInspectAndGenerate) {
  if (!jenga::wan::UmT5Tokenizer::available()) GTEST_SKIP() << "built without sentencepiece";
  TempDir d;
  const std::string m = d / "wan";
  ASSERT_EQ(run_jenga("debug make-tiny --family wan --out " + m).exit_code, 0);
  const std::string sp = m + "/google/umt5-xxl/spiece.model";
  fs::resize_file(sp, fs::file_size(sp) / 2);
  auto r = run_bounded("inspect --summary " + m);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(last_line(r.output).find("not a usable model: the tokenizer cannot be read: " + sp +
                                     " is not a SentencePiece tokenizer model (it does not parse"),
            std::string::npos) << r.output;
  r = run_bounded("generate -q --model " + m + " -p x --size 64x48 --frames 1 --steps 1 -o " + (d / "o.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(last_line(r.output).find("it does not parse"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(".cc("), std::string::npos) << r.output;
  EXPECT_FALSE(has_output(d));
}

// A component flag without --model: "expected at (no --model: pass ...)" read as a path.
TEST(CliSweep, ComponentWithoutModelSaysWhatIsMissing) {
  TempDir d;
  ASSERT_EQ(run_jenga("debug make-tiny --family wan --out " + (d / "wan")).exit_code, 0);
  const auto r = run_bounded("generate -q -p x --vae " + (d / "wan/Wan2.1_VAE.safetensors") + " -o " + (d / "o.mp4"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(last_line(r.output).find("error: missing DiT: with no --model, pass --diffusion-model FILE"),
            std::string::npos) << r.output;
}

// --latents-out (debug) onto a folder failed after the whole run ("cannot move the finished
// file into place (Is a directory)"); it is refused with the other output checks.
TEST(CliSweep, LatentsOutFolderIsRefusedBeforeTheRun) {
  TempDir d;
  fs::create_directory(d / "l.safetensors");
  const auto r = run_bounded("generate -q -p x --frames 1 --steps 1 --latents-out " + (d / "l.safetensors") + " -o " +
                             (d / "o.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("--latents-out " + (d / "l.safetensors") + ": is a folder"), std::string::npos)
      << r.output;
  EXPECT_FALSE(has_output(d));
}

// A flag given twice said CLI11's "--prompt: At Most 1 required but received 2".
TEST(CliSweep, FlagGivenTwiceIsSaidInWords) {
  const auto r = run_bounded("generate -q -p x -p y -o /tmp/never.mp4");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("error: --prompt is given 2 times; give it once"), std::string::npos) << r.output;
}

// Words a user acts on: an --i2v-resolution that is neither a name nor a bucket base listed only
// the names (a number is taken too); --image errors named PNG and JPEG only (WebP is read too).
TEST(CliSweep, ImageFlagErrorsListWhatIsAccepted) {
  TempDir d;
  const std::string png = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v/grey_50x50.png";
  auto r = run_bounded("generate -q -p x --image " + png + " --i2v-resolution 1080p -o " + (d / "o.mp4"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("--i2v-resolution 1080p: use 720p, 540p or 360p, or a bucket base in pixels"),
            std::string::npos) << r.output;
  r = run_bounded("generate -q -p x --image " + (d / "none.png") + " -o " + (d / "o.mp4"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("give the path of a PNG, JPEG or WebP image"), std::string::npos) << r.output;
}

// A damaged HunyuanVideo tokenizer (tokenizer.json, CLIP's vocab.json): inspect said "usable:
// yes" while generate failed on it; inspect opens both tokenizers and names the file.
TEST(CliSweep, InspectOpensTheHunyuanTokenizers) {
  TempDir d;
  const std::string m = d / "hy";
  ASSERT_EQ(run_jenga("debug make-tiny --family hunyuan --out " + m).exit_code, 0);
  for (const std::string file : {"text_encoder/tokenizer.json", "text_encoder_2/vocab.json"}) {
    const std::string keep = d / "keep";
    fs::copy_file(m + "/" + file, keep, fs::copy_options::overwrite_existing);
    fs::resize_file(m + "/" + file, 8);
    const auto r = run_bounded("inspect --summary " + m);
    EXPECT_EQ(r.exit_code, 1) << file << "\n" << r.output;
    EXPECT_NE(last_line(r.output).find("a tokenizer cannot be read: " + m + "/" + file + ": is not valid JSON"),
              std::string::npos) << r.output;
    fs::copy_file(keep, m + "/" + file, fs::copy_options::overwrite_existing);
  }
  EXPECT_EQ(run_bounded("inspect --summary " + m).exit_code, 0);
}

// An existing output is replaced (as before: re-running a command is normal), but no longer
// silently; an interrupted or failed run keeps it (the commit renames at the very end).
TEST(CliSweep, ReplacingAnExistingOutputIsSaid) {
  TempDir d;
  std::ofstream(d / "o.png") << "old";
  auto r = run_bounded("generate -p x --frames 1 --steps 1 -o " + (d / "o.png"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(last_line(r.output).find("(replacing the earlier " + (d / "o.png") + ")"), std::string::npos) << r.output;
  r = run_bounded("generate -p x --frames 1 --steps 1 -o " + (d / "p.png"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("replacing"), std::string::npos) << r.output;
}

// A file that is plainly something else given as weights was "not a valid safetensors file:
// header length 727905341920923785 exceeds the 100000000 byte limit"; it is named by its kind.
TEST(CliSweep, NonCheckpointFilesAreNamedByWhatTheyAre) {
  TempDir d;
  const std::string png = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v/grey_50x50.png";
  fs::copy_file(png, d / "image.pt");
  std::ofstream(d / "config.safetensors") << "{\n  \"dim\": 128\n}\n";
  std::ofstream(d / "notes.safetensors") << "these are my notes\n";
  for (const auto& [file, kind] : {std::pair{png, "a PNG image"}, {d / "image.pt", "a PNG image"},
                                   {d / "config.safetensors", "JSON text"}, {d / "notes.safetensors", "a text file"}}) {
    auto r = run_bounded("inspect " + file);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(last_line(r.output).find(file + ": is " + kind), std::string::npos) << r.output;
    r = run_bounded("generate -q -p x --model " + file + " -o " + (d / "o.mp4"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(last_line(r.output).find(std::string(": is ") + kind), std::string::npos) << r.output;
  }
}

// One component's folder given as --model (HunyuanVideo's vae/, whose weights carry the DiT's
// file name): "missing VAE, expected at .../vae/Wan2.1_VAE.pth"; it says what the folder holds.
TEST(CliSweep, ComponentFolderAsModelIsNamed) {
  TempDir d;
  const std::string m = d / "hy";
  ASSERT_EQ(run_jenga("debug make-tiny --family hunyuan --out " + m).exit_code, 0);
  const auto r = run_bounded("generate -q -p x --model " + m + "/hunyuan-video-t2v-720p/vae -o " + (d / "o.mp4"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("this folder holds one component (a hunyuanvideo-vae), not a whole model"),
            std::string::npos) << r.output;
}

// make-tiny --family hunyuan into a Wan folder wrote a mix that generate ran as the Wan model
// (make-tiny still said "run it with generate --model"); only the same family's folder is reused.
TEST(CliSweep, MakeTinyRefusesAFolderHoldingAnotherModel) {
  TempDir d;
  const std::string m = d / "m";
  ASSERT_EQ(run_jenga("debug make-tiny --family wan --out " + m).exit_code, 0);
  EXPECT_EQ(run_jenga("debug make-tiny --family wan --out " + m).exit_code, 0);  // again: fine
  const auto r = run_bounded("debug make-tiny --family hunyuan --out " + m);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(last_line(r.output).find("--out " + m + ": already holds "), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(m + "/text_encoder_2"));
}

// A full disk failed only after the whole run ("write failed (disk full?)"): under 1 MiB free is
// refused before it. The full disk is a 64 KiB tmpfs in a private mount namespace (unshare -rm:
// no root needed where user namespaces are allowed; skipped elsewhere).
TEST(CliSweep, FullDiskIsRefusedBeforeTheRun) {
  TempDir d;
  const std::string mnt = d / "full";
  fs::create_directory(mnt);
  if (std::system(("unshare -rm sh -c 'mount -t tmpfs -o size=64k tmpfs " + mnt + "' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "no unshare -rm here (user namespaces off)";
  const auto r = run_jenga_with_prefix(
      "timeout -s KILL 60 unshare -rm sh -c 'mount -t tmpfs -o size=64k tmpfs " + mnt + " && exec ",
      "generate -q -p x --frames 1 --steps 1 -o " + mnt + "/o.png 2>&1' #");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(last_line(r.output).find("KiB free (disk full?); free some space or write elsewhere"), std::string::npos)
      << r.output;
}
