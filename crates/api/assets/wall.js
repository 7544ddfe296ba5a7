// The health wall: one cell per flow (or row of flows) per second over the last minutes,
// drawn on a canvas from GET /api/v1/wall (`cells`: rows x seconds bytes in base64, row
// after row, oldest second first, the health codes of health.js; `counts`: flows of each
// health every second), with a strip of those counts above it. A fault that hits many
// streams in the same seconds is one vertical band; drag across it (or click a column) to
// ask GET /api/v1/wall/band which flows it hit and what they share. The band is kept as
// Unix seconds, so it stays on the same seconds while the wall moves on, and it is in the
// hash (#/wall?from=&to=&health=), so a band can be bookmarked.

import { get, has, query } from './api.js';
import { CODES, RGB, el, note, errorNote, table } from './health.js';

const CELL_H = 10;
/** Widest cell, px: a short wall is not stretched past this. */
const MAX_CELL_W = 8;
const COUNTS_H = 36;
const MINUTES = [1, 5, 10, 15];

function decode(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The commonest group, source /24 (IPv6: /64), VLAN and kind of `flows`, each with how many
 * have it, where not every flow has the same: [[what, value, count]]. */
function breakdown(flows) {
  const net = (endpoint) => {
    const ip = endpoint.startsWith('[') ? endpoint.slice(1, endpoint.indexOf(']')) : endpoint.slice(0, endpoint.lastIndexOf(':'));
    return ip.includes(':') ? `${ip.split(':').slice(0, 4).join(':')}::/64` : `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  };
  const keys = [['group', (f) => f.group ?? '(none)'], ['source', (f) => net(f.src)], ['destination', (f) => net(f.dst)],
    ['outer VLAN', (f) => f.vlan ?? 'none'], ['kind', (f) => f.kind]];
  const out = [];
  for (const [what, of] of keys) {
    const n = new Map();
    for (const f of flows) n.set(of(f), (n.get(of(f)) || 0) + 1);
    const [value, count] = [...n].sort((a, b) => b[1] - a[1])[0];
    if (n.size > 1 && count > 1) out.push([what, value, count]);
  }
  return out;
}

const hms = (unixS) => new Date(unixS * 1000).toISOString().slice(11, 19);
const rgb = (name) => `rgb(${RGB[name].join(',')})`;

export function mount(root, params) {
  if (!has('GET /api/v1/wall')) {
    root.append(el('h2', {}, 'Health wall'),
      note('Not available: this probe does not serve GET /api/v1/wall (the per-second health history), so there is no wall to draw.'));
    return { update() {}, unmount() {} };
  }
  const band0 = [Number(params.get('from')), Number(params.get('to'))];
  const s = {
    minutes: MINUTES.includes(Number(params.get('minutes'))) ? Number(params.get('minutes')) : 15,
    group: params.get('group') || '',
    rows: Number(params.get('rows')) || 0,
    health: params.get('health') || 'amber',
    doc: null,
    cells: null,
    // The columns drawn: from the first second any flow was on the wall.
    skip: 0,
    cellW: 1,
    // The band, Unix seconds [first, last]; the column a drag started at.
    band: band0.every((x) => Number.isInteger(x) && x > 0) && band0[0] <= band0[1] ? band0 : null,
    drag: null,
    asked: null,
  };
  const minutesSel = el('select', { id: 'wall-minutes' }, ...MINUTES.map((m) => el('option', { value: m }, `last ${m} min`)));
  minutesSel.value = String(s.minutes);
  const groupSel = el('select', { id: 'wall-group' }, el('option', { value: '' }, 'all flows, by group'));
  const healthSel = el('select', { id: 'wall-health', title: 'what counts as hit in a band' },
    el('option', { value: 'amber' }, 'band: amber or worse'), el('option', { value: 'grey' }, 'band: grey or red'), el('option', { value: 'red' }, 'band: red only'));
  healthSel.value = ['amber', 'grey', 'red'].includes(s.health) ? s.health : 'amber';
  const info = el('span', { class: 'total', id: 'wall-info' });
  const failure = el('div');
  const labels = el('div', { class: 'labels' });
  const counts = el('canvas', { id: 'wall-counts', width: 1, height: COUNTS_H, title: 'flows amber, grey and red each second' });
  const canvas = el('canvas', { id: 'wall-canvas', width: 1, height: 1 });
  const axis = el('div', { class: 'wall-axis' });
  const plot = el('div', { class: 'wall-plot' }, counts, canvas, axis);
  const band = el('div', { id: 'wall-band' });
  const countsLabel = el('div', { class: 'counts-label' }, 'flows not green');
  countsLabel.style.height = `${COUNTS_H}px`;
  root.append(el('h2', {}, 'Health wall'),
    el('div', { class: 'controls' }, minutesSel, groupSel, healthSel, info), failure,
    el('div', { class: 'wall' }, el('div', { class: 'labels-col' }, countsLabel, labels), plot),
    el('p', { class: 'sub' }, 'Drag across a band (or click a column) to list the flows it hit and what they share.'), band);

  function remember() {
    const q = { minutes: s.minutes === 15 ? '' : s.minutes, group: s.group, rows: s.rows || '' };
    if (s.band) Object.assign(q, { from: s.band[0], to: s.band[1], health: s.health === 'amber' ? '' : s.health });
    history.replaceState(null, '', `#/wall${query(q)}`);
  }
  minutesSel.addEventListener('change', () => { s.minutes = Number(minutesSel.value); remember(); refresh(); });
  groupSel.addEventListener('change', () => { s.group = groupSel.value; s.band = null; band.replaceChildren(); remember(); refresh(); });
  healthSel.addEventListener('change', () => { s.health = healthSel.value; remember(); if (s.band) askBand(); });
  get('/api/v1/groups').then((doc) => {
    for (const g of doc.groups) groupSel.append(el('option', { value: g.name }, `group ${g.name}, by flow`));
    groupSel.value = s.group;
  }).catch(() => {});

  async function refresh() {
    const fit = Math.floor((window.innerHeight - 300) / CELL_H);
    const rows = s.rows || Math.max(10, Math.min(300, fit));
    try {
      const d = await get(`/api/v1/wall${query({ minutes: s.minutes, group: s.group, rows })}`);
      s.doc = d;
      s.cells = decode(d.cells);
      failure.replaceChildren();
      draw();
      if (s.band && s.asked === null) askBand();
    } catch (e) {
      failure.replaceChildren(errorNote(`wall: ${e.message}`));
    }
  }

  /** The first column any flow was on the wall (the seconds before are not drawn). */
  function firstColumn(d) {
    const c = d.counts;
    for (let i = 0; i < d.seconds; i++) if (c.green[i] + c.amber[i] + c.grey[i] + c.red[i] > 0) return Math.min(i, d.seconds - 1);
    return Math.max(0, d.seconds - 1);
  }

  function draw() {
    const d = s.doc;
    const cells = s.cells;
    const R = d.rows.length;
    s.skip = firstColumn(d);
    const S = d.seconds - s.skip;
    const width = Math.max(100, plot.parentElement.clientWidth - labels.parentElement.offsetWidth - 12);
    s.cellW = Math.max(1, Math.min(MAX_CELL_W, Math.floor(width / S)));
    const W = S * s.cellW;
    canvas.width = Math.max(1, W);
    canvas.height = Math.max(1, R * CELL_H);
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(canvas.width, canvas.height);
    const px = img.data;
    // A row leaves its last line blank: a gap between rows.
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < S; c++) {
        const [R8, G8, B8] = RGB[CODES[cells[r * d.seconds + s.skip + c]] || 'none'];
        for (let y = r * CELL_H; y < (r + 1) * CELL_H - 1; y++) {
          let o = (y * W + c * s.cellW) * 4;
          for (let x = 0; x < s.cellW; x++, o += 4) {
            px[o] = R8; px[o + 1] = G8; px[o + 2] = B8; px[o + 3] = 255;
          }
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    drawCounts(d, S, W);
    countsLabel.textContent = `flows not green (of ${d.flows.toLocaleString('en')})`;
    const sel = selected();
    if (sel) {
      for (const [cv, h] of [[canvas, canvas.height], [counts, COUNTS_H]]) {
        const g = cv.getContext('2d');
        const x = sel[0] * s.cellW;
        const w = (sel[1] - sel[0] + 1) * s.cellW;
        g.fillStyle = 'rgba(26, 115, 232, 0.18)';
        g.fillRect(x, 0, w, h);
        g.strokeStyle = '#1a73e8';
        g.lineWidth = 2;
        g.strokeRect(x + 1, 1, Math.max(1, w - 2), h - 2);
      }
    }
    labels.replaceChildren(...d.rows.map((row) => {
      const div = el('div', { title: row.flow ? row.label : `${row.flows} flows: ${row.first} … ${row.last}` }, row.label);
      div.style.height = `${CELL_H}px`;
      div.style.lineHeight = `${CELL_H}px`;
      return div;
    }));
    const first = d.start_s + s.skip;
    const last = d.start_s + d.seconds - 1;
    axis.style.width = `${W}px`;
    axis.replaceChildren(el('span', {}, hms(first)), el('span', {}, hms(Math.round((first + last) / 2))), el('span', {}, `${hms(last + 1)} UTC`));
    const nowRed = d.counts.red[d.seconds - 1];
    info.textContent = `${d.flows.toLocaleString('en')} flows in ${R} rows × ${S} s · red now: ${nowRed}`;
    canvas.dataset.ready = '1';
  }

  /** Flows amber, grey and red each second, stacked (red at the bottom), on the wall's scale. */
  function drawCounts(d, S, W) {
    counts.width = Math.max(1, W);
    counts.height = COUNTS_H;
    const g = counts.getContext('2d');
    g.fillStyle = rgb('none');
    g.fillRect(0, 0, W, COUNTS_H);
    const c = d.counts;
    const top = Math.max(1, d.flows);
    for (let i = 0; i < S; i++) {
      const k = s.skip + i;
      let y = COUNTS_H;
      for (const h of ['red', 'grey', 'amber']) {
        const n = c[h][k];
        if (!n) continue;
        const hgt = Math.max(1, Math.round((n / top) * (COUNTS_H - 2)));
        g.fillStyle = rgb(h);
        g.fillRect(i * s.cellW, y - hgt, s.cellW, hgt);
        y -= hgt;
      }
    }
  }

  /** The band as drawn columns [first, last], or null when it is not on the wall. */
  function selected() {
    if (!s.band || !s.doc) return null;
    const first = s.doc.start_s + s.skip;
    const last = s.doc.start_s + s.doc.seconds - 1;
    if (s.band[1] < first || s.band[0] > last) return null;
    return [Math.max(s.band[0], first) - first, Math.min(s.band[1], last) - first];
  }

  const column = (ev) => {
    const rect = canvas.getBoundingClientRect();
    const x = (ev.clientX - rect.left) * (canvas.width / rect.width);
    const S = (s.doc?.seconds ?? 1) - s.skip;
    return Math.max(0, Math.min(S - 1, Math.floor(x / s.cellW)));
  };
  const second = (col) => s.doc.start_s + s.skip + col;
  for (const cv of [canvas, counts]) {
    cv.addEventListener('mousedown', (ev) => {
      if (!s.doc) return;
      ev.preventDefault();
      s.drag = second(column(ev));
      s.band = [s.drag, s.drag];
      draw();
    });
  }
  const onMove = (ev) => {
    if (s.drag === null) return;
    const t = second(column(ev));
    s.band = [Math.min(s.drag, t), Math.max(s.drag, t)];
    draw();
  };
  const onUp = () => {
    if (s.drag === null) return;
    s.drag = null;
    remember();
    askBand();
  };
  window.addEventListener('mousemove', onMove);
  window.addEventListener('mouseup', onUp);

  async function askBand() {
    const [from, to] = s.band;
    const asked = `${from}-${to}-${s.health}-${s.group}`;
    s.asked = asked;
    band.replaceChildren(note(`asking which flows were ${s.health} or worse from ${hms(from)} to ${hms(to + 1)}…`));
    try {
      const b = await get(`/api/v1/wall/band${query({ from, to, group: s.group, health: s.health })}`);
      if (s.asked !== asked) return;
      const sh = b.shared || {};
      const shared = [
        ['group', sh.group], ['source', sh.src_prefix], ['destination', sh.dst_prefix],
        ['outer VLAN', sh.vlan], ['kind', sh.kind],
      ];
      const span = `${hms(from)} to ${hms(to + 1)} UTC (${to - from + 1} s)`;
      const listed = b.flows.length < b.count ? ` (the first ${b.flows.length} listed)` : '';
      const most = b.count > 1 ? breakdown(b.flows) : [];
      band.replaceChildren(
        el('h3', { id: 'wall-band-title' }, `${b.count.toLocaleString('en')} ${b.count === 1 ? 'flow' : 'flows'} ${s.health} or worse from ${span}${listed}`),
        b.count === 0 ? note('No flow was hit in these seconds.')
          : el('p', { id: 'wall-shared', class: 'shared' }, 'What they share: ',
            ...shared.flatMap(([k, v]) => [el('span', { class: v == null ? 'differ' : 'same', title: v == null ? 'not shared (they differ, or none has one)' : 'shared by all' }, `${k} ${v ?? '—'}`), ' · ']).slice(0, -1)),
        most.length ? el('p', { id: 'wall-most', class: 'shared' }, `Most of the ${b.flows.length} listed: `,
          ...most.flatMap(([k, v, n]) => [el('span', { class: 'same' }, `${k} ${v}`), ` (${n})`, ' · ']).slice(0, -1)) : '',
        b.count === 0 ? '' : table(['', 'Flow', 'Group', 'Source', 'Destination', 'VLAN', 'Kind', 'Worst', 'Seconds hit#'], b.flows.map((f) => [
          el('span', { class: `dot ${f.worst}` }),
          el('a', { href: `#/flow/${encodeURIComponent(f.id)}`, 'data-flow': f.id }, f.id), f.group ?? '', f.src, f.dst, f.vlan ?? '', f.kind, f.worst, String(f.seconds)])));
      band.dataset.count = String(b.count);
    } catch (e) {
      band.replaceChildren(errorNote(`band: ${e.message}`));
    }
  }

  const onResize = () => { if (s.doc) draw(); };
  window.addEventListener('resize', onResize);
  refresh();
  return {
    update() { if (s.drag === null) refresh(); },
    unmount() {
      window.removeEventListener('mousemove', onMove);
      window.removeEventListener('mouseup', onUp);
      window.removeEventListener('resize', onResize);
    },
  };
}
