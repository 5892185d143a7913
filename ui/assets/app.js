// hotcold console. Plain JavaScript, no library. Every piece of data is
// put into the page with textContent or as an input's value, never as HTML.
'use strict';

const main = document.getElementById('main');
let poll = null; // the timer of the view shown, cleared on navigation

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const err = new Error((data && data.error) || (r.status + ' ' + r.statusText));
    err.status = r.status;
    err.data = data;
    throw err;
  }
  return { status: r.status, data };
}

function fmtTime(s) {
  if (!s || s.startsWith('0001-')) return '–';
  const d = new Date(s);
  return isNaN(d) ? s : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function fmtDur(sec) {
  if (sec < 0) return 'unknown';
  if (sec < 120) return Math.round(sec) + ' s';
  if (sec < 7200) return Math.round(sec / 60) + ' min';
  if (sec < 172800) return (sec / 3600).toFixed(1) + ' h';
  return (sec / 86400).toFixed(1) + ' days';
}

function badge(text, cls) { return el('span', { class: 'badge ' + (cls || text), text }); }
function errorBox(msg) { return el('div', { class: 'errors', role: 'alert' }, el('pre', { text: msg })); }
function show(...nodes) { main.replaceChildren(...nodes.flat().filter(n => n !== null && n !== undefined && n !== false)); }

// ---------------------------------------------------------------- routing

function route() {
  if (poll) { clearInterval(poll); poll = null; }
  const h = location.hash || '#/cases';
  const parts = h.slice(2).split('/').map(decodeURIComponent);
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === '#/' + parts[0]);
  }
  const views = { cases: parts[1] ? () => caseView(parts[1]) : casesView, reports: parts.length > 1 ? () => reportView(parts.slice(1).join('/')) : reportsView,
    migrations: parts[1] ? () => migrationView(parts[1]) : migrationsView, cold: coldView };
  (views[parts[0]] || casesView)().catch(e => show(errorBox(e.message)));
}
window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', route);

// ---------------------------------------------------------------- mock cases

async function casesView() {
  show(el('h1', { text: 'Mock cases' }), el('p', { class: 'muted', text: 'Loading…' }));
  const [{ data: info }, res] = await Promise.all([api('GET', '/api/info'), api('GET', '/api/cases').catch(e => e)]);
  if (res instanceof Error) { show(el('h1', { text: 'Mock cases' }), errorBox(res.message)); return; }
  const rows = res.data.map(c => el('tr', {},
    el('td', {}, el('a', { href: '#/cases/' + encodeURIComponent(c.name), text: c.name })),
    el('td', { text: c.invalid ? 'invalid: ' + c.invalid : (c.description || '') }),
    el('td', { text: String(c.runs) }),
    el('td', {}, c.last ? badge(c.last.verdict) : el('span', { class: 'muted', text: 'never run' })),
    el('td', { text: c.last ? fmtTime(c.last.started) : '' }),
    el('td', { text: c.last ? (c.last.reason || '') : '' })));
  show(el('h1', { text: 'Mock cases' }),
    el('p', { class: 'muted', text: 'Store: ' + info.store + (info.can_run ? '' : ' (running is off: start hotcold ui with --brokers)') }),
    rows.length ? el('div', { class: 'scroll' }, el('table', { class: 'list', id: 'cases' },
      el('tr', {}, ['case', 'description', 'runs', 'last result', 'last run', 'reason'].map(t => el('th', { text: t }))), rows))
      : el('p', { text: 'No cases in this store yet: push one with hotcold mock push CASE --store ' + info.store }));
}

// A grid is the editable form of one JSONL file: a source's messages or
// the expected rows. Rows keep the fields the grid does not show.
const MSG_FIELDS = ['key', 'value', 'headers', 'timestamp', 'partition', 'after', 'note'];

function toText(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function fromText(t, kind) {
  const s = t.trim();
  if (s === 'null') return null;
  if (kind === 'number' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(s)) return JSON.parse(s);
  if (kind === 'boolean' && (s === 'true' || s === 'false')) return s === 'true';
  if (kind === 'json') { try { return JSON.parse(s); } catch (e) { return t; } }
  if (kind === 'int' && /^-?\d+$/.test(s)) return Number(s);
  return t;
}

function parseLines(text) {
  const lines = text.split('\n');
  const head = [];
  const rows = [];
  lines.forEach((ln, i) => {
    const t = ln.trim();
    if (t === '' || t.startsWith('#')) { if (rows.length === 0 && t !== '') head.push(ln); return; }
    let obj;
    try { obj = JSON.parse(t); } catch (e) { obj = { __bad: t }; }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) obj = { __bad: t };
    rows.push({ obj, line: i + 1 });
  });
  return { head, rows };
}

