// One flow: who it is, its last interval, charts of its history from the store's tiers
// (GET /api/v1/flows/{id}/history, the tier chosen by the range), its events and alarms.

import { get, has, query, flowPath } from './api.js';
import { healthOf, priorities, bitrate, num, el, note, errorNote, table } from './health.js';

const RANGES = [['15m', 900], ['1h', 3600], ['6h', 21600], ['24h', 86400], ['7d', 604800], ['30d', 2592000]];

// [title, figure of a history point, axis unit]
const CHARTS = [
  ['Bitrate (bit/s)', (p) => p.bitrate_bps],
  ['Loss (% of packets)', (p) => (p.packets + p.lost > 0 ? (100 * p.lost) / (p.packets + p.lost) : null)],
  ['Jitter, largest (ms)', (p) => p.jitter_ms_max],
  ['MDI Delay Factor, largest (ms)', (p) => p.df_ms_max],
  ['MDI Media Loss Rate, largest (packets/s)', (p) => p.mlr_max],
  ['Frame rate (frames/s)', (p) => p.fps],
];

// A TS flow's programs (PAT, PMT, SDT): one row per elementary stream, the program's cells
// on its first; text only (table() sets every cell as a text node).
function programsTable(programs) {
  const hex = (n) => `0x${n.toString(16).padStart(2, '0')}`;
  const rows = programs.flatMap((p) => {
    const head = [p.number, p.pmt_pid, p.pcr_pid ?? '—', p.service_name ?? '—'];
    const streams = p.streams.length ? p.streams : [null];
    return streams.map((e, i) => [...(i === 0 ? head : ['', '', '', '']),
      e ? e.pid : '—', e ? hex(e.stream_type) : '—', e ? e.codec : '—']);
  });
  const t = table(['Program#', 'PMT PID#', 'PCR PID#', 'Service', 'PID#', 'stream_type', 'Codec'], rows);
  t.id = 'flow-programs';
  return t;
}

