// Alarms (docs/alarms.md): those active now (GET /api/v1/alarms?state=active: each
// episode's latest record, raised or acknowledged) and the history (?state=all: every
// raised, acknowledged and cleared record, oldest first from the API, shown newest first).
// Acknowledging needs the API token: POST /api/v1/alarms/{id}/ack answers 202 "queued",
// and the engine records the acknowledgement at the next interval's end, so the page
// says "queued" until the active list shows the episode acknowledged.

import { get, post, has, token, query } from './api.js';
import { el, note, errorNote, table, num } from './health.js';

const BY_KEY = 'streamprobe.ack_by';
/** History rows shown at most. */
const SHOWN = 500;
/** Records asked for at once. */
const PAGE = 1000;

function summary(a) {
  if (a.summary) {
    const sh = a.summary.shared || {};
    const parts = [`summary of ${a.summary.count} flows`];
    if (sh.group) parts.push(`group ${sh.group}`);
    if (sh.src_prefix) parts.push(`from ${sh.src_prefix}`);
    if (sh.dst_prefix) parts.push(`to ${sh.dst_prefix}`);
    if (sh.vlan != null) parts.push(`VLAN ${sh.vlan}`);
    if (sh.kind) parts.push(sh.kind);
    return parts.join(', ');
  }
  return a.summarised_in ? `in summary ${a.summarised_in}` : '';
}

const acked = (a) => (a.ack ? `${a.ack.by} at ${a.ack.time.slice(0, 19).replace('T', ' ')}${a.ack.note ? `: ${a.ack.note}` : ''}` : '');

export function mount(root, params, _id, app) {
  root.append(el('h2', {}, 'Alarms'));
  if (!has('GET /api/v1/alarms')) {
    root.append(note('Not available: this probe does not serve GET /api/v1/alarms (the alarm engine).'));
    return { update() {}, unmount() {} };
  }
  const failure = el('div');
  const by = el('input', { id: 'ack-by', size: 16, value: localStorage.getItem(BY_KEY) || 'dashboard', title: 'the name an acknowledgement is recorded with' });
  by.addEventListener('change', () => localStorage.setItem(BY_KEY, by.value.trim()));
  const activeCount = el('span', { class: 'total', id: 'alarms-active-count' });
  const active = el('div', { id: 'alarms-active' });
  const history = el('div', { id: 'alarms-history' });
  root.append(failure,
    el('div', { class: 'controls' }, el('label', {}, 'Acknowledge as ', by), activeCount),
    el('h3', {}, 'Active'), active, el('h3', {}, 'History (newest first)'), history);
  // Acknowledgements queued (202) and not yet seen recorded: id -> the answer.
  const queued = new Map();

  async function ack(a, cell) {
    if (!token()) { app.askToken('Acknowledging an alarm needs the API token.'); return; }
    cell.replaceChildren(el('span', { class: 'alarm-status' }, 'sending…'));
    try {
      const answer = await post(`/api/v1/alarms/${encodeURIComponent(a.id)}/ack`, { by: by.value.trim() || 'dashboard' });
      queued.set(a.id, answer);
      cell.replaceChildren(queuedNote(answer));
      failure.replaceChildren();
    } catch (e) {
      failure.replaceChildren(errorNote(`acknowledge alarm ${a.id}: ${e.message}`));
      refresh();
    }
  }

  const queuedNote = (answer) => el('span', { class: 'alarm-status', 'data-queued': answer.id }, `queued by ${answer.by}: recorded at the next interval's end`);

  function ackCell(a) {
    const cell = el('span', { class: 'ack-cell', 'data-alarm': a.id, 'data-state': a.state });
    if (a.state === 'acknowledged') {
      queued.delete(a.id);
      cell.append(`by ${acked(a)}`);
    } else if (queued.has(a.id)) {
      cell.append(queuedNote(queued.get(a.id)));
    } else {
      const b = el('button', { type: 'button', class: 'ack', 'data-alarm': a.id }, 'Acknowledge');
      b.addEventListener('click', () => ack(a, cell));
      cell.append(b);
    }
    return cell;
  }

  const flowCell = (a) => (a.flow ? el('a', { href: `#/flow/${encodeURIComponent(a.flow)}` }, a.flow) : (a.summary ? '(flood summary)' : '(probe)'));
  const dot = (a) => el('span', { class: `dot ${a.state === 'cleared' ? 'green' : 'red'}` });
  const when = (t) => (t ? t.slice(0, 19).replace('T', ' ') : '');
  // [heading, cell, whether any record needs the column (none: always shown)]
  const columns = (history) => [
    ['', dot], ['Id#', (a) => String(a.id)],
    ...(history ? [['Time', (a) => when(a.time)], ['State', (a) => a.state]] : [['Raised', (a) => when(a.raised)]]),
    ['Rule', (a) => a.rule], ['Flow', flowCell], ['Group', (a) => a.group ?? ''],
    ['Value#', (a) => num(a.value)], ['Threshold#', (a) => num(a.threshold)], ['Text', (a) => a.text ?? ''],
    ['Summary', summary, (a) => a.summary || a.summarised_in],
    ...(history ? [['Reason', (a) => a.reason ?? '', (a) => a.reason], ['Acknowledged', acked, (a) => a.ack]] : [['Acknowledged', ackCell]]),
  ];
  /** A table of `list` with the columns some record needs. */
  function alarmTable(list, history) {
    const cols = columns(history).filter(([, , needed]) => !needed || list.some(needed));
    return table(cols.map(([h]) => h), list.map((a) => cols.map(([, cell]) => cell(a))));
  }

  /** The newest records: all when they are few, else those of the last hour, 10 min or
   * minute before the last interval (the API lists oldest first); [records, whether more
   * are kept than shown]. */
  async function newest(time) {
    let d = await get(`/api/v1/alarms${query({ state: 'all', limit: PAGE })}`);
    const end = time ? Date.parse(time) / 1000 : null;
    for (const back of [3600, 600, 60]) {
      if (!d.truncated || end === null) break;
      d = await get(`/api/v1/alarms${query({ state: 'all', limit: PAGE, from: Math.floor(end - back) })}`);
    }
    return [d.alarms, d.truncated];
  }

  async function refresh() {
    try {
      const now = await get('/api/v1/alarms?state=active');
      const [all, more] = await newest(now.time);
      const shown = all.slice().reverse().slice(0, SHOWN);
      failure.replaceChildren();
      activeCount.textContent = `${now.active} active`;
      active.replaceChildren(now.alarms.length ? alarmTable(now.alarms, false) : note('No alarm is active.'));
      history.replaceChildren(
        ...(more || all.length > SHOWN ? [note('More records are kept than shown here: GET /api/v1/alarms?state=all&from=&to= pages through them all.')] : []),
        shown.length ? alarmTable(shown, true) : note('No alarms yet.'));
      history.dataset.records = String(all.length);
    } catch (e) {
      failure.replaceChildren(errorNote(`alarms: ${e.message}`));
    }
  }
  refresh();
  return { update: refresh, unmount() {} };
}
