// tunesmith studio page: record / upload / describe -> job with live progress -> player.
"use strict";

const STAGES = ["listen", "compose", "arrange", "render", "produce", "publish"];
const STAGE_TEXT = { listen: "Listening", compose: "Composing", arrange: "Arranging",
  render: "Rendering", produce: "Mixing & mastering", publish: "Packaging" };
const $ = (id) => document.getElementById(id);
const state = { token: localStorage.getItem("tunesmith-token"), tab: "hum", take: null,
  song: null, version: null, job: null, styles: [], stems: null };

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (!res.ok) {
    let msg = res.statusText;
    try { const body = await res.json(); msg = body.detail || msg; } catch (e) { /* not json */ }
    if (typeof msg !== "string") msg = JSON.stringify(msg);
    throw new Error(msg);
  }
  return res;
}
const apiJson = async (path, opts) => (await api(path, opts)).json();
const showError = (e) => { $("error").textContent = e ? (e.message || String(e)) : ""; };

async function ensureAccount() {
  if (state.token) {
    try { const me = await apiJson("/api/users/me"); $("who").textContent = me.name; return; }
    catch (e) { state.token = null; }
  }
  const res = await fetch("/api/users", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "artist" }) });
  const user = await res.json();
  state.token = user.token;
  localStorage.setItem("tunesmith-token", user.token);
  $("who").textContent = user.name;
}

// ------------------------------------------------------------------------- styles
async function loadStyles() {
  state.styles = await apiJson("/api/styles");
  for (const sel of [$("style"), $("restyle-style")]) {
    sel.innerHTML = "";
    for (const s of state.styles) sel.add(new Option(s.title, s.name));
  }
  $("style").value = state.styles.some((s) => s.name === "pop-ballad") ? "pop-ballad" : state.styles[0].name;
  describeStyle();
}
function describeStyle() {
  const s = state.styles.find((x) => x.name === $("style").value);
  $("style-desc").textContent = s ? `${s.description} (${s.tempo_range[0]}-${s.tempo_range[1]} bpm)` : "";
}
async function playPreview() {
  const s = state.styles.find((x) => x.name === $("style").value);
  try {
    const res = await fetch(s.preview_url);
    if (res.status === 503) { showError("That preview is still being made; try again in a moment."); return; }
    if (!res.ok) throw new Error(res.statusText);
    const a = $("preview-audio");
    a.src = URL.createObjectURL(await res.blob());
    await a.play();
  } catch (e) { showError(e); }
}

// ------------------------------------------------------------------------ recording
let recorder = null;
async function toggleRecord() {
  if (recorder && recorder.state === "recording") { recorder.stop(); return; }
  showError(null);
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (ev) => chunks.push(ev.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    $("record").textContent = "● Record again";
    $("rec-status").textContent = "converting…";
    const blob = new Blob(chunks, { type: recorder.mimeType });
    state.take = await toWav(blob);
    $("take").src = URL.createObjectURL(state.take);
    $("take").hidden = false;
    $("rec-status").textContent = `${(state.take.size / 88200).toFixed(1)} s recorded`;
    updateGo();
  };
  recorder.start();
  $("record").textContent = "■ Stop";
  $("rec-status").textContent = "recording…";
}

// The server reads WAV/FLAC/MP3/OGG: decode whatever the browser recorded and write 16-bit WAV.
async function toWav(blob) {
  const ctx = new (window.AudioContext || window.webkitAudioContext)({ sampleRate: 44100 });
  const buf = await ctx.decodeAudioData(await blob.arrayBuffer());
  const data = buf.getChannelData(0);
  const out = new DataView(new ArrayBuffer(44 + data.length * 2));
  const str = (o, s) => { for (let i = 0; i < s.length; i++) out.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); out.setUint32(4, 36 + data.length * 2, true); str(8, "WAVE"); str(12, "fmt ");
  out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, 1, true);
  out.setUint32(24, buf.sampleRate, true); out.setUint32(28, buf.sampleRate * 2, true);
  out.setUint16(32, 2, true); out.setUint16(34, 16, true); str(36, "data");
  out.setUint32(40, data.length * 2, true);
  for (let i = 0; i < data.length; i++) {
    const v = Math.max(-1, Math.min(1, data[i]));
    out.setInt16(44 + i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
  }
  ctx.close();
  return new Blob([out], { type: "audio/wav" });
}

// --------------------------------------------------------------------------- making
function selectTab(tab) {
  state.tab = tab;
  for (const t of ["hum", "upload", "words"]) {
    $(`tab-${t}`).setAttribute("aria-selected", String(t === tab));
    $(`panel-${t}`).hidden = t !== tab;
  }
  updateGo();
}
function updateGo() {
  const ready = (state.tab === "hum" && state.take) || (state.tab === "upload" && $("file").files.length)
    || (state.tab === "words" && $("prompt").value.trim());
  $("go").disabled = !ready;
}

