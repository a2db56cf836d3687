// NPCBridge: the Unreal layer over the tested C++ client (plugin_stubs/cpp), compiled from
// source into this module; libzmq (a C library) is linked from Source/ThirdParty.
using System;
using System.IO;
using UnrealBuildTool;

public class NPCBridge : ModuleRules
{
	public NPCBridge(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		bEnableExceptions = true;  // cppzmq reports socket errors as exceptions
		bUseUnity = false;         // keep the client's translation unit apart from engine code

		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine" });
		PrivateDependencyModuleNames.AddRange(new string[] {
			"AudioCaptureCore",    // Audio::FAudioCapture: the microphone
			"Json",                // action arguments and results as JSON text in Blueprints
			"LiveLinkInterface",   // ILiveLinkClient, ILiveLinkSource, ULiveLinkBasicRole
		});

		// The C++ client: a copy of plugin_stubs/cpp at Source/ThirdParty/NPCBridgeClient,
		// NPC_BRIDGE_CPP_DIR, or (inside the NPC Bridge repository) plugin_stubs/cpp itself.
		string ClientDir = FirstExisting(
			Environment.GetEnvironmentVariable("NPC_BRIDGE_CPP_DIR"),
			Path.Combine(PluginDirectory, "Source", "ThirdParty", "NPCBridgeClient"),
			Path.Combine(PluginDirectory, "..", "..", "cpp"));
		PublicIncludePaths.Add(Path.Combine(ClientDir, "include"));  // npc_bridge/*.hpp (std only)
		PrivateIncludePaths.Add(Path.Combine(ClientDir, "src"));     // all.cpp and its parts

		// libzmq + the header-only cppzmq and msgpack-cxx (docs/engine_cpp.md says how to fill it).
		string Deps = FirstExisting(
			Environment.GetEnvironmentVariable("NPC_BRIDGE_DEPS_DIR"),
			Path.Combine(PluginDirectory, "Source", "ThirdParty", "NPCBridgeDeps"));
		PrivateIncludePaths.Add(Path.Combine(Deps, "include"));
		PrivateDefinitions.Add("MSGPACK_NO_BOOST=1");
		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			// vcpkg zeromq:x64-windows-static-md (static, /MD runtime as the engine uses).
			PrivateDefinitions.Add("ZMQ_STATIC=1");
			PublicAdditionalLibraries.Add(Path.Combine(Deps, "lib", "Win64", "libzmq.lib"));
			PublicSystemLibraries.AddRange(new string[] { "ws2_32.lib", "iphlpapi.lib", "advapi32.lib" });
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux || Target.Platform == UnrealTargetPlatform.Mac)
		{
			// A shared libzmq: its C ABI keeps its own C++ runtime away from the engine's.
			string Lib = Target.Platform == UnrealTargetPlatform.Linux ? "libzmq.so.5" : "libzmq.5.dylib";
			string LibPath = Path.Combine(Deps, "lib", Target.Platform.ToString(), Lib);
			PublicAdditionalLibraries.Add(LibPath);
			RuntimeDependencies.Add("$(BinaryOutputDir)/" + Lib, LibPath);
		}
	}

	private static string FirstExisting(params string[] Candidates)
	{
		foreach (string Candidate in Candidates)
		{
			if (!string.IsNullOrEmpty(Candidate) && Directory.Exists(Candidate))
			{
				return Path.GetFullPath(Candidate);
			}
		}
		throw new BuildException("NPCBridge: none of these folders exists: " + string.Join(", ", Candidates));
	}
}
