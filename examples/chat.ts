// examples/chat.ts — a chat room: one page and a WebSocket endpoint, over HTTP/2 (RFC 8441) or HTTP/1.1.
//   npx httpsd examples/chat.ts        then open https://localhost:8443/ in two tabs
// `/?name=ann&say=hello` joins as ann and sends "hello" once connected.
import type { ServerWebSocket } from 'httpsd';

interface Member {
  name: string;
}

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>httpsd chat</title>
<style>body{font:16px system-ui;max-width:40em;margin:2em auto}#log{border:1px solid #ccc;height:20em;overflow:auto;padding:.5em}</style>
</head><body>
<h1>httpsd chat</h1>
<div id="log" aria-live="polite"></div>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<script>
const params = new URLSearchParams(location.search);
const name = params.get('name') || 'guest-' + Math.random().toString(36).slice(2, 6);
const log = document.getElementById('log');
const show = (line) => { const p = document.createElement('p'); p.textContent = line; log.append(p); log.scrollTop = log.scrollHeight; };
const ws = new WebSocket('wss://' + location.host + '/chat?name=' + encodeURIComponent(name));
ws.onopen = () => { show('connected as ' + name); const say = params.get('say'); if (say) ws.send(say); };
ws.onmessage = (event) => show(event.data);
ws.onclose = (event) => show('disconnected (' + event.code + ')');
document.getElementById('form').onsubmit = (event) => {
  event.preventDefault();
  const text = document.getElementById('text');
  if (text.value) ws.send(text.value);
  text.value = '';
};
</script>
</body></html>`;

export default {
  fetch(request: Request, info: { upgradeWebSocket?: (request: Request, options?: { data?: Member }) => Response }) {
    const url = new URL(request.url);
    if (url.pathname === '/chat') {
      // Only pages of this origin may open the socket (a WebSocket is not subject to CORS).
      const origin = request.headers.get('origin');
      if (origin !== null && origin !== url.origin) return new Response('forbidden origin', { status: 403 });
      const name = (url.searchParams.get('name') ?? 'guest').slice(0, 40);
      return info.upgradeWebSocket!(request, { data: { name } });
    }
    if (url.pathname === '/') return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    return new Response('not found', { status: 404 });
  },
  websocket: {
    open(ws: ServerWebSocket<Member>) {
      ws.subscribe('room');
      ws.publish('room', `${ws.data.name} joined`);
    },
    message(ws: ServerWebSocket<Member>, data: string | Uint8Array) {
      if (typeof data !== 'string') return;
      const line = `${ws.data.name}: ${data.slice(0, 1000)}`;
      ws.publish('room', line);
      ws.send(line);
    },
    close(ws: ServerWebSocket<Member>) {
      ws.publish('room', `${ws.data.name} left`);
    },
  },
};
