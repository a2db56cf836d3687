// The connection: callbacks from the client's I/O thread queued, delivered on the game thread.
#include "NPCBridgeSubsystem.h"

#include "Features/IModularFeatures.h"
#include "ILiveLinkClient.h"
#include "NPCBridgeComponent.h"
#include "NPCBridgeConvert.h"
#include "NPCBridgeLiveLinkSource.h"

DEFINE_LOG_CATEGORY_STATIC(LogNPCBridge, Log, All);

using NPCBridgeConvert::ToF;
using NPCBridgeConvert::ToStd;

void UNPCBridgeSubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);
	IModularFeatures& Features = IModularFeatures::Get();
	if (Features.IsModularFeatureAvailable(ILiveLinkClient::ModularFeatureName))
	{
		ILiveLinkClient& LiveLinkClient = Features.GetModularFeature<ILiveLinkClient>(ILiveLinkClient::ModularFeatureName);
		LiveLink = MakeShared<FNPCBridgeLiveLinkSource>(Endpoint);
		LiveLinkGuid = LiveLinkClient.AddSource(LiveLink);
	}
	if (bConnectOnStart)
	{
		Connect();
	}
}

void UNPCBridgeSubsystem::Deinitialize()
{
	Disconnect();  // joins the I/O thread: no callback runs after this
	IModularFeatures& Features = IModularFeatures::Get();
	if (LiveLink.IsValid() && Features.IsModularFeatureAvailable(ILiveLinkClient::ModularFeatureName))
	{
		Features.GetModularFeature<ILiveLinkClient>(ILiveLinkClient::ModularFeatureName).RemoveSource(LiveLinkGuid);
	}
	LiveLink.Reset();
	Super::Deinitialize();
}

void UNPCBridgeSubsystem::Connect()
{
	if (Client.IsValid())
	{
		return;
	}
	npc_bridge::ClientOptions Options;
	Options.endpoint = ToStd(Endpoint);
	Options.client_name = "UnrealEngine NPCBridgePlugin/0.1 npc-bridge-cpp/0.1";
	Options.curve_server_key = ToStd(CurveServerKey);
	Options.curve_public_key = ToStd(CurvePublicKey);
	Options.curve_secret_key = ToStd(CurveSecretKey);
	Client = MakeShared<npc_bridge::Client, ESPMode::ThreadSafe>(Options, MakeCallbacks());
	Client->start();  // hello; OnConnected on welcome
}

void UNPCBridgeSubsystem::Disconnect()
{
	if (Client.IsValid())
	{
		Client->stop(true);  // bye (closes every session on the brain's side)
		Client.Reset();
	}
	TUniqueFunction<void()> Work;
	while (GameThreadWork.Dequeue(Work))
	{
	}
	bWelcomed = false;
}

FString UNPCBridgeSubsystem::OpenSession(UNPCBridgeComponent* Component, npc_bridge::SessionOptions Options)
{
	if (!Client.IsValid() || Component == nullptr)
	{
		return FString();
	}
	const FString Id = FString::Printf(TEXT("%s-%d"), *Component->GetName(), NextSession++);
	Options.session = ToStd(Id);
	Sessions.Add(Id, Component);
	Client->open_session(Options);  // queued; the client numbers it after hello
	return Id;
}

void UNPCBridgeSubsystem::CloseSession(const FString& Session)
{
	if (Sessions.Remove(Session) > 0 && Client.IsValid())
	{
		Client->close_session(ToStd(Session));
	}
}

void UNPCBridgeSubsystem::Tick(float /*DeltaTime*/)
{
	TUniqueFunction<void()> Work;
	while (GameThreadWork.Dequeue(Work))
	{
		Work();
	}
}

TStatId UNPCBridgeSubsystem::GetStatId() const
{
	RETURN_QUICK_DECLARE_CYCLE_STAT(UNPCBridgeSubsystem, STATGROUP_Tickables);
}

void UNPCBridgeSubsystem::Post(const std::string& Session, TUniqueFunction<void(UNPCBridgeComponent&)> Work)
{
	GameThreadWork.Enqueue([this, Id = ToF(Session), Work = MoveTemp(Work)]()
	{
		const TWeakObjectPtr<UNPCBridgeComponent>* Found = Sessions.Find(Id);
		if (Found != nullptr && Found->IsValid())
		{
			Work(*Found->Get());
		}
	});
}

void UNPCBridgeSubsystem::PostSelf(TUniqueFunction<void(UNPCBridgeSubsystem&)> Work)
{
	GameThreadWork.Enqueue([this, Work = MoveTemp(Work)]() { Work(*this); });
}

npc_bridge::Callbacks UNPCBridgeSubsystem::MakeCallbacks()
{
	// Every callback copies its message into a game-thread task: the I/O thread never waits.
	npc_bridge::Callbacks Cb;
	Cb.on_welcome = [this](const npc_bridge::Welcome& W)
	{
		PostSelf([W](UNPCBridgeSubsystem& Self)
		{
			Self.bWelcomed = true;
			Self.NpcIds.Reset();
			for (const std::string& Npc : W.npcs)
			{
				Self.NpcIds.Add(ToF(Npc));
			}
			Self.OnConnected.Broadcast();
		});
	};
	Cb.on_connection_lost = [this]()
	{
		PostSelf([](UNPCBridgeSubsystem& Self) { Self.bWelcomed = false; Self.OnConnectionLost.Broadcast(); });
	};
	Cb.on_session_opened = [this](const npc_bridge::SessionOpened& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleOpened(M); }); };
	Cb.on_session_closed = [this](const npc_bridge::SessionClosed& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleClosed(M); }); };
	Cb.on_transcript = [this](const npc_bridge::Transcript& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleTranscript(M); }); };
	Cb.on_dialogue_delta = [this](const npc_bridge::DialogueDelta& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleDialogue(M.turn, M.text, false); }); };
	Cb.on_dialogue_final = [this](const npc_bridge::DialogueFinal& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleDialogue(M.turn, M.text, true); }); };
	Cb.on_action_call = [this](const npc_bridge::ActionCall& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleAction(M); }); };
	Cb.on_face_header = [this](const npc_bridge::FaceHeader& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleFaceHeader(M); }); };
	Cb.on_emotion = [this](const npc_bridge::Emotion& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleEmotion(M); }); };
	Cb.on_interrupted = [this](const npc_bridge::Interrupted& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleInterrupted(M); }); };
	Cb.on_turn_end = [this](const npc_bridge::TurnEnd& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleTurnEnd(M); }); };
	Cb.on_npc_audio = [this](const npc_bridge::NpcAudio& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleNpcAudio(M); }); };
	Cb.on_face_frames = [this](const npc_bridge::FaceFrames& M) { Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleFaceFrames(M); }); };
	Cb.on_error = [this](const npc_bridge::Error& M)
	{
		if (!M.session.empty())
		{
			Post(M.session, [M](UNPCBridgeComponent& C) { C.HandleError(M); });
			return;
		}
		PostSelf([M](UNPCBridgeSubsystem& Self) { Self.OnError.Broadcast(ToF(M.code), ToF(M.reason)); });
	};
	Cb.on_log = [](const std::string& Line) { UE_LOG(LogNPCBridge, Warning, TEXT("%s"), *ToF(Line)); };
	return Cb;
}
