#!/usr/bin/env python3
"""Measures the dashboard in headless Chromium (chromedriver's WebDriver HTTP interface and,
through it, the DevTools protocol) against a running probe:

  scripts/bench-dashboard.py API_URL [SECONDS]

- load: from navigation start to the flow table's first full render (the page's
  performance mark `flows-table-rendered`, set when every row in view has its figures);
- updates: the flow-list requests the page made while idle, per second;
- main-thread busy: the DevTools Performance.getMetrics TaskDuration delta over SECONDS
  (default 30) of updates, as a share of the wall time;
- a jump to the middle of the table (scrollTop to row total/2): time until its rows are drawn.
Prints one line per figure. Used by scripts/bench-dashboard.sh; not part of the test suite.
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

api = sys.argv[1].rstrip('/')
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
for tool in ('chromium', 'chromedriver'):
    if not shutil.which(tool):
        sys.exit(f'error: {tool} is needed: apt-get install chromium chromium-driver')

with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
driver = subprocess.Popen(['chromedriver', f'--port={port}'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f'http://127.0.0.1:{port}'
profile = tempfile.mkdtemp(prefix='bench-dashboard-')


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)['value']


try:
    for _ in range(200):
        try:
            call('GET', '/status')
            break
        except OSError:
            time.sleep(0.1)
    sid = call('POST', '/session', {'capabilities': {'alwaysMatch': {
        'browserName': 'chrome',
        'goog:loggingPrefs': {'browser': 'ALL'},
        'goog:chromeOptions': {'args': [
            '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
            '--window-size=1400,900', '--no-first-run', '--disable-extensions',
            '--disable-background-networking', '--disable-component-update', f'--user-data-dir={profile}']}}}})['sessionId']
    S = f'/session/{sid}'

    def js(script):
        return call('POST', f'{S}/execute/sync', {'script': script, 'args': []})

    def cdp(cmd, params=None):
        return call('POST', f'{S}/goog/cdp/execute', {'cmd': cmd, 'params': params or {}})

    def wait(script, within=60):
        end = time.time() + within
        while time.time() < end:
            v = js(script)
            if v:
                return v
            time.sleep(0.02)
        sys.exit(f'error: not within {within} s: {script}')

    call('POST', f'{S}/url', {'url': f'{api}/#/flows'})
    wait("return document.querySelector('#flow-table')?.dataset.ready === '1'")
    load_ms = js("return performance.getEntriesByName('flows-table-rendered')[0].startTime")
    total = js("return Number(document.querySelector('#flow-table').dataset.total)")
    print(f'flows in the table: {total}')
    print(f'load to first full table render: {load_ms:.0f} ms')

    cdp('Performance.enable', {'timeDomain': 'timeTicks'})
    js("performance.clearResourceTimings(); performance.setResourceTimingBufferSize(10000); return 1")
    metrics = lambda: {m['name']: m['value'] for m in cdp('Performance.getMetrics')['metrics']}
    m0 = metrics()
    time.sleep(seconds)
    m1 = metrics()
    wall = m1['Timestamp'] - m0['Timestamp']
    busy = (m1['TaskDuration'] - m0['TaskDuration']) / wall
    script = (m1['ScriptDuration'] - m0['ScriptDuration']) / wall
    layout = (m1['LayoutDuration'] - m0['LayoutDuration'] + m1['RecalcStyleDuration'] - m0['RecalcStyleDuration']) / wall
    lists = js("return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/flows?')).map(e => e.duration)")
    health = js("return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/health')).length")
    lists.sort()
    median = lists[len(lists) // 2] if lists else float('nan')
    print(f'updates: {len(lists)} flow-list requests in {wall:.1f} s ({len(lists) / wall:.2f}/s; median {median:.0f} ms each), {health} health polls')
    print(f'main thread busy: {100 * busy:.1f} % (script {100 * script:.1f} %, style and layout {100 * layout:.1f} %) over {wall:.1f} s of updates')
    print(f"DOM nodes: {int(m1['Nodes'])}, JS heap used: {m1['JSHeapUsedSize'] / 1e6:.1f} MB")

    if total >= 1000:
        t0 = time.time()
        js("const s = document.querySelector('#flow-table .scroller'); s.scrollTop = s.scrollHeight / 2; return 1")
        first = wait("const t = document.querySelector('#flow-table'); const rows = [...t.querySelectorAll('.rows .row:not([hidden])')]; const s = t.querySelector('.scroller'); return rows.length >= Math.floor(s.clientHeight / 24) && Math.floor(s.scrollTop / 24) > 500 && rows[0].dataset.flow")
        print(f'jump to row {total // 2}: rows drawn in {1000 * (time.time() - t0):.0f} ms (first {first})')
    errors = [e for e in call('POST', f'{S}/se/log', {'type': 'browser'}) if e['level'] == 'SEVERE']
    print(f'console errors: {len(errors)}' + (f' {errors[:3]}' if errors else ''))
    call('DELETE', S)
finally:
    driver.kill()
    shutil.rmtree(profile, ignore_errors=True)
