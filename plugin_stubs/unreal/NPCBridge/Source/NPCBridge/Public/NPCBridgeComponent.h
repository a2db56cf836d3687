// UNPCBridgeComponent: one NPC's conversation (a session) on its actor, with voice and face.
#pragma once

#include "CoreMinimal.h"
#include "Components/ActorComponent.h"
#include "npc_bridge/client.hpp"
#include "NPCBridgeTypes.h"
#include "NPCBridgeComponent.generated.h"

class UAudioComponent;
class USoundWaveProcedural;
class FNPCBridgeLiveLinkSource;
class FNPCBridgeMicrophone;
class UNPCBridgeSubsystem;

/**
 * Add to an NPC actor. Opens a session with the brain at BeginPlay, plays the NPC's voice
 * from its own audio component (a procedural sound wave), feeds the ARKit face curves to
 * Live Link subject LiveLinkSubject at the voice's playback position, and raises the
 * events below on the game thread.
 */
UCLASS(ClassGroup = (AI), meta = (BlueprintSpawnableComponent))
class NPCBRIDGE_API UNPCBridgeComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UNPCBridgeComponent();

	/** NPC id from the brain's list; empty = its default NPC. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	FString NpcId;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	FString PlayerId = TEXT("player-1");

	/** Hz of the NPC's voice: 16000, 22050, 24000, 44100 or 48000. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	int32 AudioOutRate = 24000;

	/** What the game can do when this NPC asks (answer with ReportActionResult). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	TArray<FNPCBridgeAction> Actions;

	/** Initial SteerLM attributes, 0-4 each (humor, verbosity, ...). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	TMap<FString, int32> Steer;

	/** Live Link subject for the face (a MetaHuman's ARKit face AnimBP); None = the NPC id. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "NPC Bridge")
	FName LiveLinkSubject;

	UPROPERTY(EditAnywhere, Category = "NPC Bridge")
	bool bOpenOnBeginPlay = true;

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeTextEvent OnTranscript;  // the player's words; partials replace each other

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeTextEvent OnDialogue;    // the NPC's line so far; bFinal: the whole line

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeActionEvent OnAction;

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeEmotionEvent OnEmotion;

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeTurnEvent OnTurnEnd;     // reason: done, interrupted, cancelled, error

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeTurnEvent OnInterrupted; // reason: barge-in, cancel

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeErrorEvent OnError;

	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void OpenSession();

	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void CloseSession();

	/** Open the microphone and stream it (20 ms chunks); the brain's VAD ends each turn. */
	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void StartTalking();

	/** Close the microphone and end the turn now (push-to-talk released). */
	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void StopTalking();

	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void SendText(const FString& Text);

	/** Answer OnAction's call: ResultJson is any JSON value ("" for none). */
	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void ReportActionResult(const FString& CallId, bool bOk, const FString& ResultJson, const FString& Error);

	/** SteerLM attributes from the next turn on; names not given keep their value. */
	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void SetSteer(const TMap<FString, int32>& Attributes);

	/** Stop the NPC's reply in flight. */
	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void Cancel();

	UFUNCTION(BlueprintPure, Category = "NPC Bridge")
	FString GetSessionId() const { return SessionId; }

	UFUNCTION(BlueprintPure, Category = "NPC Bridge")
	FString GetNpcName() const { return NpcName; }

	// From UNPCBridgeSubsystem, on the game thread.
	void HandleOpened(const npc_bridge::SessionOpened& Msg);
	void HandleClosed(const npc_bridge::SessionClosed& Msg);
	void HandleTranscript(const npc_bridge::Transcript& Msg);
	void HandleDialogue(int32 Turn, const std::string& Text, bool bFinal);
	void HandleAction(const npc_bridge::ActionCall& Msg);
	void HandleNpcAudio(const npc_bridge::NpcAudio& Msg);
	void HandleFaceHeader(const npc_bridge::FaceHeader& Msg);
	void HandleFaceFrames(const npc_bridge::FaceFrames& Msg);
	void HandleEmotion(const npc_bridge::Emotion& Msg);
	void HandleInterrupted(const npc_bridge::Interrupted& Msg);
	void HandleTurnEnd(const npc_bridge::TurnEnd& Msg);
	void HandleError(const npc_bridge::Error& Msg);

protected:
	virtual void BeginPlay() override;
	virtual void EndPlay(const EEndPlayReason::Type Reason) override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	UNPCBridgeSubsystem* GetBridge() const;
	FNPCBridgeLiveLinkSource* GetLiveLink() const;
	/** The connection's client while this component has a session, else null. */
	npc_bridge::Client* SessionClient() const;
	/** Samples of the current turn's voice played so far (never more than was queued). */
	int64 PlaybackSample() const;
	void StopVoice();
	FName Subject() const;

	UPROPERTY(Transient)
	TObjectPtr<USoundWaveProcedural> Voice;

	UPROPERTY(Transient)
	TObjectPtr<UAudioComponent> Speaker;

	FString SessionId;
	FString NpcName;
	FString DialogueSoFar;
	TUniquePtr<FNPCBridgeMicrophone> Microphone;

	// The current turn on its audio timeline (docs/PROTOCOL.md section 7).
	int32 VoiceTurn = 0;
	int64 VoiceQueued = 0;        // samples of the turn queued to Voice (gaps filled with silence)
	int32 FaceTurn = 0;
	int32 FaceColumns = 0;        // channels per frame
	TArray<int64> FaceTimes;
	TArray<float> FaceWeights;    // FaceTimes.Num() x FaceColumns
	int32 LastFrame = INDEX_NONE; // the frame last pushed to Live Link
};
