// The flow table: every flow, its health colour and last-interval figures. 55,000 rows stay
// smooth because only the rows in view exist in the DOM (a pool of row elements moved over
// a spacer as tall as all rows), and only the rows in view (and some either side) are asked
// of the probe: GET /api/v1/flows with offset/limit, sorted and filtered there. Every
// interval the window is asked again and only the cells whose text changed are written.

import { get, query } from './api.js';
import { healthOf, priorities, bitrate, num, el, errorNote } from './health.js';

const ROW_H = 24;
const OVERSCAN = 40;

// [heading, sort key of the API (null: not sortable), cell text, numeric]
const COLUMNS = [
  ['', null, () => '', false],
  ['Flow', 'flow', (f) => f.flow, false],
  ['Group', 'group', (f) => f.group ?? '', false],
  ['Kind', 'kind', (f) => f.kind, false],
  ['Payload', null, (f) => f.payload, false],
  ['Bitrate', 'bitrate', (f) => bitrate(f.last?.bitrate_bps), true],
  ['Lost', null, (f) => (f.last ? String(f.last.lost) : ''), true],
  ['Net lost', 'loss', (f) => String(f.totals?.net_lost ?? ''), true],
  ['Jitter ms', 'jitter', (f) => num(f.last?.jitter_ms, 2), true],
  ['fps', null, (f) => num(f.last?.fps, 1), true],
  ['DF:MLR', 'df', (f) => (f.last?.df_ms == null ? '' : `${num(f.last.df_ms, 1)}:${num(f.last.mlr, 2)}`), true],
  ['P1/P2', null, (f) => priorities(f.last?.tr101290), true],
];

