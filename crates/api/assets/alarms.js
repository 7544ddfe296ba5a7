// Alarms: those active now and the history (GET /api/v1/alarms?state=active|all), each
// active one acknowledged with POST /api/v1/alarms/{id}/ack and the API token.

import { get, post, has, token } from './api.js';
import { el, note, errorNote, table, num } from './health.js';

function summary(a) {
  const sh = a.summary?.shared;
  if (!a.summary) return '';
  const parts = [`${a.summary.count} flows`];
  if (sh) {
    if (sh.group) parts.push(`group ${sh.group}`);
    if (sh.src_prefix) parts.push(`from ${sh.src_prefix}`);
    if (sh.dst_prefix) parts.push(`to ${sh.dst_prefix}`);
    if (sh.vlan != null) parts.push(`VLAN ${sh.vlan}`);
  }
  return parts.join(', ');
}

export function mount(root, params, _id, app) {
  root.append(el('h2', {}, 'Alarms'));
  if (!has('GET /api/v1/alarms')) {
    root.append(note('Not available: this probe does not serve GET /api/v1/alarms (the alarm engine).'));
    return { update() {}, unmount() {} };
  }
  const failure = el('div');
  const active = el('div', { id: 'alarms-active' });
  const history = el('div', { id: 'alarms-history' });
  root.append(failure, el('h3', {}, 'Active'), active, el('h3', {}, 'History (newest first)'), history);

  async function ack(a, button) {
    if (!token()) { app.askToken('Acknowledging an alarm needs the API token.'); return; }
    button.disabled = true;
    try {
      await post(`/api/v1/alarms/${encodeURIComponent(a.id)}/ack`);
      refresh();
    } catch (e) {
      failure.replaceChildren(errorNote(`acknowledge ${a.id}: ${e.message}`));
      button.disabled = false;
    }
  }

  const row = (a, withAck) => [
    a.time, a.state, a.rule,
    a.flow ? el('a', { href: `#/flow/${encodeURIComponent(a.flow)}` }, a.flow) : '',
    a.group ?? '', num(a.value), num(a.threshold), a.text ?? '', summary(a),
    withAck && a.state === 'raised' ? (() => { const b = el('button', { type: 'button', class: 'ack' }, 'Acknowledge'); b.addEventListener('click', () => ack(a, b)); return b; })() : '',
  ];
  const heads = ['Time', 'State', 'Rule', 'Flow', 'Group', 'Value#', 'Threshold#', 'Text', 'Flood summary', ''];

  async function refresh() {
    try {
      const [now, all] = await Promise.all([get('/api/v1/alarms?state=active'), get('/api/v1/alarms?state=all')]);
      const list = (d) => (Array.isArray(d) ? d : d.alarms ?? []);
      const a = list(now);
      const h = list(all).slice().sort((x, y) => (x.time < y.time ? 1 : -1)).slice(0, 500);
      failure.replaceChildren();
      active.replaceChildren(a.length ? table(heads, a.map((x) => row(x, true))) : note('No alarm is active.'));
      history.replaceChildren(h.length ? table(heads.slice(0, -1), h.map((x) => row(x, false).slice(0, -1))) : note('No alarms yet.'));
    } catch (e) {
      failure.replaceChildren(errorNote(`alarms: ${e.message}`));
    }
  }
  refresh();
  return { update: refresh, unmount() {} };
}
