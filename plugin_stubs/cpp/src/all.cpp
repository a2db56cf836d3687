// The whole client as one translation unit, for engines that compile sources in their own
// build (the Unreal plugin includes this file). CMake builds it too, to keep it compiling.
#include "value.cpp"
#include "decode.cpp"
#include "messages.cpp"
#include "client.cpp"
