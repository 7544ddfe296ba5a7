// The dashboard's shell: hash routes (#/flows, #/wall, #/flow/<id>, #/alarms, #/groups,
// #/probe), the token form, and one poller: GET /api/v1/health every interval (the probe
// record's interval_s, asked twice an interval), and the page in view updated when a new
// interval has come.

import { loadRoutes, has, get, token, setToken, whenUnauthorised } from './api.js';
import * as flows from './flows.js';
import * as wall from './wall.js';
import * as flow from './flow.js';
import * as alarms from './alarms.js';
import * as groups from './groups.js';
import * as probe from './probe.js';

const PAGES = { flows, wall, flow, alarms, groups, probe };
const main = document.getElementById('page');
const status = document.getElementById('status');
const form = document.getElementById('token-form');
const input = document.getElementById('token-input');
let current = null;
let lastTime = null;
let intervalMs = 1000;

const app = {
  askToken(why) {
    document.getElementById('token-why').textContent = why || 'The probe\'s API token: the content of its token file (streamprobe.token beside its store).';
    form.hidden = false;
    input.focus();
  },
};

document.getElementById('token-button').addEventListener('click', () => app.askToken());
document.getElementById('token-cancel').addEventListener('click', () => { form.hidden = true; });
document.getElementById('token-forget').addEventListener('click', () => { setToken(''); input.value = ''; form.hidden = true; });
form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  setToken(input.value.trim(), document.getElementById('token-remember').checked);
  input.value = '';
  form.hidden = true;
  route();
});
whenUnauthorised((why) => app.askToken(`${why || 'This call needs the token.'} Paste it here.`));

/** Shows the page the hash names. */
function route() {
  const hash = location.hash || '#/flows';
  const [path, q] = hash.slice(2).split('?');
  const [name, ...rest] = path.split('/');
  const page = PAGES[name] ? name : 'flows';
  const params = new URLSearchParams(q || '');
  if (current) current.unmount();
  main.replaceChildren();
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.dataset.page === page || (page === 'flow' && a.dataset.page === 'flows'));
  const id = rest.length ? decodeURIComponent(rest.join('/')) : null;
  current = PAGES[page].mount(main, params, id, app);
  document.body.dataset.page = page;
}

async function tick() {
  try {
    const h = await get('/api/v1/health');
    const p = h.probe;
    if (p?.interval_s > 0) intervalMs = Math.min(10000, Math.max(500, p.interval_s * 1000));
    const time = p?.time ?? null;
    status.classList.remove('error');
    status.textContent = time ? `${time.slice(0, 19).replace('T', ' ')} UTC · ${h.flows.toLocaleString('en')} flows` : 'waiting for the first interval';
    if (time !== lastTime) {
      lastTime = time;
      current?.update();
      if (has('GET /api/v1/alarms')) {
        get('/api/v1/alarms?state=active').then((d) => {
          const n = d.active;
          const badge = document.getElementById('alarm-count');
          badge.hidden = n === 0;
          badge.textContent = String(n);
        }).catch(() => {});
      }
    }
  } catch (e) {
    status.classList.add('error');
    status.textContent = e.message;
  }
  // Twice an interval: a new interval is seen at most half an interval after it closed.
  setTimeout(tick, intervalMs / 2);
}

window.addEventListener('hashchange', route);
loadRoutes().then(() => { route(); tick(); }).catch((e) => {
  main.textContent = `cannot read the dashboard's routes: ${e.message}`;
});
if (!token()) document.getElementById('token-button').title += ' — none set';
