/* The shims are static inline in the header; this file gives SwiftPM a C target to build. */
#include "cncurses.h"
