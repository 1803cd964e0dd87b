// berth dashboard: polls the scheduler's /api/* and renders the tables.
// Plain DOM, no framework; text goes in with textContent, never innerHTML.
'use strict';

const POLL_MS = 1500;
// Selection lives in the URL hash (#job=NS/NAME&alloc=ID) so a view can be
// linked and reloaded.
let selected = { ns: '', job: '', alloc: '' };

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  const job = h.get('job') || '';
  const slash = job.indexOf('/');
  selected = {
    ns: slash > 0 ? job.slice(0, slash) : (job ? 'default' : ''),
    job: slash > 0 ? job.slice(slash + 1) : job,
    alloc: h.get('alloc') || '',
  };
}

function setHash(ns, job, alloc) {
  const h = new URLSearchParams();
  if (job) h.set('job', ns + '/' + job);
  if (alloc) h.set('alloc', alloc);
  location.hash = h.toString();
}

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const body = await r.json().catch(() => ({ error: 'HTTP ' + r.status }));
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// Replaces a table's rows; an empty table says "none" rather than vanish.
function fill(tableId, rows) {
  const body = document.querySelector('#' + tableId + ' tbody');
  if (rows.length === 0 && tableId !== 'jobs') {
    const cols = document.querySelectorAll('#' + tableId + ' thead th').length;
    rows = [el('tr', {}, el('td', { colspan: cols, class: 'muted' }, 'none'))];
  }
  body.replaceChildren(...rows);
}

const num = (v) => Number(v || 0);
const stateCell = (s) => el('td', { class: 'state state-' + s }, s);
const numCell = (v) => el('td', { class: 'num' }, num(v));
function fmtBytes(b) {
  b = num(b);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(1) : b) + ' ' + units[i];
}
function fmtTime(ms) {
  ms = num(ms);
  return ms ? new Date(ms).toLocaleTimeString() : '';
}
function bar(used, total, text) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  const b = el('span', { class: 'bar' }, el('span', { style: 'width:' + pct.toFixed(0) + '%' }));
  return el('td', {}, b, text);
}

function renderCluster(c) {
  const s = c.scheduler;
  const banner = document.getElementById('banner');
  document.getElementById('sched').textContent =
    'scheduler ' + s.self + ': ' + s.role;
  if (s.role === 'standby') {
    banner.hidden = false;
    banner.className = 'banner';
    banner.textContent = 'This scheduler (' + s.self + ') is a standby; the leader is ' +
      s.leader_id + ' at ' + s.leader_address + '. Reads here come from its mirror ' +
      'of lockd and may lag the leader by moments; writes go to the leader.';
  } else if (s.role === 'unknown') {
    banner.hidden = false;
    banner.className = 'banner';
    banner.textContent = 'No scheduler leads right now (an election is under way).';
  } else {
    banner.hidden = true;
  }
  const l = c.lockd;
  const lockd = document.getElementById('lockd');
  if (l.error) {
    lockd.textContent = 'lockd: unreachable';
    fill('members', [el('tr', {}, el('td', { colspan: 4, class: 'bad' }, l.error))]);
    return;
  }
  const leader = l.members.find((m) => m.leader);
  const n = l.members.length;
  lockd.textContent = 'lockd: ' + n + (n === 1 ? ' member' : ' members') + ', leader ' +
    (leader ? leader.name || leader.id : 'none') + ', term ' + l.raft_term;
  fill('members', l.members.map((m) => el('tr', {},
    el('td', {}, m.id), el('td', {}, m.name), el('td', {}, m.address),
    el('td', { class: m.leader ? 'ok' : '' },
      m.leader ? 'leader' : (m.learner ? 'learner' : 'follower')))));
}

function renderJobs(resp) {
  const jobs = resp.jobs || [];
  document.getElementById('jobs-empty').hidden = jobs.length > 0;
  fill('jobs', jobs.map((j) => {
    const st = j.status || {};
    const state = st.state || 'STATE_UNSPECIFIED';
    const id = j.namespace + '/' + j.name;
    const sel = j.namespace === selected.ns && j.name === selected.job;
    return el('tr', {
      class: 'job' + (sel ? ' selected' : ''), 'data-job': id, 'data-state': state,
      onclick: () => setHash(j.namespace, j.name, ''),
    },
    el('td', {}, j.namespace === 'default' ? j.name : id),
    el('td', {}, j.kind), stateCell(state),
    numCell(st.running), numCell(st.pending), numCell(st.succeeded),
    numCell(st.failed), el('td', {}, st.explanation || ''));
  }));
}

