// One NPC's session: Blueprint calls to the client, brain messages to events, voice and face.
#include "NPCBridgeComponent.h"

#include "Components/AudioComponent.h"
#include "Engine/GameInstance.h"
#include "Engine/World.h"
#include "GameFramework/Actor.h"
#include "Sound/SoundWaveProcedural.h"
#include "NPCBridgeConvert.h"
#include "NPCBridgeMicrophone.h"
#include "NPCBridgeSubsystem.h"

using NPCBridgeConvert::ToF;
using NPCBridgeConvert::ToStd;

UNPCBridgeSubsystem* UNPCBridgeComponent::GetBridge() const
{
	const UWorld* World = GetWorld();
	const UGameInstance* Game = World != nullptr ? World->GetGameInstance() : nullptr;
	return Game != nullptr ? Game->GetSubsystem<UNPCBridgeSubsystem>() : nullptr;
}

UNPCBridgeComponent::UNPCBridgeComponent()
{
	PrimaryComponentTick.bCanEverTick = true;  // the face follows the voice every frame
}

void UNPCBridgeComponent::BeginPlay()
{
	Super::BeginPlay();
	Voice = NewObject<USoundWaveProcedural>(this);
	Voice->SetSampleRate(AudioOutRate);
	Voice->NumChannels = 1;
	Voice->Duration = INDEFINITELY_LOOPING_DURATION;
	Voice->SoundGroup = SOUNDGROUP_Voice;
	Voice->bLooping = false;
	Speaker = NewObject<UAudioComponent>(GetOwner());
	Speaker->SetupAttachment(GetOwner()->GetRootComponent());
	Speaker->RegisterComponent();
	Speaker->SetSound(Voice);
	Speaker->Play();  // plays silence until audio is queued
	if (bOpenOnBeginPlay)
	{
		OpenSession();
	}
}

void UNPCBridgeComponent::EndPlay(const EEndPlayReason::Type Reason)
{
	Microphone.Reset();
	CloseSession();
	if (Speaker != nullptr)
	{
		Speaker->Stop();
	}
	Super::EndPlay(Reason);
}

void UNPCBridgeComponent::OpenSession()
{
	UNPCBridgeSubsystem* Subsystem = GetBridge();
	if (Subsystem == nullptr || !SessionId.IsEmpty())
	{
		return;
	}
	npc_bridge::SessionOptions Options;
	Options.npc = ToStd(NpcId);
	Options.player = ToStd(PlayerId);
	Options.audio_out_rate = AudioOutRate;
	for (const FNPCBridgeAction& Action : Actions)
	{
		npc_bridge::Value Parameters;
		if (!NPCBridgeConvert::ParseJson(Action.ParametersJson, Parameters) || !Parameters.is_map())
		{
			OnError.Broadcast(TEXT("bad-action"), FString::Printf(TEXT("%s: ParametersJson is not a JSON object"), *Action.Name));
			continue;
		}
		Options.actions.push_back(npc_bridge::action_tool(ToStd(Action.Name), ToStd(Action.Description), MoveTemp(Parameters)));
	}
	for (const TPair<FString, int32>& Level : Steer)
	{
		Options.steer[ToStd(Level.Key)] = Level.Value;
	}
	SessionId = Subsystem->OpenSession(this, MoveTemp(Options));
}

void UNPCBridgeComponent::CloseSession()
{
	if (UNPCBridgeSubsystem* Subsystem = GetBridge(); Subsystem != nullptr && !SessionId.IsEmpty())
	{
		Subsystem->CloseSession(SessionId);
	}
	SessionId.Reset();
}

void UNPCBridgeComponent::StartTalking()
{
	UNPCBridgeSubsystem* Subsystem = GetBridge();
	if (Subsystem == nullptr || SessionId.IsEmpty() || Microphone.IsValid())
	{
		return;
	}
	Microphone = MakeUnique<FNPCBridgeMicrophone>(Subsystem->GetClient(), SessionId);
	if (!Microphone->Start())
	{
		Microphone.Reset();
		OnError.Broadcast(TEXT("no-microphone"), TEXT("no audio capture device could be opened"));
	}
}

