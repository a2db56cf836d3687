// NpcFace: a 2D face drawn in SVG from ARKit blendshape weights (by channel name), and a
// Player that samples the face at an <audio> element's playback position.
// Plain script, no modules: the viewer serves it and the HTML report inlines it.
"use strict";

const NpcFace = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  // The mouth's inside has a colour used nowhere else (tests count its pixels).
  const COLOURS = {
    skin: "#f1c9a5", hair: "#4b3322", brow: "#3b2414", lip: "#c4655d",
    inside: "#5a0028", eye: "#ffffff", iris: "#3f7fbf", pupil: "#111111",
    line: "#6b4a3a", cheek: "#e58f8f",
  };
  const MOUTH_Y = 72;

  function el(parent, tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    parent.appendChild(node);
    return node;
  }

  function clamp(x, lo, hi) { return Math.max(lo, Math.min(hi, x)); }

  // A face in `container`; returns {draw(weights)} where weights maps channel name -> 0..1
  // (head channels -1..1). Missing channels count as 0.
  function create(container) {
    const svg = el(container, "svg", {
      viewBox: "-160 -200 320 400", class: "npc-face", role: "img", "aria-label": "NPC face",
    });
    el(svg, "rect", { x: -160, y: -200, width: 320, height: 400, fill: "#20262e" });
    const head = el(svg, "g", {});
    el(head, "rect", { x: -38, y: 110, width: 76, height: 90, fill: COLOURS.skin });
    for (const side of [-1, 1]) {
      el(head, "ellipse", { cx: side * 112, cy: 0, rx: 16, ry: 30, fill: COLOURS.skin });
    }
    el(head, "ellipse", { cx: 0, cy: 0, rx: 112, ry: 142, fill: COLOURS.skin });
    el(head, "path", {
      d: "M -114 -10 C -135 -205 135 -205 114 -10 C 100 -70 64 -96 0 -96 " +
         "C -64 -96 -100 -70 -114 -10 Z",
      fill: COLOURS.hair,
    });
    const features = el(head, "g", {});
    const cheeks = [-1, 1].map((side) => el(features, "ellipse", {
      cx: side * 64, cy: 48, rx: 20, ry: 12, fill: COLOURS.cheek, opacity: 0,
    }));
    const defs = el(svg, "defs", {});
    const eyes = [-1, 1].map((side, i) => {
      const clip = el(defs, "clipPath", { id: `npc-eye-clip-${i}-${Math.random().toString(36).slice(2)}` });
      const clipShape = el(clip, "ellipse", { cx: side * 42, cy: -22, rx: 21, ry: 12 });
      const white = el(features, "ellipse", {
        cx: side * 42, cy: -22, rx: 21, ry: 12, fill: COLOURS.eye,
      });
      const g = el(features, "g", { "clip-path": `url(#${clip.id})` });
      const iris = el(g, "circle", { cx: side * 42, cy: -22, r: 9, fill: COLOURS.iris });
      const pupil = el(g, "circle", { cx: side * 42, cy: -22, r: 4.5, fill: COLOURS.pupil });
      const outline = el(features, "ellipse", {
        cx: side * 42, cy: -22, rx: 21, ry: 12, fill: "none",
        stroke: COLOURS.line, "stroke-width": 2.5,
      });
      return { side, clipShape, white, iris, pupil, outline };
    });
    const brows = [-1, 1].map(() => el(features, "path", {
      fill: "none", stroke: COLOURS.brow, "stroke-width": 7, "stroke-linecap": "round",
    }));
    el(features, "path", {
      d: "M -4 -8 C -8 14 -18 28 -10 34 C -4 38 4 38 10 34",
      fill: "none", stroke: COLOURS.line, "stroke-width": 2.5, "stroke-linecap": "round",
    });
    const inside = el(features, "path", { fill: COLOURS.inside });
    const lips = el(features, "path", {
      fill: "none", stroke: COLOURS.lip, "stroke-width": 5, "stroke-linejoin": "round",
    });

    function draw(w) {
      const g = (name) => Number(w[name] || 0);
      const pair = (base) => [g(base + "Right"), g(base + "Left")]; // viewer's left = NPC right
      // Head: roll tilts, yaw and pitch slide the features a little.
      const roll = clamp(g("headRoll"), -1, 1) * 12;
      const yaw = clamp(g("headYaw"), -1, 1) * 16;
      const pitch = clamp(g("headPitch"), -1, 1) * 12;
      head.setAttribute("transform", `rotate(${roll.toFixed(2)} 0 140)`);
      features.setAttribute("transform", `translate(${yaw.toFixed(2)} ${pitch.toFixed(2)})`);

      const squint = pair("cheekSquint");
      cheeks.forEach((c, i) => {
        c.setAttribute("opacity", (0.15 + 0.5 * squint[i]).toFixed(3));
        c.setAttribute("cy", (48 - 6 * squint[i]).toFixed(2));
      });

      const blink = pair("eyeBlink"), wide = pair("eyeWide"), eyeSquint = pair("eyeSquint");
      const lookIn = pair("eyeLookIn"), lookOut = pair("eyeLookOut");
      const lookUp = pair("eyeLookUp"), lookDown = pair("eyeLookDown");
      eyes.forEach((e, i) => {
        const open = 1 - clamp(blink[i], 0, 1);
        const top = -12 * open * (1 + 0.6 * wide[i]);
        const bottom = 12 * (1 - 0.55 * eyeSquint[i] - 0.3 * squint[i]) * (0.2 + 0.8 * open);
        const cy = -22 + (top + bottom) / 2, ry = Math.max(0.01, (bottom - top) / 2);
        for (const shape of [e.clipShape, e.white, e.outline]) {
          shape.setAttribute("cy", cy.toFixed(2));
          shape.setAttribute("ry", ry.toFixed(2));
        }
        // Outward is away from the nose: +x for the NPC's left eye (on the viewer's right).
        const dx = 9 * (lookOut[i] - lookIn[i]) * e.side;
        const dy = 7 * (lookDown[i] - lookUp[i]);
        for (const c of [e.iris, e.pupil]) {
          c.setAttribute("cx", (e.side * 42 + dx).toFixed(2));
          c.setAttribute("cy", (-22 + dy).toFixed(2));
        }
      });

      const down = pair("browDown"), outerUp = pair("browOuterUp"), innerUp = g("browInnerUp");
      brows.forEach((b, i) => {
        const side = i === 0 ? -1 : 1;
        const inner = -58 - 22 * innerUp + 14 * down[i];
        const outer = -54 - 16 * outerUp[i] + 4 * down[i];
        const x0 = side * 18, x1 = side * 68;
        const mid = (inner + outer) / 2 - 9;
        b.setAttribute("d", `M ${x0} ${inner.toFixed(2)} Q ${side * 44} ${mid.toFixed(2)} ` +
          `${x1} ${outer.toFixed(2)}`);
      });

      const smile = pair("mouthSmile"), frown = pair("mouthFrown"), stretch = pair("mouthStretch");
      const dimple = pair("mouthDimple"), press = pair("mouthPress");
      const lowerDown = pair("mouthLowerDown"), upperUp = pair("mouthUpperUp");
      const avg = (p) => (p[0] + p[1]) / 2;
      const pucker = g("mouthPucker"), funnel = g("mouthFunnel");
      const half = 36 * clamp(1 + 0.25 * avg(smile) + 0.25 * avg(stretch) + 0.1 * avg(dimple)
        - 0.45 * pucker - 0.3 * funnel, 0.35, 1.6);
      const shift = 8 * (g("mouthLeft") - g("mouthRight")) + 5 * (g("jawLeft") - g("jawRight"));
      const open = clamp(g("jawOpen") - g("mouthClose"), 0, 1);
      let gap = 46 * open + 10 * funnel + 7 * avg(lowerDown) + 5 * avg(upperUp)
        - 6 * g("mouthRollLower") - 4 * g("mouthRollUpper") - 4 * avg(press);
      gap = Math.max(0, gap);
      const corner = [0, 1].map((i) => MOUTH_Y - 10 * smile[i] + 9 * frown[i] + 2 * stretch[i]);
      const xl = -half + shift, xr = half + shift;
      const yl = corner[0], yr = corner[1];
      const chord = (yl + yr) / 2;
      // Quadratic control points sit twice as far from the chord as the curve's middle.
      const upper = MOUTH_Y - 0.35 * gap - 2 * g("mouthShrugUpper");
      const lower = MOUTH_Y + 0.65 * gap + 2 * g("mouthShrugLower");
      const cu = chord + 2 * (upper - chord), cl = chord + 2 * (lower - chord);
      const cx = shift;
      const d = `M ${xl.toFixed(2)} ${yl.toFixed(2)} Q ${cx.toFixed(2)} ${cu.toFixed(2)} ` +
        `${xr.toFixed(2)} ${yr.toFixed(2)} Q ${cx.toFixed(2)} ${cl.toFixed(2)} ` +
        `${xl.toFixed(2)} ${yl.toFixed(2)} Z`;
      inside.setAttribute("d", d);
      lips.setAttribute("d", d);
      lips.setAttribute("stroke-width", (5 + 2 * pucker + 2 * funnel).toFixed(2));
    }

    draw({});
    return { draw };
  }

  // Face data as the viewer and the report send it: {channels, times (s), weights (rows)}.
  // The weights at time t: the last frame at or before t; before the first, the first.
  function frameAt(face, t) {
    const out = {};
    if (!face || !face.times || !face.times.length) return out;
    const times = face.times;
    let lo = 0, hi = times.length - 1;
    if (t >= times[hi]) lo = hi;
    else {
      while (lo < hi) { // the last index with times[i] <= t
        const mid = (lo + hi + 1) >> 1;
        if (times[mid] <= t) lo = mid; else hi = mid - 1;
      }
    }
    const row = face.weights[lo];
    face.channels.forEach((name, i) => { out[name] = row[i]; });
    return out;
  }

  // The emotion in force at t: the last one starting at or before t.
  function emotionAt(emotions, t) {
    let now = null;
    for (const e of emotions || []) if (e.t <= t + 1e-9 || now === null) now = e;
    return now;
  }

  // Plays one reply: draws the face at the audio's currentTime on every animation frame.
  class Player {
    constructor(face, audio, onTime) {
      this.face = face;
      this.audio = audio;
      this.onTime = onTime || (() => {});
      this.reply = null;
      this.still = false;
      const tick = () => {
        this.showAt(this.audio.currentTime);
        if (!this.audio.paused && !this.audio.ended) requestAnimationFrame(tick);
      };
      audio.addEventListener("play", () => { this.still = false; requestAnimationFrame(tick); });
      for (const ev of ["pause", "seeked", "ended"]) {
        audio.addEventListener(ev, () => { if (!this.still) this.showAt(this.audio.currentTime); });
      }
    }

    load(reply, audioUrl) {
      this.reply = reply;
      if (audioUrl) this.audio.src = audioUrl;
      else { this.audio.removeAttribute("src"); this.audio.load(); }
      this.showAt(0);
    }

    // Draw the face at t seconds without touching the audio (deterministic stills).
    showAt(t) {
      const r = this.reply;
      this.face.draw(r ? frameAt(r.face, t) : {});
      this.onTime(t, r ? emotionAt(r.emotions, t) : null);
    }

    hold(t) { this.still = true; this.showAt(t); }

    play() {
      this.still = false;
      if (!this.audio.getAttribute("src")) return Promise.resolve();
      this.audio.currentTime = 0;
      return this.audio.play();
    }
  }

  return { create, frameAt, emotionAt, Player, COLOURS };
})();