function renderJob(resp) {
  const rec = resp.record || {};
  const st = rec.status || {};
  const expl = document.getElementById('job-explanation');
  expl.hidden = !st.explanation;
  expl.textContent = st.explanation || '';
  document.getElementById('cron-part').hidden = (rec.job || {}).kind !== 'CRON';
  fill('allocs', (resp.allocations || []).map((v) => {
    const a = v.alloc || {};
    const s = v.status || {};
    const outcome = a.outcome && a.outcome.state;
    const state = s.state || (outcome ? outcome : (a.node ? 'PENDING' : 'UNPLACED'));
    const health = s.state === 'RUNNING' ? (s.healthy ? 'healthy' : 'unhealthy') : '';
    const why = a.pending_reason || a.stop_reason || s.reason ||
      (a.outcome && a.outcome.reason) || '';
    const u = s.usage || {};
    return el('tr', { 'data-alloc': a.id, class: a.id === selected.alloc ? 'selected' : '' },
      el('td', {}, a.id), el('td', {}, a.node || '—'), el('td', {}, a.desired_state),
      stateCell(state),
      el('td', { class: s.healthy ? 'ok' : 'warn', title: s.health_output || '' }, health),
      numCell(a.attempt),
      el('td', { class: 'num' }, s.state === 'RUNNING' ? (num(u.cpu_ns) / 1e9).toFixed(1) + ' s' : ''),
      el('td', { class: 'num' }, s.state === 'RUNNING' ? fmtBytes(u.memory_bytes) : ''),
      el('td', {}, why),
      el('td', {}, a.node ? el('button', {
        class: 'link', onclick: () => setHash(selected.ns, selected.job, a.id),
      }, 'logs') : null));
  }));
  const events = (resp.events || []).slice(-30).reverse();
  fill('events', events.map((e) => el('tr', {},
    el('td', {}, fmtTime(e.unix_ms)), el('td', {}, e.kind), el('td', {}, e.message))));
}

function renderCron(resp) {
  const runs = (resp.runs || []).slice(-20).reverse();
  fill('cron', runs.map((r) => el('tr', {},
    el('td', {}, new Date(num(r.tick_unix) * 1000).toLocaleString()),
    stateCell(r.result), el('td', {}, r.alloc_id), el('td', {}, r.node),
    numCell(r.exit_code), el('td', {}, r.reason))));
}

function renderNodes(resp) {
  fill('nodes', (resp.nodes || []).map((n) => {
    const i = n.info || {};
    const a = n.allocated || {};
    const cpu = num(a.cpu_millicores), cpuCap = num(i.cpu_millicores);
    const mem = num(a.memory_bytes), memCap = num(i.memory_bytes);
    return el('tr', { 'data-node': i.name },
      el('td', {}, i.name), el('td', {}, i.address), el('td', {}, i.runtime),
      bar(cpu, cpuCap, cpu + 'm / ' + cpuCap + 'm'),
      bar(mem, memCap, fmtBytes(mem) + ' / ' + fmtBytes(memCap)),
      numCell(n.allocations),
      el('td', { class: n.draining ? 'warn' : 'ok' },
        n.draining ? 'draining (' + num(n.drain_remaining) + ' left)' : 'ready'));
  }));
}

async function renderLogs() {
  const pre = document.getElementById('logs');
  const stream = document.getElementById('logs-stream').value;
  try {
    const l = await getJson('/api/allocs/' + encodeURIComponent(selected.alloc) +
      '/logs?tail=200&stream=' + stream);
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = (l.notice ? '[' + l.notice + ']\n' : '') + (l.text || '(no output yet)');
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  } catch (e) {
    pre.textContent = 'cannot read logs: ' + e.message;
  }
}

// One refresh; a failing part shows its error and the rest still renders.
async function poll() {
  const errors = [];
  const part = (p, f) => p.then(f).catch((e) => errors.push(e.message));
  const q = '?namespace=' + encodeURIComponent(selected.ns);
  const jobPath = '/api/jobs/' + encodeURIComponent(selected.job);
  const parts = [
    part(getJson('/api/cluster'), renderCluster),
    part(getJson('/api/jobs'), renderJobs),
    part(getJson('/api/nodes'), renderNodes),
  ];
  document.getElementById('job-section').hidden = !selected.job;
  document.getElementById('logs-part').hidden = !selected.alloc;
  if (selected.job) {
    document.getElementById('job-title').textContent = selected.ns + '/' + selected.job;
    parts.push(part(getJson(jobPath + q), renderJob));
    parts.push(part(getJson(jobPath + '/cron' + q), renderCron));
  }
  if (selected.alloc) {
    document.getElementById('logs-alloc').textContent = selected.alloc;
    parts.push(renderLogs());
  }
  await Promise.all(parts);
  document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  if (errors.length) {
    const banner = document.getElementById('banner');
    banner.hidden = false;
    banner.className = 'banner error';
    banner.textContent = errors.join('; ');
  }
}

async function loop() {
  await poll();
  setTimeout(loop, POLL_MS);
}

window.addEventListener('hashchange', () => { readHash(); poll(); });
document.querySelector('a.close').addEventListener('click', (e) => {
  e.preventDefault();
  setHash('', '', '');
});
document.getElementById('logs-stream').addEventListener('change', renderLogs);
readHash();
loop();