class Grid {
  constructor(kind, file, columns, text, onChange) {
    this.kind = kind; // 'source' or 'expect'
    this.file = file;
    this.columns = columns || [];
    const p = parseLines(text || '');
    this.head = p.head;
    this.rows = p.rows.map(r => ({ line: r.line, cells: this.cellsOf(r.obj), extra: this.extraOf(r.obj) }));
    this.onChange = onChange;
    this.errors = [];
    const used = new Set();
    for (const r of p.rows) for (const k of Object.keys(r.obj)) used.add(k);
    this.fields = this.kind === 'expect' ? [] : MSG_FIELDS.filter(f =>
      ['timestamp', 'after', 'note'].includes(f) || used.has(f) || used.has(f + '_text') || (this.columns.length === 0 && f === 'value'));
    this.showOp = this.kind === 'source' && this.columns.length > 0;
  }
  cellsOf(obj) {
    const c = {};
    if (obj.__bad !== undefined) { c.__bad = obj.__bad; return c; }
    if (this.kind === 'expect') { for (const col of this.columns) c['row.' + col.name] = toText(obj[col.name]); return c; }
    if (obj.row && typeof obj.row === 'object') for (const col of this.columns) c['row.' + col.name] = toText(obj.row[col.name]);
    c.op = obj.op || '';
    for (const f of MSG_FIELDS) c[f] = toText(obj[f]);
    if (obj.key_text !== undefined) c.key = obj.key_text;
    if (obj.value_text !== undefined) c.value = obj.value_text;
    return c;
  }
  extraOf(obj) {
    const known = new Set(this.kind === 'expect' ? this.columns.map(c => c.name) : ['row', 'op', 'key_text', 'value_text', ...MSG_FIELDS]);
    const x = {};
    for (const [k, v] of Object.entries(obj)) if (!known.has(k) && k !== '__bad') x[k] = v;
    return x;
  }
  lineOf(r) {
    if (r.cells.__bad !== undefined) return r.cells.__bad;
    if (this.kind === 'expect') {
      const o = {};
      for (const col of this.columns) { const t = r.cells['row.' + col.name]; if (t !== undefined && t !== '') o[col.name] = fromText(t, col.json); }
      return JSON.stringify(Object.assign(o, r.extra));
    }
    const o = {};
    if (r.cells.op) o.op = r.cells.op;
    const row = {};
    let any = false;
    for (const col of this.columns) { const t = r.cells['row.' + col.name]; if (t !== undefined && t !== '') { row[col.name] = fromText(t, col.json); any = true; } }
    if (any) o.row = row;
    const kinds = { key: 'json', value: 'json', headers: 'json', timestamp: 'string', partition: 'int', after: 'string', note: 'string' };
    for (const f of MSG_FIELDS) { const t = r.cells[f]; if (t !== undefined && t !== '') o[f] = fromText(t, kinds[f]); }
    return JSON.stringify(Object.assign(o, r.extra));
  }
  text() {
    const out = this.head.slice();
    this.rows.forEach(r => { r.line = out.length + 1; out.push(this.lineOf(r)); });
    return out.join('\n') + '\n';
  }
  cellKeys() {
    const ks = [];
    if (this.showOp) ks.push('op');
    for (const c of this.columns) ks.push('row.' + c.name);
    return ks.concat(this.fields);
  }
  header(k) {
    if (k.startsWith('row.')) { const c = this.columns.find(c => 'row.' + c.name === k); return c.name + (c.key ? ' (key)' : ''); }
    return k === 'after' ? 'after (wait)' : k;
  }
  render() {
    const keys = this.cellKeys();
    const errs = {};
    const lineErr = {};
    for (const e of this.errors) {
      if (e.file !== this.file) continue;
      const k = e.line + '|' + (e.cell || '');
      (e.cell ? errs : lineErr)[e.cell ? k : e.line] = ((e.cell ? errs[k] : lineErr[e.line]) || []).concat([e.problem]);
    }
    const trs = this.rows.map((r, i) => {
      const tds = keys.map(k => {
        const msgs = errs[r.line + '|' + k];
        const input = el('input', { class: 'cell', 'data-row': i, 'data-cell': k, 'aria-label': this.header(k) + ' of row ' + (i + 1) });
        input.value = r.cells.__bad !== undefined ? (k === keys[0] ? r.cells.__bad : '') : (r.cells[k] || '');
        input.addEventListener('input', () => {
          if (r.cells.__bad !== undefined) { r.cells = this.cellsOf({}); }
          r.cells[k] = input.value;
          this.onChange();
        });
        return el('td', { class: msgs ? 'invalid' : null, title: msgs ? msgs.join('\n') : null }, input,
          msgs ? msgs.map(m => el('div', { class: 'cell-error', text: m })) : null);
      });
      const le = lineErr[r.line];
      return el('tr', { 'data-line': r.line },
        el('td', { class: 'num' + (le ? ' invalid' : ''), title: le ? le.join('\n') : null }, String(i + 1), le ? le.map(m => el('div', { class: 'cell-error', text: m })) : null),
        ...tds,
        el('td', { class: 'actions' },
          el('button', { class: 'mini', title: 'move up', 'aria-label': 'move row ' + (i + 1) + ' up', disabled: i === 0, onclick: () => this.move(i, -1) }, '↑'),
          el('button', { class: 'mini', title: 'move down', 'aria-label': 'move row ' + (i + 1) + ' down', disabled: i === this.rows.length - 1, onclick: () => this.move(i, 1) }, '↓'),
          el('button', { class: 'mini', title: 'duplicate', 'aria-label': 'duplicate row ' + (i + 1), onclick: () => this.dup(i) }, 'copy'),
          el('button', { class: 'mini', title: 'remove', 'aria-label': 'remove row ' + (i + 1), onclick: () => this.remove(i) }, '✕')));
    });
    const table = el('table', { class: 'grid', 'data-file': this.file },
      el('tr', {}, el('th', { class: 'num', text: '#' }), keys.map(k => el('th', { text: this.header(k) })), el('th', { text: '' })), trs);
    return el('div', {}, el('div', { class: 'scroll' }, table),
      el('div', { class: 'toolbar' }, el('button', { onclick: () => this.add(), class: 'add-row' }, '+ row')));
  }
  move(i, d) { const r = this.rows.splice(i, 1)[0]; this.rows.splice(i + d, 0, r); this.onChange(true); }
  dup(i) { const r = this.rows[i]; this.rows.splice(i + 1, 0, { cells: Object.assign({}, r.cells), extra: Object.assign({}, r.extra), line: 0 }); this.onChange(true); }
  remove(i) { this.rows.splice(i, 1); this.onChange(true); }
  add() { this.rows.push({ cells: this.cellsOf({}), extra: {}, line: 0 }); this.onChange(true); }
}

