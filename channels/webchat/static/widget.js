// Conversa web-chat widget. Embed with:
//
//   <script src="https://chat.example.com/webchat/widget.js" data-channel="KEY" defer></script>
//
// Optional: data-lang="es|en" (defaults to the page's language). The widget
// keeps the visitor's token in localStorage, so a visitor who comes back
// finds their conversation; it resumes after a lost connection and re-sends
// what was written while offline. Everything the server sends is shown with
// textContent, never as HTML.
(function () {
  'use strict';

  const script = document.currentScript;
  if (!script || window.__conversaWidget) return;
  window.__conversaWidget = true;
  const channel = script.getAttribute('data-channel');
  if (!channel) {
    console.error('conversa: the widget script needs a data-channel attribute');
    return;
  }
  const origin = new URL(script.src, location.href).origin;
  const base = origin + '/webchat/' + encodeURIComponent(channel);

  const STRINGS = {
    es: {
      title: 'Chatea con nosotros',
      greeting: '¡Hola! ¿En qué podemos ayudarte?',
      placeholder: 'Escribe tu mensaje…',
      send: 'Enviar',
      open: 'Abrir el chat',
      close: 'Cerrar el chat',
      typing: 'Escribiendo…',
      reconnecting: 'Sin conexión. Reconectando…',
      sending: 'Enviando…',
      failed: 'No se pudo enviar',
      queued: 'Te estamos comunicando con un agente. Puedes seguir escribiendo.',
      agent: 'Un agente está atendiendo la conversación.',
      location: 'Ubicación',
      file: 'Archivo',
    },
    en: {
      title: 'Chat with us',
      greeting: 'Hi! How can we help you?',
      placeholder: 'Type your message…',
      send: 'Send',
      open: 'Open chat',
      close: 'Close chat',
      typing: 'Typing…',
      reconnecting: 'Offline. Reconnecting…',
      sending: 'Sending…',
      failed: 'Could not send',
      queued: 'We are connecting you with an agent. You can keep writing.',
      agent: 'An agent is handling the conversation.',
      location: 'Location',
      file: 'File',
    },
  };
  const lang = pickLang(script.getAttribute('data-lang') || document.documentElement.lang || navigator.language);
  const T = STRINGS[lang];
  const MAX_TEXT = 4096;

  const keys = {
    token: 'conversa.' + channel + '.token',
    outbox: 'conversa.' + channel + '.outbox',
    open: 'conversa.' + channel + '.open',
  };

  // --- State -------------------------------------------------------------

  let ws = null;
  let token = localStorage.getItem(keys.token) || '';
  let last = null; // {conversation_id, seq} of the newest message seen
  let attempt = 0; // reconnect attempts since the last welcome
  let online = false;
  const byId = new Map(); // server message id -> bubble
  const byClient = new Map(); // browser message id -> bubble
  const receipts = new Map(); // server message id -> "delivered" | "read"
  let typingTimer = 0;
  let typingSentAt = 0;
  let typingOffTimer = 0;

  // --- DOM -----------------------------------------------------------------

  const host = document.createElement('div');
  host.id = 'conversa-widget';
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
      .launcher { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%;
        border: 0; background: var(--accent); color: #fff; font-size: 26px; cursor: pointer;
        box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483646; }
      .panel { position: fixed; right: 20px; bottom: 88px; width: 360px; max-width: calc(100vw - 40px);
        height: 520px; max-height: calc(100vh - 120px); background: #fff; border-radius: 12px; display: none;
        flex-direction: column; overflow: hidden; box-shadow: 0 8px 30px rgba(0,0,0,.25); z-index: 2147483647; }
      .panel.open { display: flex; }
      header { background: var(--accent); color: #fff; padding: 14px 16px; font-size: 16px; font-weight: 600;
        display: flex; justify-content: space-between; align-items: center; }
      header button { background: none; border: 0; color: #fff; font-size: 20px; cursor: pointer; }
      .status { font-size: 12px; padding: 4px 12px; background: #fff4d6; color: #6b5200; display: none; }
      .status.show { display: block; }
      .log { flex: 1; overflow-y: auto; padding: 12px; background: #f6f7f9; display: flex; flex-direction: column; gap: 8px; }
      .msg { max-width: 80%; padding: 8px 12px; border-radius: 12px; font-size: 14px; line-height: 1.4;
        white-space: pre-wrap; word-wrap: break-word; }
      .msg.theirs { align-self: flex-start; background: #fff; color: #1d2433; border: 1px solid #e3e6eb; }
      .msg.mine { align-self: flex-end; background: var(--accent); color: #fff; }
      .msg.pending { opacity: .6; }
      .msg.failed { background: #b3261e; }
      .msg .meta { display: block; font-size: 11px; opacity: .75; margin-top: 2px; }
      .msg img { max-width: 100%; border-radius: 8px; display: block; }
      .msg a { color: inherit; }
      .buttons { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
      .buttons button { border: 1px solid var(--accent); color: var(--accent); background: #fff;
        border-radius: 14px; padding: 4px 10px; font-size: 13px; cursor: pointer; }
      .buttons button:disabled { opacity: .5; cursor: default; }
      .notice { align-self: center; font-size: 12px; color: #5b6475; text-align: center; padding: 2px 8px; }
      .typing { font-size: 12px; color: #5b6475; padding: 0 14px 6px; min-height: 18px; background: #f6f7f9; }
      form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e3e6eb; }
      textarea { flex: 1; resize: none; border: 1px solid #cfd4dc; border-radius: 8px; padding: 8px; font-size: 14px; height: 40px; }
      form button { border: 0; background: var(--accent); color: #fff; border-radius: 8px; padding: 0 14px; cursor: pointer; }
    </style>
    <button class="launcher" type="button">💬</button>
    <section class="panel" role="dialog">
      <header><span class="title"></span><button class="close" type="button">×</button></header>
      <div class="status" role="status"></div>
      <div class="log" aria-live="polite"></div>
      <div class="typing"></div>
      <form><textarea rows="1"></textarea><button type="submit" class="send"></button></form>
    </section>`;
  const $ = (sel) => root.querySelector(sel);
  const launcher = $('.launcher');
  const panel = $('.panel');
  const log = $('.log');
  const statusBar = $('.status');
  const typingLine = $('.typing');
  const input = $('textarea');
  host.style.setProperty('--accent', '#0b7a75');
  $('.title').textContent = T.title;
  $('.send').textContent = T.send;
  $('.close').setAttribute('aria-label', T.close);
  launcher.setAttribute('aria-label', T.open);
  input.placeholder = T.placeholder;
  input.maxLength = MAX_TEXT;
  const greeting = notice(T.greeting);

  launcher.addEventListener('click', () => setOpen(!panel.classList.contains('open')));
  $('.close').addEventListener('click', () => setOpen(false));
  $('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(input.value);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      submit(input.value);
    }
  });
  input.addEventListener('input', typing);
  document.addEventListener('visibilitychange', sendReadReceipts);

  function setOpen(open) {
    panel.classList.toggle('open', open);
    sessionStorage.setItem(keys.open, open ? '1' : '');
    if (open) {
      input.focus();
      log.scrollTop = log.scrollHeight;
      sendReadReceipts();
    }
  }

  // --- Rendering -----------------------------------------------------------

  function notice(text) {
    const el = document.createElement('div');
    el.className = 'notice';
    el.textContent = text;
    log.appendChild(el);
    return el;
  }

  function bubble(m) {
    const mine = m.direction === 'in';
    const el = document.createElement('div');
    el.className = 'msg ' + (mine ? 'mine' : 'theirs');
    if (m.id) el.dataset.id = String(m.id);
    for (const p of m.parts || []) renderPart(el, p, !mine);
    if (!mine && m.author && m.author.name) {
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = m.author.name;
      el.appendChild(meta);
    }
    return el;
  }

  function renderPart(el, p, interactive) {
    if (p.text) el.appendChild(document.createTextNode(p.text));
    if (p.type === 'buttons' && p.buttons) {
      const row = document.createElement('div');
      row.className = 'buttons';
      for (const b of p.buttons) {
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.textContent = b.title;
        btn.disabled = !interactive;
        btn.addEventListener('click', () => {
          for (const other of row.querySelectorAll('button')) other.disabled = true;
          submit(b.title, b.id);
        });
        row.appendChild(btn);
      }
      el.appendChild(row);
    } else if (p.type === 'media' && p.media) {
      const url = safeURL(p.media.url);
      if (url && /^image\//.test(p.media.content_type)) {
        const img = document.createElement('img');
        img.src = url;
        img.alt = p.media.filename || '';
        el.appendChild(img);
      } else if (url) {
        el.appendChild(link(url, p.media.filename || T.file));
      }
    } else if (p.type === 'location' && p.location) {
      const l = p.location;
      const url = 'https://www.openstreetmap.org/?mlat=' + encodeURIComponent(l.latitude) + '&mlon=' + encodeURIComponent(l.longitude);
      el.appendChild(link(url, '📍 ' + (l.name || l.address || T.location)));
    } else if (p.type === 'contact' && p.contact) {
      const c = p.contact;
      el.appendChild(document.createTextNode('👤 ' + [c.name].concat(c.phones || [], c.emails || []).filter(Boolean).join(' · ')));
    }
  }

  function link(href, text) {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  function safeURL(u) {
    try {
      const url = new URL(u);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : '';
    } catch (e) {
      return '';
    }
  }

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function append(el) {
    const stick = atBottom();
    log.appendChild(el);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  // show adds or updates a message from the server.
  function show(m) {
    if (m.conversation_id && (!last || m.conversation_id > last.conversation_id ||
        (m.conversation_id === last.conversation_id && m.seq > last.seq))) {
      last = { conversation_id: m.conversation_id, seq: m.seq };
    }
    let el = byId.get(m.id);
    if (!el && m.client_id && byClient.has(m.client_id)) {
      el = byClient.get(m.client_id);
      byClient.delete(m.client_id);
      el.classList.remove('pending', 'failed');
      el.dataset.id = String(m.id);
      byId.set(m.id, el);
    }
    if (!el) {
      el = bubble(m);
      byId.set(m.id, el);
      append(el);
    }
    el.dataset.status = m.status;
    if (m.direction === 'out') receipt(m.id);
  }

  // --- Sending -------------------------------------------------------------

  function outbox() {
    try {
      return JSON.parse(localStorage.getItem(keys.outbox) || '[]');
    } catch (e) {
      return [];
    }
  }

  function saveOutbox(items) {
    localStorage.setItem(keys.outbox, JSON.stringify(items));
  }

  function newID() {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // submit sends what the visitor wrote, or keeps it in the outbox until
  // the connection is back.
  function submit(text, payload) {
    text = (text || '').trim();
    if (!text) return;
    if (!payload) input.value = '';
    const item = { id: newID(), text: text.slice(0, MAX_TEXT) };
    if (payload) item.payload = payload;
    saveOutbox(outbox().concat([item]));
    pendingBubble(item);
    stopTyping();
    if (online) transmit(item);
  }

  function pendingBubble(item) {
    if (byClient.has(item.id)) return;
    const el = bubble({ direction: 'in', parts: [{ type: 'text', text: item.text }] });
    el.classList.add('pending');
    el.title = T.sending;
    byClient.set(item.id, el);
    append(el);
  }

  function transmit(item) {
    const frame = { type: 'message', id: item.id, text: item.text };
    if (item.payload) frame.payload = item.payload;
    sendFrame(frame);
  }

  function acked(id) {
    saveOutbox(outbox().filter((i) => i.id !== id));
  }

  function failed(id, message) {
    acked(id);
    const el = byClient.get(id);
    if (el) {
      el.classList.remove('pending');
      el.classList.add('failed');
      el.title = T.failed + (message ? ': ' + message : '');
    }
  }

  // sendFrame sends f if the socket is open, and reports whether it did.
  function sendFrame(f) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(f));
    return true;
  }

  function typing() {
    const now = Date.now();
    if (now - typingSentAt > 3000) {
      typingSentAt = now;
      sendFrame({ type: 'typing', on: true });
    }
    clearTimeout(typingOffTimer);
    typingOffTimer = setTimeout(stopTyping, 4000);
  }

  function stopTyping() {
    clearTimeout(typingOffTimer);
    if (typingSentAt) {
      typingSentAt = 0;
      sendFrame({ type: 'typing', on: false });
    }
  }

  // receipt tells the server that a reply was shown, and read when the
  // visitor can see it.
  function receipt(id) {
    const status = panel.classList.contains('open') && document.visibilityState === 'visible' ? 'read' : 'delivered';
    const had = receipts.get(id);
    if (had === status || had === 'read') return;
    // Offline, the receipt is sent when the welcome shows the message again.
    if (sendFrame({ type: 'receipt', message_id: id, status: status })) receipts.set(id, status);
  }

  function sendReadReceipts() {
    for (const id of receipts.keys()) receipt(id);
  }

  // --- Connection ------------------------------------------------------------

  async function session() {
    const res = await fetch(base + '/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: token }),
    });
    if (!res.ok) throw new Error('session: HTTP ' + res.status);
    const s = await res.json();
    token = s.token;
    localStorage.setItem(keys.token, token);
    if (s.title) $('.title').textContent = s.title;
    if (s.color) host.style.setProperty('--accent', s.color);
    if (s.greeting && s.greeting[lang]) greeting.textContent = s.greeting[lang];
  }

  async function connect() {
    try {
      if (!token || attempt === 0) await session();
    } catch (e) {
      return retry();
    }
    const sock = new WebSocket(base.replace(/^http/, 'ws') + '/ws');
    ws = sock;
    sock.onopen = () => sock.send(JSON.stringify({ type: 'hello', token: token, lang: lang, resume: last }));
    sock.onmessage = (ev) => {
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      handle(f);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      setOnline(false);
      if (ev.code === 4401 || ev.code === 4403) {
        // The token is no good: start over as a new visitor.
        token = '';
        localStorage.removeItem(keys.token);
      }
      retry();
    };
  }

  function retry() {
    const delay = Math.min(10000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt++;
    setTimeout(connect, delay);
  }

  function setOnline(on) {
    online = on;
    statusBar.textContent = T.reconnecting;
    statusBar.classList.toggle('show', !on && attempt > 0);
    if (!on) showTyping(false);
  }

  function handle(f) {
    switch (f.type) {
      case 'welcome':
        attempt = 0;
        setOnline(true);
        for (const m of f.messages || []) show(m);
        if (f.state) state(f.state);
        // Re-send what was written while offline; the ids make it safe.
        for (const item of outbox()) {
          pendingBubble(item);
          transmit(item);
        }
        break;
      case 'message':
        show(f.message);
        if (f.message.direction === 'out') showTyping(false);
        break;
      case 'ack':
        acked(f.id);
        if (f.message) {
          show(f.message);
        } else if (byClient.has(f.id)) {
          byClient.get(f.id).classList.remove('pending');
        }
        break;
      case 'typing':
        showTyping(f.on);
        break;
      case 'conversation':
        state(f.state);
        break;
      case 'error':
        if (f.id) failed(f.id, f.error);
        else console.warn('conversa:', f.code, f.error);
        break;
    }
  }

  let lastState = '';
  function state(s) {
    if (s === lastState) return;
    lastState = s;
    if (s === 'queued') append(notice(T.queued));
    if (s === 'agent') append(notice(T.agent));
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    typingLine.textContent = on ? T.typing : '';
    if (on) typingTimer = setTimeout(() => showTyping(false), 10000);
  }

  function pickLang(tag) {
    return String(tag || '').toLowerCase().slice(0, 2) === 'en' ? 'en' : 'es';
  }

  function start() {
    document.body.appendChild(host);
    for (const item of outbox()) pendingBubble(item);
    if (sessionStorage.getItem(keys.open)) setOpen(true);
    connect();
  }

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
