// Health colours, the same everywhere (docs/dashboard.md): red = an alarm is active on the
// flow, amber = an SLA limit broken in the last interval, grey = silent, green = ok. The
// wall's bytes use the same order (outputs::live_view::Health): 0 none, 1 green, 2 amber,
// 3 grey, 4 red.

export const CODES = ['none', 'green', 'amber', 'grey', 'red'];
export const RGB = {
  none: [241, 243, 244], green: [30, 142, 62], amber: [242, 153, 0], grey: [154, 160, 166], red: [217, 48, 37],
};

/** A flow document's health: the API's `health` when it gives one, else the same rule
 * computed from what it does give (LiveFlow::health). */
export function healthOf(f) {
  if (f.health) return f.health;
  if (f.active_alarms > 0) return 'red';
  if (f.state === 'silent') return 'grey';
  if (f.last?.sla?.violations?.length) return 'amber';
  return 'green';
}

// TR 101 290 priorities (ETSI TR 101 290 section 5.2.1 first, 5.2.2 second).
const P1 = ['sync_loss', 'sync_byte_error', 'pat_error', 'cc_error', 'pmt_error', 'pid_error'];
const P2 = ['transport_error', 'crc_error', 'pcr_repetition_error', 'pcr_discontinuity_error', 'pcr_accuracy_error', 'pts_error', 'cat_error'];

/** "P1/P2" occurrences of an indicator map, or '' when there is none (not TS). */
export function priorities(t) {
  if (!t) return '';
  const sum = (keys) => keys.reduce((n, k) => n + (t[k] || 0), 0);
  return `${sum(P1)}/${sum(P2)}`;
}

export function bitrate(bps) {
  if (bps === null || bps === undefined) return '';
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gb/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(1)} kb/s`;
  return `${Math.round(bps)} b/s`;
}

/** A figure with `digits` decimals, '' when absent. */
export function num(v, digits = 2) {
  return v === null || v === undefined ? '' : Number(v).toFixed(digits);
}

export function bytes(n) {
  if (n === null || n === undefined) return '';
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Element helper: el('td', {class: 'num'}, 'text', child...). Text only: never HTML. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

/** A table of `rows` (arrays of cells) under `heads`; a head ending in '#' is numeric. */
export function table(heads, rows) {
  const numeric = heads.map((h) => h.endsWith('#'));
  return el('table', { class: 'plain' },
    el('thead', {}, el('tr', {}, ...heads.map((h, i) => el('th', { class: numeric[i] ? 'num' : null }, h.replace(/#$/, ''))))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c, i) => el('td', { class: numeric[i] ? 'num' : null }, c))))));
}

export function note(text) { return el('div', { class: 'note' }, text); }
export function errorNote(text) { return el('div', { class: 'error-note' }, text); }