async function caseView(name) {
  show(el('h1', { text: name }), el('p', { class: 'muted', text: 'Loading…' }));
  const [{ data: info }, { data: d }] = await Promise.all([api('GET', '/api/info'), api('GET', '/api/cases/' + encodeURIComponent(name))]);
  const st = { d, valid: d, files: Object.assign({}, d.files), dirty: false, tab: null, grids: {}, checkTimer: null };

  const errorsPanel = el('div', { id: 'case-errors' });
  const saveState = el('span', { id: 'save-state', class: 'muted' });
  const gridBox = el('div', { id: 'grid' });
  const tabs = el('div', { class: 'tabs', id: 'tabs' });
  const timeline = el('div', { id: 'timeline' });
  const yamlArea = el('textarea', { class: 'yaml', id: 'case-yaml', spellcheck: 'false', 'aria-label': 'case.yaml' });
  yamlArea.value = st.files['case.yaml'] || '';
  yamlArea.addEventListener('input', () => { st.files['case.yaml'] = yamlArea.value; changed(); });
  const runBtn = el('button', { class: 'primary', id: 'run', disabled: !info.can_run, onclick: () => run() }, 'Run');
  const saveBtn = el('button', { id: 'save', onclick: () => save() }, 'Save');
  const runStatus = el('div', { id: 'run-status' });
  const resultBox = el('div', { id: 'result' });
  const historyBox = el('div', { id: 'history' });

  function buildGrids() {
    st.grids = {};
    const v = st.valid;
    for (const s of v.sources) {
      if (s.file) st.grids['source:' + s.name] = new Grid('source', s.file, s.columns, st.files[s.file] || '', g => changed(g));
    }
    if (v.expect.file) st.grids.expect = new Grid('expect', v.expect.file, v.sink.columns, st.files[v.expect.file] || '', g => changed(g));
    if (!st.tab || !st.grids[st.tab]) st.tab = Object.keys(st.grids)[0] || null;
  }
  function renderTabs() {
    tabs.replaceChildren(...st.valid.sources.map(s => el('button', { class: st.tab === 'source:' + s.name ? 'active' : null, 'data-tab': 'source:' + s.name,
      onclick: () => { st.tab = 'source:' + s.name; renderTabs(); renderGrid(); } }, 'source ' + s.name + (s.file ? '' : ' (inline)'))),
    el('button', { class: st.tab === 'expect' ? 'active' : null, 'data-tab': 'expect', onclick: () => { st.tab = 'expect'; renderTabs(); renderGrid(); } }, 'expected table'));
  }
  function renderGrid() {
    const g = st.grids[st.tab];
    if (!g) {
      const s = st.valid.sources.find(s => 'source:' + s.name === st.tab);
      gridBox.replaceChildren(el('p', { class: 'notice', text: s ? 'The messages of ' + s.name + ' are written inline in case.yaml: edit them there (below), or move them to a JSONL file to edit them here.' : 'The expected rows are inline in case.yaml: edit them below.' }));
      return;
    }
    g.errors = st.d.errors || [];
    const v = st.valid;
    const src = v.sources.find(s => 'source:' + s.name === st.tab);
    const meta = src ? 'topic ' + src.topic + ', format ' + src.format + ', file ' + g.file + '; the schedule interval is ' + v.schedule.interval_ms + ' ms unless a row sets "after"'
      : 'sink ' + v.sink.topic + ' (' + v.sink.format + '), file ' + g.file;
    // Keep the cell being typed in focused across the re-render that
    // shows the server's validation.
    const a = document.activeElement;
    const focus = a && a.dataset && a.dataset.cell ? { row: a.dataset.row, cell: a.dataset.cell, pos: a.selectionStart } : null;
    gridBox.replaceChildren(el('p', { class: 'muted', text: meta }), g.render());
    if (focus) {
      const i = gridBox.querySelector('input[data-row="' + focus.row + '"][data-cell="' + CSS.escape(focus.cell) + '"]');
      if (i) { i.focus(); try { i.setSelectionRange(focus.pos, focus.pos); } catch (e) { /* not a text input */ } }
    }
  }
  function renderErrors() {
    const es = st.d.errors || [];
    errorsPanel.replaceChildren(es.length ? el('div', { class: 'errors', role: 'alert' }, el('strong', { text: es.length + (es.length === 1 ? ' problem' : ' problems') + ' (hotcold mock check):' }),
      el('pre', { text: es.map(e => e.text).join('\n') })) : el('p', { class: 'ok', text: 'The case is valid.' }));
  }
  function renderTimeline() {
    const steps = st.d.steps || [];
    if (!steps.length) { timeline.replaceChildren(el('p', { class: 'muted', text: 'No schedule while the case is invalid.' })); return; }
    const total = Math.max(1, steps[steps.length - 1].at_ms);
    const lanes = st.d.sources.map(s => {
      const lane = el('div', { class: 'lane' }, el('span', { class: 'lane-name', text: s.name, title: s.name }));
      for (const stp of steps.filter(x => x.source === s.name)) {
        lane.append(el('span', { class: 'dot', style: null, title: '#' + (stp.seq + 1) + ' ' + s.name + ' message ' + (stp.index + 1) + ' at ' + stp.at_ms + ' ms (wait ' + stp.wait_ms + ' ms)', text: String(stp.seq + 1) }));
        lane.lastChild.style.left = (stp.at_ms / total * 96 + 2) + '%';
      }
      return lane;
    });
    timeline.replaceChildren(el('div', { class: 'timeline', id: 'schedule' }, lanes),
      el('div', { class: 'axis' }, el('span', { text: '0 ms' }), el('span', { text: total + ' ms' })),
      el('p', { class: 'muted', text: 'Arrival order (' + (st.d.schedule.by || 'sources') + '): ' + steps.map(s => s.source + '#' + (s.index + 1)).join(' → ') }));
  }
  function changed(structural) {
    st.dirty = true;
    for (const g of Object.values(st.grids)) st.files[g.file] = g.text();
    saveState.textContent = 'unsaved changes';
    if (structural) renderGrid();
    clearTimeout(st.checkTimer);
    st.checkTimer = setTimeout(check, 300);
  }
  async function check() {
    const { data } = await api('POST', '/api/cases/' + encodeURIComponent(name) + '/check', { files: st.files });
    applyDetail(data, false);
  }
  function applyDetail(data, rebuild) {
    // An invalid case has no columns or topics to show: the grids keep
    // those of the last valid state (st.valid) and show the problems.
    const shape = d => JSON.stringify(d.sources.map(s => [s.name, s.file, s.columns])) + JSON.stringify(d.sink.columns);
    const oldShape = shape(st.valid);
    st.d = data;
    if (data.sink.columns) st.valid = data;
    if (rebuild || (data.sink.columns && shape(data) !== oldShape)) buildGrids();
    renderTabs(); renderGrid(); renderErrors(); renderTimeline();
  }
  async function save() {
    clearTimeout(st.checkTimer);
    try {
      const { data } = await api('PUT', '/api/cases/' + encodeURIComponent(name), { files: st.files });
      st.dirty = false;
      saveState.textContent = 'saved to ' + data.where;
      applyDetail(data, false);
      return true;
    } catch (e) {
      if (e.data && e.data.errors) { applyDetail(e.data, false); saveState.textContent = 'not saved: fix the problems first'; return false; }
      saveState.textContent = 'not saved: ' + e.message;
      return false;
    }
  }
  async function run() {
    if (st.dirty && !(await save())) return;
    runBtn.disabled = true;
    resultBox.replaceChildren();
    let job;
    try { job = (await api('POST', '/api/cases/' + encodeURIComponent(name) + '/run', {})).data; } catch (e) { runStatus.replaceChildren(errorBox(e.message)); runBtn.disabled = false; return; }
    const bar = el('progress', { max: Math.max(1, job.total), value: 0, id: 'run-progress' });
    const text = el('span', { id: 'run-phase' });
    runStatus.replaceChildren(el('div', { class: 'panel' }, el('strong', { text: 'Running ' + name + ' ' }), badge('running'), el('div', {}, bar), text));
    const tick = async () => {
      let v;
      try { v = (await api('GET', '/api/jobs/' + job.id)).data; } catch (e) { return; }
      bar.value = v.sent;
      text.textContent = v.phase + ': sent ' + v.sent + '/' + v.total + ', received ' + v.received;
      if (v.state !== 'running') {
        clearInterval(poll); poll = null;
        runBtn.disabled = false;
        runStatus.replaceChildren(v.error && !v.summary ? errorBox(v.error) : el('div', { class: 'muted', text: 'Run finished: sent ' + v.sent + ', received ' + v.received + (v.error ? '; ' + v.error : '') }));
        if (v.summary) await showResult(v.summary.run_id);
        await loadHistory();
      }
    };
    poll = setInterval(tick, 250);
    tick();
  }
  async function showResult(runID) {
    const { data: r } = await api('GET', '/api/cases/' + encodeURIComponent(name) + '/runs/' + encodeURIComponent(runID));
    const s = r.summary;
    const head = el('div', { class: 'toolbar' }, el('strong', { text: 'Result of ' + s.run_id }), badge(s.verdict), el('span', { id: 'verdict', 'data-verdict': s.verdict, text: s.verdict.toUpperCase() + (s.reason ? ': ' + s.reason : '') }));
    const cols = r.columns;
    const rows = r.rows.map(row => el('tr', { class: row.mark ? 'row-' + row.mark : null, 'data-mark': row.mark || 'same' },
      el('td', { class: 'num', text: row.mark || '' }),
      cols.map(c => {
        const exp = row.expected && Object.prototype.hasOwnProperty.call(row.expected, c) ? row.expected[c] : undefined;
        return el('td', { class: exp !== undefined ? 'cell-changed' : null, 'data-col': c }, row.cells[c] === undefined ? '' : row.cells[c],
          exp !== undefined ? el('span', { class: 'expected', text: 'expected ' + exp }) : null);
      })));
    resultBox.replaceChildren(el('div', { class: 'panel' }, head,
      s.problems && s.problems.length ? el('ul', {}, s.problems.map(p => el('li', { text: p }))) : null,
      el('p', { class: 'legend muted' }, el('span', {}, el('span', { class: 'sw missing' }), 'missing (expected, not produced)'),
        el('span', {}, el('span', { class: 'sw unexpected' }), 'unexpected (produced, not expected)'), el('span', {}, el('span', { class: 'sw changed' }), 'changed cell')),
      el('div', { class: 'scroll' }, el('table', { id: 'diff' }, el('tr', {}, el('th', { class: 'num', text: '' }), cols.map(c => el('th', { text: c }))), rows)),
      el('p', { class: 'muted', text: 'sent ' + s.sent + ', received ' + s.received + ', ' + s.rows + ' rows in the merged table; completed by ' + (s.complete || '–') })));
  }
  async function loadHistory() {
    const { data: runs } = await api('GET', '/api/cases/' + encodeURIComponent(name) + '/runs');
    historyBox.replaceChildren(runs.length ? el('div', { class: 'scroll' }, el('table', { class: 'list', id: 'runs' },
      el('tr', {}, ['run', 'verdict', 'started', 'took', 'sent', 'received', 'rows', 'reason'].map(t => el('th', { text: t }))),
      runs.map(r => el('tr', {},
        el('td', {}, el('a', { href: '#', onclick: ev => { ev.preventDefault(); showResult(r.run_id); }, text: r.run_id })),
        el('td', {}, badge(r.verdict)), el('td', { text: fmtTime(r.started) }),
        el('td', { text: ((new Date(r.finished) - new Date(r.started)) / 1000).toFixed(1) + ' s' }),
        el('td', { text: String(r.sent) }), el('td', { text: String(r.received) }), el('td', { text: String(r.rows) }), el('td', { text: r.reason || '' })))))
      : el('p', { class: 'muted', text: 'Not run yet.' }));
  }

  buildGrids();
  show(el('p', {}, el('a', { href: '#/cases', text: '← all cases' })),
    el('h1', { text: name }), el('p', { class: 'muted', text: (d.description ? d.description + ' — ' : '') + d.where }),
    el('div', { class: 'toolbar' }, saveBtn, runBtn, saveState), errorsPanel, runStatus, resultBox,
    el('div', { class: 'panel' }, el('h2', { text: 'Messages and expected table' }), tabs, gridBox),
    el('div', { class: 'panel' }, el('h2', { text: 'Schedule' }), timeline),
    el('div', { class: 'panel' }, el('h2', { text: 'Run history' }), historyBox),
    el('details', { class: 'panel' }, el('summary', { text: 'case.yaml (sources, schedule, sink, expect)' }), yamlArea));
  renderTabs(); renderGrid(); renderErrors(); renderTimeline();
  await loadHistory();
}

