// The served viewer: lists saved replies, plays one with the face, and (live) sends typed
// lines to the NPC and plays each reply when its turn ends.
// ?reply=NAME&t=SECONDS shows that reply's face at that instant without playing.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const audio = $("audio");
  const face = NpcFace.create($("face"));
  const player = new NpcFace.Player(face, audio, (t, emotion) => {
    $("emotion").textContent = emotion
      ? `${emotion.emotion} ${Number(emotion.intensity).toFixed(1)}` : "";
  });
  const query = new URLSearchParams(location.search);
  let current = null;

  async function getJson(url, options) {
    const response = await fetch(url, options);
    const body = await response.json().catch(() => ({ error: `${response.status} from ${url}` }));
    if (!response.ok) throw new Error(body.error || `${response.status} from ${url}`);
    return body;
  }

  function showError(text) { $("error").textContent = text || ""; }

  async function load(name) {
    const reply = await getJson(`/api/reply/${encodeURIComponent(name)}`);
    current = reply;
    $("who").textContent = reply.name;
    $("line").textContent = reply.text;
    document.querySelectorAll("#replies li").forEach((li) => {
      li.classList.toggle("on", li.dataset.name === name);
    });
    player.load(reply, reply.audio);
    showError("");
    return reply;
  }

  async function list() {
    const data = await getJson("/api/replies");
    const ul = $("replies");
    ul.textContent = "";
    for (const r of data.replies) {
      const li = document.createElement("li");
      li.dataset.name = r.name;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = r.name;
      const text = document.createElement("span");
      text.textContent = r.error ? r.error : `${r.text} (${Number(r.seconds).toFixed(1)} s` +
        (r.emotion ? `, ${r.emotion})` : ")");
      li.append(name, text);
      li.addEventListener("click", () => play(r.name));
      ul.appendChild(li);
    }
    return data;
  }

  async function play(name) {
    try {
      if (!current || current.name !== name) await load(name);
      await player.play();
    } catch (e) {
      showError(e.message);
    }
  }

  function logLine(cls, text) {
    const p = document.createElement("p");
    p.className = cls;
    p.textContent = text;
    $("log").appendChild(p);
    return p;
  }

  async function live(npc) {
    $("say").hidden = false;
    $("say-text").placeholder = `Say something to ${npc || "the NPC"}`;
    $("say").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = $("say-text").value.trim();
      if (!text) return;
      $("say-text").value = "";
      try {
        await getJson("/api/say", { method: "POST", body: JSON.stringify({ text }) });
      } catch (e) { showError(e.message); }
    });
    // A still (?t=) shows what has happened so far and does not wait for more.
    const still = query.has("t");
    let next = 0, streaming = null;
    for (;;) {
      let batch;
      try {
        batch = await getJson(`/api/events?after=${next}` + (still ? "&wait=0" : ""));
      } catch (e) {
        showError(`lost the viewer server: ${e.message}`);
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      next = batch.next;
      for (const ev of batch.events) {
        if (ev.type === "said") { logLine("", `You: ${ev.text}`); streaming = null; }
        else if (ev.type === "delta") {
          streaming = streaming || logLine("", `${npc}: `);
          streaming.textContent += ev.text;
          if (!still) $("line").textContent = streaming.textContent;
        } else if (ev.type === "emotion" && !still) {
          $("emotion").textContent = `${ev.emotion} ${Number(ev.intensity).toFixed(1)}`;
        }
        else if (ev.type === "action") logLine("muted", `action ${ev.name} ${JSON.stringify(ev.arguments)}`);
        else if (ev.type === "error") logLine("error", ev.text);
        else if (ev.type === "status") $("status").textContent = ev.text;
        else if (ev.type === "reply" && !still) {
          streaming = null;
          await list();
          await load(ev.name);
          player.play().catch((e) => showError(`press Play: ${e.message}`));
        } else if (ev.type === "reply") streaming = null;
      }
      if (still) return;
    }
  }

  async function start() {
    try {
      const data = await list();
      const n = data.replies.length;
      $("status").textContent = data.live
        ? `live: talking to ${data.npc}; ${n} replies`
        : `${n} saved replies`;
      const wanted = query.get("reply") || (n ? data.replies[0].name : null);
      if (wanted) {
        await load(wanted);
        if (query.has("t")) player.hold(Number(query.get("t")));
      }
      if (data.live) live(data.npc);
    } catch (e) {
      showError(e.message);
    }
  }

  $("play").addEventListener("click", () => { if (current) play(current.name); });
  start();
})();
