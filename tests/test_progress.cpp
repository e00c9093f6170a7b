#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "pipeline/progress.h"

using namespace jenga;

namespace {
struct Capture {
  FILE* f = std::tmpfile();
  ~Capture() { std::fclose(f); }
  std::string text() {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[512];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    return s;
  }
};
}  // namespace

TEST(Progress, LinesWithEtaFromLaterSteps) {
  Capture c;
  double now = 100.0;
  Progress p(Progress::Mode::Lines, c.f, [&] { return now; });
  p.begin("denoise", 4);
  now += 5.0;  // first step: warm-up
  p.update(1);
  now += 1.0;
  p.update(2);
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 2.0);  // 1 s/step after the first, 2 left
  now += 1.0;
  p.update(3);
  now += 1.0;
  p.update(4);
  p.end();
  const std::string out = c.text();
  EXPECT_NE(out.find("denoise 2/4  3.00 s/step  elapsed 6.0s  eta 2.0s"), std::string::npos) << out;
  EXPECT_NE(out.find("denoise 4/4"), std::string::npos) << out;
}

TEST(Progress, JsonAndQuietAndBar) {
  {
    Capture c;
    double now = 0;
    Progress p(Progress::Mode::Json, c.f, [&] { return now; });
    p.begin("vae", 2);
    now = 1;
    p.update(1);
    p.note("wrote out.webp");
    const std::string out = c.text();
    EXPECT_NE(out.find("{\"elapsed_s\":1.0,\"eta_s\":1.0,\"s_per_step\":1.0,\"stage\":\"vae\",\"step\":1,\"total\":2}"),
              std::string::npos) << out;
    EXPECT_NE(out.find("{\"event\":\"wrote out.webp\"}"), std::string::npos) << out;
  }
  {
    Capture c;
    Progress p(Progress::Mode::Quiet, c.f);
    p.begin("x", 3);
    p.update(2);
    p.note("hidden");
    p.end();
    EXPECT_EQ(c.text(), "");
  }
  {
    Capture c;
    double now = 0;
    Progress p(Progress::Mode::Bar, c.f, [&] { return now; });
    p.begin("denoise", 10);
    // Before the first step the time left is unknown, not "0.0s" (session 16's sweep).
    EXPECT_NE(c.text().find("\rdenoise [..............................] 0/10  0.00 s/step  0.0s  eta ?  "),
              std::string::npos) << c.text();
    now = 2;
    p.update(5);
    EXPECT_NE(c.text().find("\rdenoise [###############...............] 5/10"), std::string::npos) << c.text();
  }
  // Auto on a file (not a TTY) becomes plain lines.
  Capture c;
  EXPECT_EQ(Progress(Progress::Mode::Auto, c.f).mode(), Progress::Mode::Lines);
}

TEST(Progress, DurationFormat) {
  EXPECT_EQ(Progress::format_duration(3.25), "3.2s");
  EXPECT_EQ(Progress::format_duration(65), "1:05");
  EXPECT_EQ(Progress::format_duration(3 * 3600 + 61), "3:01:01");
  EXPECT_EQ(Progress::format_duration(-1), "?");
}

TEST(Progress, EtaWeighsTheStepsLeftByTheirExpectedCost) {
  Capture c;
  double now = 0;
  Progress p(Progress::Mode::Lines, c.f, [&] { return now; });
  // Four cheap steps then two that cost 3x as much: after the first two, 1 s per unit.
  p.begin("denoise", 6, {1, 1, 1, 1, 3, 3});
  now += 4.0;  // first step: warm-up, left out of the rate
  p.update(1);
  now += 1.0;
  p.update(2);
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 1 + 1 + 3 + 3);  // counting steps would say 4
  // A cost list of the wrong length or with a non-positive entry is ignored (steps counted).
  p.begin("denoise", 3, {1, 2});
  now += 2.0;
  p.update(1);
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 4.0);
  p.begin("denoise", 3, {1, 0, 2});
  now += 2.0;
  p.update(1);
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 4.0);
}
