// JSON text (FJsonValue) to npc_bridge::Value: whole numbers become integers, as msgpack wants.
#include "NPCBridgeConvert.h"

#include "Dom/JsonObject.h"
#include "Dom/JsonValue.h"
#include "Serialization/JsonReader.h"
#include "Serialization/JsonSerializer.h"

namespace
{
	npc_bridge::Value FromJson(const TSharedPtr<FJsonValue>& Json)
	{
		if (!Json.IsValid())
		{
			return npc_bridge::Value();
		}
		switch (Json->Type)
		{
		case EJson::Boolean:
			return npc_bridge::Value(Json->AsBool());
		case EJson::Number:
		{
			const double Number = Json->AsNumber();
			if (FMath::IsFinite(Number) && Number == FMath::RoundToDouble(Number) && FMath::Abs(Number) < 9.0e15)
			{
				return npc_bridge::Value(static_cast<std::int64_t>(Number));
			}
			return npc_bridge::Value(Number);
		}
		case EJson::String:
			return npc_bridge::Value(NPCBridgeConvert::ToStd(Json->AsString()));
		case EJson::Array:
		{
			npc_bridge::Value::Array Items;
			for (const TSharedPtr<FJsonValue>& Item : Json->AsArray())
			{
				Items.push_back(FromJson(Item));
			}
			return npc_bridge::Value(std::move(Items));
		}
		case EJson::Object:
		{
			npc_bridge::Value::Map Items;
			for (const TPair<FString, TSharedPtr<FJsonValue>>& Pair : Json->AsObject()->Values)
			{
				Items.emplace_back(NPCBridgeConvert::ToStd(Pair.Key), FromJson(Pair.Value));
			}
			return npc_bridge::Value(std::move(Items));
		}
		default:
			return npc_bridge::Value();
		}
	}
}

bool NPCBridgeConvert::ParseJson(const FString& Json, npc_bridge::Value& Out)
{
	TSharedPtr<FJsonValue> Parsed;
	const TSharedRef<TJsonReader<>> Reader = TJsonReaderFactory<>::Create(Json);
	if (!FJsonSerializer::Deserialize(Reader, Parsed) || !Parsed.IsValid())
	{
		Out = npc_bridge::Value();
		return false;
	}
	Out = FromJson(Parsed);
	return true;
}