async function make() {
  showError(null);
  const style = $("style").value, seed = $("seed").value || "1";
  try {
    let created;
    if (state.tab === "words") {
      created = await apiJson("/api/songs/create", { method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ prompt: $("prompt").value.trim(), seed: Number(seed) }) });
    } else {
      const form = new FormData();
      const file = state.tab === "hum" ? new File([state.take], "hum.wav") : $("file").files[0];
      form.append("file", file);
      form.append("style", style);
      form.append("seed", seed);
      const restyle = state.tab === "upload" && ($("as-restyle").checked || !/\.(wav|flac|mp3|ogg)$/i.test(file.name));
      created = await apiJson(restyle ? "/api/songs/restyle" : "/api/songs/hum", { method: "POST", body: form });
    }
    await follow(created);
  } catch (e) { showError(e); }
}

async function follow(created) {
  state.song = created.song_id; state.version = created.version; state.job = created.job_id;
  $("progress").hidden = false;
  $("stages").innerHTML = STAGES.map((s) => `<li data-stage="${s}">${STAGE_TEXT[s]}</li>`).join("");
  setProgress(0, "queued");
  const res = await api(`/api/jobs/${created.job_id}/events`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", final = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      const ev = /event: (\w+)/.exec(block), data = /data: (.*)/.exec(block);
      if (!ev || !data) continue;
      const payload = JSON.parse(data[1]);
      if (ev[1] === "stage") onStage(payload);
      else if (ev[1] === "status") setProgress(null, payload.status);
      else if (ev[1] === "end") final = payload;
    }
  }
  if (!final) final = await apiJson(`/api/jobs/${created.job_id}`);
  setProgress(final.progress, final.status);
  if (final.status === "done") { await showSong(created.song_id, created.version); $("progress").hidden = true; }
  else showError(final.error || `the job ${final.status}`);
  await loadHistory();
}
function onStage(p) {
  const li = document.querySelector(`#stages li[data-stage="${p.stage}"]`);
  if (!li) return;
  if (p.event === "start") li.className = "active";
  if (p.event === "done") li.className = "done";
  const done = document.querySelectorAll("#stages li.done").length;
  setProgress(done / STAGES.length, "running");
}
function setProgress(frac, status) {
  if (frac !== null) $("bar-fill").style.width = `${Math.round(frac * 100)}%`;
  $("job-status").textContent = status || "";
  $("progress").dataset.status = status || "";
}

// --------------------------------------------------------------------------- result
async function fileUrl(song, version, path) {
  const res = await api(`/api/songs/${song}/versions/${version}/files/${path}`);
  return URL.createObjectURL(await res.blob());
}

