// npc_talk: the C++ client against a running `npc-bridge serve`.
//
//   npc_talk [--connect ADDR] [--npc ID] --wav FILE [--realtime] [--json]
//       a scripted conversation, every reply checked: the WAV's transcript, dialogue, NPC
//       audio and face frames; an action call answered; a malformed message and its error;
//       a line after it. Prints one JSON summary line; exit 1 on the first failed check.
//   npc_talk [--connect ADDR] --bench N [--warmup N]
//       N text-input -> dialogue-final round trips; prints {"times_ns": [...], ...}.
//   npc_talk [--connect ADDR] --soak S
//       a typed line every 200 ms for S seconds, whatever the server does (restart it:
//       the client says hello again and reopens the session; 5 answers after that end
//       it early); prints what came back.
//   --wait-ms MS: how long to wait for `welcome` (10000 by default).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "inbox.hpp"
#include "npc_bridge/client.hpp"
#include "scenario.hpp"
#include "wav.hpp"

namespace {

struct Args {
  std::string connect = "tcp://127.0.0.1:5555", npc, wav;
  bool realtime = false, json = false;
  int bench = 0, warmup = 20, wait_ms = 10000, soak = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "npc_talk: %s\nusage: npc_talk [--connect ADDR] [--npc ID] --wav FILE "
               "[--realtime] [--json] [--wait-ms MS]\n       npc_talk [--connect ADDR] --bench N "
               "[--warmup N] [--wait-ms MS]\n       npc_talk [--connect ADDR] --soak S\n",
               why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    auto number = [&]() {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (*end || n < 0) usage(arg + " needs a whole number, got " + v);
      return static_cast<int>(n);
    };
    if (arg == "--connect") a.connect = value();
    else if (arg == "--npc") a.npc = value();
    else if (arg == "--wav") a.wav = value();
    else if (arg == "--realtime") a.realtime = true;
    else if (arg == "--json") a.json = true;
    else if (arg == "--bench") a.bench = number();
    else if (arg == "--warmup") a.warmup = number();
    else if (arg == "--wait-ms") a.wait_ms = number();
    else if (arg == "--soak") a.soak = number();
    else usage("unknown argument " + arg);
  }
  if (!a.bench && !a.soak && a.wav.empty()) usage("give --wav FILE, --bench N or --soak S");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  npc_talk::Inbox inbox;
  npc_bridge::ClientOptions options;
  options.endpoint = args.connect;
  options.client_name = "npc_talk/0.1 npc-bridge-cpp/0.1";
  npc_bridge::Client client(options, inbox.callbacks());
  try {
    client.start();
    npc_talk::Scenario run(client, inbox, args.json, std::chrono::milliseconds(args.wait_ms));
    if (args.soak) {
      std::printf("%s\n", run.soak(args.npc, args.soak).to_json().c_str());
    } else if (args.bench) {
      std::printf("%s\n", run.bench(args.npc, args.bench, args.warmup).to_json().c_str());
    } else {
      npc_talk::Wav wav = npc_talk::read_wav(args.wav);
      std::printf("%s\n", run.talk(args.npc, wav, args.realtime).to_json().c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "npc_talk: FAILED: %s\n%s", e.what(), inbox.log_lines().c_str());
    client.stop(true);
    return 1;
  }
  client.stop(true);
  return 0;
}