// ---------------------------------------------------------------- diagnosis

async function reportsView() {
  const res = await api('GET', '/api/reports').catch(e => e);
  if (res instanceof Error) { show(el('h1', { text: 'Diagnosis reports' }), errorBox(res.message)); return; }
  const rows = res.data.map(r => el('tr', {},
    el('td', { text: fmtTime(r.generated) }),
    el('td', {}, r.html ? el('a', { href: '#/reports/' + (r.path || '.').split('/').map(encodeURIComponent).join('/'), text: r.path || '(top level)' }) : el('span', { text: r.path })),
    el('td', { text: [r.group, r.job].filter(Boolean).join(' / ') }),
    el('td', {}, badge(r.verdict)), el('td', { text: r.status }),
    el('td', { text: fmtTime(r.from) + ' – ' + fmtTime(r.to) }),
    el('td', { text: String(r.findings) }), el('td', { text: r.summary })));
  show(el('h1', { text: 'Diagnosis reports' }),
    rows.length ? el('div', { class: 'scroll' }, el('table', { class: 'list', id: 'reports' },
      el('tr', {}, ['generated', 'report', 'group / job', 'verdict', 'lag status', 'window', 'findings', 'summary'].map(t => el('th', { text: t }))), rows))
      : el('p', { text: 'No reports yet: diag watch writes one per anomaly, diag run --out DIR one per window.' }));
}

