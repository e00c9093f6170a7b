#pragma once
// ftfy 6.3's mojibake repair (ftfy.fix_encoding, default TextFixerConfig), our own C++ of its
// algorithm for Wan2.1's prompt cleaning: while the text looks bad (badness.is_bad), re-encode it in
// the first single-byte charmap that can hold it (latin-1, the sloppy windows-1252/1251/1250/1253/
// 1254/1257, iso-8859-2, macroman, cp437), restoring 0xA0 bytes turned into spaces and lossy U+FFFD/'?'
// sequences, and decode as UTF-8 (or CESU-8 / Java's C0 80); else fix embedded UTF-8 mojibake runs,
// Latin-1 read for Windows-1252, and C1 controls. No maintained C++ ftfy exists; the data tables are
// generated from ftfy itself (tools/gen_ftfy_tables.py -> mojibake_tables.inc).
#include <string>

namespace jenga::wan {

// ftfy.fix_encoding(text): repeated one-step fixes until nothing changes.
std::u32string fix_encoding(const std::u32string& text);

// ftfy.fixes.fix_c1_controls: U+0080..U+009F as their (sloppy) Windows-1252 characters.
std::u32string fix_c1_controls(const std::u32string& text);

// ftfy.badness.is_bad: does any alternative of BADNESS_RE match somewhere in text?
bool is_bad(const std::u32string& text);

}  // namespace jenga::wan
