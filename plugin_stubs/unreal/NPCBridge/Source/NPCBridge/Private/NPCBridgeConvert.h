// Conversions between the engine's FString / JSON text and the client's std::string / Value.
#pragma once

#include "CoreMinimal.h"
#include "npc_bridge/value.hpp"

namespace NPCBridgeConvert
{
	inline std::string ToStd(const FString& Text) { return std::string(TCHAR_TO_UTF8(*Text)); }
	inline FString ToF(const std::string& Text) { return FString(UTF8_TO_TCHAR(Text.c_str())); }

	/** Any JSON text to a Value; false (and nil) when it does not parse. */
	bool ParseJson(const FString& Json, npc_bridge::Value& Out);

	/** A Value as compact JSON text (for Blueprint events). */
	inline FString ToJson(const npc_bridge::Value& Value) { return ToF(Value.to_json()); }
}
