/**
 * The dashboard's page: one HTML document, a stylesheet and a small hand-written script, served by
 * the dashboard itself together with uPlot (the chart library, read from its package in
 * node_modules). Nothing comes from a CDN, and the Content-Security-Policy allows scripts, styles
 * and connections to this origin only. The script builds the page from the JSON API and the
 * server-sent events with `textContent` only (job payloads and errors are untrusted text), and
 * sends every action as a POST with the token in the Authorization header.
 *
 * The script is kept as a string (no build step for browser code): it avoids backticks and
 * dollar-brace sequences so that it can live in a template literal unchanged.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';

/** The page's Content-Security-Policy: only this origin, no inline script, no framing. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The HTML of the page; the token goes into the asset URLs and a meta tag for the script. */
export function pageHtml(token: string): string {
  const t = encodeURIComponent(token);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="dashboard-token" content="${t}">
<title>diskcache dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/uplot.css?token=${t}">
<link rel="stylesheet" href="/app.css?token=${t}">
<script src="/uplot.js?token=${t}" defer></script>
<script src="/app.js?token=${t}" defer></script>
</head>
<body>
<header>
<h1>diskcache dashboard</h1>
<span id="status" class="status">connecting…</span>
</header>
<main>
<section id="throughput" class="card">
<h2>Throughput <small>jobs done per second</small></h2>
<div id="chart"></div>
</section>
<div id="queues"></div>
<div id="caches"></div>
<noscript>This page needs JavaScript; the JSON API is at /api/queues.</noscript>
</main>
</body>
</html>
`;
}

/** The page's stylesheet. */
export const PAGE_CSS = `
:root { --fg: #1d232b; --muted: #5d6876; --line: #dfe3e8; --bg: #f5f7f9; --card: #fff;
  --pending: #2f6fde; --leased: #c77c00; --done: #23884a; --failed: #c8372d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #1d232b; color: #fff; }
header h1 { font-size: 17px; margin: 0; font-weight: 600; }
.status { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #555; }
.status.live { background: var(--done); }
.status.down { background: var(--failed); }
main { padding: 16px 20px; display: grid; gap: 16px; max-width: 1280px; margin: 0 auto; }
#queues, #caches { display: grid; gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.card h2 { font-size: 15px; margin: 0 0 10px; word-break: break-all; }
.card h2 small, .muted { color: var(--muted); font-weight: normal; }
.kind { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; padding: 1px 6px; border-radius: 4px; background: var(--bg); border: 1px solid var(--line); margin-right: 6px; }
.counts { display: grid; grid-template-columns: repeat(5, minmax(90px, 1fr)); gap: 10px; margin-bottom: 10px; }
.count { border-left: 4px solid var(--line); padding: 2px 10px; }
.count b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.count span { color: var(--muted); font-size: 12px; }
.count.pending { border-color: var(--pending); } .count.leased { border-color: var(--leased); }
.count.done { border-color: var(--done); } .count.failed { border-color: var(--failed); }
.actions { display: flex; gap: 8px; align-items: center; margin: 6px 0 10px; }
button { font: inherit; padding: 4px 12px; border-radius: 5px; border: 1px solid #b8c0ca; background: #fff; cursor: pointer; }
button:hover:not(:disabled) { background: var(--bg); }
button:disabled { opacity: .5; cursor: default; }
.message { color: var(--muted); font-size: 12px; }
.error { color: var(--failed); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { word-break: break-all; }
details summary { cursor: pointer; }
details pre { white-space: pre-wrap; font-size: 12px; background: var(--bg); padding: 6px; margin: 4px 0; max-height: 240px; overflow: auto; }
h3 { font-size: 13px; margin: 12px 0 6px; }
.crawl { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.crawl .wide { grid-column: 1 / -1; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { padding: 1px 8px; border-radius: 10px; background: var(--bg); border: 1px solid var(--line); font-size: 12px; }
#chart { min-height: 220px; }
@media (max-width: 720px) { .counts { grid-template-columns: repeat(2, 1fr); } .crawl { grid-template-columns: 1fr; } }
`;

/** The page's script (see the file header). */
export const PAGE_SCRIPT = `(function () {
  'use strict';
  var token = decodeURIComponent(document.querySelector('meta[name="dashboard-token"]').content);
  var COLORS = ['#2f6fde', '#23884a', '#c77c00', '#8e44ad', '#c8372d', '#16a2b8', '#6c757d'];
  var cards = [];
  var cacheCards = [];
  var chart = null;
  var chartData = null;
  var historyLength = 600;
  var FAILED_SHOWN = 10;
  var statusEl = document.getElementById('status');

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (name) {
      if (name === 'text') node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function rate(n) { return n >= 10 ? n.toFixed(0) : n.toFixed(1); }
  function bytes(n) {
    var units = ['B', 'KB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }
  function two(n) { return n < 10 ? '0' + n : String(n); }
  function when(seconds) {
    var d = new Date(seconds * 1000);
    var time = two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
    if (d.toDateString() === new Date().toDateString()) return time;
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' + time;
  }
  function short(value, max) {
    var text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text === undefined) text = String(value);
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }
  function setStatus(text, kind) { statusEl.textContent = text; statusEl.className = 'status ' + kind; }

  function api(method, path) {
    return fetch(path, { method: method, headers: { authorization: 'Bearer ' + token } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body && body.error ? body.error : response.statusText);
          return body;
        });
      });
  }

  function countBox(name) {
    var value = el('b', { 'data-count': name, text: '–' });
    return { node: el('div', { class: 'count ' + name }, [value, el('span', { text: name })]), value: value };
  }

  function makeQueueCard(index, queue) {
    var counts = {};
    var row = el('div', { class: 'counts' });
    ['pending', 'leased', 'done', 'failed'].forEach(function (name) {
      var box = countBox(name);
      counts[name] = box.value;
      row.appendChild(box.node);
    });
    var rateBox = countBox('rate');
    rateBox.node.lastChild.textContent = 'done / s';
    row.appendChild(rateBox.node);
    var kind = el('span', { class: 'kind', text: queue.kind });
    var retry = el('button', { type: 'button', 'data-action': 'retry-failed', text: 'Retry failed' });
    var purge = el('button', { type: 'button', 'data-action': 'purge-done', text: 'Purge done' });
    var message = el('span', { class: 'message', role: 'status' });
    var error = el('div', { class: 'error' });
    var failedBox = el('div', { class: 'failed-jobs' });
    var crawlBox = el('div', { class: 'crawl' });
    var card = el('section', { class: 'card queue', 'data-queue': String(index) }, [
      el('h2', null, [kind, document.createTextNode(queue.locator)]),
      error, row,
      el('div', { class: 'actions' }, [retry, purge, message]),
      crawlBox, failedBox,
    ]);
    var state = { card: card, counts: counts, rate: rateBox.value, kind: kind, error: error,
      retry: retry, purge: purge, message: message, failedBox: failedBox, crawlBox: crawlBox,
      failedShown: -1, crawlShown: null, index: index };
    retry.addEventListener('click', function () { act(state, 'retry-failed'); });
    purge.addEventListener('click', function () {
      if (window.confirm('Delete every done job of ' + queue.locator + '? Their results are kept.')) act(state, 'purge-done');
    });
    document.getElementById('queues').appendChild(card);
    return state;
  }

  function act(state, action) {
    state.retry.disabled = true;
    state.purge.disabled = true;
    state.message.textContent = '…';
    api('POST', '/api/queues/' + state.index + '/' + action).then(function (body) {
      state.message.textContent = action === 'retry-failed'
        ? 'moved ' + num(body.retried) + ' failed jobs back to pending'
        : 'purged ' + num(body.purged) + ' done jobs';
      state.failedShown = -1;
    }).catch(function (error) {
      state.message.textContent = 'failed: ' + error.message;
    }).then(function () {
      state.retry.disabled = false;
      state.purge.disabled = false;
    });
  }

  function renderFailed(state, jobs, total) {
    var box = state.failedBox;
    box.textContent = '';
    if (jobs.length === 0) return;
    box.appendChild(el('h3', { text: 'Failed jobs' + (total > jobs.length ? ' (the first ' + jobs.length + ' of ' + num(total) + '; all of them: GET /api/queues/' + state.index + '/failed?limit=N)' : '') }));
    var body = el('tbody');
    jobs.forEach(function (job) {
      var lines = String(job.error).split('\\n');
      var error = el('details', null, [el('summary', { text: short(lines[0], 140) }), el('pre', { text: job.error })]);
      body.appendChild(el('tr', { 'data-job': String(job.id) }, [
        el('td', { class: 'num', text: String(job.id) }),
        el('td', { class: 'wrap', text: job.key === null || job.key === undefined ? '' : String(job.key) }),
        el('td', { class: 'num', text: String(job.attempts) }),
        el('td', { text: when(job.failedAt) }),
        el('td', { class: 'wrap' }, [error]),
        el('td', { class: 'wrap', text: short(job.payload, 120) }),
      ]));
    });
    var head = el('tr', null, ['id', 'key', 'attempts', 'failed at', 'error', 'payload'].map(function (name) {
      return el('th', { class: name === 'id' || name === 'attempts' ? 'num' : '', text: name });
    }));
    box.appendChild(el('table', null, [el('thead', null, [head]), body]));
  }

  function refreshFailed(state, failed) {
    if (state.failedShown === failed || state.loadingFailed) return;
    state.loadingFailed = true;
    api('GET', '/api/queues/' + state.index + '/failed?limit=' + FAILED_SHOWN).then(function (jobs) {
      state.failedShown = failed;
      renderFailed(state, jobs, failed);
    }).catch(function (error) {
      state.failedBox.textContent = 'failed jobs: ' + error.message;
    }).then(function () { state.loadingFailed = false; });
  }

  function table(headers, rows, numeric) {
    return el('table', null, [
      el('thead', null, [el('tr', null, headers.map(function (h, i) {
        return el('th', { class: numeric.indexOf(i) >= 0 ? 'num' : '', text: h });
      }))]),
      el('tbody', null, rows.map(function (cells) {
        return el('tr', null, cells.map(function (cell, i) {
          return el('td', { class: numeric.indexOf(i) >= 0 ? 'num' : 'wrap', text: cell });
        }));
      })),
    ]);
  }

  function renderCrawl(state, crawl) {
    var key = JSON.stringify(crawl);
    if (state.crawlShown === key) return;
    state.crawlShown = key;
    var box = state.crawlBox;
    box.textContent = '';
    var statuses = Object.keys(crawl.byStatus).sort().map(function (status) {
      return el('span', { class: 'chip', 'data-status': status, text: status + ': ' + num(crawl.byStatus[status]) });
    });
    box.appendChild(el('div', { class: 'wide' }, [
      el('h3', { text: 'Pages by status (' + num(crawl.pages) + ' recorded)' }),
      el('div', { class: 'chips' }, statuses),
    ]));
    box.appendChild(el('div', null, [
      el('h3', { text: 'Hosts' }),
      table(['host', 'pages'], crawl.hosts.map(function (h) { return [h.host, num(h.pages)]; }), [1]),
    ]));
    box.appendChild(el('div', null, [
      el('h3', { text: 'Most recent pages' }),
      table(['status', 'url', 'title'], crawl.recent.map(function (p) {
        return [p.status > 0 ? String(p.status) : (p.note || 'error'), p.url, short(p.title, 80)];
      }), [0]),
    ]));
  }

  function updateQueue(index, queue) {
    var state = cards[index] || (cards[index] = makeQueueCard(index, queue));
    ['pending', 'leased', 'done', 'failed'].forEach(function (name) { state.counts[name].textContent = num(queue[name]); });
    state.rate.textContent = rate(queue.rate);
    state.kind.textContent = queue.kind;
    state.error.textContent = queue.error ? 'cannot read the queue: ' + queue.error : '';
    state.retry.textContent = 'Retry failed (' + num(queue.failed) + ')';
    state.purge.textContent = 'Purge done (' + num(queue.done) + ')';
    if (queue.crawl) renderCrawl(state, queue.crawl);
    refreshFailed(state, queue.failed);
  }

  function updateCache(index, cache) {
    var state = cacheCards[index];
    if (!state) {
      var values = {};
      var row = el('div', { class: 'counts' });
      ['size', 'volume', 'hits', 'misses', 'hit ratio'].forEach(function (name) {
        var box = countBox(name);
        values[name] = box.value;
        row.appendChild(box.node);
      });
      var note = el('div', { class: 'message' });
      var card = el('section', { class: 'card cache', 'data-cache': String(index) }, [
        el('h2', null, [el('span', { class: 'kind', text: 'cache' }), document.createTextNode(cache.locator)]),
        row, note,
      ]);
      document.getElementById('caches').appendChild(card);
      state = cacheCards[index] = { values: values, note: note };
    }
    if (cache.error) { state.note.textContent = 'cannot read the cache: ' + cache.error; return; }
    state.values.size.textContent = num(cache.size);
    state.values.volume.textContent = bytes(cache.volume);
    state.values.hits.textContent = num(cache.hits);
    state.values.misses.textContent = num(cache.misses);
    var lookups = cache.hits + cache.misses;
    state.values['hit ratio'].textContent = lookups > 0 ? (100 * cache.hits / lookups).toFixed(1) + ' %' : '–';
    state.note.textContent = cache.statistics ? '' : 'hits and misses are not counted: the cache\\'s statistics setting is off (cache.stats({enable: true}) turns it on)';
  }

  function chartWidth() { return Math.max(300, document.getElementById('chart').clientWidth); }

  function makeChart(locators, history) {
    var container = document.getElementById('chart');
    container.textContent = '';
    chartData = [history.time.slice()].concat(history.rates.map(function (s) { return s.slice(); }));
    if (typeof uPlot !== 'function' || locators.length === 0) return;
    var series = [{}].concat(locators.map(function (locator, i) {
      return { label: locator.length > 48 ? '…' + locator.slice(-47) : locator, stroke: COLORS[i % COLORS.length], width: 2, points: { show: false },
        value: function (u, v) { return v === null || v === undefined ? '–' : rate(v) + '/s'; } };
    }));
    chart = new uPlot({ width: chartWidth(), height: 220, series: series,
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: [{}, { label: 'jobs/s', size: 56 }] }, chartData, container);
    window.addEventListener('resize', function () { chart.setSize({ width: chartWidth(), height: 220 }); });
  }

  function addPoint(sample) {
    if (!chartData) return;
    chartData[0].push(sample.time);
    sample.queues.forEach(function (q, i) { if (chartData[i + 1]) chartData[i + 1].push(q.rate); });
    if (chartData[0].length > historyLength) chartData.forEach(function (s) { s.shift(); });
    if (chart) chart.setData(chartData);
  }

  function onSample(sample) {
    sample.queues.forEach(function (q, i) { updateQueue(i, q); });
    sample.caches.forEach(function (c, i) { updateCache(i, c); });
    document.getElementById('throughput').hidden = sample.queues.length === 0;
  }

  function connect() {
    var events = new EventSource('/api/events?token=' + encodeURIComponent(token));
    events.addEventListener('state', function (event) {
      var state = JSON.parse(event.data);
      historyLength = state.historyLength;
      onSample(state.sample);
      makeChart(state.sample.queues.map(function (q) { return q.locator; }), state.history);
      setStatus('live', 'live');
    });
    events.addEventListener('sample', function (event) {
      var sample = JSON.parse(event.data);
      onSample(sample);
      addPoint(sample);
      setStatus('live · ' + new Date(sample.time * 1000).toLocaleTimeString(), 'live');
    });
    events.onerror = function () { setStatus('disconnected, retrying…', 'down'); };
  }

  connect();
})();
`;

let uplotAssets: { script: string; css: string } | undefined;

/** uPlot's script and stylesheet, read once from the installed package. */
export function uplotFiles(): { script: string; css: string } {
  if (uplotAssets === undefined) {
    const require = createRequire(import.meta.url);
    uplotAssets = {
      script: fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return uplotAssets;
}
