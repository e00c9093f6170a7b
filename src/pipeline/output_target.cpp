#include "pipeline/output_target.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <typeinfo>

#include "core/error.h"
#include "core/temp_paths.h"
#include "io/file_checks.h"

namespace jenga {
namespace fs = std::filesystem;

namespace {
std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}
bool folder_target(const std::string& path, int frames) {
  return path.empty() || path.back() == '/' || fs::path(path).extension().empty() ||
         (lower_ext(path) == ".png" && frames > 1);
}
std::string strip_slash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}
// Something at `p` that an output cannot replace: a folder, FIFO, device (a regular file is
// overwritten, as before).
void check_free(const std::string& flag_value, const std::string& p, bool is_sidecar) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(p, ec)) && !fs::exists(p, ec)) return;
  const std::string kind = fs::exists(p, ec) ? file_kind(p) : "dangling symbolic link";
  if (kind == "regular file") return;
  usage_fail("-o {}: {} {} is a {} in the way; remove it or choose another output", flag_value,
             is_sidecar ? "its sidecar" : "the output", p, kind);
}
// access() says yes to root everywhere, /proc included: create (and remove) a probe file instead.
bool can_create_in(const fs::path& dir) {
  const fs::path probe = dir / (".jenga-probe-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST;  // a leftover probe of this pid: the folder takes files
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

// The hidden temp names commit_video_and_sidecar creates beside the output (renames stay
// atomic), no extra dot (the writer picks the format from the extension), the extension kept.
struct TempNames {
  std::string base;            // ".NAME-jenga-tmp-PID" in the output's folder
  std::string target;          // what write_video is given
  std::string video;           // what it leaves: the file, or the folder `base`
  std::string writer_partial;  // the writer's own ".partial" (video_writer.h)
  std::string sidecar;
};
// video_dir: where the video's temp files go (the folder of the file a symlink output writes
// through, so the last rename stays in one file system); empty = the output's own folder.
TempNames temp_names(const std::string& path, int frames, const fs::path& video_dir = {}) {
  const std::string final = final_output_path(path, frames);
  const fs::path dir = fs::path(final).parent_path();
  const std::string tag = "-jenga-tmp-" + std::to_string(::getpid());
  TempNames t;
  t.base = ((video_dir.empty() ? dir : video_dir) / fmt::format(".{}{}", fs::path(final).filename().string(), tag))
               .string();
  const bool folder = folder_target(path, frames);
  const std::string ext = fs::path(path).extension().string();
  if (lower_ext(path) == ".png" && frames > 1) t.target = t.base + ".png";  // it writes the folder `base`
  else if (folder) t.target = t.base + "/";
  else t.target = t.base + ext;
  t.video = folder ? t.base : t.target;
  t.writer_partial = folder ? t.base + ".partial" : t.base + ".partial" + ext;
  t.sidecar = (dir / fmt::format(".{}{}", fs::path(sidecar_path(final)).filename().string(), tag)).string();
  return t;
}

// The file the finished video replaces: an output that is a symbolic link to a regular file is
// written through (the link stays, its file gets the new video, as ffmpeg -y and cp do); any
// other output is replaced where it is named.
std::string write_through_target(const std::string& final) {
  std::error_code ec;
  if (!fs::is_symlink(final, ec) || !fs::is_regular_file(final, ec)) return final;
  const fs::path target = fs::canonical(final, ec);
  return ec ? final : target.string();
}

}  // namespace

std::string final_output_path(const std::string& path, int frames) {
  if (lower_ext(path) == ".png" && frames > 1) return (fs::path(path).parent_path() / fs::path(path).stem()).string();
  if (folder_target(path, frames)) return strip_slash(path);
  return path;
}

std::string sidecar_path(const std::string& final_output) { return strip_slash(final_output) + ".json"; }

void check_output_target(const std::string& path, int frames, bool before_run) {
  const std::string final = final_output_path(path, frames);
  const fs::path parent = fs::absolute(fs::path(final)).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK | X_OK) != 0 || !can_create_in(parent))
    usage_fail("-o {}: folder {} does not exist or is not writable", path, parent.string());
  // A name the file system cannot hold would fail only when the finished video is written.
  const TempNames t = temp_names(path, frames);
  size_t longest = 0;
  for (const std::string& n : {t.writer_partial, t.video, t.sidecar})
    longest = std::max(longest, fs::path(n).filename().string().size());
  if (const long name_max = ::pathconf(parent.c_str(), _PC_NAME_MAX); name_max > 0 && longest > static_cast<size_t>(name_max))
    usage_fail("-o {}: the file name is too long: its temp file while writing needs {} bytes and this file system "
               "takes names of at most {}; choose a name {} bytes shorter", path, longest, name_max,
               longest - static_cast<size_t>(name_max));
  if (folder_target(path, frames)) {
    if (fs::exists(final, ec) && !fs::is_directory(final, ec))  // -o /dev/full: not a PNG folder
      usage_fail("-o {}: the output {} (a folder of PNGs, as it has no extension) is a {} in the way; remove it or "
                 "name a file with its format (.mp4, .webp, .y4m, .png)", path, final, file_kind(final));
    if (fs::exists(final, ec))
      usage_fail("-o {}: {} already exists (a PNG folder is never merged into an old one); remove it or choose "
                 "another output", path, final);
  } else {
    check_free(path, final, false);
    // A symlink output is written through: its file's folder takes the temp file.
    if (const std::string dest = write_through_target(final); dest != final) {
      const fs::path dest_dir = fs::path(dest).parent_path();
      if (::access(dest_dir.c_str(), W_OK | X_OK) != 0 || !can_create_in(dest_dir))
        usage_fail("-o {}: a symbolic link to {}, whose folder is not writable; write elsewhere", path, dest);
    }
  }
  check_free(path, sidecar_path(final), true);
  // No video and sidecar fit in under 1 MiB but the smallest: say so now, not after the run.
  constexpr uint64_t kMinFree = 1 << 20;
  struct statvfs vfs {};
  if (before_run && ::statvfs(parent.c_str(), &vfs) == 0)
    if (const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize; free_bytes < kMinFree)
      fail("-o {}: {} has only {} KiB free (disk full?); free some space or write elsewhere", path, parent.string(),
           free_bytes / 1024);
}