export function mount(root, params) {
  const s = {
    sort: params.get('sort') || 'flow',
    q: params.get('q') || '',
    group: params.get('group') || '',
    health: params.get('health') || '',
    window: { offset: 0, flows: [] },
    total: null,
    seq: 0,
    inFlight: false,
    again: false,
    rendered: false,
    pool: [],
  };
  const search = el('input', { type: 'search', id: 'flow-filter', placeholder: 'filter: flow id, group, kind, payload', value: s.q });
  const groupSel = el('select', { id: 'flow-group' }, el('option', { value: '' }, 'all groups'));
  // The API's health= filter (a comma list): the colours of health.js.
  const healthSel = el('select', { id: 'flow-health' },
    el('option', { value: '' }, 'any health'),
    el('option', { value: 'amber,grey,red' }, 'not green'),
    el('option', { value: 'red' }, 'red: an alarm'),
    el('option', { value: 'amber' }, 'amber: SLA broken'),
    el('option', { value: 'grey' }, 'grey: silent'),
    el('option', { value: 'green' }, 'green: ok'));
  healthSel.value = s.health;
  const total = el('span', { class: 'total', id: 'flow-total' }, '…');
  const failure = el('div');
  const head = el('div', { class: 'row head' }, ...COLUMNS.map(([h, key, , n]) => {
    const span = el('span', { class: n ? 'num' : null, 'data-sort': key }, h);
    if (key) span.addEventListener('click', () => { s.sort = s.sort === key ? `-${key}` : key; markSort(); restart(); });
    return span;
  }));
  const rows = el('div', { class: 'rows' });
  const spacer = el('div', { class: 'spacer' }, rows);
  const scroller = el('div', { class: 'scroller' }, spacer);
  const tableEl = el('div', { class: 'vtable', id: 'flow-table' }, head, scroller);
  root.append(el('div', { class: 'controls' }, search, groupSel, healthSel, total), failure, tableEl);

  function markSort() {
    for (const span of head.children) {
      const key = span.dataset.sort;
      span.classList.toggle('sorted', key === s.sort.replace(/^-/, ''));
      span.classList.toggle('desc', s.sort.startsWith('-'));
    }
  }
  markSort();

  let typing = 0;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { s.q = search.value.trim(); restart(); }, 200);
  });
  groupSel.addEventListener('change', () => { s.group = groupSel.value; restart(); });
  healthSel.addEventListener('change', () => { s.health = healthSel.value; restart(); });

  get('/api/v1/groups').then((doc) => {
    for (const g of doc.groups) groupSel.append(el('option', { value: g.name }, g.name));
    groupSel.value = s.group;
  }).catch(() => {});

  /** The rows in view: [first, count]. */
  function inView() {
    const first = Math.floor(scroller.scrollTop / ROW_H);
    const count = Math.ceil(scroller.clientHeight / ROW_H) + 1;
    return [first, count];
  }

  function restart() {
    scroller.scrollTop = 0;
    s.window = { offset: 0, flows: [] };
    s.total = null;
    fetchWindow();
  }

  async function fetchWindow() {
    if (s.inFlight) { s.again = true; return; }
    s.inFlight = true;
    const seq = ++s.seq;
    const [first, count] = inView();
    const offset = Math.max(0, first - OVERSCAN);
    const limit = count + 2 * OVERSCAN;
    try {
      const doc = await get(`/api/v1/flows${query({ offset, limit, sort: s.sort, q: s.q, group: s.group, health: s.health })}`);
      if (seq === s.seq) {
        s.window = { offset: doc.offset, flows: doc.flows };
        s.total = doc.total;
        failure.replaceChildren();
        render();
      }
    } catch (e) {
      failure.replaceChildren(errorNote(`flows: ${e.message}`));
    } finally {
      s.inFlight = false;
      if (s.again) { s.again = false; fetchWindow(); }
    }
  }

  function newRow() {
    const row = el('div', { class: 'row' }, ...COLUMNS.map(([, , , n], i) => el('span', { class: i === 0 ? 'health' : n ? 'num' : null })));
    row.texts = COLUMNS.map(() => '');
    row.addEventListener('click', () => { if (row.dataset.flow) location.hash = `#/flow/${encodeURIComponent(row.dataset.flow)}`; });
    rows.append(row);
    return row;
  }

  /** Draws the rows in view from the window; asks for another window when they are not in it. */
  function render() {
    const n = s.total ?? 0;
    spacer.style.height = `${n * ROW_H}px`;
    const text = n === 1 ? '1 flow' : `${n.toLocaleString('en')} flows`;
    if (total.textContent !== text) total.textContent = text;
    tableEl.dataset.total = String(n);
    const [first, count] = inView();
    rows.style.transform = `translateY(${first * ROW_H}px)`;
    while (s.pool.length < count) s.pool.push(newRow());
    let missing = false;
    let shown = 0;
    for (let i = 0; i < s.pool.length; i++) {
      const row = s.pool[i];
      const index = first + i;
      const f = i < count && index < n ? s.window.flows[index - s.window.offset] : undefined;
      if (!f) {
        if (i < count && index < n) missing = true;
        if (!row.hidden) { row.hidden = true; row.dataset.flow = ''; }
        continue;
      }
      shown++;
      if (row.hidden) row.hidden = false;
      if (row.dataset.flow !== f.flow) row.dataset.flow = f.flow;
      const h = healthOf(f);
      if (row.dataset.health !== h) { row.dataset.health = h; row.className = `row ${h}`; }
      for (let c = 1; c < COLUMNS.length; c++) {
        const t = COLUMNS[c][2](f);
        if (row.texts[c] !== t) { row.texts[c] = t; row.children[c].textContent = t; }
      }
      if (c1Title(row, f)) row.children[1].title = f.flow;
    }
    tableEl.dataset.shown = String(shown);
    if (missing) fetchWindow();
    else if (!s.rendered && s.total !== null) {
      s.rendered = true;
      performance.mark('flows-table-rendered');
      tableEl.dataset.ready = '1';
    }
  }

  function c1Title(row, f) { return row.children[1].title !== f.flow; }

  let frame = 0;
  const onScroll = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); }); };
  scroller.addEventListener('scroll', onScroll, { passive: true });
  const onResize = () => render();
  window.addEventListener('resize', onResize);
  fetchWindow();
  return {
    update: fetchWindow,
    unmount() { window.removeEventListener('resize', onResize); clearTimeout(typing); },
  };
}
