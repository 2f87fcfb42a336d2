// The operator dashboard: polls the focus operator API and shows bridges and conferences.
//
// The API is on this page's origin in the all-in-one binary and in `signaling` (which embeds
// the focus). For a standalone focus, open `dashboard.html?api=http://focus:8888` (that focus
// must then be reachable from the browser). When the focus has a secret, the API answers 401
// and we ask for it once; it is kept in sessionStorage, so it leaves with the tab.

import { toast } from './status.js';

const POLL_MS = 2000;
const SECRET_KEY = 'ponte.operatorSecret';
const $ = (id) => document.getElementById(id);

const api = (new URLSearchParams(window.location.search).get('api') || '').replace(/\/+$/, '');
let secret = sessionStorage.getItem(SECRET_KEY) || '';
let timer = 0;
/** Bridges with a drain request in flight, so a double click does not send two. */
const busy = new Set();

class AuthError extends Error {}

async function call(method, path) {
  const headers = secret ? { Authorization: `Bearer ${secret}` } : {};
  let res;
  try {
    res = await fetch(`${api}${path}`, { method, headers, cache: 'no-store' });
  } catch {
    throw new Error(`cannot reach the focus at ${api || window.location.host}`);
  }
  if (res.status === 401 || res.status === 403) throw new AuthError();
  if (!res.ok) {
    // The focus answers errors as {"error": "..."}; anything else is shown as it came.
    const body = await res.text();
    let message = body;
    try {
      message = JSON.parse(body).error || body;
    } catch {
      /* not JSON */
    }
    throw new Error(`${method} ${path}: ${res.status} ${message}`.trim());
  }
  return res.json();
}

let running = false;

/** One poll at a time: a drain, a tab coming back and the timer may all ask at once. */
async function refresh() {
  clearTimeout(timer);
  if (running) return;
  running = true;
  try {
    await poll();
  } finally {
    running = false;
  }
}

async function poll() {
  try {
    const [bridges, conferences] = await Promise.all([call('GET', '/v1/bridges'), call('GET', '/v1/conferences')]);
    render(Array.isArray(bridges) ? bridges : [], conferences && typeof conferences === 'object' ? conferences : {});
    setStatus('connected', `Updated ${new Date().toLocaleTimeString()}`);
    $('secret-form').hidden = true;
  } catch (e) {
    if (e instanceof AuthError) {
      askSecret(secret ? 'That secret was refused.' : '');
      return; // polling resumes once a secret is entered
    }
    setStatus('reconnecting', `${e.message} — retrying`);
  }
  if (document.visibilityState !== 'hidden') timer = setTimeout(refresh, POLL_MS);
}

function askSecret(error) {
  setStatus('failed', 'Secret needed');
  $('secret-form').hidden = false;
  $('secret-error').textContent = error;
  $('secret-error').hidden = !error;
  $('secret-input').focus();
}

$('secret-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  secret = $('secret-input').value.trim();
  sessionStorage.setItem(SECRET_KEY, secret);
  refresh();
});

function render(bridges, conferences) {
  bridges.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const confEntries = Object.entries(conferences).sort(([a], [b]) => a.localeCompare(b));
  const sum = (f) => bridges.reduce((n, b) => n + (Number(f(b)) || 0), 0);
  $('sum-bridges').textContent = String(bridges.length);
  $('sum-conferences').textContent = String(confEntries.length);
  $('sum-endpoints').textContent = String(sum((b) => b.stats?.endpoints));
  $('sum-in').textContent = bitrate(sum((b) => b.stats?.bitrate_in_bps));
  $('sum-out').textContent = bitrate(sum((b) => b.stats?.bitrate_out_bps));

  $('bridges').tBodies[0].replaceChildren(...bridges.map(bridgeRow));
  $('bridges-empty').hidden = bridges.length > 0;
  const known = new Set(bridges.map((b) => b.id));
  $('conferences').tBodies[0].replaceChildren(...confEntries.map(([c, b]) => conferenceRow(c, b, known.has(b))));
  $('conferences-empty').hidden = confEntries.length > 0;
}

