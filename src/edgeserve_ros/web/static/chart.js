// Live throughput / latency chart on a canvas, drawn by hand (no library, no CDN).
'use strict';
class LiveChart {
  constructor(canvas, seconds) {
    this.canvas = canvas; this.seconds = seconds; this.events = [];  // [time s, latency ms]
  }
  add(latencyMs) {
    const now = performance.now() / 1000;
    this.events.push([now, latencyMs]);
    while (this.events.length && this.events[0][0] < now - this.seconds) this.events.shift();
  }
  bins() {
    const now = Math.floor(performance.now() / 1000), out = [];
    for (let i = this.seconds - 1; i >= 0; i--) {
      const t = now - i, lat = this.events.filter(e => Math.floor(e[0]) === t).map(e => e[1]);
      lat.sort((a, b) => a - b);
      out.push({count: lat.length, p50: lat.length ? lat[Math.floor(lat.length / 2)] : null});
    }
    return out;
  }
  draw() {
    const c = this.canvas.getContext('2d'), w = this.canvas.width, h = this.canvas.height;
    const bins = this.bins(), pad = 30, bw = (w - 2 * pad) / bins.length;
    const maxCount = Math.max(1, ...bins.map(b => b.count));
    const maxLat = Math.max(1, ...bins.map(b => b.p50 || 0));
    c.clearRect(0, 0, w, h);
    c.fillStyle = '#9bc1f0';
    bins.forEach((b, i) => {
      const bh = (h - 2 * pad) * b.count / maxCount;
      c.fillRect(pad + i * bw + 1, h - pad - bh, bw - 2, bh);
    });
    c.strokeStyle = '#d2452b'; c.lineWidth = 2; c.beginPath();
    let started = false;
    bins.forEach((b, i) => {
      if (b.p50 === null) return;
      const x = pad + (i + 0.5) * bw, y = h - pad - (h - 2 * pad) * b.p50 / maxLat;
      if (started) c.lineTo(x, y); else { c.moveTo(x, y); started = true; }
    });
    c.stroke();
    c.fillStyle = '#333'; c.font = '12px sans-serif';
    c.fillText(`${maxCount}/s`, 2, pad - 6);
    c.fillText(`${maxLat.toFixed(0)} ms`, w - pad - 40, pad - 6);
    c.fillText(`-${this.seconds} s`, pad, h - 8); c.fillText('now', w - pad - 24, h - 8);
    c.strokeStyle = '#999'; c.lineWidth = 1; c.strokeRect(pad, pad, w - 2 * pad, h - 2 * pad);
  }
}
