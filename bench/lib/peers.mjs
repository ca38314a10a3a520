// The servers under test. Each answers the same bytes: GET / -> 200 text/plain "hello" (content-length 5),
// GET /1m -> 1 MiB, POST /upload -> reads the whole body, GET /static/* -> files (where the server serves files).
// Every server binds 127.0.0.1 only, on ports picked free by the harness, with the harness's certificates.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from './proc.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = path.resolve(benchDir, '..');
const serversDir = path.join(benchDir, 'servers');
const distIndex = path.join(repoDir, 'dist', 'index.js');

/** Resolves to the exports of the built httpsd (dist/index.js), or an explanation of why it is unavailable. */
let httpsdExports;
export async function loadHttpsd() {
  if (httpsdExports !== undefined) return httpsdExports;
  if (!existsSync(distIndex)) {
    httpsdExports = { error: 'dist/index.js not found: run `npm run build`' };
    return httpsdExports;
  }
  try {
    const module = await import(distIndex);
    if (typeof module.serve !== 'function') httpsdExports = { error: 'dist/index.js does not export serve() yet' };
    else httpsdExports = { module };
  } catch (error) {
    httpsdExports = { error: `dist/index.js failed to load: ${error.message.split('\n')[0]}` };
  }
  return httpsdExports;
}

function nodeServer(script, extraArgs = []) {
  return ({ port, httpPort, cert, key }) => ({
    command: process.execPath,
    args: [path.join(serversDir, script), '--port', String(port), '--http-port', String(httpPort), '--cert', cert, '--key', key, ...extraArgs],
  });
}

function httpsdPeer(response) {
  return {
    name: `httpsd-${response}`,
    label: response === 'fast' ? 'httpsd FastResponse' : 'httpsd global Response',
    family: 'httpsd',
    // One httpsd entry in the WebSocket comparison: the Response class plays no part after the upgrade.
    supports: { h2: true, h1: true, h2c: true, upload: true, files: true, static: 'httpsd', ws: response === 'fast',
      h1Cleartext: 'httpPort', echo: true, json: true, h3: true },
    async available() {
      const loaded = await loadHttpsd();
      if (loaded.error) return { ok: false, reason: loaded.error };
      if (response === 'fast' && typeof loaded.module.FastResponse !== 'function') {
        return { ok: false, reason: 'dist/index.js does not export FastResponse yet' };
      }
      return { ok: true };
    },
    command(options) {
      const extra = ['--response', response];
      if (options.staticRoot && options.httpsdStatic) extra.push('--static', path.dirname(options.staticRoot));
      return nodeServer('httpsd.mjs', extra)(options);
    },
  };
}

const aptHint = (pkg) => `apt-get install -y ${pkg}`;

/** Peers that are npm packages (the repository's devDependencies). */
function nodePackages(...names) {
  return () => {
    const missing = names.filter((name) => !existsSync(path.join(repoDir, 'node_modules', name, 'package.json')));
    return missing.length ? { ok: false, reason: `${missing.join(', ')} not installed`, install: 'npm install' } : { ok: true };
  };
}

function binaryPeer(binary, pkg) {
  return () => (which(binary) ? { ok: true } : { ok: false, reason: `${binary} not installed`, install: aptHint(pkg) });
}

