// Upload page of web_gateway_node: images over HTTP, webcam/video frames over WebSocket.
'use strict';
const $ = id => document.getElementById(id);
const params = new URLSearchParams(location.search);
const chart = new LiveChart($('chart'), 60);
let done = 0, failed = 0;

$('token').value = params.get('token') || localStorage.getItem('edgeserve_token') || '';
$('token').addEventListener('change', () => localStorage.setItem('edgeserve_token', $('token').value));
const auth = () => ($('token').value ? {Authorization: 'Bearer ' + $('token').value} : {});

document.querySelectorAll('.tab').forEach(tab => tab.addEventListener('click', () => {
  document.querySelectorAll('.tab, .panel').forEach(e => e.classList.remove('active'));
  tab.classList.add('active'); $(tab.dataset.tab).classList.add('active');
}));

async function loadModels() {
  const info = await (await fetch('/v1/models')).json();
  for (const name of info.models) $('model').add(new Option(name, name));
  if (params.get('model')) $('model').value = params.get('model');
}

async function pollHealth() {
  try {
    const health = await (await fetch('/healthz')).json();
    $('workers').replaceChildren(...Object.entries(health.models).map(([name, m]) => {
      const s = document.createElement('span');
      s.textContent = `${name}: ${m.subscribers} node${m.subscribers === 1 ? '' : 's'}`;
      if (m.ready) s.classList.add('ready');
      return s;
    }));
  } catch (e) { $('workers').textContent = 'gateway unreachable'; }
}

function describe(item) {
  if (item.status !== 200) return `${item.status}: ${item.error}`;
  if (item.label === null || item.label === undefined) return '(nothing found)';
  return String(item.label);
}

// --- uploads: one request per image, at most 4 at once, each card its own latency ---
const queue = [];
let active = 0;
function addFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith('image/')) continue;
    const card = document.createElement('div');
    card.className = 'card pending';
    const img = document.createElement('img');
    img.src = URL.createObjectURL(file);
    card.append(img);
    for (const cls of ['name', 'label', 'latency']) {
      const div = document.createElement('div'); div.className = cls; card.append(div);
    }
    card.querySelector('.name').textContent = file.name;
    card.querySelector('.label').innerHTML = '<span class="spinner"></span>';
    $('cards').prepend(card);
    queue.push([file, card]);
  }
  pump();
}
function pump() {
  while (active < 4 && queue.length) {
    const [file, card] = queue.shift();
    active++;
    send(file, card).finally(() => { active--; pump(); });
  }
}
async function send(file, card) {
  const model = $('model').value, begin = performance.now();
  let item;
  try {
    const r = await fetch(`/v1/models/${encodeURIComponent(model)}/infer`, {
      method: 'POST', body: file, headers: {...auth(), 'Content-Type': file.type}});
    const body = await r.json();
    item = body.results ? body.results[0] : {status: r.status, error: body.error};
    if (r.status === 429) item.error += ` (retry after ${r.headers.get('Retry-After')} s)`;
  } catch (e) { item = {status: 0, error: String(e)}; }
  const ms = performance.now() - begin;
  card.classList.remove('pending');
  card.classList.add(item.status === 200 ? 'done' : 'error');
  card.querySelector('.label').textContent = describe(item);
  card.querySelector('.latency').textContent = `${ms.toFixed(0)} ms` +
    (item.batch ? `, batch ${item.batch}` : '');
  if (item.status === 200) { done++; chart.add(ms); } else failed++;
}
$('files').addEventListener('change', e => addFiles(e.target.files));
const drop = $('drop');
drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', e => {
  e.preventDefault(); drop.classList.remove('over'); addFiles(e.dataTransfer.files);
});

// --- stream: frames as binary WebSocket messages, 4-byte id + JPEG, 4 in flight ---
let ws = null, timer = null, nextId = 0;
const sent = new Map();
function openSocket() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const token = $('token').value;
  ws = new WebSocket(`${proto}://${location.host}/v1/models/${encodeURIComponent($('model').value)}/stream`,
                     token ? ['bearer.' + token] : []);
  ws.binaryType = 'arraybuffer';
  ws.onmessage = ev => {
    const item = JSON.parse(ev.data), begin = sent.get(item.id);
    sent.delete(item.id);
    const ms = begin === undefined ? item.latency_ms : performance.now() - begin;
    if (item.status === 200) { done++; chart.add(ms); } else failed++;
    $('streamresult').textContent = `frame ${item.id}: ${describe(item)} (${ms.toFixed(0)} ms)`;
  };
  ws.onclose = ev => { $('streamstat').textContent = `closed ${ev.code} ${ev.reason}`; stop(); };
}
function startFrames() {
  const video = $('video'), canvas = $('frame'), ctx = canvas.getContext('2d');
  openSocket();
  timer = setInterval(() => {
    if (!ws || ws.readyState !== WebSocket.OPEN || sent.size >= 4 || !video.videoWidth) return;
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    ctx.drawImage(video, 0, 0);
    canvas.toBlob(async blob => {
      const id = nextId++, jpeg = new Uint8Array(await blob.arrayBuffer());
      const frame = new Uint8Array(4 + jpeg.length);
      new DataView(frame.buffer).setUint32(0, id);
      frame.set(jpeg, 4);
      sent.set(id, performance.now());
      ws.send(frame);
      $('streamstat').textContent = `sent ${id + 1}, in flight ${sent.size}`;
    }, 'image/jpeg', 0.8);
  }, 1000 / Math.max(1, Number($('fps').value)));
}
function stop() {
  clearInterval(timer); timer = null; sent.clear();
  if (ws && ws.readyState === WebSocket.OPEN) ws.close();
  const video = $('video');
  if (video.srcObject) video.srcObject.getTracks().forEach(t => t.stop());
  video.pause();
}
$('camera').addEventListener('click', async () => {
  stop();
  try {
    $('video').srcObject = await navigator.mediaDevices.getUserMedia({video: true});
    await $('video').play(); startFrames();
  } catch (e) { $('streamstat').textContent = `no camera: ${e}`; }
});
$('videofile').addEventListener('change', async e => {
  stop();
  const video = $('video');
  video.srcObject = null; video.src = URL.createObjectURL(e.target.files[0]); video.loop = true;
  await video.play(); startFrames();
});
$('stop').addEventListener('click', stop);

setInterval(() => {
  chart.draw();
  $('totals').textContent = `${done} results, ${failed} errors`;
}, 1000);
loadModels(); pollHealth(); setInterval(pollHealth, 2000);
