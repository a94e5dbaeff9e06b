// The console's live parts: the socket that brings messages, typing and
// routing events; the reply box (sent without leaving the page, typing
// indicator, canned responses by /shortcut); offer countdowns. Everything
// a customer wrote is set as text, never as markup.
(function () {
  'use strict';
  var body = document.body;
  var csrf = body.dataset.csrf;
  var page = body.dataset.page;
  if (!csrf) { return; }
  var conv = document.getElementById('conversation');
  var convID = conv ? Number(conv.dataset.id) : 0;
  var socket = null;
  var backoff = 500;

  // Links in messages: only http, https and mailto become anchors.
  function appendText(el, text) {
    var re = /\b(?:https?:\/\/|mailto:)[^\s<>"']+/gi;
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      var raw = m[0].replace(/[.,;:!?)]+$/, '');
      var url;
      try { url = new URL(raw); } catch (e) { continue; }
      if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'mailto:') { continue; }
      el.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = document.createElement('a');
      a.href = url.href;
      a.rel = 'noopener noreferrer nofollow';
      a.target = '_blank';
      a.textContent = raw;
      el.appendChild(a);
      last = m.index + raw.length;
      re.lastIndex = last;
    }
    el.appendChild(document.createTextNode(text.slice(last)));
  }

  function showMessage(m) {
    var log = document.getElementById('log');
    if (!log) { return; }
    var li = log.querySelector('li[data-id="' + Number(m.id) + '"]');
    if (li) { li.dataset.status = m.status; return; }
    li = document.createElement('li');
    li.className = 'msg ' + (m.direction === 'in' ? 'in' : 'out') + ' ' + String(m.author.kind).replace(/[^a-z]/g, '');
    li.dataset.id = String(Number(m.id));
    li.dataset.status = m.status;
    var who = document.createElement('span');
    who.className = 'who';
    who.textContent = m.author.name || m.author.kind;
    var chan = document.createElement('span');
    chan.className = 'chan';
    chan.textContent = m.channel;
    var text = document.createElement('span');
    text.className = 'body';
    appendText(text, m.text || '');
    li.append(who, ' ', chan, ' ', text);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    if (m.direction === 'in') { setTyping(false); }
  }

  var typingTimer = null;
  function setTyping(on) {
    var el = document.getElementById('typing');
    if (!el) { return; }
    el.hidden = !on;
    clearTimeout(typingTimer);
    if (on) { typingTimer = setTimeout(function () { el.hidden = true; }, 8000); }
  }

  // refresh reloads the page's live region from the server. A refresh
  // asked for while one is under way runs again after it: the page that
  // one fetches may predate the change that asked.
  var refreshing = false, refreshAgain = false;
  function refresh() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    setTimeout(function () {
      fetch(location.href, { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var fresh = doc.querySelector('[data-live]');
        var cur = document.querySelector('[data-live]');
        if (fresh && cur) { cur.replaceWith(document.importNode(fresh, true)); countdowns(); }
      }).catch(function () {}).then(function () {
        refreshing = false;
        if (refreshAgain) { refreshAgain = false; refresh(); }
      });
    }, 150);
  }

  // The dashboard reads its JSON again when the socket says something
  // changed, at most once a second, and redraws its tables as text.
  var dashTimer = null, dashLast = 0;
  function dashboardSoon() {
    if (dashTimer) { return; }
    dashTimer = setTimeout(function () {
      dashTimer = null;
      dashLast = Date.now();
      fetch('/console/dashboard.json', { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (v) { if (v) { drawDashboard(v); } })
        .catch(function () {});
    }, Math.max(0, 1000 - (Date.now() - dashLast)));
  }
  function row(cells, tag) {
    var tr = document.createElement('tr');
    cells.forEach(function (c, i) {
      var td = document.createElement(tag || 'td');
      td.textContent = String(c);
      if (i > 0) { td.className = 'num'; }
      tr.appendChild(td);
    });
    return tr;
  }
  function drawDashboard(v) {
    var el = document.getElementById('dash-channels');
    if (!el) { return; }
    el.replaceChildren.apply(el, v.channels.map(function (c) { return row([c.channel, c.waiting, c.active, c.with_bot]); }));
    var total = document.getElementById('dash-total');
    total.replaceChildren(row([v.total.channel, v.total.waiting, v.total.active, v.total.with_bot], 'th'));
    var agents = document.getElementById('dash-agents');
    agents.replaceChildren.apply(agents, v.agents.map(function (a) {
      var tr = row([a.name, a.status_label, a.load + '/' + a.capacity]);
      tr.dataset.status = a.status;
      return tr;
    }));
    var today = document.getElementById('dash-today');
    today.replaceChildren.apply(today, v.today.map(function (f) {
      var div = document.createElement('div');
      div.dataset.key = f.key;
      var dt = document.createElement('dt');
      dt.textContent = f.label;
      var dd = document.createElement('dd');
      dd.textContent = f.value;
      div.append(dt, dd);
      return div;
    }));
    document.getElementById('dashboard').dataset.at = v.at;
    body.dataset.dashboard = String(Number(body.dataset.dashboard || 0) + 1);
  }

  // The report page's print button.
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); }
  }

  function connect() {
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(proto + '//' + location.host + '/console/ws?csrf=' + encodeURIComponent(csrf));
    var live = document.getElementById('live');
    socket.onopen = function () {
      backoff = 500;
      if (live) { live.hidden = true; }
      if (convID) { send({ type: 'watch', conversation_id: convID }); }
    };
    socket.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      body.dataset.lastFrame = f.type;
      switch (f.type) {
      case 'hello':
        // The server says hello once it listens to the agent's events: a
        // refresh from now on misses none.
        body.dataset.socket = 'on';
        if (page === 'inbox' || page === 'supervisor') { refresh(); }
        if (page === 'dashboard') { send({ type: 'dashboard' }); dashboardSoon(); }
        break;
      case 'dashboard':
        dashboardSoon();
        break;
      case 'message':
        if (conv && f.message) { showMessage(f.message); }
        break;
      case 'typing':
        if (f.conversation_id === convID) { setTyping(!!f.on); }
        break;
      case 'conversation':
        if (f.conversation_id === convID) {
          var st = document.getElementById('state');
          if (st) { st.textContent = f.state; }
        }
        break;
      case 'routing':
        if (page === 'inbox' || page === 'supervisor') { refresh(); }
        if (page === 'dashboard') { dashboardSoon(); }
        break;
      case 'watching':
        body.dataset.watching = String(f.conversation_id);
        break;
      }
    };
    socket.onclose = function () {
      body.dataset.socket = 'off';
      if (live) { live.textContent = body.dataset.offline; live.hidden = false; }
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }
  setInterval(function () { send({ type: 'ping' }); }, 25000);

  // Offers count down to their deadline.
  function countdowns() {
    document.querySelectorAll('[data-deadline]').forEach(function (el) {
      var left = Math.max(0, Math.round((Number(el.dataset.deadline) - Date.now()) / 1000));
      var b = el.querySelector('b');
      if (b) { b.textContent = left + ' s'; }
    });
  }
  setInterval(countdowns, 1000);
  countdowns();

  // The reply box: sent by fetch, the typing indicator, canned responses.
  var reply = document.getElementById('reply');
  var form = document.getElementById('reply-form');
  var typingOn = false, typingIdle = null;
  function typing(on) {
    if (typingOn === on || !convID) { return; }
    typingOn = on;
    send({ type: 'typing', conversation_id: convID, on: on });
  }
  var canned = Array.prototype.map.call(document.querySelectorAll('#canned li'), function (li) {
    return { shortcut: li.dataset.shortcut, text: li.dataset.text };
  });
  var menu = null;
  function cannedMenu() {
    if (menu) { menu.remove(); menu = null; }
    var v = reply.value;
    if (v.charAt(0) !== '/' || canned.length === 0) { return; }
    var q = v.slice(1).toLowerCase();
    var hits = canned.filter(function (c) { return c.shortcut.toLowerCase().indexOf(q) === 0; });
    if (hits.length === 0) { return; }
    menu = document.createElement('ul');
    menu.className = 'canned';
    hits.forEach(function (c, i) {
      var li = document.createElement('li');
      li.textContent = '/' + c.shortcut + ' — ' + c.text;
      if (i === 0) { li.className = 'sel'; }
      li.addEventListener('mousedown', function (e) { e.preventDefault(); useCanned(c); });
      menu.appendChild(li);
    });
    menu.hits = hits;
    form.insertBefore(menu, reply.nextSibling);
  }
  function useCanned(c) {
    reply.value = c.text;
    if (menu) { menu.remove(); menu = null; }
    reply.focus();
  }
  if (reply && form) {
    reply.addEventListener('input', function () {
      typing(reply.value.length > 0);
      clearTimeout(typingIdle);
      typingIdle = setTimeout(function () { typing(false); }, 4000);
      cannedMenu();
    });
    reply.addEventListener('keydown', function (e) {
      if ((e.key === 'Tab' || e.key === 'Enter') && menu && menu.hits.length) {
        e.preventDefault();
        useCanned(menu.hits[0]);
      } else if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var data = new FormData(form);
      data.append('key', String(Date.now()) + Math.random().toString(36).slice(2));
      var button = form.querySelector('button');
      button.disabled = true;
      fetch(form.action, { method: 'POST', body: data, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json' } })
        .then(function (r) {
          button.disabled = false;
          if (r.ok) { reply.value = ''; typingOn = false; form.dataset.sent = String(Number(form.dataset.sent || 0) + 1); }
          else { r.json().then(function (j) { alert(j.error && j.error.message); }); }
        }).catch(function () { button.disabled = false; });
    });
  }
  connect();
})();