void UNPCBridgeComponent::StopTalking()
{
	if (Microphone.IsValid())
	{
		Microphone->Stop(true);  // audio-end: the turn ends now
		Microphone.Reset();
	}
}

npc_bridge::Client* UNPCBridgeComponent::SessionClient() const
{
	const UNPCBridgeSubsystem* Subsystem = GetBridge();
	return Subsystem != nullptr && !SessionId.IsEmpty() ? Subsystem->GetClient().Get() : nullptr;
}

void UNPCBridgeComponent::SendText(const FString& Text)
{
	if (npc_bridge::Client* Client = SessionClient())
	{
		Client->send_text(ToStd(SessionId), ToStd(Text));
	}
}

void UNPCBridgeComponent::ReportActionResult(const FString& CallId, bool bOk, const FString& ResultJson, const FString& Error)
{
	npc_bridge::Client* Client = SessionClient();
	if (Client == nullptr)
	{
		return;
	}
	npc_bridge::Value Result;
	if (!ResultJson.IsEmpty() && !NPCBridgeConvert::ParseJson(ResultJson, Result))
	{
		Result = npc_bridge::Value(ToStd(ResultJson));  // not JSON: pass the text along
	}
	Client->action_result(ToStd(SessionId), ToStd(CallId), bOk, MoveTemp(Result), ToStd(Error));
}

void UNPCBridgeComponent::SetSteer(const TMap<FString, int32>& Attributes)
{
	npc_bridge::Client* Client = SessionClient();
	if (Client == nullptr)
	{
		return;
	}
	std::map<std::string, int> Levels;
	for (const TPair<FString, int32>& Level : Attributes)
	{
		Levels[ToStd(Level.Key)] = Level.Value;
	}
	Client->steer(ToStd(SessionId), Levels);
}

void UNPCBridgeComponent::Cancel()
{
	if (npc_bridge::Client* Client = SessionClient())
	{
		Client->cancel(ToStd(SessionId));
	}
}

void UNPCBridgeComponent::HandleOpened(const npc_bridge::SessionOpened& Msg)
{
	NpcName = ToF(Msg.npc_name);
	if (NpcId.IsEmpty())
	{
		NpcId = ToF(Msg.npc);
	}
}

void UNPCBridgeComponent::HandleClosed(const npc_bridge::SessionClosed& Msg)
{
	Microphone.Reset();
	StopVoice();
	SessionId.Reset();  // reason "error", "bye", "shutdown"...: OpenSession again when wanted
	OnTurnEnd.Broadcast(VoiceTurn, FString::Printf(TEXT("session-closed: %s"), *ToF(Msg.reason)));
}

void UNPCBridgeComponent::HandleTranscript(const npc_bridge::Transcript& Msg)
{
	OnTranscript.Broadcast(ToF(Msg.text), Msg.final);
}

void UNPCBridgeComponent::HandleDialogue(int32 /*Turn*/, const std::string& Text, bool bFinal)
{
	DialogueSoFar = bFinal ? ToF(Text) : DialogueSoFar + ToF(Text);
	OnDialogue.Broadcast(DialogueSoFar, bFinal);
}

void UNPCBridgeComponent::HandleAction(const npc_bridge::ActionCall& Msg)
{
	OnAction.Broadcast(ToF(Msg.call_id), ToF(Msg.name), NPCBridgeConvert::ToJson(Msg.arguments));
}

void UNPCBridgeComponent::HandleEmotion(const npc_bridge::Emotion& Msg)
{
	OnEmotion.Broadcast(ToF(Msg.emotion), static_cast<float>(Msg.intensity));
}

void UNPCBridgeComponent::HandleError(const npc_bridge::Error& Msg)
{
	OnError.Broadcast(ToF(Msg.code), ToF(Msg.reason));
}

void UNPCBridgeComponent::HandleTurnEnd(const npc_bridge::TurnEnd& Msg)
{
	DialogueSoFar.Reset();
	OnTurnEnd.Broadcast(Msg.turn, ToF(Msg.reason));
}
