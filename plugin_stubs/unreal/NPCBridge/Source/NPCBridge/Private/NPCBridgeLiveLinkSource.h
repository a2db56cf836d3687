// FNPCBridgeLiveLinkSource: NPC faces as Live Link subjects (Basic role, ARKit curve names).
#pragma once

#include "CoreMinimal.h"
#include "ILiveLinkSource.h"

class ILiveLinkClient;

/**
 * One source for the whole game; one subject per NPC. Curves carry the names Live Link Face
 * gives them (EARFaceBlendShape: "EyeBlinkLeft", ..., "HeadYaw"), so a MetaHuman face
 * AnimBP that takes Live Link Face takes these. Game thread only.
 */
class FNPCBridgeLiveLinkSource : public ILiveLinkSource
{
public:
	explicit FNPCBridgeLiveLinkSource(const FString& InEndpoint) : Endpoint(InEndpoint) {}

	/** The protocol's channel name as Live Link Face spells it ("jawOpen" -> "JawOpen"). */
	static FName CurveName(const FString& Channel);

	/** (Re)declare a subject's curves; needed before its first frame and when they change. */
	void SetCurves(FName Subject, const TArray<FName>& Curves);
	/** One frame: a value per curve, in SetCurves order. */
	void PushFrame(FName Subject, TConstArrayView<float> Values);
	/** All curves of the subject to 0 (the neutral face). */
	void PushNeutral(FName Subject);

	// ILiveLinkSource
	virtual void ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid) override;
	virtual bool IsSourceStillValid() const override { return Client != nullptr; }
	virtual bool RequestSourceShutdown() override;
	virtual FText GetSourceType() const override;
	virtual FText GetSourceMachineName() const override { return FText::FromString(Endpoint); }
	virtual FText GetSourceStatus() const override;

private:
	ILiveLinkClient* Client = nullptr;
	FGuid SourceGuid;
	FString Endpoint;
	TMap<FName, TArray<FName>> SubjectCurves;
};
