// UNPCBridgeSubsystem: owns the game's one connection to the NPC brain.
#pragma once

#include "CoreMinimal.h"
#include "Containers/Queue.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Tickable.h"
#include "npc_bridge/client.hpp"
#include "NPCBridgeTypes.h"
#include "NPCBridgeSubsystem.generated.h"

class UNPCBridgeComponent;
class FNPCBridgeLiveLinkSource;

/**
 * The connection (an npc_bridge::Client with its own I/O thread) and the sessions of every
 * UNPCBridgeComponent. The client's callbacks run on its I/O thread; each is queued here and
 * delivered to its component on the game thread in Tick. Settings: [/Script/NPCBridge.NPCBridgeSubsystem]
 * in DefaultGame.ini.
 */
UCLASS(Config = Game)
class NPCBRIDGE_API UNPCBridgeSubsystem : public UGameInstanceSubsystem, public FTickableGameObject
{
	GENERATED_BODY()

public:
	/** The brain's address (docs/PROTOCOL.md section 10 for anything beyond loopback). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "NPC Bridge")
	FString Endpoint = TEXT("tcp://127.0.0.1:5555");

	UPROPERTY(Config, EditAnywhere, Category = "NPC Bridge")
	bool bConnectOnStart = true;

	/** CURVE keys, 40-character Z85 text; empty server key = no CURVE (loopback). */
	UPROPERTY(Config, EditAnywhere, Category = "NPC Bridge")
	FString CurveServerKey;
	UPROPERTY(Config, EditAnywhere, Category = "NPC Bridge")
	FString CurvePublicKey;
	UPROPERTY(Config, EditAnywhere, Category = "NPC Bridge")
	FString CurveSecretKey;

	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeConnectionEvent OnConnected;

	/** Nothing heard from the brain for its timeout (the client says hello again by itself). */
	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeConnectionEvent OnConnectionLost;

	/** Errors that name no open session. */
	UPROPERTY(BlueprintAssignable, Category = "NPC Bridge")
	FNPCBridgeErrorEvent OnError;

	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	virtual void Deinitialize() override;

	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void Connect();

	UFUNCTION(BlueprintCallable, Category = "NPC Bridge")
	void Disconnect();

	UFUNCTION(BlueprintPure, Category = "NPC Bridge")
	bool IsConnected() const { return bWelcomed; }

	/** NPC ids the brain offers (from its welcome). */
	UFUNCTION(BlueprintPure, Category = "NPC Bridge")
	TArray<FString> GetNpcIds() const { return NpcIds; }

	/** For components: open a session for it; returns the session id ("" when not connected). */
	FString OpenSession(UNPCBridgeComponent* Component, npc_bridge::SessionOptions Options);
	void CloseSession(const FString& Session);
	/** The client (thread-safe sends), or null when not connected. Microphones send from their own thread. */
	TSharedPtr<npc_bridge::Client, ESPMode::ThreadSafe> GetClient() const { return Client; }
	FNPCBridgeLiveLinkSource* GetLiveLink() const { return LiveLink.Get(); }

	// FTickableGameObject: drain what the I/O thread queued.
	virtual void Tick(float DeltaTime) override;
	virtual TStatId GetStatId() const override;
	virtual bool IsTickable() const override { return !IsTemplate(); }
	virtual bool IsTickableWhenPaused() const override { return true; }

private:
	npc_bridge::Callbacks MakeCallbacks();
	/** From the I/O thread: run Work on the game thread with the session's component, if it is still there. */
	void Post(const std::string& Session, TUniqueFunction<void(UNPCBridgeComponent&)> Work);
	void PostSelf(TUniqueFunction<void(UNPCBridgeSubsystem&)> Work);

	TSharedPtr<npc_bridge::Client, ESPMode::ThreadSafe> Client;
	TQueue<TUniqueFunction<void()>, EQueueMode::Mpsc> GameThreadWork;
	TMap<FString, TWeakObjectPtr<UNPCBridgeComponent>> Sessions;
	TArray<FString> NpcIds;
	bool bWelcomed = false;
	int32 NextSession = 1;
	TSharedPtr<FNPCBridgeLiveLinkSource> LiveLink;
	FGuid LiveLinkGuid;
};