async function reportView(p) {
  const base = p === '.' ? '' : p.split('/').map(encodeURIComponent).join('/') + '/';
  const src = '/reports/' + base + 'report.html';
  show(el('p', {}, el('a', { href: '#/reports', text: '← all reports' }), ' · ', el('a', { href: src, target: '_blank', rel: 'noopener', text: 'open the report on its own' }),
    ' · ', el('a', { href: '/reports/' + base + 'report.json', target: '_blank', rel: 'noopener', text: 'JSON' })),
  el('iframe', { class: 'report', id: 'report-frame', src, sandbox: 'allow-same-origin', title: 'diagnosis report ' + p }));
}

// ---------------------------------------------------------------- migration

function stagesBar(m) {
  return el('div', { class: 'stages', id: 'stages' }, m.stages.map(s => el('div', { class: 'stage ' + s.state, 'data-state': s.state, title: s.stage + ': ' + s.state },
    el('div', { text: s.index + '. ' + s.stage }), el('div', { text: s.state === 'done' ? fmtTime(s.at).slice(11) : s.state }))));
}

async function migrationsView() {
  const res = await api('GET', '/api/migrations').catch(e => e);
  if (res instanceof Error) { show(el('h1', { text: 'Bypass rebuilds' }), errorBox(res.message)); return; }
  show(el('h1', { text: 'Bypass rebuilds' }), res.data.length ? res.data.map(m => el('div', { class: 'panel' },
    el('h2', {}, el('a', { href: '#/migrations/' + encodeURIComponent(m.name), text: m.name }), ' ', m.aborted ? badge('aborted') : (m.done === m.total ? badge('done') : badge(m.done + '/' + m.total, 'running'))),
    m.error && !m.stages.length ? errorBox(m.error) : stagesBar(m), el('p', { class: 'muted', text: m.dir })))
    : el('p', { text: 'No bypass runs here: hotcold migrate bypass --work-dir DIR keeps its progress in DIR/bypass.json.' }));
}

