// glibc's allocator tuning (mallopt), which the Glibc module does not bring: `drip connect` keeps
// freed read buffers for reuse (Workbench's ConnectTool). Empty where there is no <malloc.h>.
#pragma once

#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
