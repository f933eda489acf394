/**
 * The dashboard's client code, inlined in the page. Plain browser JavaScript with no dependency; it
 * builds every element with createElement/textContent (never innerHTML with data). Written without
 * template literals so that it can live in this String.raw.
 *
 * Views (hash routes): #/ overview (summary, reminders due, every group with its timeline),
 * #/group/NAME, #/machine/NAME (its connections card: "See all connections"), #/reminders.
 * The time slider re-renders every view as of the chosen instant (?asOf=); at its right end the
 * dashboard is live and follows the change feed (/api/changes).
 */
export const DASHBOARD_JS = String.raw`
(function () {
  'use strict';
  var DAY = 86400000;
  var FV = '@OData.Community.Display.V1.FormattedValue';
  var PORTAL_MESSAGE = 'Machine group security has been updated. Re-generate a machine group password before adding a new machine.';
  var state = { asOf: null, log: null, snapshot: null, timelines: {}, reminders: null, extra: null, seq: 0, zoom: 'keys', error: null, changes: 0 };
  var view = document.getElementById('view');
  var slider = document.getElementById('asof-slider');
  var asofLabel = document.getElementById('asof-label');
  var asofMode = document.getElementById('asof-mode');

  // ---- helpers ------------------------------------------------------------------------------
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  var SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs) {
    var el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'text') el.textContent = String(value);
      else if (key === 'class') el.setAttribute('class', value);
      else if (key.slice(0, 2) === 'on') el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, String(value));
    });
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  function ms(iso) { return iso ? Date.parse(iso) : null; }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function date(value) {
    if (value === null || value === undefined) return '—';
    var d = new Date(typeof value === 'number' ? value : Date.parse(value));
    var text = d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
    if (d.getUTCHours() || d.getUTCMinutes()) text += ' ' + pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
    return text;
  }
  function days(minutes) { var d = Math.round(Number(minutes) / 1440); return d + (d === 1 ? ' day' : ' days'); }
  function formatted(row, column) { var f = row[column + FV]; return f !== undefined ? f : row[column]; }
  function statusName(code) { return code === 1 ? 'Default' : code === 2 ? 'PendingNewKey' : code === 3 ? 'KeyExpired' : '—'; }
  function badge(text, cls) { return h('span', { class: 'badge ' + (cls || String(text).split(' ')[0]), text: text }); }
  function link(href, text) { return h('a', { href: href, text: text }); }
  function query(extra) {
    var params = new URLSearchParams();
    if (state.asOf !== null) params.set('asOf', new Date(state.asOf).toISOString());
    Object.keys(extra || {}).forEach(function (k) { params.set(k, extra[k]); });
    var text = params.toString();
    return text ? '?' + text : '';
  }
  function api(path) {
    return fetch(path, { headers: { accept: 'application/json' } }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error((body.error && (body.error.code + ': ' + body.error.message)) || response.statusText);
        return body;
      });
    });
  }
  function route() {
    var parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    if (parts[0] === 'group' && parts[1]) return { name: 'group', group: parts[1] };
    if (parts[0] === 'machine' && parts[1]) return { name: 'machine', machine: parts[1], all: parts[2] === 'connections' };
    if (parts[0] === 'reminders') return { name: 'reminders' };
    return { name: 'overview' };
  }
  function nowMs() { return state.asOf !== null ? state.asOf : (state.snapshot && ms(state.snapshot.instant)) || Date.now(); }

  // ---- loading ------------------------------------------------------------------------------
  var loadTimer = null;
  function scheduleLoad(delay) {
    clearTimeout(loadTimer);
    loadTimer = setTimeout(load, delay);
  }
  function load() {
    var seq = ++state.seq;
    var r = route();
    document.body.setAttribute('data-loading', 'true');
    api('/api/tables' + query()).then(function (snapshot) {
      if (seq !== state.seq) return null;
      state.log = snapshot.log;
      var groups = snapshot.tables.flowmachinegroups;
      var wanted = r.name === 'overview' ? groups.map(function (g) { return g.name; })
        : r.name === 'group' ? [r.group] : [];
      var jobs = wanted.map(function (name) {
        return api('/api/timeline/' + encodeURIComponent(name) + query()).then(function (t) { return [name, t]; }, function () { return [name, null]; });
      });
      jobs.push(r.name === 'machine' ? api('/api/history/flowmachines/' + encodeURIComponent(r.machine)).catch(function () { return null; }) : Promise.resolve(null));
      jobs.push(r.name === 'group' ? api('/api/history/flowmachinegroups/' + encodeURIComponent(r.group)).catch(function () { return null; }) : Promise.resolve(null));
      jobs.push(r.name === 'overview' || r.name === 'reminders' ? api('/api/reminders' + query()) : Promise.resolve(null));
      return Promise.all(jobs).then(function (results) {
        if (seq !== state.seq) return;
        var reminders = results.pop();
        var groupHistory = results.pop();
        var machineHistory = results.pop();
        var timelines = {};
        results.forEach(function (pair) { timelines[pair[0]] = pair[1]; });
        state.snapshot = snapshot;
        state.timelines = timelines;
        state.reminders = reminders;
        state.extra = { machineHistory: machineHistory, groupHistory: groupHistory };
        state.error = null;
        render();
      });
    }).catch(function (error) {
      if (seq !== state.seq) return;
      state.error = error.message;
      render();
    }).then(function () {
      if (seq === state.seq) document.body.setAttribute('data-loading', 'false');
    });
  }

  // ---- the time slider ------------------------------------------------------------------------
  function syncSlider() {
    if (!state.log || !state.log.firstInstant) return;
    var first = ms(state.log.firstInstant);
    var last = ms(state.log.lastInstant);
    slider.min = String(first);
    slider.max = String(last);
    slider.value = String(state.asOf === null ? last : state.asOf);
    document.getElementById('range-start').textContent = date(first);
    document.getElementById('range-end').textContent = date(last);
    showAsOf();
  }
  function showAsOf() {
    var shown = state.asOf === null ? (state.snapshot ? state.snapshot.instant : null) : state.asOf;
    asofLabel.textContent = shown ? date(shown) + ' UTC' : '—';
    asofMode.textContent = state.asOf === null ? 'live · head of the log' : 'time travel';
    asofMode.className = 'pill' + (state.asOf === null ? '' : ' past');
  }
  function setAsOf(value) {
    var last = state.log ? ms(state.log.lastInstant) : null;
    var first = state.log ? ms(state.log.firstInstant) : null;
    if (value !== null && last !== null && value >= last) value = null;
    if (value !== null && first !== null && value < first) value = first;
    state.asOf = value;
    slider.value = String(value === null ? last : value);
    showAsOf();
    scheduleLoad(120);
  }
  slider.addEventListener('input', function () {
    var value = Number(slider.value);
    asofLabel.textContent = date(value) + ' UTC';
    setAsOf(value);
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-step]'), function (button) {
    button.addEventListener('click', function () { setAsOf(nowMs() + Number(button.getAttribute('data-step')) * DAY); });
  });
  document.getElementById('now-btn').addEventListener('click', function () { setAsOf(null); });

  // ---- live updates -------------------------------------------------------------------------
  var liveBox = document.getElementById('live');
  var liveText = document.getElementById('live-text');
  function connect() {
    if (!window.EventSource) { liveText.textContent = 'no live updates in this browser'; return; }
    var source = new EventSource('/api/changes');
    source.addEventListener('ready', function () { liveBox.className = 'live on'; liveText.textContent = 'live'; });
    source.addEventListener('change', function (event) {
      var change = JSON.parse(event.data);
      state.changes++;
      liveText.textContent = 'live · ' + state.changes + (state.changes === 1 ? ' change' : ' changes');
      liveBox.className = 'live on flash';
      setTimeout(function () { liveBox.className = 'live on'; }, 250);
      if (state.log && (!state.log.lastInstant || change.occurredAt > state.log.lastInstant)) state.log.lastInstant = change.occurredAt;
      if (state.asOf === null) scheduleLoad(300);
      else syncSlider();
    });
    source.onerror = function () { liveBox.className = 'live'; liveText.textContent = 'reconnecting…'; };
  }

  // ---- rendering ----------------------------------------------------------------------------
  function render() {
    syncSlider();
    var r = route();
    Array.prototype.forEach.call(document.querySelectorAll('header nav a'), function (a) {
      a.className = (a.getAttribute('data-route') === r.name) ? 'active' : '';
    });
    view.textContent = '';
    if (state.error) view.appendChild(h('div', { class: 'error', text: state.error }));
    if (!state.snapshot) return;
    if (r.name === 'group') renderGroupPage(r.group);
    else if (r.name === 'machine') renderMachinePage(r.machine, r.all);
    else if (r.name === 'reminders') renderReminders(true);
    else renderOverview();
  }

  function groupById(id) {
    return state.snapshot.tables.flowmachinegroups.filter(function (g) { return g.flowmachinegroupid === id; })[0] || null;
  }
  function machinesOf(group) {
    return state.snapshot.tables.flowmachines.filter(function (m) { return m._flowmachinegroupid_value === group.flowmachinegroupid; });
  }
  function connectionsOfGroup(group) {
    var members = machinesOf(group).map(function (m) { return m.name; });
    return state.snapshot.tables.desktopflowconnections.filter(function (c) {
      return (c.targettype === 'group' && c.targetname === group.name) || (c.targettype === 'machine' && members.indexOf(c.targetname) >= 0);
    });
  }

  function renderOverview() {
    var t = state.snapshot.tables;
    var groups = t.flowmachinegroups, machines = t.flowmachines, connections = t.desktopflowconnections;
    var count = function (rows, test) { return rows.filter(test).length; };
    var renewing = count(groups, function (g) { return g.rekey_renewalstate === 'Renewing'; });
    var expired = count(groups, function (g) { return g.rekey_renewalstate === 'Expired'; });
    var members = machines.filter(function (m) { return m._flowmachinegroupid_value; });
    var byStatus = [1, 2, 3].map(function (code) { return count(members, function (m) { return m.keydeliverystatus === code; }); });
    var toFix = count(connections, function (c) { return c.status === 'Fix connection'; });
    var bar = function (parts) {
      var total = parts.reduce(function (a, p) { return a + p[0]; }, 0) || 1;
      return h('div', { class: 'bar' }, parts.map(function (p) { var el = h('span'); el.style.width = (100 * p[0] / total) + '%'; el.style.background = p[1]; return el; }));
    };
    view.appendChild(h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('div', { class: 'label', text: 'Machine groups' }), h('div', { class: 'value', text: groups.length }),
        h('div', { class: 'detail', text: renewing + ' renewing · ' + expired + ' expired' })),
      h('div', { class: 'stat', 'data-stat': 'machines' }, h('div', { class: 'label', text: 'Machines' }), h('div', { class: 'value', text: members.length }),
        h('div', { class: 'detail', text: byStatus[0] + ' Default · ' + byStatus[1] + ' PendingNewKey · ' + byStatus[2] + ' KeyExpired' }),
        bar([[byStatus[0], 'var(--ok)'], [byStatus[1], '#f0a32a'], [byStatus[2], 'var(--bad)']])),
      h('div', { class: 'stat' }, h('div', { class: 'label', text: 'Connections' }), h('div', { class: 'value', text: connections.length }),
        h('div', { class: 'detail', text: (connections.length - toFix) + ' connected · ' + toFix + ' to fix' }),
        bar([[connections.length - toFix, 'var(--ok)'], [toFix, 'var(--bad)']])),
      h('div', { class: 'stat' }, h('div', { class: 'label', text: 'Log' }), h('div', { class: 'value', text: '#' + state.snapshot.position }),
        h('div', { class: 'detail', text: 'events up to ' + date(state.snapshot.instant) }))));
    renderReminders(false);
    if (groups.length === 0) view.appendChild(h('div', { class: 'card empty', text: 'No machine groups yet. Create one with POST /api/commands/createGroup, or run a scenario with rekey simulate.' }));
    groups.forEach(function (group) { view.appendChild(groupCard(group, false)); });
  }

  function renderGroupPage(name) {
    var group = state.snapshot.tables.flowmachinegroups.filter(function (g) { return g.name === name || g.flowmachinegroupid === name; })[0];
    view.appendChild(h('div', { class: 'small' }, link('#/', '← All machine groups')));
    if (!group) { view.appendChild(h('div', { class: 'card empty', text: 'No machine group ' + name + ' as of ' + date(nowMs()) + '.' })); return; }
    view.appendChild(groupCard(group, true));
    var history = state.extra && state.extra.groupHistory;
    if (history) view.appendChild(historyCard(history));
  }

  function groupCard(group, full) {
    var machines = machinesOf(group);
    var connections = connectionsOfGroup(group);
    var regenerate = group.rekey_passwordregenerationrequired === true;
    var card = h('section', { class: 'card group', 'data-group': group.name, 'data-renewal': group.rekey_renewalstate });
    card.appendChild(h('div', { class: 'card-head' },
      h('h2', null, full ? group.name : link('#/group/' + encodeURIComponent(group.name), group.name)),
      regenerate ? h('span', { class: 'keyicon', title: PORTAL_MESSAGE, role: 'img', 'aria-label': 'key icon: regenerate the group password', 'data-keyicon': 'true' }, keyIcon(20, '#b86e00')) : null,
      badge(group.rekey_renewalstate === 'None' ? 'Active' : group.rekey_renewalstate, group.rekey_renewalstate),
      group.statecode === 1 ? badge(formatted(group, 'statuscode'), 'bad') : null,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'why', 'data-explain-group': group.name, title: 'why is ' + group.name + ' in this state?', text: 'Why?' }),
      h('span', { class: 'muted small', text: 'key v' + keyVersionOf(group) + ' · ' + (group.primarypublickey ? String(group.primarypublickey).slice(0, 12) + '…' : 'no key yet') })));
    if (group.rekey_message) card.appendChild(h('div', { class: 'message', 'data-portal-message': 'true' }, keyIcon(18, '#b86e00'), h('span', { text: group.rekey_message })));
    if (group.rekey_renewalstate === 'Expired') card.appendChild(h('div', { class: 'message bad', text: 'Every machine missed the renewal: the group key expired and the group cannot be used. Delete it and create a new group.' }));
    card.appendChild(h('div', { class: 'facts' },
      fact('Key created', date(group.keycreationdate)),
      fact('Key expires', date(group.rekey_keyexpirydate)),
      fact(group.rekey_renewalstate === 'Renewing' ? 'Renewal window ends' : 'Next renewal', date(group.rekey_renewalstate === 'Renewing' ? group.rekey_renewalendsat : group.rekey_nextrenewaldate)),
      fact('Validity · grace', days(group.keyvalidityperiod) + ' · ' + days(group.keyexpirygraceperiod)),
      fact('Password changed', date(group.passwordchangeddate)),
      fact('Proactive re-encryption', group.rekey_proactivereencryption ? 'on' : 'off')));
    card.appendChild(timelineBox(state.timelines[group.name]));
    var cols = h('div', { class: 'columns' });
    cols.appendChild(h('div', null, h('h3', { text: 'Machines (' + machines.length + ')' }), machineTable(machines, group)));
    cols.appendChild(h('div', null, h('h3', { text: 'Desktop flow connections (' + connections.length + ')' }), connectionTable(connections, false)));
    card.appendChild(cols);
    return card;
  }
  function keyVersionOf(group) {
    var t = state.timelines[group.name];
    if (!t) return '?';
    var primary = t.keys.filter(function (k) { return k.thumbprint === group.primarypublickey; })[0];
    return primary ? primary.version : '?';
  }
  /** The portal's key icon, drawn (an emoji needs a font the machine may not have). */
  function keyIcon(size, color) {
    return s('svg', { viewBox: '0 0 24 24', width: size, height: size, 'aria-hidden': 'true', class: 'keysvg' },
      s('circle', { cx: 7.5, cy: 12, r: 4.5, fill: 'none', stroke: color, 'stroke-width': 2.4 }),
      s('path', { d: 'M12 12h10M18 12v4M21 12v3', fill: 'none', stroke: color, 'stroke-width': 2.4, 'stroke-linecap': 'round' }));
  }
  function fact(label, value) { return h('div', null, label, h('b', { text: value })); }

  function machineTable(machines, group) {
    if (machines.length === 0) return h('div', { class: 'muted small', text: 'No machine in this group.' });
    var deadline = group && group.rekey_renewalstate === 'Renewing' ? group.rekey_renewalendsat : null;
    return h('table', null,
      h('thead', null, h('tr', null, h('th', { text: 'Machine' }), h('th', { text: 'Key delivery' }), h('th', { text: 'Agent' }), h('th', { text: 'Last heartbeat' }), h('th', { text: deadline ? 'Key received · deadline' : 'Key received' }))),
      h('tbody', null, machines.map(function (m) {
        var status = statusName(m.keydeliverystatus);
        return h('tr', { 'data-machine': m.name, 'data-status': status, class: 'explainable', title: 'click: why is ' + m.name + ' ' + status + '?' },
          h('td', null, link('#/machine/' + encodeURIComponent(m.name), m.name)),
          h('td', null, badge(status)),
          h('td', { class: 'small', text: m.agentversion }),
          h('td', { class: 'small', text: date(m.lastheartbeatdate) }),
          h('td', { class: 'small' + (deadline && m.keydeliverystatus === 2 ? ' deadline soon' : ''), text: deadline && m.keydeliverystatus === 2 ? 'online by ' + date(deadline) : date(m.keyreceiveddate) }));
      })));
  }

  function connectionTable(connections, withTarget) {
    if (connections.length === 0) return h('div', { class: 'muted small', text: 'No desktop flow connection targets it.' });
    return h('table', null,
      h('thead', null, h('tr', null, h('th', { text: 'Connection' }), withTarget ? h('th', { text: 'Target' }) : null, h('th', { text: 'Status' }), h('th', { text: 'Last used' }), h('th', { text: 'Keys' }))),
      h('tbody', null, connections.map(function (c) {
        var keys = c.keythumbprints ? String(c.keythumbprints).split(',').length : 0;
        return h('tr', { 'data-connection': c.name, 'data-status': c.status, class: 'explainable', title: 'click: why is ' + c.name + ' ' + c.status + '?' },
          h('td', { text: c.name }),
          withTarget ? h('td', { class: 'small', text: c.targettype + ' ' + c.targetname }) : null,
          h('td', null, badge(c.status, c.status === 'Connected' ? 'ok' : 'bad')),
          h('td', { class: 'small', text: date(c.lastuseddate) }),
          h('td', { class: 'small num', title: c.keythumbprints || '', text: keys }));
      })));
  }

  function renderMachinePage(name, all) {
    var machine = state.snapshot.tables.flowmachines.filter(function (m) { return m.name === name || m.flowmachineid === name; })[0];
    view.appendChild(h('div', { class: 'small' }, link('#/', '← Overview')));
    if (!machine) { view.appendChild(h('div', { class: 'card empty', text: 'No machine ' + name + ' as of ' + date(nowMs()) + '.' })); return; }
    var group = machine._flowmachinegroupid_value ? groupById(machine._flowmachinegroupid_value) : null;
    var status = statusName(machine.keydeliverystatus);
    var card = h('section', { class: 'card', 'data-machine-page': machine.name });
    card.appendChild(h('div', { class: 'card-head' }, h('h2', { text: machine.name }), machine.keydeliverystatus ? badge(status) : badge('not in a group', 'muted'),
      machine.statecode === 2 ? badge(formatted(machine, 'statuscode'), 'bad') : null));
    if (machine.keydeliverystatus === 2 && group && group.rekey_renewalendsat) {
      card.appendChild(h('div', { class: 'message', text: 'This machine has not taken the new group key yet. Put it online before ' + date(group.rekey_renewalendsat) + ' UTC: it takes the key at its next check-in (within 24 h).' }));
    }
    if (machine.keydeliverystatus === 3) card.appendChild(h('div', { class: 'message bad', text: 'This machine missed the renewal period. Regenerate the group password on a machine that has the new key, then re-join this machine with it.' }));
    card.appendChild(h('div', { class: 'facts' },
      h('div', null, 'Machine group', h('b', null, group ? link('#/group/' + encodeURIComponent(group.name), group.name) : '—')),
      fact('Agent version', machine.agentversion),
      fact('Key delivery status', status),
      fact('Key received', date(machine.keyreceiveddate)),
      fact('Last heartbeat', date(machine.lastheartbeatdate)),
      fact('Status', formatted(machine, 'statecode') + ' · ' + formatted(machine, 'statuscode')),
      fact('Registered', date(machine.createdon))));
    view.appendChild(card);

    var connections = state.snapshot.tables.desktopflowconnections.filter(function (c) {
      return (c.targettype === 'machine' && c.targetname === machine.name) || (group && c.targettype === 'group' && c.targetname === group.name);
    });
    var shown = all ? connections : connections.slice(0, 3);
    var connCard = h('section', { class: 'card conn-card', 'data-connections-card': 'true' },
      h('div', { class: 'card-head' }, h('h2', { text: 'Connections' }), h('span', { class: 'muted', text: connections.length + ' desktop flow connection' + (connections.length === 1 ? '' : 's') + ' can run on this machine' })),
      h('p', { class: 'small muted', text: 'During a renewal, run a desktop flow with each of these connections so that it is re-encrypted to the new key; an unused one needs fixing when the window ends.' }),
      connectionTable(shown, true));
    if (!all && connections.length > 0) connCard.appendChild(h('a', { class: 'more', href: '#/machine/' + encodeURIComponent(machine.name) + '/connections', text: 'See all connections' }));
    if (all) connCard.appendChild(h('a', { class: 'more', href: '#/machine/' + encodeURIComponent(machine.name), text: 'Show fewer' }));
    view.appendChild(connCard);
    var history = state.extra && state.extra.machineHistory;
    if (history) view.appendChild(historyCard(history));
  }

  function historyCard(history) {
    var limit = nowMs();
    var changes = history.changes.filter(function (c) { return ms(c.occurredAt) <= limit; }).slice(-60).reverse();
    return h('section', { class: 'card' }, h('h2', { text: 'History' }),
      h('p', { class: 'small muted', text: 'Every change of this row up to ' + date(limit) + ' (latest first, at most 60).' }),
      h('ul', { class: 'history' }, changes.map(function (c) {
        return h('li', null, h('span', { class: 'muted', text: date(c.occurredAt) + '  #' + c.position + '  ' }), h('code', { text: c.event }), ' ',
          h('span', { class: 'muted', text: c.changedColumns.filter(function (x) { return x !== 'modifiedon'; }).join(', ') }));
      })));
  }

  function renderReminders(full) {
    var reminders = state.reminders;
    if (!reminders) return;
    var machines = full ? reminders.machines : reminders.machines.filter(function (m) { return m.state === 'due'; });
    var connections = full ? reminders.connections : reminders.connections.filter(function (c) { return c.state === 'due'; });
    if (!full && machines.length === 0 && connections.length === 0) return;
    var now = nowMs();
    var when = function (iso) {
      var left = (ms(iso) - now) / DAY;
      return h('span', { class: 'deadline' + (left < 7 ? ' soon' : ''), text: date(iso) + ' (' + (left >= 0 ? Math.floor(left) + ' d left' : 'passed') + ')' });
    };
    var card = h('section', { class: 'card', 'data-reminders': 'true' }, h('div', { class: 'card-head' }, h('h2', { text: full ? 'Reminders' : 'Renewals under way: to do' }),
      h('span', { class: 'spacer' }), full ? null : link('#/reminders', 'All reminders →')));
    var cols = h('div', { class: 'columns' });
    cols.appendChild(h('div', null, h('h3', { text: 'Machines that must come online' }), machines.length === 0 ? h('div', { class: 'muted small', text: 'None.' }) :
      h('table', null, h('thead', null, h('tr', null, h('th', { text: 'Machine' }), h('th', { text: 'Group' }), h('th', { text: 'Window' }), h('th', { text: 'Online by' }), h('th', { text: 'Last heartbeat' }))),
        h('tbody', null, machines.map(function (m) {
          return h('tr', null, h('td', null, link('#/machine/' + encodeURIComponent(m.machine), m.machine)), h('td', { text: m.group }),
            h('td', null, badge(m.state === 'due' ? 'open' : 'upcoming', m.state === 'due' ? 'warn' : 'muted')), h('td', null, when(m.mustBeOnlineBy)), h('td', { class: 'small', text: date(m.lastheartbeatdate) }));
        })))));
    cols.appendChild(h('div', null, h('h3', { text: 'Connections that must run' }), connections.length === 0 ? h('div', { class: 'muted small', text: 'None.' }) :
      h('table', null, h('thead', null, h('tr', null, h('th', { text: 'Connection' }), h('th', { text: 'Group' }), h('th', { text: 'Run by' }), h('th', { text: 'Last used' }))),
        h('tbody', null, connections.map(function (c) {
          return h('tr', null, h('td', { text: c.connection }), h('td', { text: c.group }), h('td', null, when(c.mustRunBy)), h('td', { class: 'small', text: date(c.lastuseddate) }));
        })))));
    card.appendChild(cols);
    view.appendChild(card);
  }

  // ---- the timeline (SVG) -----------------------------------------------------------------------
  function timelineBox(t) {
    var box = h('div', { class: 'timeline' });
    if (!t) { box.appendChild(h('div', { class: 'muted small', text: 'No timeline.' })); return box; }
    var toolbar = h('div', { class: 'toolbar' }, 'Timeline:');
    [['keys', 'Current and next key'], ['window', 'Renewal window'], ['all', 'All history']].forEach(function (z) {
      toolbar.appendChild(h('button', { class: state.zoom === z[0] ? 'selected' : '', text: z[1], onclick: function () { state.zoom = z[0]; render(); } }));
    });
    box.appendChild(toolbar);
    box.appendChild(drawTimeline(t));
    box.appendChild(h('div', { class: 'legend' },
      legend('#9fb8e8', 'certificate lifetime'), legend('var(--window)', 'renewal window'), legend('var(--online)', 'machine online'),
      legendText('◆', '#2f6fde', 'issued the new key'), legendText('◆', '#1f8a4c', 'took the new key'), legendText('✕', '#c23a3a', 'missed it (KeyExpired)'),
      legendText('|', '#8a96a8', 'run'), legendText('▲', '#7b4bd1', 're-encrypted'), legendText('!', '#c23a3a', 'needs fixing')));
    return box;
  }
  function legend(color, text) { var i = h('i'); i.style.background = color; return h('span', null, i, text); }
  function legendText(symbol, color, text) { var b = h('b', { text: symbol + ' ' }); b.style.color = color; return h('span', null, b, text); }

  function drawTimeline(t) {
    var now = ms(t.instant) || nowMs();
    var keys = t.keys.map(function (k) { return { version: k.version, from: ms(k.createdAt), to: ms(k.retiredAt) || ms(k.notAfter), notAfter: ms(k.notAfter), retired: !!k.retiredAt, issuedBy: k.issuedBy }; });
    var windows = t.windows.map(function (w) { return { from: ms(w.startsAt), to: ms(w.endsAt), issuedAt: ms(w.issuedAt), newVersion: w.newVersion, keyVersion: w.keyVersion }; });
    if (t.next.window) windows.push({ from: ms(t.next.window.startsAt), to: ms(t.next.window.endsAt), projected: true });
    var nextKey = t.next.key ? { from: ms(t.next.key.createdAt), to: ms(t.next.key.notAfter), projected: true } : null;
    var primary = keys.filter(function (k) { return t.row.primarypublickey && t.keys[keys.indexOf(k)].thumbprint === t.row.primarypublickey; })[0];
    var open = t.row.rekey_renewalstate === 'Renewing' ? windows.filter(function (w) { return !w.projected; }).slice(-1)[0] : null;
    var current = open ? keys.filter(function (k) { return k.version === open.keyVersion; })[0] : primary;
    var next = open ? (open.newVersion ? keys.filter(function (k) { return k.version === open.newVersion; })[0] : null) : nextKey;
    var from, to;
    if (state.zoom === 'all' || !current) {
      from = Math.min.apply(null, keys.map(function (k) { return k.from; }).concat([now]));
      to = Math.max.apply(null, keys.map(function (k) { return k.notAfter; }).concat([now, nextKey ? nextKey.to : now]));
    } else if (state.zoom === 'window') {
      var w = open || windows.filter(function (x) { return x.from >= now; })[0] || windows.slice(-1)[0];
      if (w) { from = w.from; to = w.to; } else { from = current.from; to = current.notAfter; }
      var span = Math.max(to - from, DAY);
      from -= span * 0.25; to += span * 0.25;
    } else {
      from = current.from;
      to = Math.max(current.notAfter, next ? next.to : 0, now);
    }
    if (!(to > from)) { to = from + DAY; }
    var margin = (to - from) * 0.02;
    from -= margin; to += margin;

    var W = Math.max(640, (view.clientWidth || 1100) - 70);
    var G = 120; // the label gutter
    var laneH = 20, top = 34, certH = 30;
    var laneY = function (row) { return row === 0 ? top : top + certH + (row - 1) * laneH; };
    var rows = 1 + t.machines.length + t.connections.length;
    var H = laneY(rows) + (t.connections.length ? 10 : 0) + 10;
    var x = function (at) { return G + (Math.max(from, Math.min(to, at)) - from) / (to - from) * (W - G - 10); };
    var inRange = function (a, b) { return b >= from && a <= to; };
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': 'timeline of ' + t.group });

    // axis: years, or months on short spans
    var axis = s('g', { 'font-size': 10, fill: '#5f6c7b' });
    var spanDays = (to - from) / DAY;
    var d0 = new Date(from);
    var tick = spanDays > 900 ? new Date(Date.UTC(d0.getUTCFullYear() + 1, 0, 1)) : new Date(Date.UTC(d0.getUTCFullYear(), d0.getUTCMonth() + 1, 1));
    var stepMonths = spanDays > 900 ? (spanDays > 3000 ? 24 : 12) : (spanDays > 400 ? 3 : 1);
    while (tick.getTime() < to) {
      var tx = x(tick.getTime());
      axis.appendChild(s('line', { x1: tx, x2: tx, y1: 16, y2: H - 4, stroke: '#e6eaf0' }));
      axis.appendChild(s('text', { x: tx + 3, y: 12, text: stepMonths >= 12 ? String(tick.getUTCFullYear()) : tick.getUTCFullYear() + '-' + pad(tick.getUTCMonth() + 1) }));
      tick = new Date(Date.UTC(tick.getUTCFullYear(), tick.getUTCMonth() + stepMonths, 1));
    }
    svg.appendChild(axis);

    // renewal windows across every lane
    windows.forEach(function (w) {
      if (!inRange(w.from, w.to)) return;
      var g = s('g');
      g.appendChild(s('rect', { x: x(w.from), y: top - 6, width: Math.max(2, x(w.to) - x(w.from)), height: H - top, fill: w.projected ? 'none' : 'rgba(245,166,35,0.16)',
        stroke: '#e39a1e', 'stroke-dasharray': w.projected ? '4 3' : null, 'stroke-width': w.projected ? 1 : 0.6 },
        s('title', { text: (w.projected ? 'next renewal window (scheduled): ' : 'renewal window: ') + date(w.from) + ' → ' + date(w.to) })));
      if (x(w.to) - x(w.from) > 70) g.appendChild(s('text', { x: x(w.from) + 4, y: H - 6, 'font-size': 9, fill: '#b86e00', text: w.projected ? 'next window' : 'renewal window' }));
      svg.appendChild(g);
    });

    var label = function (row, text, color, dy) {
      svg.appendChild(s('text', { x: 6, y: laneY(row) + (row === 0 ? 17 : 13) + (dy || 0), 'font-size': 11, fill: color || '#1d2733', text: text.length > 17 ? text.slice(0, 16) + '…' : text }, s('title', { text: text })));
    };
    // lane 0: certificates
    label(0, 'Certificates', '#5f6c7b');
    // Keys alternate between two sub-lanes, so the old and the new key show side by side during a window.
    var keyY = function (version) { return top + 2 + (version % 2 === 0 ? 13 : 0); };
    keys.forEach(function (k) {
      if (!inRange(k.from, k.to)) return;
      var isPrimary = primary && k.version === primary.version;
      var x1 = x(k.from), x2 = x(k.to);
      var y0 = keyY(k.version);
      svg.appendChild(s('rect', { x: x1, y: y0, width: Math.max(2, x2 - x1), height: 12, rx: 3, fill: isPrimary ? '#6f98e0' : '#b7c9ea', stroke: '#4a74c4', 'stroke-width': 0.5 },
        s('title', { text: 'key v' + k.version + ': ' + date(k.from) + ' → ' + date(k.notAfter) + (k.retired ? ' (retired ' + date(k.to) + ')' : '') + ', issued by ' + k.issuedBy })));
      if (x2 - x1 > 34) svg.appendChild(s('text', { x: x1 + 4, y: y0 + 9.5, 'font-size': 9, fill: isPrimary ? '#fff' : '#1d3d75', text: 'v' + k.version + (x2 - x1 > 150 ? ' · until ' + date(k.notAfter) : '') }));
    });
    if (nextKey && inRange(nextKey.from, nextKey.to)) {
      var ny = keyY((primary ? primary.version : 0) + 1);
      svg.appendChild(s('rect', { x: x(nextKey.from), y: ny, width: Math.max(2, x(nextKey.to) - x(nextKey.from)), height: 12, rx: 3, fill: 'none', stroke: '#4a74c4', 'stroke-dasharray': '4 3' },
        s('title', { text: 'next key (scheduled): ' + date(nextKey.from) + ' → ' + date(nextKey.to) })));
      if (x(nextKey.to) - x(nextKey.from) > 60) svg.appendChild(s('text', { x: x(nextKey.from) + 4, y: ny + 9.5, 'font-size': 9, fill: '#4a74c4', text: 'next key (scheduled)' }));
    }

    // machine lanes: online sessions and key marks
    var markColor = { issued: '#2f6fde', received: '#1f8a4c', expired: '#c23a3a', joined: '#5f6c7b', rejoined: '#2f6fde', left: '#5f6c7b' };
    t.machines.forEach(function (m, i) {
      var row = 1 + i, y = laneY(row);
      var lane = s('g', { 'data-lane': m.name });
      var member = state.snapshot && state.snapshot.tables.flowmachines.filter(function (r) { return r.name === m.name; })[0];
      label(row, m.name, member && member.keydeliverystatus === 3 ? '#c23a3a' : member && member.keydeliverystatus === 2 ? '#b86e00' : null);
      lane.appendChild(s('line', { x1: G, x2: W - 10, y1: y + 10, y2: y + 10, stroke: '#edf0f4' }));
      m.sessions.forEach(function (session) {
        var end = session.to ? ms(session.to) : now;
        if (!inRange(ms(session.from), end)) return;
        lane.appendChild(s('rect', { x: x(ms(session.from)), y: y + 6, width: Math.max(1.5, x(end) - x(ms(session.from))), height: 8, rx: 2, fill: '#58b37a', opacity: 0.85 },
          s('title', { text: m.name + ' online ' + date(session.from) + ' → ' + (session.to ? date(session.to) : 'now') })));
      });
      m.marks.forEach(function (mark) {
        var at = ms(mark.at);
        if (at < from || at > to || mark.kind === 'joined' && m.marks.length > 30) return;
        var cx = x(at), cy = y + 10, color = markColor[mark.kind] || '#5f6c7b';
        var title = s('title', { text: m.name + ': ' + mark.kind + (mark.keyVersion ? ' key v' + mark.keyVersion : '') + ' at ' + date(at) });
        if (mark.kind === 'expired') {
          lane.appendChild(s('path', { d: 'M' + (cx - 4) + ' ' + (cy - 4) + 'L' + (cx + 4) + ' ' + (cy + 4) + 'M' + (cx + 4) + ' ' + (cy - 4) + 'L' + (cx - 4) + ' ' + (cy + 4), stroke: color, 'stroke-width': 2.2 }, title));
        } else if (mark.kind === 'issued' || mark.kind === 'received') {
          lane.appendChild(s('path', { d: 'M' + cx + ' ' + (cy - 6) + 'L' + (cx + 5) + ' ' + cy + 'L' + cx + ' ' + (cy + 6) + 'L' + (cx - 5) + ' ' + cy + 'Z', fill: color, stroke: '#fff', 'stroke-width': 1 }, title));
        } else {
          lane.appendChild(s('circle', { cx: cx, cy: cy, r: 3.2, fill: '#fff', stroke: color, 'stroke-width': 1.6 }, title));
        }
      });
      svg.appendChild(lane);
    });

    // connection lanes: runs, failures, re-encryptions, fixes
    t.connections.forEach(function (c, i) {
      var row = 1 + t.machines.length + i, y = laneY(row) + 10;
      var lane = s('g', { 'data-lane': 'connection ' + c.name });
      label(row, c.name, c.status === 'Fix connection' ? '#c23a3a' : '#3c4a5c', 10);
      lane.appendChild(s('line', { x1: G, x2: W - 10, y1: y + 10, y2: y + 10, stroke: '#edf0f4', 'stroke-dasharray': '2 3' }));
      c.runs.forEach(function (run) {
        var at = ms(run.at); if (at < from || at > to) return;
        lane.appendChild(s('line', { x1: x(at), x2: x(at), y1: y + 5, y2: y + 15, stroke: '#8a96a8', 'stroke-width': 1 }, s('title', { text: c.name + ' ran on ' + run.machine + ' at ' + date(at) })));
      });
      c.failures.forEach(function (f) {
        var at = ms(f.at); if (at < from || at > to) return;
        lane.appendChild(s('line', { x1: x(at), x2: x(at), y1: y + 5, y2: y + 15, stroke: '#e38b8b', 'stroke-width': 1 }, s('title', { text: c.name + ' failed at ' + date(at) + ': ' + f.code })));
      });
      c.reencryptions.forEach(function (r) {
        var at = ms(r.at); if (at < from || at > to) return;
        var cx = x(at);
        lane.appendChild(s('path', { d: 'M' + cx + ' ' + (y + 2) + 'L' + (cx + 5) + ' ' + (y + 11) + 'L' + (cx - 5) + ' ' + (y + 11) + 'Z', fill: '#7b4bd1' }, s('title', { text: c.name + ' re-encrypted by ' + r.machine + (r.proactive ? ' (proactive)' : '') + ' at ' + date(at) })));
      });
      c.needsFix.forEach(function (f) {
        var at = ms(f.at); if (at < from || at > to) return;
        var cx = x(at);
        lane.appendChild(s('circle', { cx: cx, cy: y + 10, r: 6, fill: '#c23a3a' }, s('title', { text: c.name + ' needs fixing since ' + date(at) + ': ' + f.reason })));
        lane.appendChild(s('text', { x: cx - 1.6, y: y + 14, 'font-size': 10, 'font-weight': 700, fill: '#fff', text: '!' }));
      });
      c.fixed.forEach(function (at0) {
        var at = ms(at0); if (at < from || at > to) return;
        lane.appendChild(s('circle', { cx: x(at), cy: y + 10, r: 5, fill: '#1f8a4c' }, s('title', { text: c.name + ' fixed at ' + date(at) })));
      });
      svg.appendChild(lane);
    });

    // expiry of the current key, group-level events, and the "as of" cursor
    if (current && current.notAfter >= from && current.notAfter <= to) {
      var ex = x(current.notAfter);
      svg.appendChild(s('line', { x1: ex, x2: ex, y1: 16, y2: H - 4, stroke: '#c23a3a', 'stroke-dasharray': '3 3' }, s('title', { text: 'key v' + current.version + ' expires ' + date(current.notAfter) })));
      svg.appendChild(s('text', { x: ex - 3, y: 26, 'font-size': 9, fill: '#c23a3a', 'text-anchor': 'end', text: 'expiry' }));
    }
    t.events.forEach(function (e) {
      var at = ms(e.at); if (at < from || at > to) return;
      if (e.type === 'GroupKeyExpired' || e.type === 'GroupDeleted') {
        svg.appendChild(s('line', { x1: x(at), x2: x(at), y1: 16, y2: H - 4, stroke: '#c23a3a', 'stroke-width': 2 }, s('title', { text: e.type + ' at ' + date(at) })));
      } else if (e.type === 'GroupPasswordRegenerated') {
        var icon = keyIcon(12, '#2f6fde');
        icon.setAttribute('x', String(x(at) - 6));
        icon.setAttribute('y', '17');
        icon.appendChild(s('title', { text: 'password regenerated on ' + (e.detail || '?') + ' at ' + date(at) }));
        svg.appendChild(icon);
      }
    });
    if (now >= from && now <= to) {
      var nx = x(now);
      svg.appendChild(s('line', { x1: nx, x2: nx, y1: 14, y2: H - 2, stroke: '#17253a', 'stroke-width': 1.5 }));
      svg.appendChild(s('rect', { x: nx - 23, y: 1, width: 46, height: 13, rx: 3, fill: '#17253a' }));
      svg.appendChild(s('text', { x: nx, y: 11, 'font-size': 9, fill: '#fff', 'text-anchor': 'middle', text: state.asOf === null ? 'now' : 'as of' }));
    }
    return svg;
  }

  // ---- why? (the explanation of one row, as rekey explain prints it) -------------------------
  var explainBox = document.getElementById('explain');
  function closeExplain() { explainBox.hidden = true; explainBox.textContent = ''; explainBox.removeAttribute('data-explain'); }
  function showExplain(table, name) {
    var key = table + '/' + name;
    explainBox.hidden = false;
    explainBox.setAttribute('data-explain', key);
    explainBox.setAttribute('data-state', 'loading');
    explainBox.textContent = '';
    explainBox.appendChild(h('div', { class: 'muted', text: 'Explaining ' + name + '…' }));
    api('/api/explain/' + encodeURIComponent(table) + '/' + encodeURIComponent(name) + query()).then(function (e) {
      if (explainBox.getAttribute('data-explain') !== key) return;
      explainBox.textContent = '';
      explainBox.appendChild(h('div', { class: 'card-head' }, h('h2', { text: 'Why? ' + e.name }), h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'close', 'aria-label': 'close the explanation', text: '×', onclick: closeExplain })));
      explainBox.appendChild(h('div', { class: 'muted small', text: e.table + ' as of ' + date(e.asOf) + ' · log position ' + e.position }));
      explainBox.appendChild(h('p', { class: 'summary', 'data-summary': 'true', text: e.summary }));
      if (e.deadline) {
        explainBox.appendChild(h('h3', { text: 'Next deadline: ' + e.deadline.what + ' ' + date(e.deadline.at) + ' (' + e.deadline.rule + ')' }));
        explainBox.appendChild(h('code', { class: 'formula', 'data-formula': 'true', text: e.deadline.formula }));
        e.deadline.notes.forEach(function (note) { explainBox.appendChild(h('div', { class: 'small', text: note })); });
      }
      if (e.settings) {
        explainBox.appendChild(h('div', { class: 'small' }, 'Settings in force since ' + date(e.settings.pickedUpAt) + ': validity ' + days(e.settings.inForce.keyValidityPeriod) + ', grace ' + days(e.settings.inForce.keyExpiryGracePeriod) +
          (e.settings.pending.length ? ' · ' + e.settings.pending.length + ' change(s) waiting to be picked up' : '')));
      }
      explainBox.appendChild(h('h3', { text: 'What would change it' }));
      explainBox.appendChild(h('ul', { class: 'levers' }, e.levers.map(function (l) { return h('li', null, h('b', { text: l.rule + ' ' }), l.what); })));
      explainBox.appendChild(h('h3', { text: 'Rule chain' }));
      explainBox.appendChild(h('ol', { class: 'chain' }, e.chain.map(function (c) {
        return h('li', { 'data-position': c.position }, h('code', { text: '#' + c.position }), ' ' + date(c.occurredAt) + ' ', h('b', { text: c.event }), ' ', h('span', { class: 'badge', text: c.rules.join(' ') || 'import' }), ' ' + c.why);
      })));
      explainBox.setAttribute('data-state', 'ready');
    }).catch(function (error) {
      explainBox.textContent = '';
      explainBox.appendChild(h('div', { class: 'error', text: String(error.message || error) }));
      explainBox.setAttribute('data-state', 'error');
    });
  }
  // A click on a machine or connection row (not on its link), or on a group's "Why?" button.
  view.addEventListener('click', function (event) {
    var target = event.target;
    if (target.closest('a')) return;
    var button = target.closest('[data-explain-group]');
    if (button) { showExplain('flowmachinegroups', button.getAttribute('data-explain-group')); return; }
    var row = target.closest('tr[data-machine], tr[data-connection]');
    if (!row) return;
    if (row.hasAttribute('data-machine')) showExplain('flowmachines', row.getAttribute('data-machine'));
    else showExplain('desktopflowconnections', row.getAttribute('data-connection'));
  });
  document.addEventListener('keydown', function (event) { if (event.key === 'Escape' && !explainBox.hidden) closeExplain(); });

  window.addEventListener('hashchange', function () { state.seq++; load(); });
  var resizeTimer = null;
  window.addEventListener('resize', function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(render, 150); });
  load();
  connect();
})();
`;
