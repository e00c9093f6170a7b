#pragma once
// Checks on user-given paths before they are opened: open(2) on a FIFO blocks until a writer
// comes (a hang that ignores Ctrl-C), and a device or socket is never a checkpoint. stat(2)
// never blocks, so every open of a user file goes through here first.
#include <string>

namespace jenga {

// Throws Error "<what> <path>: is a FIFO (named pipe), not a regular file; ..." unless `path`
// (after symlinks) is a regular file. A missing path is "no such file".
void require_regular_file(const std::string& path, const std::string& what);

// "regular file", "folder", "FIFO (named pipe)", "socket", "character device", "block device",
// "missing" — for messages.
std::string file_kind(const std::string& path);

}  // namespace jenga
