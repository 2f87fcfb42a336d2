// The admin page (`/admin`): polls the focus operator API every 2 s and shows the bridges
// (with a plot of their stress over the last minutes, kept in this page), the conferences,
// and a drain / undrain button per bridge. See docs/operator-api.md.
//
// The API is on this page's origin in the all-in-one binary and in `signaling` (which embeds
// the focus). For a standalone focus, open `/admin?api=http://focus:8888` (that focus must
// then be reachable from the browser). When the focus has a secret, the API answers 401 and
// we ask for it once; it is kept in sessionStorage, so it leaves with the tab.

import { toast } from './status.js';

const POLL_MS = 2000;
/** Stress samples kept per bridge: five minutes of polls. */
const HISTORY = 150;
const SECRET_KEY = 'ponte.operatorSecret';
const $ = (id) => document.getElementById(id);

const api = (new URLSearchParams(window.location.search).get('api') || '').replace(/\/+$/, '');
let secret = sessionStorage.getItem(SECRET_KEY) || '';
let timer = 0;
/** Bridges with a drain request in flight, so a double click does not send two. */
const busy = new Set();
/** bridge id → [{t, stress}], oldest first; lives as long as the page. */
const history = new Map();

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
    render(Array.isArray(bridges) ? bridges : [], conferences && typeof conferences === 'object' ? conferences : []);
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

function remember(bridges) {
  const now = Date.now();
  for (const b of bridges) {
    const h = history.get(b.id) || [];
    h.push({ t: now, stress: clamp01(b.stress ?? b.stats?.stress) });
    if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
    history.set(b.id, h);
  }
  // A bridge gone from the list keeps no history: it may come back as a new process.
  for (const id of history.keys()) if (!bridges.some((b) => b.id === id)) history.delete(id);
}

/** `/v1/conferences` is a list of {room, bridge, participants}; older focuses sent {room: bridge}. */
function conferenceList(conferences) {
  if (Array.isArray(conferences)) return conferences;
  return Object.entries(conferences || {}).map(([room, bridge]) => ({ room, bridge, participants: [] }));
}

function render(bridges, conferences) {
  bridges.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  remember(bridges);
  const confEntries = conferenceList(conferences).sort((a, b) => String(a.room).localeCompare(String(b.room)));
  const sum = (f) => bridges.reduce((n, b) => n + (Number(f(b)) || 0), 0);
  $('sum-bridges').textContent = String(bridges.length);
  $('sum-conferences').textContent = String(confEntries.length);
  $('sum-endpoints').textContent = String(sum((b) => b.stats?.endpoints));
  $('sum-in').textContent = bitrate(sum((b) => b.stats?.bitrate_in_bps));
  $('sum-out').textContent = bitrate(sum((b) => b.stats?.bitrate_out_bps));

  $('bridges').tBodies[0].replaceChildren(...bridges.map(bridgeRow));
  $('bridges-empty').hidden = bridges.length > 0;
  const known = new Set(bridges.map((b) => b.id));
  $('conferences').tBodies[0].replaceChildren(...confEntries.map((c) => conferenceRow(c, known.has(c.bridge))));
  $('conferences-empty').hidden = confEntries.length > 0;
}

