// Live Link: static data (curve names) once per subject, then one frame per face frame shown.
#include "NPCBridgeLiveLinkSource.h"

#include "ILiveLinkClient.h"
#include "LiveLinkTypes.h"  // FLiveLinkBaseStaticData, FLiveLinkBaseFrameData
#include "Roles/LiveLinkBasicRole.h"

#define LOCTEXT_NAMESPACE "NPCBridge"

FName FNPCBridgeLiveLinkSource::CurveName(const FString& Channel)
{
	FString Name = Channel;
	if (!Name.IsEmpty())
	{
		Name[0] = FChar::ToUpper(Name[0]);
	}
	return FName(*Name);
}

void FNPCBridgeLiveLinkSource::SetCurves(FName Subject, const TArray<FName>& Curves)
{
	const TArray<FName>* Known = SubjectCurves.Find(Subject);
	if (Client == nullptr || (Known != nullptr && *Known == Curves))
	{
		return;
	}
	SubjectCurves.Add(Subject, Curves);
	FLiveLinkStaticDataStruct StaticData(FLiveLinkBaseStaticData::StaticStruct());
	StaticData.Cast<FLiveLinkBaseStaticData>()->PropertyNames = Curves;
	Client->PushSubjectStaticData_AnyThread(FLiveLinkSubjectKey(SourceGuid, Subject), ULiveLinkBasicRole::StaticClass(), MoveTemp(StaticData));
}

void FNPCBridgeLiveLinkSource::PushFrame(FName Subject, TConstArrayView<float> Values)
{
	const TArray<FName>* Curves = SubjectCurves.Find(Subject);
	if (Client == nullptr || Curves == nullptr || Curves->Num() != Values.Num())
	{
		return;
	}
	FLiveLinkFrameDataStruct FrameData(FLiveLinkBaseFrameData::StaticStruct());
	FLiveLinkBaseFrameData* Frame = FrameData.Cast<FLiveLinkBaseFrameData>();
	Frame->WorldTime = FLiveLinkWorldTime(FPlatformTime::Seconds());
	Frame->PropertyValues.Append(Values.GetData(), Values.Num());
	Client->PushSubjectFrameData_AnyThread(FLiveLinkSubjectKey(SourceGuid, Subject), MoveTemp(FrameData));
}

void FNPCBridgeLiveLinkSource::PushNeutral(FName Subject)
{
	if (const TArray<FName>* Curves = SubjectCurves.Find(Subject))
	{
		TArray<float> Zeros;
		Zeros.SetNumZeroed(Curves->Num());
		PushFrame(Subject, Zeros);
	}
}

void FNPCBridgeLiveLinkSource::ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid)
{
	Client = InClient;
	SourceGuid = InSourceGuid;
}

bool FNPCBridgeLiveLinkSource::RequestSourceShutdown()
{
	Client = nullptr;
	SubjectCurves.Empty();
	return true;
}

FText FNPCBridgeLiveLinkSource::GetSourceType() const
{
	return LOCTEXT("SourceType", "NPC Bridge");
}

FText FNPCBridgeLiveLinkSource::GetSourceStatus() const
{
	return Client != nullptr ? LOCTEXT("Active", "Active") : LOCTEXT("Stopped", "Stopped");
}

#undef LOCTEXT_NAMESPACE
