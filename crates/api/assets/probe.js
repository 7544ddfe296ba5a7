// The probe's own health (GET /api/v1/health): packets, kernel drops, worker load, analysis
// state, each sink's queue and drops, the store.

import { get } from './api.js';
import { el, errorNote, note, table, bytes, num } from './health.js';

export function mount(root) {
  const failure = el('div');
  const body = el('div', { id: 'probe-health' });
  root.append(el('h2', {}, 'Probe health'), failure, body);
  async function refresh() {
    try {
      const h = await get('/api/v1/health');
      failure.replaceChildren();
      const p = h.probe;
      const parts = [table(['Started', 'Flows#', 'Forgotten flows#'], [[h.started, h.flows, h.forgotten_flows]])];
      if (!p) parts.push(note('No interval yet.'));
      else {
        parts.push(
          el('h3', {}, `Last interval (${p.time}, ${p.interval_s} s)`),
          table(['Packets#', 'Active flows#', 'Kernel drops#', 'Late#', 'Output dropped#', 'Refused#', 'Evicted#', 'State#', 'State budget#'],
            [[p.packets, p.active_flows, p.kernel_drops, p.late, p.output_dropped, p.refused + (p.refused_state || 0), p.evicted, bytes(p.state_bytes), p.state_budget_bytes ? bytes(p.state_budget_bytes) : 'none']]),
          el('h3', {}, 'Workers'),
          table(['Worker#', 'Packets#', 'Flows#', 'Load#', 'Kernel drops#'], p.workers.map((w) => [w.worker, w.packets, w.flows, `${num(100 * w.load, 1)} %`, w.kernel_drops])),
          el('h3', {}, 'Sinks'),
          table(['Sink', 'State', 'Queued#', 'Queue#', 'Written records#', 'Dropped records#', 'Errors#', 'Last error'],
            p.sinks.map((s) => [s.name, typeof s.state === 'string' ? s.state : JSON.stringify(s.state), s.queued_intervals, s.queue_intervals, s.written_records, s.dropped_records, s.errors, s.last_error ?? ''])));
      }
      const st = h.store;
      parts.push(el('h3', {}, 'Store'), st.location ? table(['Location', 'Size#', 'Intervals written#', 'Last write ms#', 'Insert lag ms#'],
        [[st.location, bytes(st.size_bytes), st.intervals_written ?? '', num(st.last_write_ms, 1), num(st.insert_lag_ms, 1)]]) : note('No store (--store none): no history.'));
      body.replaceChildren(...parts);
    } catch (e) {
      failure.replaceChildren(errorNote(`health: ${e.message}`));
    }
  }
  refresh();
  return { update: refresh, unmount() {} };
}