async function migrationView(name) {
  const box = el('div', {});
  const msg = el('div', { id: 'migration-msg' });
  show(el('p', {}, el('a', { href: '#/migrations', text: '← all bypass runs' })), el('h1', { text: 'Bypass rebuild ' + name }), msg, box);
  let open = {};
  async function act(what) {
    if (what === 'abort' && !confirm('Abort the bypass rebuild ' + name + '? The side job stops and the online job runs on as it was.')) return;
    try { await api('POST', '/api/migrations/' + encodeURIComponent(name) + '/' + what, {}); msg.replaceChildren(); } catch (e) { msg.replaceChildren(errorBox(e.message)); }
    refresh();
  }
  async function refresh() {
    let m;
    try { m = (await api('GET', '/api/migrations/' + encodeURIComponent(name))).data; } catch (e) { msg.replaceChildren(errorBox(e.message)); return; }
    for (const d of box.querySelectorAll('details[data-stage]')) open[d.dataset.stage] = d.open;
    const state = m.running ? m.running + ' running' : m.aborted ? 'aborted' : m.done === m.total ? 'done' : 'stopped after stage ' + m.done;
    const finished = !m.running && (m.aborted || m.done === m.total);
    const st = m.status || {};
    box.replaceChildren(...[
      el('div', { class: 'toolbar' }, el('strong', { id: 'migration-state', 'data-done': m.done, text: m.done + ' of ' + m.total + ' stages: ' + state }),
        el('button', { class: 'primary', id: 'resume', disabled: !!m.running || finished, onclick: () => act('resume') }, 'Resume'),
        el('button', { class: 'danger', id: 'abort', disabled: !!m.running || finished, onclick: () => act('abort') }, 'Abort')),
      stagesBar(m),
      m.error ? errorBox(m.error) : null,
      el('dl', { class: 'kv panel' },
        el('dt', { text: 'work directory' }), el('dd', { text: m.dir }),
        el('dt', { text: 'side job lag when caught up' }), el('dd', { text: String(st.side_lag || 0) }),
        el('dt', { text: 'output check' }), el('dd', { text: st.compare ? JSON.stringify(st.compare) : '–' }),
        el('dt', { text: 'online offsets' }), el('dd', { id: 'online-offsets', text: m.online_offsets || '–' }),
        el('dt', { text: 'side checkpoint offsets' }), el('dd', { id: 'side-offsets', text: m.side_offsets || '–' }),
        el('dt', { text: 'offsets match' }), el('dd', { id: 'offsets-equal', text: m.offsets_equal === undefined ? '–' : (m.offsets_equal ? 'yes, per partition' : 'NO') }),
        el('dt', { text: 'new state directory' }), el('dd', { text: st.new_state_dir || '–' })),
      el('h2', { text: 'Stage logs' }),
      m.stages.map(s => { const d = el('details', { 'data-stage': s.index }, el('summary', {}, s.index + '. ' + s.stage + ' ', badge(s.state), ' ', s.log.length + ' lines'), el('pre', { class: 'log', text: s.log.join('\n') || '(no log)' })); d.open = !!open[s.index]; return d; })].flat().filter(Boolean));
    if (finished && poll) { clearInterval(poll); poll = null; }
    if (m.running && !poll) poll = setInterval(refresh, 400);
  }
  await refresh();
}

