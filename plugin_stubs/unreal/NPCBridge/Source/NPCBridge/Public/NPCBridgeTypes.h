// NPC Bridge: the Blueprint-facing types (an engine action, the events' signatures).
#pragma once

#include "CoreMinimal.h"
#include "NPCBridgeTypes.generated.h"

/** An action the game can run when the NPC asks (declared at session open). */
USTRUCT(BlueprintType)
struct NPCBRIDGE_API FNPCBridgeAction
{
	GENERATED_BODY()

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	FString Name;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	FString Description;

	/** JSON Schema of the arguments, e.g. {"type":"object","properties":{"color":{"type":"string"}}} */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	FString ParametersJson = TEXT("{\"type\":\"object\",\"properties\":{}}");
};

DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FNPCBridgeTextEvent, const FString&, Text, bool, bFinal);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FNPCBridgeActionEvent, const FString&, CallId, const FString&, Name, const FString&, ArgumentsJson);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FNPCBridgeEmotionEvent, const FString&, Emotion, float, Intensity);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FNPCBridgeTurnEvent, int32, Turn, const FString&, Reason);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FNPCBridgeErrorEvent, const FString&, Code, const FString&, Reason);
DECLARE_DYNAMIC_MULTICAST_DELEGATE(FNPCBridgeConnectionEvent);