export function mount(root, params, id) {
  const s = { range: params.get('range') || '15m', flow: null, plots: [], history: null };
  const title = el('h2', {}, `Flow ${id}`);
  const failure = el('div');
  const identity = el('dl', { class: 'identity', id: 'flow-identity' });
  const figures = el('div');
  const ranges = el('div', { class: 'ranges controls' }, 'Range:', ...RANGES.map(([name]) => {
    const b = el('button', { type: 'button', 'data-range': name }, name);
    b.addEventListener('click', () => { s.range = name; markRange(); loadHistory(); });
    return b;
  }));
  const historyNote = el('div');
  const charts = el('div', { class: 'charts', id: 'flow-charts' });
  const events = el('div');
  const alarms = el('div');
  root.append(title, failure, identity, figures, el('h3', {}, 'History'), ranges, historyNote, charts,
    el('h3', {}, 'Events'), events, el('h3', {}, 'Alarms'), alarms);
  function markRange() { for (const b of ranges.querySelectorAll('button')) b.classList.toggle('current', b.dataset.range === s.range); }
  markRange();

  const plotBoxes = CHARTS.map(([name]) => {
    const box = el('div', { class: 'chart' }, el('h4', {}, name));
    charts.append(box);
    return box;
  });

  async function loadFlow() {
    try {
      const f = await get(flowPath(id));
      s.flow = f;
      failure.replaceChildren();
      drawIdentity(f);
      return f;
    } catch (e) {
      failure.replaceChildren(errorNote(e.message));
      return null;
    }
  }

  function drawIdentity(f) {
    const h = healthOf(f);
    const last = f.last || {};
    const rows = [
      ['Health', el('span', {}, el('span', { class: `dot ${h}`, id: 'flow-health', 'data-health': h }), ` ${h}`, f.active_alarms ? ` (${f.active_alarms} alarms active)` : '')],
      ['Source', f.src], ['Destination', f.dst],
      ['SSRC', f.ssrc == null ? '—' : `0x${f.ssrc.toString(16).padStart(8, '0')}`],
      ['Kind', f.kind], ['Payload (codec)', f.payload], ['Group', f.group ?? '—'], ['State', f.state],
      ['Clock source', last.clock_rate_source ?? '—'],
      ['First seen', f.first_seen], ['Last seen', f.last_seen],
    ];
    if (f.programs) rows.push(['Programs / PIDs', programsTable(f.programs)]);
    else if (f.kind === 'rtp-ts' || f.kind === 'udp-ts') rows.push(['Programs / PIDs', 'no complete PAT + PMT seen yet']);
    identity.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    const viol = last.sla?.violations?.map((v) => v.limit ?? JSON.stringify(v)).join(', ');
    figures.replaceChildren(table(
      ['Interval end', 'Bitrate#', 'Packets#', 'Lost#', 'Duplicates#', 'Jitter ms#', 'fps#', 'DF ms#', 'MLR#', 'P1/P2#', 'SLA', 'Net lost (since clear)#'],
      [[last.time ?? '—', bitrate(last.bitrate_bps), last.packets ?? '', last.lost ?? '', last.duplicates ?? '', num(last.jitter_ms), num(last.fps, 1), num(last.df_ms, 1), num(last.mlr), priorities(last.tr101290), viol ? `broken: ${viol}` : last.sla ? 'kept' : '—', f.totals?.net_lost ?? '']]));
  }

  async function loadHistory() {
    const f = s.flow;
    if (!f) return;
    const seconds = RANGES.find(([n]) => n === s.range)[1];
    // Anchored to the flow's last interval, not the wall clock: a replay's time is its own.
    const to = new Date(Date.parse(f.last_seen) + 1000);
    const from = new Date(to.getTime() - seconds * 1000);
    // Charts start no earlier than the flow: a new flow's line fills the chart.
    const shownFrom = new Date(Math.max(from.getTime(), Date.parse(f.first_seen) - 1000));
    try {
      const h = await get(`${flowPath(id)}/history${query({ from: from.toISOString(), to: to.toISOString() })}`);
      historyNote.replaceChildren(note(`${h.points.length} points of the ${h.tier} tier, ${h.step_s} s each`));
      drawCharts(h, shownFrom, to);
    } catch (e) {
      historyNote.replaceChildren(e.status === 404 ? note(`No history: ${e.message}`) : errorNote(`history: ${e.message}`));
    }
  }

  function drawCharts(h, from, to) {
    const xs = h.points.map((p) => p.time_ns / 1e9);
    CHARTS.forEach(([name, figure], i) => {
      const data = [xs, h.points.map((p) => figure(p) ?? null)];
      const box = plotBoxes[i];
      const width = Math.max(300, box.clientWidth - 10);
      if (!s.plots[i]) {
        s.plots[i] = new uPlot({
          width, height: 170,
          // The probe's times are UTC, as every record writes them.
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
          scales: { x: { time: true, range: () => [from.getTime() / 1000, to.getTime() / 1000] } },
          series: [{}, { label: name.replace(/ \(.*/, ''), stroke: '#1a73e8', width: 1, fill: 'rgba(26,115,232,0.08)', spanGaps: false }],
          axes: [{}, { size: 64 }],
          legend: { show: true },
        }, data, box);
      } else {
        s.plots[i].setScale('x', { min: from.getTime() / 1000, max: to.getTime() / 1000 });
        s.plots[i].setData(data);
      }
      box.dataset.points = String(xs.length);
    });
  }

  async function loadEvents() {
    const f = s.flow;
    if (!f) return;
    try {
      const doc = await get(`/api/v1/events${query({ flow: id, since: f.first_seen, limit: 500 })}`);
      const list = doc.events.slice(-100).reverse();
      events.replaceChildren(list.length ? table(['Time', 'Event', 'Detail'], list.map((e) => [e.time, e.event,
        e.violations && e.violations.length ? JSON.stringify(e.violations) : e.silent_s != null ? `silent ${e.silent_s} s` : e.new_ssrc != null ? `new SSRC 0x${e.new_ssrc.toString(16)}` : ''])) : note('No events.'));
    } catch (e) {
      events.replaceChildren(errorNote(`events: ${e.message}`));
    }
  }

  async function loadAlarms() {
    if (!has('GET /api/v1/alarms')) {
      alarms.replaceChildren(note('Not available: this probe does not serve GET /api/v1/alarms.'));
      return;
    }
    try {
      const doc = await get(`/api/v1/alarms${query({ state: 'all', flow: id })}`);
      const list = doc.alarms.slice().reverse();
      alarms.replaceChildren(list.length ? table(['Time', 'State', 'Rule', 'Value#', 'Threshold#', 'Text'],
        list.map((a) => [a.time, a.state, a.rule, num(a.value), num(a.threshold), a.text])) : note('No alarms on this flow.'));
    } catch (e) {
      alarms.replaceChildren(errorNote(`alarms: ${e.message}`));
    }
  }

  const onResize = () => s.plots.forEach((p, i) => p.setSize({ width: Math.max(300, plotBoxes[i].clientWidth - 10), height: 170 }));
  window.addEventListener('resize', onResize);
  loadFlow().then(() => Promise.all([loadHistory(), loadEvents(), loadAlarms()]));
  return {
    async update() {
      await loadFlow();
      // Short ranges follow the live figures; long ones are asked again only on a click.
      if (s.range === '15m' || s.range === '1h') loadHistory();
      loadEvents();
      loadAlarms();
    },
    unmount() { window.removeEventListener('resize', onResize); s.plots.forEach((p) => p.destroy()); },
  };
}
