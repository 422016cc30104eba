/*
 * batchlab page code, shared by the self-contained report and the live dashboard.
 *
 * Input: the ReportData JSON of src/report/data.ts (runs with downsampled step columns, evals, run and
 * sweep summaries). Output: the page (header, recommendation, "What this sweep shows", charts, runs
 * table, settings) drawn with uPlot (global `uPlot`, inlined or served next to this file).
 *
 * Plain ES2017 in one IIFE, no build step: the report inlines this file verbatim. Text from the data
 * is always set with textContent, never parsed as HTML. Chart state for tests and tools is published
 * on window.__batchlab: { ready, drawnMs, charts: [{ id, title, batchSizes, series: [...] }] }.
 */
(() => {
  var FAILED_STATUSES = ['failed', 'oom', 'diverged', 'over-budget', 'timeout'];
  var FIT_COLOR = '#333333';
  var CHART_HEIGHT_PX = 300;
  /** Grid points of a fitted curve drawn across the batch-size axis. */
  var FIT_POINTS = 64;

  // ---- small helpers ---------------------------------------------------------------------------

  /** Creates an element; attrs: class, text, on<event> handlers, anything else as an attribute. */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') el.textContent = String(v);
      else if (k === 'class') el.className = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    });
    (children || []).forEach((c) => {
      if (c === null || c === undefined || c === false) return;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return el;
  }

  function isNum(x) {
    return typeof x === 'number' && isFinite(x);
  }

  /** 12345.6 -> "12,346"; small values keep 3 significant digits; missing -> "-". */
  function num(x, digits) {
    if (!isNum(x)) return '-';
    if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
    return String(Number(x.toPrecision(digits || 3)));
  }
  function mb(bytes) {
    return isNum(bytes) ? (bytes / 1e6).toFixed(1) : '-';
  }
  function pct(x) {
    return isNum(x) ? (x * 100).toFixed(2) + '%' : '-';
  }
  function get(obj, path) {
    return path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
  }
  function median(values) {
    var v = values.filter(isNum).sort((a, b) => a - b);
    if (v.length === 0) return undefined;
    var m = v.length >> 1;
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  }
  /** n points spaced evenly in log between lo and hi (both > 0). */
  function logGrid(lo, hi, n) {
    var out = [];
    for (var i = 0; i < n; i++) out.push(lo * (hi / lo) ** (i / (n - 1)));
    return out;
  }
  function isFailed(run) {
    return FAILED_STATUSES.indexOf(run.status) >= 0;
  }

  // ---- which runs, which labels ----------------------------------------------------------------

  /** Runs drawn in charts: not failed, and among the ticked ones when the user ticked any. */
  function chartedRuns(data, selected) {
    return sortRuns(data.runs).filter((r) => r.charted && !isFailed(r) && (selected.size === 0 || selected.has(r.id)));
  }
  function sortRuns(runs) {
    return runs.slice().sort((a, b) => a.batchSize - b.batchSize || a.seed - b.seed || a.id - b.id);
  }
  /** "B=64", or "B=64 seed 2" when the sweep has several seeds at one batch size. */
  function runLabel(run, runs) {
    var same = runs.filter((r) => r.batchSize === run.batchSize).length;
    return 'B=' + run.batchSize + (same > 1 ? ' seed ' + run.seed : '');
  }
  /** Runs of the same B but later seeds are dashed, so they keep their batch size's colour. */
  function dashFor(run, runs) {
    var seeds = runs.filter((r) => r.batchSize === run.batchSize).map((r) => r.seed);
    var rank = seeds.sort((a, b) => a - b).indexOf(run.seed);
    return rank <= 0
      ? null
      : [
          [6, 3],
          [2, 3],
          [8, 3, 2, 3],
        ][(rank - 1) % 3];
  }
  function runSeries(run, runs, xs, ys) {
    return {
      label: runLabel(run, runs),
      color: run.color,
      runId: run.id,
      batchSize: run.batchSize,
      dash: dashFor(run, runs),
      xs: xs,
      ys: ys,
    };
  }

  // ---- chart specs: data -> what to draw (no DOM) ----------------------------------------------

  /** Training loss against one of the step columns (step, samples, wallS). */
  function lossSpec(runs, opts) {
    return {
      id: opts.id,
      section: opts.section,
      title: opts.title,
      note: opts.note,
      xLabel: opts.xLabel,
      yLabel: 'training loss',
      xLog: false,
      xLogToggle: true,
      series: runs.map((r) => runSeries(r, runs, r.steps[opts.x], r.steps.loss)),
      markers: [],
    };
  }

  function evalSpec(runs) {
    var useAcc = runs.some((r) => r.evals.test.accuracy.some(isNum));
    var withEvals = runs.filter((r) => r.evals.test.step.length > 0);
    if (withEvals.length === 0) return null;
    return {
      id: 'eval',
      section: 'Generalization',
      title: '"Small batches can generalize better": held-out ' + (useAcc ? 'accuracy' : 'loss') + ' vs samples seen',
      note: 'Each run evaluated on held-out data during training; compare the curves at equal samples seen.',
      xLabel: 'samples seen',
      yLabel: 'held-out ' + (useAcc ? 'accuracy' : 'loss'),
      xLog: false,
      xLogToggle: true,
      showPoints: true,
      series: withEvals.map((r) =>
        runSeries(r, runs, r.evals.test.samples, useAcc ? r.evals.test.accuracy : r.evals.test.loss),
      ),
      markers: [],
    };
  }

  /**
   * A chart with batch size on the x axis (log2): one point series per run (so each B keeps its colour)
   * plus optional fitted curves.
   */
  function perBatchSpec(runs, opts) {
    var points = runs.map((r) => ({ run: r, y: opts.value(r) })).filter((p) => isNum(p.y) && (!opts.yLog || p.y > 0));
    var extraPoints = (opts.extra || []).some((s) => s.xs.length > 0);
    if (points.length === 0 && !extraPoints) return null; // e.g. a find-max experiment: probes, no runs
    var series = points.map((p) => {
      var s = runSeries(p.run, runs, [p.run.batchSize], [p.y]);
      s.points = true;
      return s;
    });
    var bs = points.map((p) => p.run.batchSize);
    // fitted curves span every batch size on the chart: runs, probes and markers
    (opts.extra || []).forEach((s) => {
      bs = bs.concat(s.xs);
    });
    (opts.markers || []).forEach((m) => {
      if (m.axis === 'x' && isNum(m.value)) bs.push(m.value);
    });
    var lo = Math.min.apply(null, bs),
      hi = Math.max.apply(null, bs);
    (opts.fits || []).forEach((fit) => {
      if (!fit) return;
      var grid = logGrid(lo / 1.5, hi * 1.5, FIT_POINTS);
      series.push({ label: fit.label, color: FIT_COLOR, dash: [6, 4], fit: true, xs: grid, ys: grid.map(fit.f) });
    });
    (opts.extra || []).forEach((s) => {
      series.push(s);
    });
    return {
      id: opts.id,
      section: opts.section,
      title: opts.title,
      note: opts.note,
      xLabel: 'batch size B (log2)',
      yLabel: opts.yLabel,
      xLog: true,
      xLogBase: 2,
      yLog: !!opts.yLog,
      batchAxis: true,
      series: series,
      markers: (opts.markers || []).filter((m) => isNum(m.value)),
    };
  }

  function stepMsOf(r) {
    var m = get(r.summary, 'stepMs.median');
    return isNum(m) ? m : median(r.steps.stepMs);
  }
  function samplesPerSecOf(r) {
    var v = get(r.summary, 'samplesPerSec');
    if (isNum(v)) return v;
    var ms = stepMsOf(r);
    return isNum(ms) && ms > 0 ? (r.batchSize * 1000) / ms : undefined;
  }
  function peakBytesOf(r) {
    var v = get(r.summary, 'peakBytes');
    return isNum(v) ? v : r.maxStepPeakBytes;
  }

  function speedSpecs(runs, sweep) {
    var fit = sweep.stepTimeFit;
    var sat = sweep.saturationBatch;
    var satMarker = { axis: 'x', value: sat, label: 'saturation B=' + num(sat) };
    var t =
      fit && isNum(fit.alphaMs) && isNum(fit.betaMsPerSample) ? (b) => fit.alphaMs + fit.betaMsPerSample * b : null;
    return [
      perBatchSpec(runs, {
        id: 'throughput',
        section: 'Speed',
        title: '"Larger batches use parallel hardware more efficiently": samples/s vs B',
        note: 'Median over steps after warm-up. The curve is B / t(B) from the fitted step time; past the saturation point doubling B gains under 10% samples/s.',
        yLabel: 'samples/s',
        value: samplesPerSecOf,
        markers: [satMarker],
        fits: [t && { label: 'fit B / t(B)', f: (b) => (b * 1000) / t(b) }],
      }),
      perBatchSpec(runs, {
        id: 'step-time',
        section: 'Speed',
        title: '"Larger batches take longer per iteration": ms/step vs B',
        note: t
          ? 'Fit t(B) = ' +
            num(fit.alphaMs) +
            ' ms + ' +
            num(fit.betaMsPerSample, 3) +
            ' ms x B (r2 ' +
            num(fit.r2) +
            '): the fixed cost alpha is what larger batches amortize.'
          : 'Median step time after warm-up.',
        yLabel: 'ms per step (median)',
        value: stepMsOf,
        markers: [satMarker],
        fits: [t && { label: 'fit t(B) = alpha + beta*B', f: t }],
      }),
    ];
  }

  function memorySpec(runs, sweep, data) {
    var fit = sweep.memoryFit;
    var probes = (data.probes || [])
      .map((p) => ({ b: p.batchSize, y: isNum(p.peakBytes) ? p.peakBytes : p.rssBytes, ok: p.ok }))
      .filter((p) => isNum(p.y));
    var probeSeries = [true, false]
      .map((ok) => {
        var ps = probes.filter((p) => p.ok === ok);
        if (ps.length === 0) return null;
        return {
          label: ok ? 'find-max probe: fits' : 'find-max probe: refused',
          color: ok ? '#000000' : '#dd0000',
          hollow: true,
          points: true,
          xs: ps.map((p) => p.b),
          ys: ps.map((p) => p.y / 1e6),
        };
      })
      .filter(Boolean);
    var spec = perBatchSpec(runs, {
      id: 'memory',
      section: 'Memory',
      title: '"A larger batch needs more memory": peak memory vs B',
      note: fit
        ? 'Fit peak = ' +
          mb(fit.interceptBytes) +
          ' MB + ' +
          num(fit.bytesPerSample / 1e3) +
          ' kB x B (r2 ' +
          num(fit.r2) +
          '): the intercept is weights and optimizer state, the slope activations per sample.'
        : 'Tensor high-water mark of one training step.',
      yLabel: 'peak memory (MB)',
      value: (r) => {
        var b = peakBytesOf(r);
        return isNum(b) ? b / 1e6 : undefined;
      },
      fits: [
        fit &&
          isNum(fit.interceptBytes) && {
            label: 'fit a + b*B',
            f: (b) => (fit.interceptBytes + fit.bytesPerSample * b) / 1e6,
          },
      ],
      markers: [
        {
          axis: 'y',
          value: isNum(data.budgetBytes) ? data.budgetBytes / 1e6 : undefined,
          label: 'budget ' + mb(data.budgetBytes) + ' MB',
          color: '#dd0000',
        },
      ],
      extra: probeSeries,
    });
    return spec;
  }

  function tradeoffSpecs(runs, sweep) {
    var reached = runs.filter((r) => get(r.summary, 'target.reached') === true);
    if (reached.length === 0) return [];
    var t = sweep.tradeoff;
    var bCrit = t ? (isNum(t.bCrit) ? t.bCrit : t.eMin / t.sMin) : undefined;
    var ok = t && isNum(t.sMin) && isNum(t.eMin) && isNum(bCrit);
    var marker = { axis: 'x', value: bCrit, label: 'B_crit = ' + num(bCrit) };
    var note = ok
      ? 'Fit (S/S_min - 1)(E/E_min - 1) = 1: S_min = ' +
        num(t.sMin) +
        ' steps, E_min = ' +
        num(t.eMin) +
        ' samples, B_crit = E_min/S_min = ' +
        num(bCrit) +
        ' (r2 ' +
        num(t.r2) +
        ').'
      : 'Runs that reached the target.';
    return [
      perBatchSpec(reached, {
        id: 'steps-to-target',
        section: 'Speed',
        title: '"Larger batches train faster" (in steps, up to B_crit): steps to target vs B',
        note: note + ' Below B_crit doubling B nearly halves the steps; above it the steps stop falling.',
        yLabel: 'steps to target',
        yLog: true,
        value: (r) => get(r.summary, 'target.steps'),
        markers: [marker],
        fits: [ok && { label: 'fit S(B) = S_min (1 + B_crit/B)', f: (b) => t.sMin * (1 + bCrit / b) }],
      }),
      perBatchSpec(reached, {
        id: 'examples-to-target',
        section: 'Speed',
        title: 'The price of large batches: examples to target vs B',
        note: note + ' Past B_crit each doubling of B costs nearly twice the samples (compute).',
        yLabel: 'samples to target',
        yLog: true,
        value: (r) => get(r.summary, 'target.samples'),
        markers: [marker],
        fits: [ok && { label: 'fit E(B) = E_min (1 + B/B_crit)', f: (b) => t.eMin * (1 + b / bCrit) }],
      }),
    ];
  }

  function noiseSpec(runs) {
    var withSeries = runs.filter((r) => {
      var s = get(r.summary, 'noise.series');
      return Array.isArray(s) && s.length > 0;
    });
    if (withSeries.length === 0) return null;
    return {
      id: 'b-simple',
      section: 'Stability',
      title: '"Small batches add noise to the updates": gradient noise scale B_simple over training',
      note: 'B_simple = tr(S)/|G|^2 (McCandlish et al. 2018): batches well below it are noise-dominated, batches well above it waste samples. Non-positive estimates are not drawn.',
      xLabel: 'step',
      yLabel: 'B_simple (log)',
      xLog: false,
      xLogToggle: true,
      yLog: true,
      series: withSeries.map((r) => {
        var s = r.summary.noise.series;
        return runSeries(
          r,
          runs,
          s.map((p) => p[0]),
          s.map((p) => p[1]),
        );
      }),
      markers: [],
    };
  }

  function generalizationSpecs(runs) {
    var summarized = runs.filter((r) => r.summary && r.summary.gap);
    var useAcc = summarized.length > 0 && summarized.every((r) => isNum(r.summary.gap.accuracy));
    return [
      perBatchSpec(runs, {
        id: 'gap',
        section: 'Generalization',
        title: '"Large batches can overfit": generalization gap vs B',
        note: useAcc
          ? 'Gap = train accuracy - held-out accuracy at the end of training; higher = more overfitting.'
          : 'Gap = held-out loss - train loss at the end of training; higher = more overfitting.',
        yLabel: useAcc ? 'gap (accuracy points)' : 'gap (loss)',
        value: (r) => get(r.summary, useAcc ? 'gap.accuracy' : 'gap.loss'),
      }),
      perBatchSpec(runs, {
        id: 'sharpness',
        section: 'Generalization',
        title: '"Large batches can get stuck in worse minima": sharpness vs B',
        note: 'Top Hessian eigenvalue of the training loss at the end (power iteration); sharper minima (Keskar et al. 2017) tend to generalize worse.',
        yLabel: 'top Hessian eigenvalue',
        value: (r) => get(r.summary, 'sharpness.topEigenvalue'),
      }),
    ];
  }

  /** Every chart the data supports, in page order; charts without data are left out. */
  function buildSpecs(data, selected) {
    var runs = chartedRuns(data, selected || new Set());
    var sweep = (data.experiment && data.experiment.summary) || {};
    var specs = [
      lossSpec(runs, {
        id: 'loss-steps',
        section: 'Stability',
        x: 'step',
        xLabel: 'step',
        title: '"Small batches make training less stable": training loss vs steps',
        note: 'Per-step loss, min/max per bucket kept when downsampled: the band width is the update noise; small batches wobble more, large ones move further per step.',
      }),
      lossSpec(runs, {
        id: 'loss-samples',
        section: 'Speed',
        x: 'samples',
        xLabel: 'samples seen',
        title: '"Larger batches train faster", per sample: training loss vs samples seen',
        note: 'At equal samples (equal compute), small batches often reach a lower loss: they update more often.',
      }),
      lossSpec(runs, {
        id: 'loss-wall',
        section: 'Speed',
        x: 'wallS',
        xLabel: 'training time (s, cumulative step time)',
        title: '"Larger batches train faster", in time: training loss vs wall time',
        note: 'Time is the sum of step times (evaluations excluded); this is where parallel hardware pays off.',
      }),
      evalSpec(runs),
    ].concat(
      speedSpecs(runs, sweep),
      [memorySpec(runs, sweep, data)],
      tradeoffSpecs(runs, sweep),
      [noiseSpec(runs)],
      generalizationSpecs(runs),
    );
    return specs.filter((s) => s && s.series.some((x) => x.xs.length > 0));
  }

  // ---- spec -> uPlot ---------------------------------------------------------------------------

  /** Aligned uPlot data: one shared x column, undefined where a series has no point (spanned, not a gap). */
  function alignedData(spec, logX) {
    var tables = spec.series.map((s) => {
      var xs = [],
        ys = [];
      for (var i = 0; i < s.xs.length; i++) {
        var x = s.xs[i],
          y = s.ys[i];
        if (!isNum(x) || (logX && x <= 0)) continue;
        if (spec.yLog && isNum(y) && y <= 0) y = undefined;
        xs.push(x);
        ys.push(y === undefined ? undefined : isNum(y) ? y : null);
      }
      return [xs, ys];
    });
    // uPlot.join needs every table non-empty; an empty one gets a placeholder at an x that exists
    var anyX = tables.reduce((x, t) => (isNum(x) ? x : t[0][0]), undefined);
    tables.forEach((t) => {
      if (t[0].length === 0) {
        t[0].push(anyX);
        t[1].push(undefined);
      }
    });
    return uPlot.join(tables);
  }

  /** Batch-size axis ticks: the powers of two inside the scale. */
  function powersOfTwo(u, axisIdx, min, max) {
    var out = [];
    for (var p = Math.ceil(Math.log2(min)); 2 ** p <= max; p++) out.push(2 ** p);
    return out;
  }

  /** Tick labels: 12k, 1.5M for large values so dense axes stay readable. */
  function axisValues(u, splits) {
    return splits.map((v) => {
      if (v === null || v === undefined) return '';
      var a = Math.abs(v);
      if (a >= 1e6) return num(v / 1e6, 3) + 'M';
      if (a >= 1e4) return num(v / 1e3, 3) + 'k';
      return num(v, 3);
    });
  }

  /** Draws vertical (axis 'x') and horizontal (axis 'y') marker lines with a label. */
  function markersPlugin(markers) {
    return {
      hooks: {
        draw: [
          (u) => {
            var ctx = u.ctx,
              dpr = window.devicePixelRatio || 1;
            var left = u.bbox.left,
              top = u.bbox.top,
              width = u.bbox.width,
              height = u.bbox.height;
            markers.forEach((m) => {
              var pos = u.valToPos(m.value, m.axis === 'x' ? 'x' : 'y', true);
              if (!isNum(pos)) return;
              ctx.save();
              ctx.strokeStyle = m.color || '#555555';
              ctx.fillStyle = m.color || '#555555';
              ctx.setLineDash([5 * dpr, 4 * dpr]);
              ctx.lineWidth = 1.5 * dpr;
              ctx.beginPath();
              if (m.axis === 'x') {
                ctx.moveTo(pos, top);
                ctx.lineTo(pos, top + height);
              } else {
                ctx.moveTo(left, pos);
                ctx.lineTo(left + width, pos);
              }
              ctx.stroke();
              ctx.font = 11 * dpr + 'px sans-serif';
              ctx.textAlign = 'left'; // uPlot leaves the last axis' alignment on the context
              ctx.textBaseline = 'alphabetic';
              if (m.axis === 'x')
                ctx.fillText(
                  m.label,
                  Math.min(pos + 4 * dpr, left + width - ctx.measureText(m.label).width),
                  top + 12 * dpr,
                );
              else ctx.fillText(m.label, left + 4 * dpr, pos - 4 * dpr);
              ctx.restore();
            });
          },
        ],
      },
    };
  }

  function uplotSeries(s, spec) {
    var out = { label: s.label, stroke: s.color, width: s.fit ? 1.5 : 1.25, spanGaps: false };
    if (s.dash) out.dash = s.dash;
    if (s.points) {
      out.paths = () => null;
      out.points = {
        show: true,
        size: s.hollow ? 11 : 9,
        stroke: s.color,
        fill: s.hollow ? 'rgba(255,255,255,0)' : s.color,
        width: s.hollow ? 2 : 1,
      };
    } else {
      out.points = { show: !!spec.showPoints, size: 5 };
    }
    return out;
  }

  function uplotOptions(spec, widthPx, logX, onDrawn) {
    var xScale = { time: false };
    if (logX) {
      xScale.distr = 3;
      xScale.log = spec.xLogBase || 10;
    }
    if (spec.batchAxis) {
      // markers (saturation, B_crit) outside the measured batch sizes must still be on the chart
      var marks = (spec.markers || []).filter((m) => m.axis === 'x').map((m) => m.value);
      xScale.range = (u, min, max) => [
        Math.min.apply(null, [min].concat(marks)) / 1.5,
        Math.max.apply(null, [max].concat(marks)) * 1.5,
      ];
    }
    var yScale = spec.yLog ? { distr: 3, log: 10 } : {};
    return {
      width: widthPx,
      height: CHART_HEIGHT_PX,
      legend: { live: false },
      scales: { x: xScale, y: yScale },
      axes: [
        {
          label: spec.xLabel,
          values: axisValues,
          space: spec.batchAxis ? 40 : 55,
          splits: spec.batchAxis ? powersOfTwo : undefined,
        },
        { label: spec.yLabel, values: axisValues, size: 60 },
      ],
      series: [{ label: spec.xLabel }].concat(spec.series.map((s) => uplotSeries(s, spec))),
      plugins: [markersPlugin(spec.markers || [])],
      hooks: { draw: [onDrawn] },
    };
  }

  // ---- export: PNG and SVG ---------------------------------------------------------------------

  function download(filename, href) {
    var a = h('a', { href: href, download: filename });
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  /** PNG of the plot canvas on a white background, with the title above it. */
  function chartPng(u, spec) {
    var src = u.ctx.canvas,
      dpr = window.devicePixelRatio || 1,
      titleH = 24 * dpr;
    var c = document.createElement('canvas');
    c.width = src.width;
    c.height = src.height + titleH;
    var ctx = c.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.fillStyle = '#000000';
    ctx.font = 13 * dpr + 'px sans-serif';
    ctx.fillText(spec.title, 8 * dpr, 16 * dpr);
    ctx.drawImage(src, 0, titleH);
    return c.toDataURL('image/png');
  }

  function escXml(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  }

  /** An SVG built from the series data and uPlot's scales: polylines, points, markers, axis extents, legend. */
  function chartSvg(u, spec) {
    var dpr = window.devicePixelRatio || 1;
    var L = u.bbox.left / dpr,
      T = u.bbox.top / dpr + 24,
      W = u.bbox.width / dpr,
      H = u.bbox.height / dpr;
    var width = Math.round(L + W + 20),
      legendTop = T + H + 40,
      height = Math.round(legendTop + 16 * Math.ceil(spec.series.length / 3) + 10);
    var px = (v, key) => u.valToPos(v, key);
    var parts = [
      '<svg xmlns="http://www.w3.org/2000/svg" width="' +
        width +
        '" height="' +
        height +
        '" font-family="sans-serif" font-size="11">',
      '<rect width="100%" height="100%" fill="#fff"/>',
      '<text x="8" y="16" font-size="13">' + escXml(spec.title) + '</text>',
      '<rect x="' + L + '" y="' + T + '" width="' + W + '" height="' + H + '" fill="none" stroke="#999"/>',
    ];
    var xs = u.data[0];
    u.series.forEach((s, si) => {
      if (si === 0 || s.show === false) return;
      var sp = spec.series[si - 1],
        ys = u.data[si],
        seg = [],
        segs = [];
      for (var i = 0; i < xs.length; i++) {
        if (ys[i] === null) {
          if (seg.length) segs.push(seg);
          seg = [];
          continue;
        }
        if (ys[i] === undefined) continue;
        seg.push([L + px(xs[i], 'x'), T + px(ys[i], 'y')]);
      }
      if (seg.length) segs.push(seg);
      segs.forEach((pts) => {
        if (sp.points)
          pts.forEach((p) => {
            parts.push(
              '<circle cx="' +
                p[0].toFixed(1) +
                '" cy="' +
                p[1].toFixed(1) +
                '" r="4" fill="' +
                (sp.hollow ? 'none' : sp.color) +
                '" stroke="' +
                sp.color +
                '"/>',
            );
          });
        else
          parts.push(
            '<polyline fill="none" stroke="' +
              sp.color +
              '" stroke-width="1.25"' +
              (sp.dash ? ' stroke-dasharray="' + sp.dash.join(' ') + '"' : '') +
              ' points="' +
              pts.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' ') +
              '"/>',
          );
      });
    });
    (spec.markers || []).forEach((m) => {
      var p = px(m.value, m.axis);
      if (!isNum(p)) return;
      var line = m.axis === 'x' ? [L + p, T, L + p, T + H] : [L, T + p, L + W, T + p];
      parts.push(
        '<line x1="' +
          line[0] +
          '" y1="' +
          line[1] +
          '" x2="' +
          line[2] +
          '" y2="' +
          line[3] +
          '" stroke="' +
          (m.color || '#555') +
          '" stroke-dasharray="5 4"/>',
      );
      parts.push(
        '<text x="' +
          (line[0] + 4) +
          '" y="' +
          (line[1] + (m.axis === 'x' ? 12 : -4)) +
          '" fill="' +
          (m.color || '#555') +
          '">' +
          escXml(m.label) +
          '</text>',
      );
    });
    var sx = u.scales.x,
      sy = u.scales.y;
    parts.push('<text x="' + L + '" y="' + (T + H + 14) + '">' + escXml(num(sx.min)) + '</text>');
    parts.push(
      '<text x="' + (L + W) + '" y="' + (T + H + 14) + '" text-anchor="end">' + escXml(num(sx.max)) + '</text>',
    );
    parts.push(
      '<text x="' + (L + W / 2) + '" y="' + (T + H + 28) + '" text-anchor="middle">' + escXml(spec.xLabel) + '</text>',
    );
    parts.push('<text x="' + (L - 4) + '" y="' + (T + H) + '" text-anchor="end">' + escXml(num(sy.min)) + '</text>');
    parts.push('<text x="' + (L - 4) + '" y="' + (T + 10) + '" text-anchor="end">' + escXml(num(sy.max)) + '</text>');
    parts.push(
      '<text transform="translate(12,' +
        (T + H / 2) +
        ') rotate(-90)" text-anchor="middle">' +
        escXml(spec.yLabel) +
        '</text>',
    );
    spec.series.forEach((s, i) => {
      var x = 10 + (i % 3) * 200,
        y = legendTop + 16 * Math.floor(i / 3);
      parts.push(
        '<rect x="' +
          x +
          '" y="' +
          (y - 9) +
          '" width="10" height="10" fill="' +
          s.color +
          '"/><text x="' +
          (x + 14) +
          '" y="' +
          y +
          '">' +
          escXml(s.label) +
          '</text>',
      );
    });
    parts.push('</svg>');
    return parts.join('\n');
  }

  // ---- page sections ---------------------------------------------------------------------------

  function headerSection(data, mode) {
    var e = data.experiment,
      failed = data.runs.filter(isFailed).length;
    var wall = get(e.summary, 'wallMs');
    return h('header', { class: 'bl-header' }, [
      h('h1', { text: 'Experiment ' + e.id + ': ' + e.kind }),
      h('p', {
        class: 'bl-meta',
        text: [
          'status ' + e.status,
          'created ' + e.createdAt,
          data.runs.length + ' runs' + (failed ? ' (' + failed + ' failed)' : ''),
          isNum(wall) ? 'sweep wall time ' + num(wall / 1000) + ' s' : null,
          mode === 'report' ? 'report generated ' + data.generatedAt : null,
        ]
          .filter(Boolean)
          .join(' \u00b7 '),
      }),
    ]);
  }

  /** Any JSON value as nested lists and definition lists (the recommendation has no fixed shape here). */
  function renderValue(v, depth) {
    if (v === null || v === undefined) return h('span', { text: '-' });
    if (Array.isArray(v))
      return h(
        'ul',
        {},
        v.map((x) => h('li', {}, [renderValue(x, depth + 1)])),
      );
    if (typeof v === 'object') {
      if (depth > 4) return h('code', { text: JSON.stringify(v) });
      var dl = h('dl', {});
      Object.keys(v).forEach((k) => {
        dl.appendChild(h('dt', { text: k }));
        dl.appendChild(h('dd', {}, [renderValue(v[k], depth + 1)]));
      });
      return dl;
    }
    return h('span', { text: typeof v === 'number' ? num(v, 4) : String(v) });
  }

  function recommendationSection(sweep) {
    if (sweep.recommendation === undefined || sweep.recommendation === null) return null;
    return h('section', { class: 'bl-card bl-recommendation', id: 'recommendation' }, [
      h('h2', { text: 'Recommendation' }),
      renderValue(sweep.recommendation, 0),
    ]);
  }

  function findingsSection(sweep) {
    var findings = Array.isArray(sweep.findings) ? sweep.findings : [];
    if (findings.length === 0) return null;
    return h('section', { class: 'bl-card', id: 'findings' }, [
      h('h2', { text: 'What this sweep shows' }),
      h(
        'ul',
        { class: 'bl-findings' },
        findings.map((f) => {
          var verdict =
            f.agreesWithSeed === true
              ? ['agrees', 'agrees with the seed']
              : f.agreesWithSeed === false
                ? ['contradicts', 'contradicts the seed']
                : ['undecided', 'not decidable'];
          return h('li', { class: 'bl-finding bl-' + verdict[0], 'data-agrees': String(f.agreesWithSeed) }, [
            h('span', { class: 'bl-badge', text: verdict[1] }),
            h('span', { class: 'bl-effect', text: f.effect }),
            ' ' + f.text,
          ]);
        }),
      ),
    ]);
  }

  var RUN_COLUMNS = [
    ['run', (r) => r.key],
    ['B', (r) => r.batchSize],
    ['b x k', (r) => r.microBatchSize + ' x ' + r.accumSteps],
    ['seed', (r) => r.seed],
    ['lr', (r) => num(r.lr)],
    ['status', (r) => r.status],
    ['steps', (r) => num(r.stepCount)],
    ['samples/s', (r) => num(samplesPerSecOf(r))],
    ['ms/step', (r) => num(stepMsOf(r))],
    ['peak MB', (r) => mb(peakBytesOf(r))],
    ['train loss', (r) => num(get(r.summary, 'final.train.loss'), 4)],
    ['held-out loss', (r) => num(get(r.summary, 'final.test.loss'), 4)],
    ['held-out acc', (r) => pct(get(r.summary, 'final.test.accuracy'))],
    [
      'gap',
      (r) => {
        var g = get(r.summary, 'gap');
        return g ? (isNum(g.accuracy) ? pct(g.accuracy) : num(g.loss, 3)) : '-';
      },
    ],
    ['B_simple', (r) => num(get(r.summary, 'noise.bSimple'))],
    [
      'steps to target',
      (r) => {
        var t = get(r.summary, 'target');
        return t ? (t.reached ? num(t.steps) : 'not reached') : '-';
      },
    ],
    ['reason', (r) => r.reason || ''],
  ];

  function runsSection(data, selected, onToggle) {
    var rows = sortRuns(data.runs).map((r) => {
      var box = h('input', {
        type: 'checkbox',
        'data-run-id': r.id,
        'aria-label': 'compare ' + r.key,
        disabled: isFailed(r),
        onchange: (ev) => {
          onToggle(r.id, ev.target.checked);
        },
      });
      box.checked = selected.has(r.id);
      return h(
        'tr',
        { class: isFailed(r) ? 'bl-failed' : '', 'data-run-id': r.id },
        [h('td', {}, [box, h('span', { class: 'bl-swatch', style: 'background:' + r.color })])].concat(
          RUN_COLUMNS.map((c) => h('td', { text: c[1](r) })),
        ),
      );
    });
    return h('section', { class: 'bl-card', id: 'runs' }, [
      h('h2', { text: 'Runs' }),
      h('p', {
        class: 'bl-hint',
        text: 'Tick runs to compare only those in the charts; failed runs (out of memory, diverged, ...) are listed with their reason and left out of the charts.',
      }),
      h('div', { class: 'bl-scroll' }, [
        h('table', { class: 'bl-table' }, [
          h('thead', {}, [
            h('tr', {}, [h('th', { text: 'compare' })].concat(RUN_COLUMNS.map((c) => h('th', { text: c[0] })))),
          ]),
          h('tbody', {}, rows),
        ]),
      ]),
    ]);
  }

  /** {a: {b: 1}} -> [["a.b", "1"]]; arrays of scalars joined with commas. */
  function flatten(obj, prefix, out) {
    Object.keys(obj || {}).forEach((k) => {
      var v = obj[k],
        key = prefix ? prefix + '.' + k : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else
        out.push([
          key,
          Array.isArray(v)
            ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ')
            : String(v),
        ]);
    });
    return out;
  }

  function settingsSection(e) {
    var table = (title, obj) => {
      var rows = flatten(obj, '', []);
      return h('div', {}, [
        h('h3', { text: title }),
        rows.length === 0
          ? h('p', { text: '(none recorded)' })
          : h('table', { class: 'bl-table bl-kv' }, [
              h(
                'tbody',
                {},
                rows.map((r) => h('tr', {}, [h('th', { text: r[0] }), h('td', { text: r[1] })])),
              ),
            ]),
      ]);
    };
    return h('section', { class: 'bl-card bl-settings', id: 'settings' }, [
      h('h2', { text: 'Settings and environment' }),
      table('Run settings (model, data, optimizer, LR rule, seed, budget)', e.settings),
      table('Environment (backend, versions, hardware)', e.env),
    ]);
  }

  // ---- the app ---------------------------------------------------------------------------------

  /**
   * Draws `data` into `root`. options.mode: 'report' or 'live'. Returns { update(data),
   * appendSteps(runId, cols), destroy() } for the dashboard's live updates.
   */
  function mount(root, data, options) {
    var mode = (options && options.mode) || 'report';
    var state = { data: data, selected: new Set(), logX: {}, charts: [], liveTail: {}, refreshTimer: null };
    var published = (window.__batchlab = { ready: false, drawnMs: null, charts: [], mode: mode });
    var chartsEl, runsEl;

    function chartWidth() {
      var w = root.clientWidth || 1200;
      return Math.max(320, Math.floor(w >= 1100 ? (w - 24) / 2 : w) - 34);
    }

    function publish() {
      published.charts = state.charts.map((c) => {
        var runSeries = c.spec.series.filter((s) => s.runId !== undefined);
        return {
          id: c.spec.id,
          title: c.spec.title,
          section: c.spec.section,
          xLog: c.logX,
          batchSizes: Array.from(new Set(runSeries.map((s) => s.batchSize))).sort((a, b) => a - b),
          series: c.spec.series.map((s) => {
            var xs = s.xs.filter(isNum);
            return {
              label: s.label,
              runId: s.runId,
              batchSize: s.batchSize,
              color: s.color,
              fit: !!s.fit,
              points: xs.length,
              lastX: xs.length ? xs[xs.length - 1] : null,
            };
          }),
          markers: (c.spec.markers || []).map((m) => ({ axis: m.axis, value: m.value, label: m.label })),
        };
      });
    }

    function drawChart(card, spec, pending) {
      var logX = state.logX[spec.id] !== undefined ? state.logX[spec.id] : spec.xLog;
      var holder = card.querySelector('.bl-plot');
      holder.textContent = '';
      var drawn = false;
      var u = new uPlot(
        uplotOptions(spec, chartWidth(), logX, () => {
          if (!drawn) {
            drawn = true;
            pending && pending();
          }
        }),
        alignedData(spec, logX),
        holder,
      );
      return { spec: spec, u: u, logX: logX, card: card };
    }

    function chartCard(spec, pending) {
      var card = h('figure', { class: 'bl-chart', id: 'chart-' + spec.id, 'data-chart': spec.id });
      var entry;
      var buttons = [
        spec.xLogToggle &&
          h('button', {
            type: 'button',
            class: 'bl-logx',
            text: 'log x',
            onclick: () => {
              state.logX[spec.id] = !entry.logX;
              var i = state.charts.indexOf(entry);
              entry.u.destroy();
              entry = state.charts[i] = drawChart(card, entry.spec);
              card.classList.toggle('bl-is-log', entry.logX);
              publish();
            },
          }),
        h('button', {
          type: 'button',
          class: 'bl-png',
          text: 'PNG',
          onclick: () => {
            download('batchlab-' + spec.id + '.png', chartPng(entry.u, entry.spec));
          },
        }),
        h('button', {
          type: 'button',
          class: 'bl-svg',
          text: 'SVG',
          onclick: () => {
            download(
              'batchlab-' + spec.id + '.svg',
              URL.createObjectURL(new Blob([chartSvg(entry.u, entry.spec)], { type: 'image/svg+xml' })),
            );
          },
        }),
      ];
      card.appendChild(
        h('figcaption', {}, [
          h('span', { class: 'bl-section', text: spec.section }),
          h('strong', { text: spec.title }),
          h('span', { class: 'bl-tools' }, buttons),
        ]),
      );
      card.appendChild(h('div', { class: 'bl-plot' }));
      if (spec.note) card.appendChild(h('p', { class: 'bl-note', text: spec.note }));
      chartsEl.appendChild(card);
      entry = drawChart(card, spec, pending);
      card.classList.toggle('bl-is-log', entry.logX);
      return entry;
    }

    function renderCharts() {
      var t0 = performance.now();
      state.charts.forEach((c) => {
        c.u.destroy();
      });
      chartsEl.textContent = '';
      var specs = buildSpecs(state.data, state.selected);
      var left = specs.length;
      published.ready = false;
      var done = () => {
        if (--left > 0) return;
        published.ready = true;
        published.drawnMs = performance.now();
        published.renderMs = performance.now() - t0;
      };
      if (specs.length === 0) {
        chartsEl.appendChild(
          h('p', { class: 'bl-hint', text: 'No chartable runs yet: charts appear once a run has steps.' }),
        );
        done();
      }
      state.charts = specs.map((s) => chartCard(s, done));
      publish();
    }

    function renderRuns() {
      var fresh = runsSection(state.data, state.selected, (id, on) => {
        if (on) state.selected.add(id);
        else state.selected.delete(id);
        renderCharts();
      });
      runsEl.replaceWith(fresh);
      runsEl = fresh;
    }

    function renderAll() {
      root.textContent = '';
      var sweep = state.data.experiment.summary || {};
      chartsEl = h('section', { class: 'bl-charts', id: 'charts' });
      runsEl = h('section');
      [
        headerSection(state.data, mode),
        recommendationSection(sweep),
        findingsSection(sweep),
        chartsEl,
        runsEl,
        settingsSection(state.data.experiment),
      ].forEach((el) => {
        if (el) root.appendChild(el);
      });
      renderRuns();
      renderCharts();
    }

    /** Adds new steps (columns step, samples, loss, stepMs) to one run; steps it already has are skipped. */
    function addSteps(run, cols) {
      var added = 0;
      for (var i = 0; i < cols.step.length; i++) {
        if (cols.step[i] <= run.lastStep) continue;
        var ms = cols.stepMs[i];
        run.lastWallS += isNum(ms) ? ms / 1000 : 0;
        run.lastStep = cols.step[i];
        run.stepCount += 1;
        run.steps.step.push(cols.step[i]);
        run.steps.samples.push(cols.samples[i]);
        run.steps.wallS.push(run.lastWallS);
        run.steps.loss.push(isNum(cols.loss[i]) ? cols.loss[i] : null);
        run.steps.stepMs.push(isNum(ms) ? ms : null);
        added++;
      }
      return added;
    }

    function scheduleRefresh() {
      if (state.refreshTimer !== null) return;
      // a timer, not requestAnimationFrame: background tabs must keep up too
      state.refreshTimer = setTimeout(() => {
        state.refreshTimer = null;
        renderCharts();
        renderRuns();
      }, 100);
    }

    renderAll();
    window.addEventListener('resize', () => {
      state.charts.forEach((c) => {
        c.u.setSize({ width: chartWidth(), height: CHART_HEIGHT_PX });
      });
    });

    return {
      /** Replaces the data (a run finished, a new run started), keeping steps that arrived live after it. */
      update: (next) => {
        next.runs.forEach((run) => {
          var tail = state.liveTail[run.id];
          if (!tail) return;
          var serverLast = run.lastStep;
          addSteps(run, tail);
          // the server's data now covers steps up to serverLast; only later ones stay in the tail
          var keep = tail.step.map((s) => s > serverLast);
          ['step', 'samples', 'loss', 'stepMs'].forEach((k) => {
            tail[k] = tail[k].filter((_, i) => keep[i]);
          });
        });
        state.data = next;
        renderAll();
      },
      /** Appends live steps of run `runId`; returns how many were new. */
      appendSteps: (runId, cols) => {
        var run = state.data.runs.filter((r) => r.id === runId)[0];
        if (!run) return 0;
        var tail = state.liveTail[runId] || (state.liveTail[runId] = { step: [], samples: [], loss: [], stepMs: [] });
        ['step', 'samples', 'loss', 'stepMs'].forEach((k) => {
          Array.prototype.push.apply(tail[k], cols[k]);
        });
        var added = addSteps(run, cols);
        if (added > 0) scheduleRefresh();
        return added;
      },
      /** Points the page holds for one run (the dashboard refetches downsampled data when it grows large). */
      pointsOf: (runId) => {
        var run = state.data.runs.filter((r) => r.id === runId)[0];
        return run ? run.steps.step.length : 0;
      },
      destroy: () => {
        state.charts.forEach((c) => {
          c.u.destroy();
        });
        root.textContent = '';
      },
    };
  }

  window.BatchlabApp = { mount: mount, buildSpecs: buildSpecs, chartSvg: chartSvg };
})();