// ---------------------------------------------------------------- cold store

async function coldView() {
  const res = await api('GET', '/api/cold').catch(e => e);
  if (res instanceof Error) { show(el('h1', { text: 'Cold store' }), errorBox(res.message)); return; }
  const token = el('input', { type: 'password', id: 'admin-token', autocomplete: 'off', placeholder: 'admin token', 'aria-label': 'admin token' });
  const msg = el('div', { id: 'cold-msg' });
  async function rollback(table, to) {
    if (!token.value) { msg.replaceChildren(errorBox('Type the admin token (the --admin-token-file of hotcold serve) to roll back.')); token.focus(); return; }
    if (!confirm('Make version ' + to + ' of ' + table + ' live?')) return;
    try {
      const { data } = await api('POST', '/api/cold/' + encodeURIComponent(table) + '/rollback', { to, admin_token: token.value });
      // The notice goes up only once the page shows the new live version,
      // so it never sits above a table that still reads the old one.
      await coldView();
      document.getElementById('cold-msg').replaceChildren(el('p', { class: 'notice', id: 'rollback-done', text: 'The live version of ' + data.name + ' is now ' + data.version + ' (' + data.rows + ' rows).' }));
    } catch (e) { msg.replaceChildren(errorBox(e.message)); }
  }
  const tables = res.data.tables.map(t => el('div', { class: 'panel', 'data-table': t.table },
    el('h2', {}, t.table + ' ', badge('live ' + t.live, 'live')),
    el('dl', { class: 'kv' },
      el('dt', { text: 'rows (live)' }), el('dd', { text: String(t.rows) }),
      el('dt', { text: 'covers until' }), el('dd', { text: fmtTime(t.covers_until) }),
      el('dt', { text: 'freshness' }), el('dd', { class: 'freshness', text: 'published ' + fmtDur(t.loaded_ago_seconds) + ' ago; covers-until ' + (t.covers_until_behind_seconds < 0 ? 'unknown' : fmtDur(t.covers_until_behind_seconds) + ' behind now') })),
    el('div', { class: 'scroll' }, el('table', { class: 'versions' },
      el('tr', {}, ['version', '', 'rows', 'duplicates', 'bytes', 'covers until', 'loaded at', ''].map(h => el('th', { text: h }))),
      t.versions.map(v => el('tr', { 'data-version': v.version },
        el('td', { text: v.version }), el('td', {}, v.live ? badge('live') : badge('kept', '')),
        el('td', { text: String(v.rows) }), el('td', { text: String(v.duplicates) }), el('td', { text: String(v.bytes) }),
        el('td', { text: fmtTime(v.covers_until) }), el('td', { text: fmtTime(v.loaded_at) }),
        el('td', {}, v.live ? null : el('button', { class: 'rollback', onclick: () => rollback(t.table, v.version) }, 'Roll back to this'))))))));
  show(el('h1', { text: 'Cold store' }), el('p', { class: 'muted', text: res.data.where }),
    el('div', { class: 'toolbar' }, el('label', { for: 'admin-token', text: 'Admin token for rollbacks:' }), token, el('span', { class: 'muted', text: 'sent with the rollback only, never stored or shown' })),
    msg, tables.length ? tables : el('p', { text: 'No tables: load one with hotcold load.' }));
}