async function showSong(songId, number) {
  const song = await apiJson(`/api/songs/${songId}`);
  const v = song.versions.find((x) => x.number === number) || song.versions[song.versions.length - 1];
  state.song = songId; state.version = v.number;
  $("result").hidden = false;
  $("song-title").textContent = `${song.title} · v${v.number}`;
  renderVersions(song);
  if (v.status !== "ready") { $("song-facts").textContent = `version ${v.number} is ${v.status}`; return; }
  const info = v.info || {};
  $("song-facts").textContent = `${info.style} · ${info.key} · ${Math.round(info.tempo_bpm)} bpm · ` +
    `${fmtTime(info.duration_s)} · ${info.master ? info.master.integrated_lufs : ""} LUFS`;
  const player = $("player");
  player.src = await fileUrl(songId, v.number, "song.wav");
  player.dataset.duration = info.duration_s;
  $("pianoroll").src = await fileUrl(songId, v.number, "pianoroll.png");
  const cover = v.files.find((f) => /cover\.(jpg|png)$/.test(f));
  $("cover").hidden = !cover;
  if (cover) $("cover").src = await fileUrl(songId, v.number, cover);
  const video = v.files.find((f) => /visuali[sz]er\.mp4$/.test(f));
  $("video").hidden = !video;
  if (video) $("video").src = await fileUrl(songId, v.number, video);
  $("sections").innerHTML = (info.sections || []).map((s) => `<li>${s.label} (${s.bars} bars)</li>`).join("");
  $("chords").textContent = (info.chords || []).map((c) => c.symbol).join("  ");
  await setupStems(songId, v.number, v.files.filter((f) => /^stems\/.*\.(wav|flac)$/.test(f)));
  const zip = await api(`/api/songs/${songId}/versions/${v.number}/bundle.zip`);
  $("download").href = URL.createObjectURL(await zip.blob());
  $("download").download = `${song.title}-v${v.number}.zip`;
}
const fmtTime = (s) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`;

// Stems play in sync through Web Audio; solo and mute set each stem's gain.
async function setupStems(songId, number, files) {
  if (state.stems) { state.stems.ctx.close(); state.stems = null; }
  const box = $("stems");
  box.innerHTML = "";
  if (!files.length) return;
  const ctx = new AudioContext();
  const stems = [];
  for (const f of files) {
    const name = f.replace(/^stems\//, "").replace(/\.\w+$/, "");
    const row = document.createElement("div");
    row.className = "stem";
    row.innerHTML = `<span>${name}</span><button data-act="solo" aria-pressed="false">S</button>` +
      `<button data-act="mute" aria-pressed="false">M</button>`;
    box.appendChild(row);
    const gain = ctx.createGain(); gain.connect(ctx.destination);
    const stem = { name, row, gain, solo: false, mute: false, url: `/api/songs/${songId}/versions/${number}/files/${f}`, buffer: null };
    row.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
      stem[b.dataset.act] = !stem[b.dataset.act];
      b.setAttribute("aria-pressed", String(stem[b.dataset.act]));
      applyGains();
    }));
    stems.push(stem);
  }
  const play = document.createElement("button");
  play.textContent = "▶ play stems";
  play.id = "play-stems";
  box.appendChild(play);
  state.stems = { ctx, stems, sources: [] };
  play.addEventListener("click", async () => {
    const st = state.stems;
    if (st.sources.length) { st.sources.forEach((s) => s.stop()); st.sources = []; play.textContent = "▶ play stems"; return; }
    for (const s of st.stems) {
      if (!s.buffer) s.buffer = await ctx.decodeAudioData(await (await api(s.url)).arrayBuffer());
    }
    const at = ctx.currentTime + 0.1;
    st.sources = st.stems.map((s) => { const src = ctx.createBufferSource(); src.buffer = s.buffer; src.connect(s.gain); src.start(at); return src; });
    play.textContent = "■ stop stems";
  });
}
function applyGains() {
  const st = state.stems;
  const anySolo = st.stems.some((s) => s.solo);
  for (const s of st.stems) s.gain.gain.value = s.mute || (anySolo && !s.solo) ? 0 : 1;
}

function renderVersions(song) {
  $("versions").innerHTML = "";
  for (const v of song.versions) {
    const li = document.createElement("li");
    li.textContent = `v${v.number}: ${v.kind}${v.params.style ? ` · ${v.params.style}` : ""} · seed ${v.params.seed ?? "-"} · ${v.status}`;
    li.addEventListener("click", () => showSong(song.id, v.number).catch(showError));
    $("versions").appendChild(li);
  }
}

async function restyle() {
  showError(null);
  try {
    const created = await apiJson(`/api/songs/${state.song}/restyle`, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ style: $("restyle-style").value }) });
    await follow(created);
  } catch (e) { showError(e); }
}
async function regenerate() {
  showError(null);
  try {
    const created = await apiJson(`/api/songs/${state.song}/regenerate`, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: "{}" });
    await follow(created);
  } catch (e) { showError(e); }
}
async function deleteSong() {
  if (!state.song || !confirm("Delete this song, all its versions and files, for good?")) return;
  showError(null);
  try {
    for (let tries = 0; ; tries++) {  // 409 while a version being made is still stopping
      try { await api(`/api/songs/${state.song}`, { method: "DELETE" }); break; }
      catch (e) { if (!/still being stopped/.test(e.message) || tries >= 15) throw e; }
      await new Promise((r) => setTimeout(r, 2000));
    }
    if (state.stems) { state.stems.ctx.close(); state.stems = null; }
    state.song = null; state.version = null;
    $("result").hidden = true;
    await loadHistory();
  } catch (e) { showError(e); }
}
async function cancel() {
  if (state.job) await api(`/api/jobs/${state.job}/cancel`, { method: "POST" }).catch(showError);
}

async function loadHistory() {
  const songs = await apiJson("/api/songs");
  $("songs").innerHTML = "";
  for (const s of songs) {
    const li = document.createElement("li");
    const last = s.versions[s.versions.length - 1];
    li.textContent = `${s.title} (${s.versions.length} version${s.versions.length > 1 ? "s" : ""}, ${last ? last.status : "-"})`;
    li.addEventListener("click", () => showSong(s.id, last.number).catch(showError));
    $("songs").appendChild(li);
  }
}

// ----------------------------------------------------------------------------- boot
document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => selectTab(b.dataset.tab)));
$("record").addEventListener("click", () => toggleRecord().catch(showError));
$("file").addEventListener("change", updateGo);
$("prompt").addEventListener("input", updateGo);
$("style").addEventListener("change", describeStyle);
$("preview").addEventListener("click", playPreview);
$("go").addEventListener("click", make);
$("restyle").addEventListener("click", restyle);
$("regenerate").addEventListener("click", regenerate);
$("delete-song").addEventListener("click", deleteSong);
$("cancel").addEventListener("click", cancel);
(async () => {
  try { await ensureAccount(); await loadStyles(); await loadHistory(); } catch (e) { showError(e); }
  document.body.dataset.ready = "1";
})();
