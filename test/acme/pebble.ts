/**
 * A real ACME CA on 127.0.0.1 for tests: Pebble (Let's Encrypt's test CA) with pebble-challtestsrv as its DNS
 * server, answering every name with 127.0.0.1. Pebble validates challenges by connecting to the httpPort/tlsPort of
 * its config, so each instance is started for the ports the server under test listens on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { sleep } from '../support/async.js';

export const PEBBLE = '/usr/bin/pebble';
export const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';

/** A port free right now on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Pebble {
  directoryUrl: string;
  /** PEM of the certificate Pebble's API presents: trust it for the directory connection. */
  directoryCa: string;
  /** Pebble's current root (from its management API): verifies the chains it issues. */
  rootPem(): Promise<string>;
  /** Everything Pebble wrote (for diagnosing a failure). */
  output(): string;
  stop(): Promise<void>;
}

function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, sink: string[]): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (chunk: Buffer) => {
    sink.push(chunk.toString());
    if (sink.length > 2000) sink.splice(0, 1000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Until something accepts TCP connections on 127.0.0.1:port (challtestsrv's management API: its DNS is up too). */
async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pebble-challtestsrv exited (${child.exitCode}):\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`pebble-challtestsrv did not listen on ${port} within 30 s:\n${output()}`);
    await sleep(100);
  }
}

async function waitForDirectory(url: string, ca: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pebble exited (${child.exitCode}):\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const request = https.get(url, { ca, timeout: 2000 }, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.on('error', () => resolve(false));
      request.on('timeout', () => request.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`pebble did not answer at ${url} within 30 s:\n${output()}`);
    await sleep(100);
  }
}

/** Starts challtestsrv (DNS: every name is 127.0.0.1) and Pebble validating on the given ports. */
export async function startPebble(ports: { httpPort: number; tlsPort: number }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-pebble-'));
  const certificate = makeCertificate('localhost');
  const [apiPort, managementPort, dnsPort, dnsManagementPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const lines: string[] = [];
  const dns = startProcess(
    CHALLTESTSRV,
    ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    {},
    lines,
  );
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${apiPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: certificate.certFile,
      privateKey: certificate.keyFile,
      httpPort: ports.httpPort,
      tlsPort: ports.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  const configFile = join(dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify(config));
  // NOSLEEP: validate at once; NONCEREJECT=0: no random badNonce; AUTHZREUSE=0: every order validates anew.
  const pebble = startProcess(PEBBLE, ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' }, lines);
  const directoryUrl = `https://127.0.0.1:${apiPort}/dir`;
  const output = () => lines.join('');
  try {
    await waitForPort(dnsManagementPort, dns, output);
    await waitForDirectory(directoryUrl, certificate.cert, pebble, output);
  } catch (error) {
    await Promise.all([stopProcess(pebble), stopProcess(dns)]);
    throw error;
  }
  return {
    directoryUrl,
    directoryCa: certificate.cert,
    rootPem: () =>
      new Promise<string>((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${managementPort}/roots/0`, { ca: certificate.cert, timeout: 10_000 }, (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (body += chunk));
            response.on('end', () => resolve(body));
          })
          .on('error', reject);
      }),
    output,
    async stop() {
      await Promise.all([stopProcess(pebble), stopProcess(dns)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