/** `tr[data-bridge-id]`, with `button.drain[data-bridge-id]`. */
function bridgeRow(b) {
  const s = b.stats || {};
  const tr = document.createElement('tr');
  tr.dataset.bridgeId = b.id;
  tr.dataset.draining = String(!!b.draining);
  tr.dataset.healthy = String(b.healthy !== false);
  const state = b.healthy === false ? ['bad', 'silent'] : b.draining ? ['warn', 'draining'] : ['ok', 'healthy'];
  const action = document.createElement('button');
  action.type = 'button';
  action.className = `drain small ${b.draining ? 'secondary' : 'danger'}`;
  action.dataset.bridgeId = b.id;
  action.textContent = b.draining ? 'Resume' : 'Drain';
  action.title = b.draining
    ? 'Let this bridge take new conferences again'
    : 'Take no new conferences on this bridge; it exits when its last one ends';
  action.disabled = busy.has(b.id);
  action.addEventListener('click', () => drain(b.id, !b.draining));
  tr.append(
    cell(b.id, 'id', b.region ? `region ${b.region} · version ${b.version}` : `version ${b.version}`),
    cell(pill(...state)),
    cell(stressBar(s.stress)),
    cell(String(s.endpoints ?? 0), 'num'),
    cell(String(s.conferences ?? (b.conferences || []).length), 'num'),
    cell(bitrate(s.bitrate_in_bps), 'num'),
    cell(bitrate(s.bitrate_out_bps), 'num'),
    cell(`${rate(s.packet_rate_in)} / ${rate(s.packet_rate_out)}`, 'num'),
    cell(b.media_addr || '', 'mono'),
    cell(ago(b.last_seen_ms_ago), 'num'),
    cell(action),
  );
  return tr;
}

function conferenceRow(conference, bridge, bridgeKnown) {
  const tr = document.createElement('tr');
  tr.dataset.conference = conference;
  tr.dataset.bridgeId = bridge;
  const link = document.createElement('a');
  link.href = `/${encodeURIComponent(conference)}`;
  link.textContent = 'open';
  link.target = '_blank';
  link.rel = 'noopener';
  tr.append(cell(conference, 'id'), cell(bridgeKnown ? bridge : `${bridge} (gone)`, 'mono'), cell(link));
  return tr;
}

async function drain(id, draining) {
  const verb = draining ? 'Drain' : 'Resume';
  if (draining && !confirm(`Drain bridge ${id}? It takes no new conferences and exits when its last one ends.`)) return;
  busy.add(id);
  try {
    await call(draining ? 'POST' : 'DELETE', `/v1/bridges/${encodeURIComponent(id)}/drain`);
    toast(draining ? `Bridge ${id} is draining.` : `Bridge ${id} takes new conferences again.`);
  } catch (e) {
    if (e instanceof AuthError) askSecret('That secret was refused.');
    else toast(`${verb} failed: ${e.message}`, 'error');
  } finally {
    busy.delete(id);
    refresh();
  }
}

// ---- small formatting helpers, local to this page ----

function cell(content, cls, title) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  if (title) td.title = title;
  td.append(content);
  return td;
}

function pill(level, text) {
  const s = document.createElement('span');
  s.className = `pill ${level}`;
  s.textContent = text;
  return s;
}

function stressBar(stress) {
  const v = Math.max(0, Math.min(1, Number(stress) || 0));
  const wrap = document.createElement('span');
  wrap.className = 'stress';
  wrap.dataset.level = v >= 0.85 ? 'bad' : v >= 0.6 ? 'warn' : 'ok';
  const bar = document.createElement('span');
  bar.className = 'bar';
  bar.style.setProperty('--v', v.toFixed(3));
  const num = document.createElement('span');
  num.textContent = v.toFixed(2);
  wrap.append(bar, num);
  return wrap;
}

function bitrate(bps) {
  const n = Number(bps) || 0;
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} Gb/s`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} Mb/s`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kb/s`;
  return `${n} b/s`;
}

function rate(n) {
  const v = Number(n) || 0;
  return v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(v);
}

function ago(ms) {
  if (ms == null) return '';
  return ms < 1000 ? 'now' : `${Math.round(ms / 1000)} s ago`;
}

function setStatus(state, text) {
  $('dash-status').dataset.state = state;
  $('dash-status-text').textContent = text;
}

// Poll while visible; a hidden tab catches up at once when shown again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refresh();
  else clearTimeout(timer);
});

/** For tests: the last rendered rows are in the DOM; this says whether polling works. */
window.ponteDashboard = Object.freeze({ refresh });

refresh();
