// The microphone: float capture buffers to PCM16 chunks of 20 ms, sent from the capture thread.
#include "NPCBridgeMicrophone.h"

#include "NPCBridgeConvert.h"

namespace
{
	constexpr int32 ChunkMs = 20;
}

FNPCBridgeMicrophone::FNPCBridgeMicrophone(TSharedPtr<npc_bridge::Client, ESPMode::ThreadSafe> InClient, FString InSession)
	: Client(MoveTemp(InClient)), Session(NPCBridgeConvert::ToStd(InSession))
{
}

FNPCBridgeMicrophone::~FNPCBridgeMicrophone()
{
	Stop(false);
}

bool FNPCBridgeMicrophone::Start()
{
	Audio::FAudioCaptureDeviceParams Params;  // the default device, its own rate and channels
	Params.PCMAudioEncoding = Audio::EPCMAudioEncoding::FLOATING_POINT_32;
	// UE 5.3+: OpenAudioCaptureStream hands over `const void*` samples in that encoding.
	// On 5.0-5.2 use OpenCaptureStream, whose callback takes `const float*`.
	Audio::FOnAudioCaptureFunction OnAudio =
		[this](const void* Audio, int32 Frames, int32 Channels, int32 SampleRate, double /*StreamTime*/, bool /*bOverflow*/)
	{
		OnCapture(static_cast<const float*>(Audio), Frames, Channels, SampleRate);
	};
	if (!Capture.OpenAudioCaptureStream(Params, MoveTemp(OnAudio), 1024))
	{
		return false;
	}
	return Capture.StartStream();
}

void FNPCBridgeMicrophone::Stop(bool bEndTurn)
{
	if (Capture.IsStreamOpen())
	{
		Capture.StopStream();
		Capture.CloseStream();
	}
	FScopeLock Guard(&Lock);
	SendPending();
	if (bEndTurn && Client.IsValid())
	{
		Client->end_audio(Session);
	}
}

void FNPCBridgeMicrophone::OnCapture(const float* Audio, int32 Frames, int32 Channels, int32 SampleRate)
{
	FScopeLock Guard(&Lock);
	if (SampleRate != Rate || Channels != ChannelCount)
	{
		SendPending();  // a device change: never mix formats in one chunk
		Rate = SampleRate;
		ChannelCount = FMath::Clamp(Channels, 1, 2);
	}
	const int32 Step = Channels;
	for (int32 Frame = 0; Frame < Frames; ++Frame)
	{
		for (int32 Channel = 0; Channel < ChannelCount; ++Channel)
		{
			const float Sample = FMath::Clamp(Audio[Frame * Step + Channel], -1.0f, 1.0f);
			Pending.push_back(static_cast<std::int16_t>(FMath::RoundToInt(Sample * 32767.0f)));
		}
		if (static_cast<int32>(Pending.size()) >= Rate * ChunkMs / 1000 * ChannelCount)
		{
			SendPending();
		}
	}
}

void FNPCBridgeMicrophone::SendPending()
{
	if (!Pending.empty() && Client.IsValid() && Rate > 0)
	{
		Client->send_audio(Session, Pending.data(), Pending.size(), Rate, ChannelCount);
	}
	Pending.clear();
}
