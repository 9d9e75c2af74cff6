/**
 * The report page's own script (inlined after chart.js): offers the embedded
 * result files for download (each file's text and its CSV, as Blobs: nothing
 * leaves the page), reads the chart specs from the JSON element and draws them. chart.js has no error bars, so a small
 * plugin draws each median (a thick mark) and its 95 % interval (whiskers); it
 * also draws the dashed "= native" line of ratio charts. Plain ES2017, no
 * imports, kept short so a reader can audit what the page runs.
 */
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  // Downloads first: they work even where chart.js cannot draw.
  var sources = JSON.parse(document.getElementById('tsbench-results').textContent);
  Array.prototype.forEach.call(document.querySelectorAll('button.download'), function (b) {
    b.addEventListener('click', function () {
      var src = sources[Number(b.getAttribute('data-source'))];
      if (!src) return;
      var csv = b.getAttribute('data-format') === 'csv';
      var blob = new Blob([csv ? src.csv : src.json], { type: csv ? 'text/csv' : 'application/json' });
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = b.getAttribute('data-name') || (csv ? 'results.csv' : 'results.json');
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    });
  });
  var specs = JSON.parse(document.getElementById('tsbench-charts').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.color = '#222';

  // 3 significant digits; thousands separated; tiny and huge numbers in exponent form.
  function fmt(v) {
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e9 || a < 1e-3) return v.toExponential(1);
    if (a >= 1000) return Math.round(v).toLocaleString('en-US');
    return String(Number(v.toPrecision(3)));
  }
  // Log axes: label 1, 2 and 5 of each decade only, so labels never collide.
  function logTick(v) {
    var m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
    return [1, 2, 5].some(function (k) { return Math.abs(m - k) < 1e-6; }) ? fmt(v) : '';
  }

  function overlay(spec) {
    return {
      id: 'tsbenchWhiskers',
      afterDatasetsDraw: function (chart) {
        var ctx = chart.ctx;
        var horizontal = spec.valueAxis === 'x';
        var vScale = chart.scales[spec.valueAxis];
        var iScale = chart.scales[horizontal ? 'y' : 'x'];
        var area = chart.chartArea;
        // A value a log axis cannot show (an interval reaching 0 or below) is drawn to the axis' edge.
        function px(v) { var p = vScale.getPixelForValue(v); return isFinite(p) ? p : horizontal ? area.left : area.bottom; }
        ctx.save();
        ctx.beginPath();
        ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
        ctx.clip();
        if (spec.refLine !== undefined) {
          var r = vScale.getPixelForValue(spec.refLine);
          ctx.strokeStyle = '#555';
          ctx.setLineDash([4, 4]);
          ctx.lineWidth = 1;
          ctx.beginPath();
          if (horizontal) { ctx.moveTo(r, chart.chartArea.top); ctx.lineTo(r, chart.chartArea.bottom); }
          else { ctx.moveTo(chart.chartArea.left, r); ctx.lineTo(chart.chartArea.right, r); }
          ctx.stroke();
          ctx.setLineDash([]);
        }
        (spec.whiskers || []).forEach(function (w) {
          var p = iScale.getPixelForValue(w.pos);
          var half = Math.min(18, Math.abs(iScale.getPixelForValue(w.pos + 0.3) - p));
          var lo = px(w.lo), hi = px(w.hi), mid = px(w.mid);
          function line(a, b, c, d) { ctx.beginPath(); if (horizontal) { ctx.moveTo(b, a); ctx.lineTo(d, c); } else { ctx.moveTo(a, b); ctx.lineTo(c, d); } ctx.stroke(); }
          ctx.strokeStyle = w.color;
          ctx.lineWidth = 1.5;
          line(p, lo, p, hi);
          line(p - half / 2, lo, p + half / 2, lo);
          line(p - half / 2, hi, p + half / 2, hi);
          ctx.lineWidth = 3;
          line(p - half, mid, p + half, mid);
        });
        ctx.restore();
      },
    };
  }

  var drawn = 0;
  specs.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) return;
    var config = spec.config;
    var scales = config.options.scales || (config.options.scales = {});
    spec.logAxes.forEach(function (axis) { (scales[axis].ticks = scales[axis].ticks || {}).callback = logTick; });
    if (spec.indexLabels) {
      var labels = spec.indexLabels.labels;
      var axis = scales[spec.indexLabels.axis];
      axis.afterBuildTicks = function (a) { a.ticks = labels.map(function (_, i) { return { value: i }; }); };
      axis.ticks = { autoSkip: false, callback: function (v) { return labels[v] !== undefined ? labels[v] : ''; } };
    }
    var vAxis = scales[spec.valueAxis] || (scales[spec.valueAxis] = {});
    if (spec.logAxes.indexOf(spec.valueAxis) < 0) (vAxis.ticks = vAxis.ticks || {}).callback = fmt;
    var plugins = config.options.plugins || (config.options.plugins = {});
    if (plugins.legend && plugins.legend.display) plugins.legend.labels = { usePointStyle: config.type === 'scatter', filter: function (item, data) { return !data.datasets[item.datasetIndex].hideInLegend; } };
    plugins.tooltip = {
      callbacks: {
        label: function (c) {
          var v = spec.valueAxis === 'x' ? c.parsed.x : c.parsed.y;
          return c.dataset.label + ': ' + fmt(v) + ' ' + spec.unit;
        },
      },
    };
    config.plugins = [overlay(spec)];
    new Chart(canvas, config);
    drawn++;
  });
  document.documentElement.setAttribute('data-charts-drawn', String(drawn));
})();
`;
