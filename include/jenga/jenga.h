#pragma once
// Public API for embedders. The generation request/result types arrive with the pipeline
// (issue #8); today this exposes the version and the error type.
#include "core/error.h"
#include "jenga/version.h"
