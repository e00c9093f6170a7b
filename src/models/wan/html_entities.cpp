#include "models/wan/html_entities.h"

#include <map>

namespace jenga::wan {
namespace {

std::map<std::u32string, HtmlEntity> build() {
  std::map<std::u32string, HtmlEntity> m;
  auto add = [&](std::string_view name, std::u32string value, bool legacy) {
    m[std::u32string(name.begin(), name.end())] = HtmlEntity{std::move(value), legacy};
  };
  // U+00A0..U+00FF in order: the HTML 4 Latin-1 set, all legacy (semicolon optional).
  static const char* kLatin1[96] = {
      "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",    "copy",   "ordf",
      "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn", "sup2",   "sup3",   "acute",  "micro",
      "para",   "middot", "cedil",  "sup1",   "ordm",   "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave",
      "Aacute", "Acirc",  "Atilde", "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",
      "Igrave", "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",
      "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",  "szlig",  "agrave", "aacute",
      "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil", "egrave", "eacute", "ecirc",  "euml",   "igrave",
      "iacute", "icirc",  "iuml",   "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide",
      "oslash", "ugrave", "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};
  for (int i = 0; i < 96; ++i) add(kLatin1[i], std::u32string(1, static_cast<char32_t>(0xA0 + i)), true);
  for (auto [n, c] : {std::pair{"amp", U'&'}, {"lt", U'<'}, {"gt", U'>'}, {"quot", U'"'}, {"AMP", U'&'},
                      {"LT", U'<'}, {"GT", U'>'}, {"QUOT", U'"'}, {"COPY", U'\u00A9'}, {"REG", U'\u00AE'}})
    add(n, std::u32string(1, c), true);
  // Semicolon required.
  static const std::pair<const char*, char32_t> kOther[] = {
      {"apos", 0x27},     {"hellip", 0x2026}, {"mldr", 0x2026},  {"mdash", 0x2014},  {"ndash", 0x2013},
      {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"ldquo", 0x201C}, {"rdquo", 0x201D},  {"sbquo", 0x201A},
      {"bdquo", 0x201E},  {"euro", 0x20AC},   {"trade", 0x2122}, {"TRADE", 0x2122}, {"bull", 0x2022},
      {"dagger", 0x2020}, {"Dagger", 0x2021}, {"permil", 0x2030}, {"lsaquo", 0x2039}, {"rsaquo", 0x203A},
      {"prime", 0x2032},  {"Prime", 0x2033},  {"OElig", 0x152},  {"oelig", 0x153},   {"Scaron", 0x160},
      {"scaron", 0x161},  {"Yuml", 0x178},    {"fnof", 0x192},   {"circ", 0x2C6},    {"tilde", 0x2DC},
      {"ensp", 0x2002},   {"emsp", 0x2003},   {"thinsp", 0x2009}, {"zwnj", 0x200C},  {"zwj", 0x200D},
      {"lrm", 0x200E},    {"rlm", 0x200F},    {"larr", 0x2190},  {"uarr", 0x2191},   {"rarr", 0x2192},
      {"darr", 0x2193},   {"harr", 0x2194},   {"hearts", 0x2665}, {"spades", 0x2660}, {"clubs", 0x2663},
      {"diams", 0x2666},  {"infin", 0x221E},  {"ne", 0x2260},    {"le", 0x2264},     {"ge", 0x2265},
      {"minus", 0x2212},  {"check", 0x2713},  {"checkmark", 0x2713}, {"star", 0x2606}, {"starf", 0x2605},
      {"deg", 0xB0},      {"frasl", 0x2044},  {"oline", 0x203E}, {"nabla", 0x2207},  {"sum", 0x2211},
      {"prod", 0x220F},   {"radic", 0x221A},  {"asymp", 0x2248}, {"equiv", 0x2261},
      {"loz", 0x25CA},    {"sdot", 0x22C5},   {"part", 0x2202},  {"int", 0x222B},    {"empty", 0x2205},
      {"isin", 0x2208},   {"forall", 0x2200}, {"exist", 0x2203}, {"and", 0x2227},    {"or", 0x2228},
      {"cap", 0x2229},    {"cup", 0x222A},    {"sub", 0x2282},   {"sup", 0x2283},    {"hyphen", 0x2010},
      {"dash", 0x2010},   {"colon", 0x3A},    {"comma", 0x2C},   {"period", 0x2E},   {"excl", 0x21},
      {"quest", 0x3F},    {"num", 0x23},      {"dollar", 0x24},  {"percnt", 0x25},   {"lpar", 0x28},
      {"rpar", 0x29},     {"ast", 0x2A},      {"plus", 0x2B},    {"sol", 0x2F},      {"semi", 0x3B},
      {"equals", 0x3D},   {"commat", 0x40},   {"lsqb", 0x5B},    {"rsqb", 0x5D},     {"bsol", 0x5C},
      {"lowbar", 0x5F},   {"grave", 0x60},    {"lcub", 0x7B},    {"rcub", 0x7D},     {"verbar", 0x7C},
      {"vert", 0x7C},     {"Tab", 0x9},       {"NewLine", 0xA},  {"nbsp", 0xA0}};
  for (const auto& [n, c] : kOther)
    if (!m.count(std::u32string(n, n + std::char_traits<char>::length(n)))) add(n, std::u32string(1, c), false);
  // Greek letters.
  static const char* kGreekUpper[] = {"Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota",
                                      "Kappa", "Lambda", "Mu", "Nu", "Xi", "Omicron", "Pi", "Rho", nullptr, "Sigma",
                                      "Tau", "Upsilon", "Phi", "Chi", "Psi", "Omega"};
  static const char* kGreekLower[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
                                      "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigmaf", "sigma",
                                      "tau", "upsilon", "phi", "chi", "psi", "omega"};
  for (int i = 0; i < 25; ++i) {
    if (kGreekUpper[i]) add(kGreekUpper[i], std::u32string(1, static_cast<char32_t>(0x391 + i)), false);
    add(kGreekLower[i], std::u32string(1, static_cast<char32_t>(0x3B1 + i)), false);
  }
  return m;
}

}  // namespace

std::optional<HtmlEntity> html_entity(std::u32string_view name) {
  static const auto table = build();
  auto it = table.find(std::u32string(name));
  if (it == table.end()) return std::nullopt;
  return it->second;
}

}  // namespace jenga::wan
