/*
 * The live dashboard of `batchlab serve`: the experiments list, and an experiment page drawn by
 * BatchlabApp (web/app.js) and kept current over Server-Sent Events (docs/api.md): `steps` events
 * append points, `changed` events (a run started or finished, a summary was written) reload the data.
 */
(() => {
  var RELOAD_DELAY_MS = 200;
  var RECONNECT_DELAY_MS = 1000;
  var LIST_REFRESH_MS = 3000;

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => {
      if (k === 'text') el.textContent = attrs[k];
      else el.setAttribute(k, attrs[k]);
    });
    (children || []).forEach((c) => {
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return el;
  }

  function getJson(url) {
    return fetch(url, { headers: { accept: 'application/json' } }).then((res) =>
      res.json().then((body) => {
        if (!res.ok) throw new Error((body && body.error && body.error.message) || res.status + ' ' + res.statusText);
        return body;
      }),
    );
  }

  function setLive(text, on) {
    var el = document.getElementById('live');
    if (!el) return;
    el.textContent = text;
    el.className = 'bl-live ' + (on ? 'bl-on' : 'bl-off');
  }

  function showError(root, err) {
    root.textContent = '';
    root.appendChild(h('p', { class: 'bl-card', role: 'alert', text: String(err && err.message ? err.message : err) }));
  }

  // ---- experiments list ------------------------------------------------------------------------

  function listPage(root) {
    function draw(list) {
      var rows = list.map((e) => {
        var counts = Object.keys(e.runCounts)
          .map((s) => e.runCounts[s] + ' ' + s)
          .join(', ');
        return h('tr', { 'data-experiment-id': String(e.id) }, [
          h('td', {}, [h('a', { href: '/experiments/' + e.id, text: '#' + e.id })]),
          h('td', { text: e.kind }),
          h('td', { text: e.status }),
          h('td', { text: e.createdAt }),
          h('td', { text: e.runCount + (counts ? ' (' + counts + ')' : '') }),
          h('td', {}, [h('a', { href: '/experiments/' + e.id + '/report.html', text: 'report' })]),
        ]);
      });
      root.textContent = '';
      root.appendChild(
        h('section', { class: 'bl-card' }, [
          h('h1', { text: 'Experiments' }),
          list.length === 0
            ? h('p', { class: 'bl-hint', text: 'No experiments yet: run `batchlab sweep` and they appear here.' })
            : h('table', { class: 'bl-table', id: 'experiments' }, [
                h('thead', {}, [
                  h(
                    'tr',
                    {},
                    ['id', 'kind', 'status', 'created', 'runs', ''].map((t) => h('th', { text: t })),
                  ),
                ]),
                h('tbody', {}, rows),
              ]),
        ]),
      );
    }
    function refresh() {
      getJson('/api/experiments')
        .then((list) => {
          draw(list);
          setLive('updated ' + new Date().toLocaleTimeString(), true);
        })
        .catch((err) => {
          setLive('server unreachable', false);
          if (!root.firstChild) showError(root, err);
        });
    }
    refresh();
    setInterval(refresh, LIST_REFRESH_MS);
  }

  // ---- one experiment, live --------------------------------------------------------------------

  function experimentPage(root, id) {
    var app = null,
      source = null,
      reloadTimer = null,
      data = null;

    function cursorOf(d) {
      return d.runs.map((r) => r.id + ':' + r.lastStep).join(',');
    }

    function load() {
      return getJson('/api/experiments/' + id + '/report').then((d) => {
        data = d;
        document.title = 'batchlab: experiment ' + d.experiment.id + ' (' + d.experiment.kind + ')';
        if (app) app.update(d);
        else app = BatchlabApp.mount(root, d, { mode: 'live' });
        return d;
      });
    }

    function scheduleReload() {
      if (reloadTimer !== null) return;
      reloadTimer = setTimeout(() => {
        reloadTimer = null;
        load().catch((err) => {
          setLive('reload failed: ' + err.message, false);
        });
      }, RELOAD_DELAY_MS);
    }

    function connect() {
      source = new EventSource('/api/experiments/' + id + '/events?cursor=' + encodeURIComponent(cursorOf(data)));
      source.addEventListener('open', () => {
        setLive('live', true);
      });
      source.addEventListener('steps', (ev) => {
        var msg = JSON.parse(ev.data);
        app.appendSteps(msg.runId, msg.steps);
        // the page appends raw points; once a run has far more than the server would send, re-downsample
        if (app.pointsOf(msg.runId) > 4 * data.maxPointsPerRun) scheduleReload();
        setLive(
          'live \u00b7 step ' +
            msg.steps.step[msg.steps.step.length - 1] +
            ' of run ' +
            msg.runId +
            ' at ' +
            new Date().toLocaleTimeString(),
          true,
        );
      });
      source.addEventListener('changed', scheduleReload);
      source.addEventListener('error', () => {
        // EventSource would reconnect with the first cursor; reconnect with what the page has now
        setLive('disconnected, reconnecting', false);
        source.close();
        setTimeout(() => {
          load().then(connect, () => {
            setTimeout(connect, RECONNECT_DELAY_MS);
          });
        }, RECONNECT_DELAY_MS);
      });
    }

    load()
      .then(connect)
      .catch((err) => {
        setLive('not available', false);
        showError(root, err);
      });
  }

  var body = document.body;
  var root = document.getElementById('app');
  if (body.getAttribute('data-page') === 'experiment') experimentPage(root, body.getAttribute('data-experiment-id'));
  else listPage(root);
})();
