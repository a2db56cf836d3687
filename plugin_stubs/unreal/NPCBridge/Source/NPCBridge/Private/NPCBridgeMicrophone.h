// FNPCBridgeMicrophone: the default capture device, streamed to a session in 20 ms chunks.
#pragma once

#include "CoreMinimal.h"
#include "AudioCaptureCore.h"
#include "npc_bridge/client.hpp"

/**
 * Opens Unreal's AudioCapture stream and, on the capture thread, converts each buffer to
 * PCM16 and sends it through the client in 20 ms chunks (Client::send_audio is thread-safe
 * and never blocks). The device's own rate and channel count go on the wire: the brain
 * accepts 16000, 22050, 24000, 44100 and 48000 Hz, mono or stereo, and resamples.
 */
class FNPCBridgeMicrophone
{
public:
	FNPCBridgeMicrophone(TSharedPtr<npc_bridge::Client, ESPMode::ThreadSafe> InClient, FString InSession);
	~FNPCBridgeMicrophone();

	/** False when no capture device opens. */
	bool Start();
	/** Stop capturing; the rest of the last chunk is sent, then audio-end when bEndTurn. */
	void Stop(bool bEndTurn);

private:
	void OnCapture(const float* Audio, int32 Frames, int32 Channels, int32 SampleRate);
	void SendPending();

	TSharedPtr<npc_bridge::Client, ESPMode::ThreadSafe> Client;
	std::string Session;
	Audio::FAudioCapture Capture;
	FCriticalSection Lock;          // Pending, between the capture thread and Stop
	std::vector<std::int16_t> Pending;
	int32 Rate = 0;
	int32 ChannelCount = 0;
};
