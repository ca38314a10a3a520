/**
 * Test fixtures for the TLS suite: certificates made with the openssl CLI (independent of httpsd's own CA),
 * TLS servers built from a provider's serverOptions, and an `openssl s_client` runner.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer, type ConnectionOptions, type Server, type TLSSocket, type TlsOptions } from 'node:tls';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], options: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? 15_000, cwd: options.cwd, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? ((error as unknown as { code: number }).code) : (child.exitCode ?? 1)) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.on('error', () => {}); // the child may exit without reading its input
    child.stdin?.end(options.input ?? '');
  });
}

export async function openssl(args: string[], cwd: string): Promise<string> {
  const result = await run('openssl', args, { cwd });
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

export async function tempDir(prefix = 'httpsd-tls-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const CA_CONFIG = `
[ ca ]
default_ca = testca
[ testca ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
email_in_dn = no
[ anything ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
`;

export type KeyKind = 'ec' | 'rsa' | 'rsa1024';

/** A CA in `dir/<name>` (openssl ca database, so it can also run an OCSP responder). */
export class TestCa {
  readonly certPath: string;
  readonly keyPath: string;
  private constructor(readonly dir: string, readonly name: string) {
    this.certPath = join(dir, 'ca.pem');
    this.keyPath = join(dir, 'ca.key');
  }

  static async create(parent: string, name = 'ca', subject = '/CN=httpsd test CA'): Promise<TestCa> {
    const dir = join(parent, name);
    await run('mkdir', ['-p', join(dir, 'newcerts')]);
    await writeFile(join(dir, 'index.txt'), '');
    await writeFile(join(dir, 'serial'), '1000\n');
    await writeFile(join(dir, 'openssl.cnf'), CA_CONFIG);
    await openssl(
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', subject,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-config', 'openssl.cnf'],
      dir,
    );
    return new TestCa(dir, name);
  }

  /** Generates a key (`<base>.key`, PKCS#8 PEM) and a leaf certificate (`<base>.pem`) for the given SANs. */
  async issue(
    base: string,
    options: { cn?: string; sans?: string[]; key?: KeyKind; startDate?: string; endDate?: string; ocspUrl?: string; clientAuth?: boolean } = {},
  ): Promise<{ certPath: string; keyPath: string }> {
    const keyPath = join(this.dir, `${base}.key`);
    const certPath = join(this.dir, `${base}.pem`);
    const csrPath = join(this.dir, `${base}.csr`);
    const kind = options.key ?? 'ec';
    if (kind === 'ec') await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath], this.dir);
    else await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${kind === 'rsa1024' ? 1024 : 2048}`, '-out', keyPath], this.dir);
    const cn = options.cn ?? options.sans?.[0]?.replace(/^[A-Z]+:/, '') ?? base;
    await openssl(['req', '-new', '-key', keyPath, '-subj', `/CN=${cn}`, '-out', csrPath, '-config', 'openssl.cnf'], this.dir);
    const ext = [
      'basicConstraints=critical,CA:FALSE',
      `extendedKeyUsage=${options.clientAuth ? 'clientAuth' : 'serverAuth'}`,
      ...(options.sans?.length ? [`subjectAltName=${options.sans.join(',')}`] : []),
      ...(options.ocspUrl ? [`authorityInfoAccess=OCSP;URI:${options.ocspUrl}`] : []),
    ].join('\n');
    const extPath = join(this.dir, `${base}.ext`);
    await writeFile(extPath, ext + '\n');
    const dates = options.startDate && options.endDate ? ['-startdate', options.startDate, '-enddate', options.endDate] : ['-days', '10'];
    await openssl(['ca', '-batch', '-config', 'openssl.cnf', '-notext', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', csrPath, '-out', certPath, '-extfile', extPath, ...dates], this.dir);
    return { certPath, keyPath };
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A TLS echo-ish server: greets each connection with "hello <servername>\n" then echoes. */
export async function startTlsServer(options: TlsOptions, onSecure?: (socket: TLSSocket) => void): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer({ ...options, ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => {
    onSecure?.(socket);
    socket.on('error', () => {});
    socket.write(`hello ${socket.servername || '-'}\n`);
    socket.pipe(socket);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface SClientResult extends RunResult {
  /** Negotiated protocol and cipher, or undefined when the handshake failed. */
  protocol?: string;
  cipher?: string;
  subject?: string;
}

/** Runs `openssl s_client` against 127.0.0.1:port and extracts protocol, cipher and the served certificate's subject. */
export async function sClient(port: number, extra: string[] = []): Promise<SClientResult> {
  const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...extra], { input: '', timeoutMs: 10_000 });
  const out = result.stdout;
  const cipherMatch = /Cipher is (\S+)/.exec(out) ?? /Cipher\s*:\s*(\S+)/.exec(out);
  const protocolMatch = /Protocol\s*:\s*(\S+)/.exec(out) ?? /New, (TLSv[\d.]+),/.exec(out);
  const cipher = cipherMatch?.[1] && cipherMatch[1] !== '(NONE)' && cipherMatch[1] !== '0000' ? cipherMatch[1] : undefined;
  const subject = /^subject=(.*)$/m.exec(out)?.[1];
  return { ...result, cipher, protocol: cipher ? protocolMatch?.[1] : undefined, subject };
}

/** Node TLS client connection that resolves after the greeting line arrives. */
export function tlsClient(port: number, options: ConnectionOptions = {}): Promise<{ socket: TLSSocket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...options });
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout waiting for the greeting'));
    }, 5000);
    socket.setEncoding('utf8');
    const onData = (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve({ socket, greeting: buffer.slice(0, nl) });
      }
    };
    socket.on('data', onData);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed before the greeting'));
    });
  });
}

/** Sends a line and waits for it to come back (the server echoes). */
export function echo(socket: TLSSocket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('echo timeout')), 5000);
    const onData = (chunk: string | Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes('\n')) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(buffer.trim());
      }
    };
    socket.on('data', onData);
    socket.write(line + '\n');
  });
}

export { spawn };