std::string commit_video_and_sidecar(const std::string& path, int frames,
                                     const std::function<std::string(const std::string& tmp)>& write,
                                     const std::function<std::string(const std::string& final_path)>& sidecar_text) {
  check_output_target(path, frames, false);  // again: something may have appeared during the run
  const std::string final = final_output_path(path, frames);
  const std::string side = sidecar_path(final);
  const std::string dest = write_through_target(final);
  const TempNames names = temp_names(path, frames, dest != final ? fs::path(dest).parent_path() : fs::path());
  const std::string& tmp_target = names.target;
  TempPath video_tmp(names.video);
  TempPath writer_partial(names.writer_partial);  // so a second signal removes it too
  TempPath side_tmp(names.sidecar);
  std::string written;
  try {
    written = write(tmp_target);
  } catch (const Error& e) {
    // The writer names its hidden temp file (".o.mp4-jenga-tmp-PID.partial.mp4"); the user knows
    // the output by its own name. Other kinds (an interrupt, a usage error) keep their type.
    if (typeid(e) != typeid(Error)) throw;
    std::string msg = e.what();
    for (const std::string& tmp : {writer_partial.path(), tmp_target, names.base})
      for (size_t at; (at = msg.find(tmp)) != std::string::npos;) msg.replace(at, tmp.size(), final);
    throw Error(msg + "; nothing was kept");
  }
  if (strip_slash(written) != video_tmp.path())
    fail("internal error: the video went to {}, not {} (please report)", written, video_tmp.path());
  {
    std::ofstream out(side_tmp.path(), std::ios::binary | std::ios::trunc);
    out << sidecar_text(final);
    out.flush();
    if (!out) fail("{}: cannot write the sidecar (disk full?); no output was kept", side);
  }
  std::error_code ec;
  fs::rename(video_tmp.path(), dest, ec);
  if (ec) fail("{}: cannot move the finished video into place ({}); no output was kept", final, ec.message());
  fs::rename(side_tmp.path(), side, ec);
  if (ec) {
    std::error_code ec2;
    fs::remove_all(dest, ec2);  // both or neither
    fail("{}: cannot move the sidecar into place ({}); no output was kept", side, ec.message());
  }
  video_tmp.release();
  side_tmp.release();
  return final;
}

}  // namespace jenga
