// The health wall: one cell per flow (or group of flows) per second over the last minutes,
// drawn on a canvas from GET /api/v1/wall (one byte a cell, the health codes of health.js,
// oldest second first). A fault that hits many streams in the same seconds is one vertical
// band; drag across it (or click a column) to ask GET /api/v1/wall/band which flows it hit
// and what they share.

import { get, has, query } from './api.js';
import { CODES, RGB, el, note, errorNote, table } from './health.js';

const CELL_W = 3;
const CELL_H = 10;

function decode(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function mount(root, params) {
  if (!has('GET /api/v1/wall')) {
    root.append(el('h2', {}, 'Health wall'),
      note('Not available: this probe does not serve GET /api/v1/wall (the per-second health history), so there is no wall to draw.'));
    return { update() {}, unmount() {} };
  }
  const s = { minutes: Number(params.get('minutes')) || 15, group: params.get('group') || '', doc: null, sel: null, drag: null };
  const minutesSel = el('select', { id: 'wall-minutes' }, ...[5, 15, 30, 60].map((m) => el('option', { value: m }, `last ${m} min`)));
  minutesSel.value = String(s.minutes);
  const groupSel = el('select', { id: 'wall-group' }, el('option', { value: '' }, 'all flows, by group'));
  const info = el('span', { class: 'total' });
  const failure = el('div');
  const labels = el('div', { class: 'labels' });
  const canvas = el('canvas', { id: 'wall-canvas', width: 1, height: 1 });
  const axis = el('div', { class: 'wall-axis' });
  const band = el('div', { id: 'wall-band' });
  root.append(el('h2', {}, 'Health wall'),
    el('div', { class: 'controls' }, minutesSel, groupSel, info), failure,
    el('div', { class: 'wall' }, labels, el('div', {}, canvas, axis)),
    el('p', { class: 'sub' }, 'Drag across a band (or click a column) to list the flows it hit.'), band);
  minutesSel.addEventListener('change', () => { s.minutes = Number(minutesSel.value); refresh(); });
  groupSel.addEventListener('change', () => { s.group = groupSel.value; refresh(); });
  get('/api/v1/groups').then((doc) => {
    for (const g of doc.groups) groupSel.append(el('option', { value: g.name }, `group ${g.name}, by flow`));
    groupSel.value = s.group;
  }).catch(() => {});

  async function refresh() {
    const rows = Math.max(10, Math.min(300, Math.floor((window.innerHeight - 260) / CELL_H)));
    try {
      s.doc = await get(`/api/v1/wall${query({ minutes: s.minutes, group: s.group, rows })}`);
      failure.replaceChildren();
      draw();
    } catch (e) {
      failure.replaceChildren(errorNote(`wall: ${e.message}`));
    }
  }

  function draw() {
    const d = s.doc;
    const cells = decode(d.cells);
    const R = d.rows.length;
    const S = d.seconds;
    canvas.width = Math.max(1, S * CELL_W);
    canvas.height = Math.max(1, R * CELL_H);
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(canvas.width, canvas.height);
    const px = img.data;
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < S; c++) {
        const code = cells[r * S + c] || 0;
        const [R8, G8, B8] = RGB[CODES[code] || 'none'];
        const selected = s.sel && c >= s.sel[0] && c <= s.sel[1];
        for (let y = r * CELL_H; y < (r + 1) * CELL_H - 1; y++) {
          let o = (y * canvas.width + c * CELL_W) * 4;
          for (let x = 0; x < CELL_W; x++, o += 4) {
            px[o] = R8; px[o + 1] = G8; px[o + 2] = B8; px[o + 3] = selected ? 160 : 255;
          }
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    labels.replaceChildren(...d.rows.map((row) => {
      const text = row.flow ? row.label : `${row.label} (${row.flows})`;
      const div = el('div', { title: text }, text);
      div.style.height = `${CELL_H}px`;
      div.style.lineHeight = `${CELL_H}px`;
      return div;
    }));
    const end = new Date(d.end);
    const start = new Date(end.getTime() - S * 1000);
    axis.replaceChildren(el('span', {}, start.toISOString().slice(11, 19)), el('span', {}, `${end.toISOString().slice(11, 19)} UTC`));
    info.textContent = `${R} rows × ${S} s`;
  }

  const column = (ev) => {
    const rect = canvas.getBoundingClientRect();
    const x = (ev.clientX - rect.left) * (canvas.width / rect.width);
    return Math.max(0, Math.min((s.doc?.seconds ?? 1) - 1, Math.floor(x / CELL_W)));
  };
  canvas.addEventListener('mousedown', (ev) => { if (s.doc) { s.drag = column(ev); s.sel = [s.drag, s.drag]; draw(); } });
  canvas.addEventListener('mousemove', (ev) => {
    if (s.drag === null) return;
    const c = column(ev);
    s.sel = [Math.min(s.drag, c), Math.max(s.drag, c)];
    draw();
  });
  canvas.addEventListener('mouseup', () => { if (s.drag !== null) { s.drag = null; askBand(); } });

  async function askBand() {
    const d = s.doc;
    // Column c covers the second [end - (S - c) s, end - (S - c - 1) s).
    const endMs = d.end_ns / 1e6;
    const from = new Date(endMs - (d.seconds - s.sel[0]) * 1000).toISOString();
    const to = new Date(endMs - (d.seconds - s.sel[1] - 1) * 1000).toISOString();
    band.replaceChildren(note(`asking for ${from} to ${to}…`));
    try {
      const b = await get(`/api/v1/wall/band${query({ from, to, group: s.group })}`);
      const sh = b.shared || {};
      band.replaceChildren(
        el('h3', {}, `${b.count} flows hit from ${from.slice(11, 19)} to ${to.slice(11, 19)}`),
        el('p', { id: 'wall-shared' }, `They share: group ${sh.group ?? '—'}, source ${sh.src_prefix ?? '—'}, destination ${sh.dst_prefix ?? '—'}, outer VLAN ${sh.vlan ?? '—'}, kind ${sh.kind ?? '—'}.`),
        table(['', 'Flow', 'Group', 'Source', 'Destination', 'VLAN', 'Kind'], b.flows.map((f) => [
          el('span', { class: `dot ${f.worst}` }),
          el('a', { href: `#/flow/${encodeURIComponent(f.id)}` }, f.id), f.group ?? '', f.src, f.dst, f.vlan ?? '', f.kind])));
    } catch (e) {
      band.replaceChildren(errorNote(`band: ${e.message}`));
    }
  }

  refresh();
  return { update() { if (s.drag === null) refresh(); }, unmount() {} };
}
