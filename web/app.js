/* global document, window, fetch, cytoscape, uPlot */
// The tunmesh dashboard: polls the node's data API (same origin, session cookie) and draws the mesh
// with Cytoscape.js and the per-peer charts with uPlot. No build step: the libraries come straight from
// their npm packages through /ui/vendor/.
'use strict';

const colors = { up: '#3fb950', suspect: '#d29922', down: '#f85149', idle: '#6e7681' };
const palette = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff7b72', '#a5d6ff'];
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof window.Node ? c : document.createTextNode(String(c)));
  return e;
}

function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${u[i]}`;
}

const rtt = (ms) => (ms === null || ms === undefined ? '–' : `${ms.toFixed(2)} ms`);

function since(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

async function getJson(path) {
  const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401) {
    window.location.href = '/ui/';
    throw new Error('signed out');
  }
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

// --- topology ---

let cy;
let layoutKey = '';

function drawTopology(topo, selfName) {
  if (!cy)
    cy = cytoscape({
      container: $('#topology'),
      userZoomingEnabled: false,
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            color: '#e8e8e8',
            'text-valign': 'bottom',
            'text-margin-y': 6,
            'font-size': 12,
            'text-wrap': 'wrap',
            'background-color': 'data(color)',
            width: 28,
            height: 28,
          },
        },
        { selector: 'node[?self]', style: { 'border-width': 3, 'border-color': '#ffffff' } },
        {
          selector: 'edge',
          style: {
            width: 2,
            'line-color': 'data(color)',
            label: 'data(label)',
            color: '#c9d1d9',
            'font-size': 10,
            'text-background-color': '#0c1014',
            'text-background-opacity': 0.8,
            'text-rotation': 'autorotate',
          },
        },
        { selector: 'edge[state = "down"]', style: { 'line-style': 'dashed' } },
      ],
    });
  const want = new Set();
  cy.batch(() => {
    for (const n of topo.nodes) {
      const id = `n:${n.name}`;
      want.add(id);
      const data = {
        id,
        label: `${n.name}\n${n.state}`,
        color: colors[n.state] || colors.idle,
        self: n.name === selfName,
      };
      const e = cy.getElementById(id);
      if (e.length) e.data(data);
      else cy.add({ group: 'nodes', data });
    }
    for (const l of topo.links) {
      const id = `l:${l.source}|${l.target}`;
      want.add(id);
      const label = `${l.method} · ${rtt(l.rttMs)}`;
      const data = {
        id,
        source: `n:${l.source}`,
        target: `n:${l.target}`,
        label,
        state: l.state,
        color: colors[l.state],
      };
      const e = cy.getElementById(id);
      if (e.length) e.data(data);
      else cy.add({ group: 'edges', data });
    }
    cy.elements()
      .filter((e) => !want.has(e.id()))
      .remove();
  });
  const key = topo.nodes.map((n) => n.name).join(',');
  if (key !== layoutKey) {
    layoutKey = key;
    cy.layout({ name: 'circle', padding: 40 }).run();
  }

  const up = topo.nodes.filter((n) => n.state === 'up').length;
  $('#topology-summary').textContent = `${topo.nodes.length} nodes (${up} up), ${topo.links.length} links`;
  $('#node-list').replaceChildren(
    ...topo.nodes.map((n) =>
      el(
        'li',
        { 'data-node': n.name, 'data-state': n.state },
        el('span', { class: 'dot' }, '● '),
        `${n.name} ${n.state}${n.name === selfName ? ' (this node)' : ''} ${n.addresses.join(' ')}`,
      ),
    ),
  );
  $('#link-list').replaceChildren(
    ...topo.links.map((l) =>
      el(
        'li',
        { 'data-link': `${l.source}|${l.target}`, 'data-state': l.state, 'data-rtt': l.rttMs ?? '' },
        el('span', { class: 'dot' }, '● '),
        `${l.source} ↔ ${l.target} ${l.method} ${l.state} rtt ${rtt(l.rttMs)} rx ${bytes(l.rxBps)}/s tx ${bytes(l.txBps)}/s`,
      ),
    ),
  );
}

// --- status and peers ---

function drawOverview(o) {
  $('#node-name').textContent = o.node.name;
  const h = $('#health');
  h.dataset.ok = String(o.health.ok);
  h.textContent = o.health.ok ? 'healthy' : 'unhealthy';
  $('#node-info').textContent =
    `${o.node.addresses.join(' ')} · engine ${o.node.engine ?? '-'} · up ${o.node.uptimeSec}s · ${o.node.endpoints.join(' ')}`;
  $('#updated').textContent = `updated ${new Date(o.generatedAt).toLocaleTimeString()}`;
  $('#peers tbody').replaceChildren(
    ...o.peers.map((p) =>
      el(
        'tr',
        { 'data-peer': p.name },
        el('td', {}, p.name),
        el(
          'td',
          {
            class: `state-${p.state === 'alive' || p.state === 'static' ? 'up' : p.state === 'suspect' ? 'suspect' : 'down'}`,
          },
          p.state,
        ),
        el('td', {}, p.addresses.join(' ')),
        el('td', {}, p.method),
        el('td', {}, p.endpoint ?? '–'),
        el('td', {}, since(p.lastHandshake)),
        el('td', {}, bytes(p.rxBytes)),
        el('td', {}, bytes(p.txBytes)),
        el('td', {}, `${bytes(p.rxBps)}/s`),
        el('td', {}, `${bytes(p.txBps)}/s`),
        el('td', {}, rtt(p.rttMs)),
      ),
    ),
  );
  drawTopology(o.topology, o.node.name);
}

// --- charts ---

const charts = {};

function drawChart(id, title, history, pick) {
  const peers = Object.keys(history).sort();
  const ts = [...new Set(peers.flatMap((p) => history[p].map((x) => x.t)))].sort((a, b) => a - b);
  const data = [ts.map((t) => t / 1000)];
  for (const p of peers) {
    const byT = new Map(history[p].map((x) => [x.t, pick(x)]));
    data.push(ts.map((t) => (byT.has(t) ? byT.get(t) : null)));
  }
  const key = peers.join(',');
  const box = $(id);
  let c = charts[id];
  if (!c || c.key !== key) {
    if (c) c.plot.destroy();
    const opts = {
      width: Math.max(300, box.clientWidth - 10),
      height: 220,
      series: [{}, ...peers.map((p, i) => ({ label: p, stroke: palette[i % palette.length], spanGaps: false }))],
      axes: [{}, { size: 70 }],
      legend: { live: false },
      title,
    };
    charts[id] = { key, plot: new uPlot(opts, data, box) };
  } else c.plot.setData(data);
}

// --- events ---

let lastSeq = 0;
async function pollEvents() {
  const evs = await getJson(`/ui/api/events?after=${lastSeq}`);
  const list = $('#events');
  for (const e of evs) {
    lastSeq = Math.max(lastSeq, e.seq);
    const text = `${new Date(e.at).toLocaleTimeString()} ${e.type}${e.peer ? ` ${e.peer}` : ''}${e.detail ? ` — ${e.detail}` : ''}`;
    list.prepend(el('li', { 'data-type': e.type }, text));
  }
  while (list.children.length > 300) list.lastChild.remove();
}

// --- loop ---

function every(ms, fn) {
  const run = async () => {
    try {
      await fn();
    } catch (e) {
      $('#updated').textContent = `update failed: ${e.message}`;
    }
    setTimeout(run, ms);
  };
  run();
}

window.addEventListener('DOMContentLoaded', () => {
  every(1000, async () => drawOverview(await getJson('/ui/api/overview')));
  every(2000, async () => {
    const h = await getJson('/ui/api/history');
    drawChart('#chart-traffic', 'bytes/s', h, (x) => x.rxBps + x.txBps);
    drawChart('#chart-rtt', 'ms', h, (x) => x.rttMs);
  });
  every(2000, pollEvents);
});