/** `tr[data-bridge-id]`, with `button.drain[data-bridge-id]`. */
function bridgeRow(b) {
  const s = b.stats || {};
  const tr = document.createElement('tr');
  tr.dataset.bridgeId = b.id;
  const stateName = b.state || (b.healthy === false ? 'dead' : b.draining ? 'draining' : 'healthy');
  const draining = stateName === 'draining';
  tr.dataset.state = stateName;
  tr.dataset.draining = String(draining);
  tr.dataset.healthy = String(stateName !== 'dead');
  const state = [{ healthy: 'ok', draining: 'warn', dead: 'bad' }[stateName] || 'bad', stateName];
  const action = document.createElement('button');
  action.type = 'button';
  action.className = `drain small ${draining ? 'secondary' : 'danger'}`;
  action.dataset.bridgeId = b.id;
  action.textContent = draining ? 'Undrain' : 'Drain';
  action.title = draining
    ? 'Let this bridge take new conferences again (a bridge stopping on SIGTERM stays draining)'
    : 'Take no new conferences on this bridge; it exits when its last one ends, or moves them at its drain deadline';
  action.disabled = busy.has(b.id);
  action.addEventListener('click', () => drain(b.id, !draining));
  tr.append(
    cell(b.id, 'id', b.region ? `region ${b.region} · version ${b.version}` : `version ${b.version}`),
    cell(pill(...state)),
    cell(stressPlot(history.get(b.id) || [], b.stress ?? s.stress)),
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

/** `tr[data-conference]`. */
function conferenceRow({ room: conference, bridge, participants }, bridgeKnown) {
  const people = Array.isArray(participants) ? participants : [];
  const tr = document.createElement('tr');
  tr.dataset.conference = conference;
  tr.dataset.bridgeId = bridge;
  const link = document.createElement('a');
  link.href = `/${encodeURIComponent(conference)}`;
  link.textContent = 'open';
  link.target = '_blank';
  link.rel = 'noopener';
  const names = people.map((p) => p.display_name || p.endpoint).join(', ');
  tr.append(
    cell(conference, 'id'),
    cell(bridgeKnown ? bridge : `${bridge} (gone)`, 'mono'),
    cell(String(people.length), 'num'),
    cell(names, '', people.map((p) => p.endpoint).join(', ')),
    cell(link),
  );
  return tr;
}

async function drain(id, draining) {
  const verb = draining ? 'Drain' : 'Undrain';
  if (draining && !confirm(`Drain bridge ${id}? It takes no new conferences and exits when its last one ends.`)) return;
  busy.add(id);
  try {
    const b = await call('POST', `/v1/bridges/${encodeURIComponent(id)}/${draining ? 'drain' : 'undrain'}`);
    if (draining) toast(`Bridge ${id} is draining.`);
    else if (b && b.state === 'draining') toast(`Bridge ${id} drains on its own (it is stopping); it stays draining.`, 'error');
    else toast(`Bridge ${id} takes new conferences again.`);
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

function clamp01(x) {
  return Math.max(0, Math.min(1, Number(x) || 0));
}

const SVG = 'http://www.w3.org/2000/svg';

/** The stress history as a line over the last HISTORY polls (x: time, y: 0..1), and the
 *  latest value. `span.spark[data-points]` for tests. */
function stressPlot(samples, current) {
  const v = clamp01(current);
  const wrap = document.createElement('span');
  wrap.className = 'spark';
  wrap.dataset.level = v >= 0.85 ? 'bad' : v >= 0.6 ? 'warn' : 'ok';
  wrap.dataset.points = String(samples.length);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${HISTORY} 100`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  const span = samples.length ? Math.round((samples[samples.length - 1].t - samples[0].t) / 1000) : 0;
  svg.setAttribute('aria-label', `stress over the last ${span} s, now ${v.toFixed(2)}`);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = `stress over the last ${span} s (max ${Math.max(0, ...samples.map((p) => p.stress)).toFixed(2)})`;
  const ceiling = document.createElementNS(SVG, 'line');
  for (const [k, val] of [['x1', 0], ['x2', HISTORY], ['y1', 15], ['y2', 15]]) ceiling.setAttribute(k, String(val));
  const line = document.createElementNS(SVG, 'polyline');
  // Right-aligned: the newest sample at the right edge, older ones to its left.
  const offset = HISTORY - samples.length;
  const points = samples.map((p, i) => `${offset + i},${(100 - p.stress * 100).toFixed(1)}`);
  if (points.length === 1) points.push(`${HISTORY},${(100 - samples[0].stress * 100).toFixed(1)}`);
  line.setAttribute('points', points.join(' '));
  svg.append(title, ceiling, line);
  const num = document.createElement('span');
  num.textContent = v.toFixed(2);
  wrap.append(svg, num);
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
window.ponteAdmin = Object.freeze({ refresh, history });

refresh();
