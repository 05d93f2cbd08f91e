/* volley report: draws the page's charts as SVG from the JSON in
 * #volley-data (written by core/src/report.c). No library, no request. */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('volley-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#2f6fdb', '#e07b24', '#2a9d5c', '#c43d3d', '#7e57c2', '#00897b', '#8d6e63', '#d81b60'];
  var N = D.t1.length;

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  /* ---- numbers as the summary writes them ---- */
  function trim(s) { return s.indexOf('.') < 0 ? s : s.replace(/\.?0+$/, ''); }
  function fmtTime(ms) {
    if (ms === 0) return '0s';
    var a = Math.abs(ms);
    if (a < 0.001) return trim((ms * 1e6).toFixed(0)) + 'ns';
    if (a < 1) return trim((ms * 1000).toFixed(2)) + 'µs';
    if (a < 1000) return trim(ms.toFixed(2)) + 'ms';
    if (a < 60000) return trim((ms / 1000).toFixed(2)) + 's';
    var m = Math.floor(ms / 60000);
    return m + 'm' + trim(((ms - m * 60000) / 1000).toFixed(2)) + 's';
  }
  function fmtData(b) {
    var u = ['B', 'kB', 'MB', 'GB', 'TB'], i = 0;
    while (Math.abs(b) >= 1000 && i < 4) { b /= 1000; i++; }
    return (i ? b.toFixed(1) : b.toFixed(0)) + ' ' + u[i];
  }
  function fmtNum(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return trim((v / 1e9).toFixed(2)) + 'G';
    if (a >= 1e6) return trim((v / 1e6).toFixed(2)) + 'M';
    if (a >= 1e4) return trim((v / 1e3).toFixed(1)) + 'k';
    if (a >= 100) return v.toFixed(0);
    if (a >= 1) return trim(v.toFixed(2));
    return trim(v.toFixed(4));
  }
  function fmtFor(contains) {
    return contains === 'time' ? fmtTime : contains === 'data' ? fmtData : fmtNum;
  }
  function fmtPct(v) { return trim(v.toFixed(v < 10 ? 2 : 1)) + '%'; }

  /* ---- per-window values ---- */
  function winLen(i) { return D.t1[i] - D.t0[i]; }
  /* A per-second rate; windows much shorter than a window (the last,
   * partial one) would make a spike of nothing, so they get a gap. */
  function perSec(arr) {
    return arr.map(function (v, i) {
      var l = winLen(i);
      return v === null || l < 0.2 * D.window_s ? null : v / l;
    });
  }
  function ratio(nz, n, scale) {
    return n.map(function (x, i) { return x > 0 ? scale * nz[i] / x : null; });
  }
  function S(i) { return D.series[String(i)]; }

  function niceStep(range, n) {
    var raw = range / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
  }
  function timeLabel(s) {
    if (D.duration_s < 600 || s % 60 !== 0) return String(Math.round(s * 10) / 10);
    var m = s / 60;
    return m >= 60 ? Math.floor(m / 60) + 'h' + (m % 60 ? (m % 60) + 'm' : '') : m + 'm';
  }
  function timeStep(range) {
    if (range <= 600) return niceStep(range, 8);
    var steps = [60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
    for (var i = 0; i < steps.length; i++) if (range / steps[i] <= 8) return steps[i];
    return 28800;
  }

  /* A line chart over time: opt.lines = [{name, ys, dash}], opt.fmt. */
  function lineChart(parent, opt) {
    var fig = html('figure', 'chart', parent);
    fig.setAttribute('data-chart', opt.id || opt.title);
    var cap = html('figcaption', '', fig, opt.title);
    if (opt.sub) html('span', 'sub', cap, ' — ' + opt.sub);
    var W = 560, H = opt.small ? 170 : 210, L = 58, R = 12, T = 10, B = 24;
    var root = svg('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img',
                            'aria-label': opt.title }, fig);
    var xmax = Math.max(D.duration_s || 0, N ? D.t1[N - 1] : 1, 1e-9), ymax = 0;
    opt.lines.forEach(function (l) {
      l.ys.forEach(function (v) { if (v !== null && isFinite(v) && v > ymax) ymax = v; });
    });
    if (ymax <= 0) ymax = opt.minMax || 1;
    var ystep = niceStep(ymax, 4);
    ymax = Math.ceil(ymax / ystep - 1e-9) * ystep;
    function X(t) { return L + (W - L - R) * t / xmax; }
    function Y(v) { return T + (H - T - B) * (1 - v / ymax); }
    for (var i = 0; i < N; i++) {
      if (D.behind[i]) svg('rect', { 'class': 'behind', x: X(D.t0[i]), y: T, width: Math.max(1, X(D.t1[i]) - X(D.t0[i])),
                                     height: H - T - B }, root);
    }
    for (var v = 0; v <= ymax + ystep / 2; v += ystep) {
      svg('line', { 'class': 'grid-line', x1: L, x2: W - R, y1: Y(v), y2: Y(v) }, root);
      svg('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }, root).textContent = opt.fmt(v);
    }
    var xstep = timeStep(xmax);
    for (var t = 0; t <= xmax + 1e-9; t += xstep) {
      svg('line', { 'class': 'axis', x1: X(t), x2: X(t), y1: H - B, y2: H - B + 4 }, root);
      svg('text', { x: X(t), y: H - B + 16, 'text-anchor': 'middle' }, root).textContent = timeLabel(t);
    }
    svg('line', { 'class': 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }, root);
    opt.lines.forEach(function (l, k) {
      l.color = l.color || COLORS[k % COLORS.length];
      var pts = [];
      function flush() {
        if (pts.length === 1) svg('circle', { cx: pts[0].split(',')[0], cy: pts[0].split(',')[1], r: 1.8, fill: l.color }, root);
        else if (pts.length) svg('polyline', { 'class': 'series', points: pts.join(' '), stroke: l.color,
                                               'stroke-dasharray': l.dash ? '5 3' : 'none' }, root);
        pts = [];
      }
      for (var i = 0; i < N; i++) {
        var y = l.ys[i];
        if (y === null || y === undefined || !isFinite(y)) { flush(); continue; }
        pts.push(X(D.t1[i]).toFixed(1) + ',' + Y(y).toFixed(1));
      }
      flush();
    });
    var leg = html('div', 'legend', fig);
    opt.lines.forEach(function (l) {
      var s = html('span', '', leg);
      var sw = html('i', '', s);
      sw.style.background = l.color;
      s.appendChild(document.createTextNode(l.name));
    });
    var any = opt.lines.some(function (l) {
      return l.ys.some(function (v) { return v !== null && v !== undefined && isFinite(v); });
    });
    if (!any)
      svg('text', { x: (L + W - R) / 2, y: (T + H - B) / 2, 'text-anchor': 'middle', 'class': 'no-data' }, root)
        .textContent = opt.empty || 'no data';
    hover(fig, root, opt, X, W, L, R, T, H, B);
    return fig;
  }

  function hover(fig, root, opt, X, W, L, R, T, H, B) {
    if (!N) return;
    var tip = html('div', 'tip', fig), line = svg('line', { 'class': 'hover-line', y1: T, y2: H - B, x1: -10, x2: -10 }, root);
    var pad = svg('rect', { x: L, y: T, width: W - L - R, height: H - T - B, fill: 'transparent' }, root);
    pad.addEventListener('mousemove', function (ev) {
      var box = root.getBoundingClientRect(), x = (ev.clientX - box.left) * W / box.width;
      var best = 0, bd = Infinity;
      for (var i = 0; i < N; i++) { var d = Math.abs(X(D.t1[i]) - x); if (d < bd) { bd = d; best = i; } }
      line.setAttribute('x1', X(D.t1[best]));
      line.setAttribute('x2', X(D.t1[best]));
      var rows = [D.t0[best] + '–' + D.t1[best] + ' s' + (D.behind[best] ? ' (generator behind)' : '')];
      opt.lines.forEach(function (l) {
        var v = l.ys[best];
        rows.push(l.name + ': ' + (v === null || v === undefined ? '–' : opt.fmt(v)));
      });
      tip.textContent = '';
      rows.forEach(function (r, k) { if (k) html('br', '', tip); tip.appendChild(document.createTextNode(r)); });
      tip.style.display = 'block';
      var fx = (ev.clientX - fig.getBoundingClientRect().left);
      tip.style.left = (fx > fig.clientWidth / 2 ? fx - tip.offsetWidth - 12 : fx + 12) + 'px';
      tip.style.top = '34px';
    });
    pad.addEventListener('mouseleave', function () {
      tip.style.display = 'none';
      line.setAttribute('x1', -10);
      line.setAttribute('x2', -10);
    });
  }

  function trendLines(s, which) {
    return (which || ['p50', 'p90', 'p95', 'p99']).map(function (p) { return { name: p, ys: s.cols[p] }; });
  }

  /* ---- the charts over time ---- */
  var grid = document.getElementById('charts-grid');
  if (grid && !N) html('div', 'empty', grid, 'No window was recorded (the run was shorter than one window).');
  if (grid && N) {
    var ro = D.roles, lines = [];
    if (ro.reqs >= 0) lines.push({ name: 'requests/s', ys: perSec(S(ro.reqs).cols.sum) });
    if (ro.iters >= 0) lines.push({ name: 'iterations/s', ys: perSec(S(ro.iters).cols.sum) });
    if (lines.length) lineChart(grid, { id: 'rps', title: 'Throughput', sub: 'per second', lines: lines, fmt: fmtNum });

    /* From a raw NDJSON stream the runner's figures are its metrics' points,
     * when json-out's filters kept them; the generator's CPU is not there. */
    var absent = D.raw ? 'not in this NDJSON stream' : undefined;
    lineChart(grid, { id: 'vus', title: 'Virtual users', lines: [
      { name: 'VUs', ys: D.runner.vus }, { name: 'VUs max', ys: D.runner.vus_max, dash: true }], fmt: fmtNum,
      empty: absent });

    if (ro.dur >= 0)
      lineChart(grid, { id: 'duration', title: 'http_req_duration', sub: 'percentiles per window',
                        lines: trendLines(S(ro.dur)), fmt: fmtTime });

    var fl = [];
    D.fail_by.forEach(function (i) {
      var s = S(i), tag = s.key.slice(s.key.indexOf('{') + 1, -1).replace(':', ' ');
      fl.push({ name: tag, ys: perSec(s.cols.sum) });
    });
    if (!fl.length && ro.failed >= 0) fl.push({ name: 'failed requests/s', ys: perSec(S(ro.failed).cols.nz) });
    if (fl.length)
      lineChart(grid, { id: 'failures', title: 'Failures', sub: D.fail_by.length ? 'per second, by status / error_code'
                        : 'per second (http_req_failed)', lines: fl, fmt: fmtNum });

    lineChart(grid, { id: 'dropped', title: 'Dropped iterations', sub: 'per second',
                      lines: [{ name: 'dropped/s', ys: perSec(D.runner.dropped), color: COLORS[3] }], fmt: fmtNum,
                      empty: D.raw ? 'none in this NDJSON stream' : undefined });
    lineChart(grid, { id: 'lag', title: 'Generator schedule lag', sub: 'open-model iterations',
                      lines: [{ name: 'lag p95', ys: D.runner.lag_p95_ms }, { name: 'lag max', ys: D.runner.lag_max_ms, dash: true }],
                      fmt: fmtTime, minMax: 1, empty: D.raw ? 'no volley_schedule_lag in this NDJSON stream'
                        : 'no open-model iterations (arrival-rate executors only)' });
    lineChart(grid, { id: 'cpu', title: 'Generator CPU', sub: '% of the cores it may use; busiest worker: % of one core',
                      lines: [{ name: 'CPU %', ys: D.runner.cpu_pct }, { name: 'busiest worker %', ys: D.runner.busiest_worker_pct, dash: true }],
                      fmt: fmtPct, minMax: 10,
                      empty: D.raw ? 'not in a raw NDJSON stream: write --result for it' : undefined });
  }

  /* ---- duration per request name / scenario ---- */
  var gc = document.getElementById('group-charts');
  if (gc && N) {
    D.groups.forEach(function (g) {
      if (g.dur < 0) return;
      var s = S(g.dur);
      lineChart(gc, { id: 'group:' + g.label, title: g.label, sub: s.metric, small: true,
                      lines: trendLines(s, ['p50', 'p95', 'p99']), fmt: fmtFor(s.contains) });
    });
  }

  /* ---- small charts of the other series ---- */
  function spark(td) {
    var s = S(td.getAttribute('data-series'));
    if (!s || !N) return;
    var ys, f = fmtFor(s.contains), what;
    if (s.type === 'counter') { ys = perSec(s.cols.sum); what = '/s'; }
    else if (s.type === 'rate') { ys = ratio(s.cols.nz, s.cols.n, 100); f = fmtPct; what = ''; }
    else if (s.type === 'gauge') { ys = s.cols.last; what = ''; }
    else if (s.type === 'trend') { ys = s.cols.p95; what = ' p95'; }
    else return;
    var W = 230, H = 36, max = 0, min = Infinity, xmax = Math.max(D.duration_s || 0, D.t1[N - 1], 1e-9);
    ys.forEach(function (v) { if (v !== null && isFinite(v)) { if (v > max) max = v; if (v < min) min = v; } });
    var root = svg('svg', { 'class': 'spark', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': s.key }, td);
    if (min === Infinity) return;
    var top = max > 0 ? max : 1, pts = [], parts = [];
    for (var i = 0; i < N; i++) {
      var v = ys[i];
      if (v === null || !isFinite(v)) { if (pts.length) parts.push(pts); pts = []; continue; }
      pts.push((2 + (W - 96) * D.t1[i] / xmax).toFixed(1) + ',' + (3 + (H - 8) * (1 - v / top)).toFixed(1));
    }
    if (pts.length) parts.push(pts);
    parts.forEach(function (p) {
      svg('polyline', { 'class': 'series', points: p.join(' '), stroke: COLORS[0] }, root);
    });
    svg('text', { x: W - 2, y: 12, 'text-anchor': 'end' }, root).textContent = 'max ' + f(max) + what;
    svg('text', { x: W - 2, y: H - 4, 'text-anchor': 'end' }, root).textContent = 'min ' + f(min);
  }
  Array.prototype.forEach.call(document.querySelectorAll('td.spark'), spark);
  document.body.setAttribute('data-charts-ready', '1');
})();
