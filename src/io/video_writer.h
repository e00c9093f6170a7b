#pragma once
// Writes frames as a video or images, chosen by the output path:
//   .mp4  H.264 yuv420p, in-process through libavcodec when the build found it (mp4_libav.h),
//         else through an `ffmpeg` program on PATH; a clear error says what to use when neither
//   .webp animated WebP (when built with libwebp)
//   .y4m  raw YUV4MPEG2 4:2:0 (always available; any player or ffmpeg reads it)
//   .png  one image when there is one frame; otherwise a folder of PNGs named after the path
//   a path ending in '/' or without extension: a folder of PNGs
// Everything is written to a temporary name first and renamed at the end, so an interrupted
// or failed write never leaves a half file at the destination.
#include <string>
#include <vector>

#include "io/frames.h"

namespace jenga {

// Formats this build can write ("mp4" with libav built in or ffmpeg found at run time).
std::vector<std::string> supported_video_formats();
// Throws UsageError for an unknown extension or a format this build lacks, before any work.
void check_video_path(const std::string& path);
// Returns the path actually written (the folder for PNG sequences).
std::string write_video(const std::string& path, const Frames& frames, int fps);

// Single image (PNG), temp + rename.
void write_png(const std::string& path, const uint8_t* rgb, int width, int height);

}  // namespace jenga
