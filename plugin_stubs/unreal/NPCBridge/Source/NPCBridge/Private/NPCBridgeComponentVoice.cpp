// The NPC's voice (a procedural sound wave) and face (Live Link at the voice's playback
// position), both placed on the turn's audio timeline as docs/PROTOCOL.md section 7 says.
#include "NPCBridgeComponent.h"

#include "Algo/BinarySearch.h"
#include "Sound/SoundWaveProcedural.h"
#include "NPCBridgeConvert.h"
#include "NPCBridgeLiveLinkSource.h"
#include "NPCBridgeSubsystem.h"

FNPCBridgeLiveLinkSource* UNPCBridgeComponent::GetLiveLink() const
{
	const UNPCBridgeSubsystem* Bridge = GetBridge();
	return Bridge != nullptr ? Bridge->GetLiveLink() : nullptr;
}

FName UNPCBridgeComponent::Subject() const
{
	return LiveLinkSubject.IsNone() ? FName(*NpcId) : LiveLinkSubject;
}

void UNPCBridgeComponent::HandleNpcAudio(const npc_bridge::NpcAudio& Msg)
{
	if (Voice == nullptr || Msg.sample_rate != AudioOutRate)
	{
		return;  // the session's rate is fixed at open: AudioOutRate
	}
	if (Msg.turn != VoiceTurn)
	{
		VoiceTurn = Msg.turn;  // a new turn: its timeline starts at 0
		VoiceQueued = 0;
	}
	if (Msg.start_sample > VoiceQueued)
	{
		// A chunk went missing (a seq gap): silence keeps later positions true.
		TArray<uint8> Silence;
		Silence.SetNumZeroed(static_cast<int32>(2 * (Msg.start_sample - VoiceQueued)));
		Voice->QueueAudio(Silence.GetData(), Silence.Num());
		VoiceQueued = Msg.start_sample;
	}
	const int64 Skip = VoiceQueued - Msg.start_sample;  // samples already queued
	const int64 Count = static_cast<int64>(Msg.pcm.size()) - Skip;
	if (Count > 0)
	{
		Voice->QueueAudio(reinterpret_cast<const uint8*>(Msg.pcm.data() + Skip), static_cast<int32>(2 * Count));
		VoiceQueued += Count;
	}
}

int64 UNPCBridgeComponent::PlaybackSample() const
{
	if (Voice == nullptr)
	{
		return 0;
	}
	// Queued minus not yet taken by the mixer: what has gone to the device (the mixer's
	// own buffer, a few ms, is not counted).
	const int64 Waiting = Voice->GetAvailableAudioByteCount() / 2;
	return FMath::Clamp<int64>(VoiceQueued - Waiting, 0, VoiceQueued);
}

void UNPCBridgeComponent::HandleFaceHeader(const npc_bridge::FaceHeader& Msg)
{
	FaceTurn = Msg.turn;
	FaceColumns = static_cast<int32>(Msg.channels.size());
	FaceTimes.Reset();
	FaceWeights.Reset();
	LastFrame = INDEX_NONE;
	TArray<FName> Curves;
	for (const std::string& Channel : Msg.channels)
	{
		Curves.Add(FNPCBridgeLiveLinkSource::CurveName(NPCBridgeConvert::ToF(Channel)));
	}
	if (FNPCBridgeLiveLinkSource* LiveLink = GetLiveLink())
	{
		LiveLink->SetCurves(Subject(), Curves);
	}
}

void UNPCBridgeComponent::HandleFaceFrames(const npc_bridge::FaceFrames& Msg)
{
	if (Msg.turn != FaceTurn || Msg.weights.size() != Msg.times.size() * static_cast<size_t>(FaceColumns))
	{
		return;  // no header for this turn, or another channel count
	}
	for (const std::int64_t Time : Msg.times)
	{
		FaceTimes.Add(static_cast<int64>(Time));  // std::int64_t is `long` on Linux, int64 `long long`
	}
	FaceWeights.Append(Msg.weights.data(), static_cast<int32>(Msg.weights.size()));
}

void UNPCBridgeComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	FNPCBridgeLiveLinkSource* LiveLink = GetLiveLink();
	if (LiveLink == nullptr || FaceTimes.Num() == 0 || FaceColumns == 0)
	{
		return;
	}
	// The last frame at or before the playback position; before the first, the first.
	const int64 Position = FaceTurn == VoiceTurn ? PlaybackSample() : 0;
	const int32 Index = FMath::Max(0, static_cast<int32>(Algo::UpperBound(FaceTimes, Position)) - 1);
	if (Index != LastFrame)
	{
		LiveLink->PushFrame(Subject(), TConstArrayView<float>(FaceWeights.GetData() + Index * FaceColumns, FaceColumns));
		LastFrame = Index;
	}
}

void UNPCBridgeComponent::HandleInterrupted(const npc_bridge::Interrupted& Msg)
{
	if (Msg.turn == VoiceTurn || Msg.turn == FaceTurn)
	{
		StopVoice();  // stop now, drop what is left of the turn
	}
	OnInterrupted.Broadcast(Msg.turn, NPCBridgeConvert::ToF(Msg.reason));
}

void UNPCBridgeComponent::StopVoice()
{
	if (Voice != nullptr)
	{
		Voice->ResetAudio();
	}
	VoiceQueued = 0;
	FaceTimes.Reset();
	FaceWeights.Reset();
	LastFrame = INDEX_NONE;
	if (FNPCBridgeLiveLinkSource* LiveLink = GetLiveLink())
	{
		LiveLink->PushNeutral(Subject());
	}
}
