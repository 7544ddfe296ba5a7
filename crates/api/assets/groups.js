// Monitor groups, Monitube style: one tile per group with its MDI (largest DF : largest
// MLR of the last interval), bitrate and flows; then the same as a table.

import { get } from './api.js';
import { el, note, errorNote, table, bitrate, num } from './health.js';

export function mount(root) {
  const failure = el('div');
  const tiles = el('div', { class: 'tiles', id: 'group-tiles' });
  const list = el('div');
  root.append(el('h2', {}, 'Groups'), failure, tiles, list);
  async function refresh() {
    try {
      const doc = await get('/api/v1/groups');
      failure.replaceChildren();
      if (!doc.groups.length) {
        tiles.replaceChildren(note(`No monitor group is configured ([[group]] in the config); ${doc.ungrouped_flows} flows are in none.`));
        list.replaceChildren();
        return;
      }
      tiles.replaceChildren(...doc.groups.map((g) => el('div', { class: 'tile' },
        el('div', { class: 'name' }, g.name),
        el('div', { class: 'mdi', title: 'MDI: largest Delay Factor (ms) : largest Media Loss Rate (packets/s) of the last interval' },
          g.max_df_ms == null ? '—' : `${num(g.max_df_ms, 1)}:${num(g.max_mlr, 2)}`),
        el('div', { class: 'sub' }, `${g.active}/${g.flows} active · ${bitrate(g.bitrate_bps)} · net lost ${g.net_lost}`))));
      list.replaceChildren(table(['Group', 'Prefixes', 'Media rate#', 'Flows#', 'Active#', 'Bitrate#', 'Max DF ms#', 'Mean DF ms#', 'Max MLR#', 'Net lost#'],
        doc.groups.map((g) => [g.name, g.prefixes.join(' '), bitrate(g.media_rate_bps), g.flows, g.active, bitrate(g.bitrate_bps),
          num(g.max_df_ms, 1), num(g.mean_df_ms, 1), num(g.max_mlr), g.net_lost])),
      note(`${doc.ungrouped_flows} flows are in no group.`));
    } catch (e) {
      failure.replaceChildren(errorNote(`groups: ${e.message}`));
    }
  }
  refresh();
  return { update: refresh, unmount() {} };
}
