#pragma once
// Where a video and its sidecar go, checked before any work and committed together.
//   check_output_target: the parent folder exists and is writable; nothing in the way (a folder
//     named x.mp4, an existing PNG folder, a FIFO); the sidecar's name is free the same way.
//   sidecar_path: the written path + ".json" (t.mp4 -> t.mp4.json, t.y4m -> t.y4m.json, PNG
//     folder t/ -> t.json), so outputs that differ only by format never share a sidecar.
//   commit_video_and_sidecar: the video and the sidecar are written under hidden temp names in
//     the destination folder, then both renamed into place; on any failure neither is left.
#include <functional>
#include <string>

namespace jenga {

// The path write_video ends up writing for `path` with `frames` frames (a PNG folder for a
// multi-frame .png or a path without extension; trailing '/' dropped).
std::string final_output_path(const std::string& path, int frames);
std::string sidecar_path(const std::string& final_output);

// UsageError naming the problem and what to do. With `before_run`, also an Error when the
// folder's file system has under 1 MiB free (a full disk failed only once the video was done).
void check_output_target(const std::string& path, int frames, bool before_run = true);

// write(tmp_path) writes the video to the given temp path (same extension) and returns the path
// it wrote; sidecar_text is computed after it (e.g. with the final path). Returns the final path.
std::string commit_video_and_sidecar(const std::string& path, int frames,
                                     const std::function<std::string(const std::string& tmp)>& write,
                                     const std::function<std::string(const std::string& final_path)>& sidecar_text);

}  // namespace jenga
