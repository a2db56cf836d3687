// The NPCBridge runtime module: no start-up work (the subsystem connects with the game instance).
#include "Modules/ModuleManager.h"

IMPLEMENT_MODULE(FDefaultModuleImpl, NPCBridge)
