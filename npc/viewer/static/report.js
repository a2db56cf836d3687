// The HTML report: replay each turn (audio, text, face) from the JSON embedded in the page.
// ?turn=N&t=SECONDS shows turn N's face at that instant without playing.
"use strict";

(() => {
  const turns = JSON.parse(document.getElementById("npc-turns").textContent);
  const audio = document.getElementById("audio");
  const face = NpcFace.create(document.getElementById("face"));
  const who = document.getElementById("who");
  const line = document.getElementById("line");
  const mood = document.getElementById("emotion");
  const player = new NpcFace.Player(face, audio, (t, emotion) => {
    mood.textContent = emotion ? `${emotion.emotion} ${Number(emotion.intensity).toFixed(1)}` : "";
  });
  let current = -1;
  let all = false;

  function select(i) {
    current = i;
    const turn = turns[i];
    document.querySelectorAll(".turn").forEach((a, k) => a.classList.toggle("on", k === i));
    who.textContent = turn.npc;
    line.textContent = turn.line;
    player.load(turn, turn.audio);
  }

  function play(i) {
    select(i);
    if (!hasAudio(i)) { if (all) next(); return; }
    player.play().catch(() => {});
  }

  function hasAudio(i) { return Boolean(turns[i].audio); }

  function next() {
    if (all && current + 1 < turns.length) play(current + 1);
    else all = false;
  }

  audio.addEventListener("ended", next);
  document.querySelectorAll("[data-play]").forEach((b) => {
    b.addEventListener("click", () => { all = false; play(Number(b.dataset.play)); });
  });
  document.getElementById("play").addEventListener("click", () => {
    all = true;
    play(0);
  });

  const q = new URLSearchParams(location.search);
  if (turns.length) {
    const n = Math.min(Math.max(Number(q.get("turn") || 1), 1), turns.length);
    select(n - 1);
    if (q.has("t")) player.hold(Number(q.get("t")));
  }
})();
