// The tested C++ client (plugin_stubs/cpp/src/all.cpp) compiled into this module.
// Engine macros that collide with names in msgpack-cxx (check) or cppzmq are set aside
// around it, and Windows headers come in the engine's way.
#include "CoreMinimal.h"

#pragma push_macro("check")
#pragma push_macro("verify")
#pragma push_macro("ensure")
#undef check
#undef verify
#undef ensure

#if PLATFORM_WINDOWS
#include "Windows/AllowWindowsPlatformTypes.h"
#endif
THIRD_PARTY_INCLUDES_START
#include "all.cpp"
THIRD_PARTY_INCLUDES_END
#if PLATFORM_WINDOWS
#include "Windows/HideWindowsPlatformTypes.h"
#endif

#pragma pop_macro("ensure")
#pragma pop_macro("verify")
#pragma pop_macro("check")