export const peers = [
  httpsdPeer('fast'),
  httpsdPeer('global'),
  {
    name: 'node-http2-stream',
    label: 'node:http2 stream API',
    family: 'node',
    supports: { h2: true, h1: false, h2c: true, upload: true, files: true, echo: true, json: true },
    available: () => ({ ok: true }),
    command: nodeServer('node-http2-stream.mjs'),
  },
  {
    name: 'node-http2-compat',
    label: 'node:http2 compat API',
    family: 'node',
    supports: { h2: true, h1: true, h2c: true, upload: true, files: true, echo: true, json: true },
    available: () => ({ ok: true }),
    command: nodeServer('node-http2-compat.mjs'),
  },
  {
    name: 'node-https',
    label: 'node:https (h1)',
    family: 'node',
    // Its cleartext port is node:http (the pipelining scenario's baseline).
    supports: { h2: false, h1: true, h2c: false, upload: true, files: true, h1Cleartext: 'httpPort', echo: true, json: true },
    available: () => ({ ok: true }),
    command: nodeServer('node-https.mjs'),
  },
  {
    name: 'hono',
    label: 'Hono (@hono/node-server)',
    family: 'node',
    // node:http2 secure server with allowHTTP1 (h2 and HTTP/1.1 over TLS), node:http in cleartext (no h2c).
    supports: { h2: true, h1: true, h2c: false, upload: true, files: true, echo: true, json: true },
    available: nodePackages('hono', '@hono/node-server'),
    command: nodeServer('hono.mjs'),
  },
  {
    name: 'srvx',
    label: 'srvx',
    family: 'node',
    supports: { h2: true, h1: true, h2c: false, upload: true, files: true, echo: true, json: true },
    available: nodePackages('srvx'),
    command: nodeServer('srvx.mjs'),
  },
  {
    name: 'ws-node',
    label: 'ws package on node:https',
    family: 'node',
    supports: { h2: false, h1: true, h2c: false, upload: true, files: true, ws: true, wsOnly: true },
    available: () => ({ ok: true }),
    command: nodeServer('ws-node.mjs'),
  },
  {
    name: 'hypercorn',
    label: 'Hypercorn (ASGI)',
    family: 'peer',
    supports: { h2: true, h1: true, h2c: true, upload: true, files: true },
    available: () => {
      // Debian's hypercorn runs on the system Python, whatever python3 comes first on PATH.
      const binary = existsSync('/usr/bin/hypercorn') ? '/usr/bin/hypercorn' : which('hypercorn');
      return binary ? { ok: true } : { ok: false, reason: 'hypercorn not installed', install: aptHint('python3-hypercorn') };
    },
    command({ port, httpPort, cert, key }) {
      const binary = existsSync('/usr/bin/hypercorn') ? '/usr/bin/hypercorn' : which('hypercorn');
      return {
        command: binary,
        args: ['--certfile', cert, '--keyfile', key, '--bind', `127.0.0.1:${port}`, '--insecure-bind', `127.0.0.1:${httpPort}`,
          '--workers', '1', '--keep-alive', '300', 'hello:app'],
        env: { PYTHONPATH: serversDir },
        cwd: serversDir,
      };
    },
  },
  {
    name: 'nginx',
    label: 'nginx',
    family: 'peer',
    // `return 200` answers before the body is read (nginx discards it), so nginx cannot take part in the upload test.
    // Cleartext HTTP/1.1 on a port of its own: nginx 1.22's `listen ... http2` without ssl speaks h2c only.
    supports: { h2: true, h1: true, h2c: true, upload: false, files: true, static: 'native', h1Cleartext: 'plainPort', json: true },
    available: binaryPeer('nginx', 'nginx-light'),
    command({ port, httpPort, plainPort, cert, key, workDir, wwwDir, staticRoot }) {
      mkdirSync(path.join(workDir, 'temp'), { recursive: true });
      const temp = path.join(workDir, 'temp');
      const routes = `
      location = / { default_type text/plain; return 200 "hello"; }
      location = /1m { default_type application/octet-stream; alias ${wwwDir}/1m.bin; }
      location /static/ { alias ${staticRoot}/; }
      location = /json {
        default_type application/json; alias ${wwwDir}/data.json;
        gzip on; gzip_types application/json; gzip_comp_level 6; gzip_vary on;
      }`;
      const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${workDir}/nginx.pid;
error_log ${workDir}/error.log warn;
events { worker_connections 20000; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${temp}/body; proxy_temp_path ${temp}/proxy; fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi; scgi_temp_path ${temp}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  http2_idle_timeout 300s;
  http2_max_concurrent_streams 256;
  open_file_cache max=64;
  server_tokens off;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ${routes}
  }
  server {
    listen 127.0.0.1:${httpPort} http2;
    ${routes}
  }
  server {
    listen 127.0.0.1:${plainPort};
    ${routes}
  }
}
`;
      const file = path.join(workDir, 'nginx.conf');
      writeFileSync(file, config);
      return { command: which('nginx'), args: ['-p', workDir, '-e', path.join(workDir, 'error.log'), '-c', file] };
    },
  },
  {
    name: 'h2o',
    label: 'h2o',
    family: 'peer',
    supports: { h2: true, h1: true, h2c: true, upload: true, files: true, static: 'native' },
    available: binaryPeer('h2o', 'h2o'),
    command({ port, httpPort, cert, key, workDir, wwwDir, staticRoot }) {
      // mruby handlers answer hello and the upload (reading the whole body); files are served by h2o's file handler.
      // Run as root, h2o would switch to "nobody", who cannot read the run's private temp dir.
      const user = process.getuid?.() === 0 ? 'user: root\n' : '';
      const config = `${user}
num-threads: 1
max-connections: 20000
http2-idle-timeout: 300
http1-request-timeout: 300
http2-max-concurrent-requests-per-connection: 256
error-log: ${workDir}/error.log
pid-file: ${workDir}/h2o.pid
listen:
  host: 127.0.0.1
  port: ${port}
  ssl:
    certificate-file: ${cert}
    key-file: ${key}
listen:
  host: 127.0.0.1
  port: ${httpPort}
hosts:
  default:
    paths:
      /1m:
        file.file: ${wwwDir}/1m.bin
      /static:
        file.dir: ${staticRoot}
      /upload:
        mruby.handler: |
          Proc.new do |env|
            input = env["rack.input"]
            size = input ? input.read.bytesize : 0
            body = size.to_s
            [200, {"content-type" => "text/plain", "content-length" => body.bytesize.to_s}, [body]]
          end
      /:
        mruby.handler: |
          Proc.new do |env|
            [200, {"content-type" => "text/plain", "content-length" => "5"}, ["hello"]]
          end
`;
      const file = path.join(workDir, 'h2o.conf');
      writeFileSync(file, config);
      return { command: which('h2o'), args: ['-c', file] };
    },
  },
  {
    name: 'caddy',
    label: 'Caddy',
    family: 'peer',
    // Caddy's `respond` does not read the request body, so Caddy cannot take part in the upload test.
    // HTTP/3 on the UDP port of the TLS port's number, as httpsd does.
    supports: { h2: true, h1: true, h2c: true, upload: false, files: true, static: 'native', h3: true },
    available: binaryPeer('caddy', 'caddy'),
    command({ port, httpPort, cert, key, workDir, wwwDir, staticRoot }) {
      const config = `{
  admin off
  auto_https off
  skip_install_trust
  servers {
    protocols h1 h2 h2c h3
  }
}

(routes) {
  bind 127.0.0.1
  handle /1m {
    rewrite * /1m.bin
    root * ${wwwDir}
    file_server
  }
  handle_path /static/* {
    root * ${staticRoot}
    file_server
  }
  handle {
    header Content-Type text/plain
    respond "hello" 200
  }
}

https://127.0.0.1:${port} {
  import routes
  tls ${cert} ${key}
}

http://127.0.0.1:${httpPort} {
  import routes
}
`;
      const file = path.join(workDir, 'Caddyfile');
      writeFileSync(file, config);
      return {
        command: which('caddy'),
        args: ['run', '--adapter', 'caddyfile', '--config', file],
        // Caddy keeps state under $HOME/$XDG_*: confine it to the run's temp dir.
        env: { HOME: workDir, XDG_DATA_HOME: path.join(workDir, 'data'), XDG_CONFIG_HOME: path.join(workDir, 'config') },
      };
    },
  },
];
