/**
 * Installing httpsd from a packed tarball, as docs/install.md says: `npm pack` in the clone, `npm i` of the tarball
 * in a fresh project, then the installed `node_modules/.bin/httpsd` serves files and a TypeScript app over TLS, and
 * `import … from 'httpsd'` works from an .mjs file.
 *
 * Offline first: the project gets a lockfile made from the clone's own (its runtime entries, whose tarballs `npm ci`
 * left in the npm cache), so `npm ci --offline` needs no registry. Only if that fails (a cache without them) does
 * it fall back to `npm install --prefer-offline`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, cliEnv } from '../support/cli.js';
import { h1Request, run } from '../support/server.js';

interface PackageJson {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
  dependencies: Record<string, string>;
  engines: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;

/** npm without the test runner's flags and without chatter. */
function npmEnv(): NodeJS.ProcessEnv {
  return cliEnv({ npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_loglevel: 'error' });
}

async function npm(args: string[], cwd: string, timeoutMs = 120_000) {
  const result = await run('npm', args, { cwd, env: npmEnv(), timeoutMs });
  return { ...result, output: `${result.stdout.toString()}\n${result.stderr}` };
}

/** A lockfile for a project depending only on the tarball: the clone's runtime (non-dev) entries, as resolved there. */
function lockfileFor(projectName: string, tarball: string): object {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const packages: Record<string, object> = {
    '': { name: projectName, dependencies: { [pkg.name]: tarball } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: tarball,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && entry.dev !== true) packages[path] = entry;
  return { name: projectName, lockfileVersion: 3, requires: true, packages };
}

/** Starts the installed command and waits for the https URL of its banner. */
function startInstalled(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ port: number; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the installed httpsd did not start in time. stderr: ${stderr}`));
    }, 60_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /https:\/\/[^\s]+:(\d+)\//.exec(stderr);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        port: Number(match[1]),
        stop: async () => {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the installed httpsd exited (${code}) before serving. stderr: ${stderr}`));
    });
  });
}

test('npm pack, npm ci of the tarball in a fresh project: the installed httpsd serves files and a .ts app, and imports work', { timeout: 300_000 }, async (t) => {
  // The tarball is packed from dist/ as built (npm test builds first); a clone without a build gets one here.
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) {
    const build = await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, env: npmEnv(), timeoutMs: 240_000 });
    assert.equal(build.code, 0, build.stdout.toString() + build.stderr);
  }
  const root = mkdtempSync(join(tmpdir(), 'httpsd-pack-'));
  try {
    // --ignore-scripts: `prepare` would rebuild dist/ in place while other test files may be loading it.
    const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', root], REPO_ROOT);
    assert.equal(packed.code, 0, packed.output);
    const [summary] = JSON.parse(packed.stdout.toString()) as { filename: string; files: { path: string }[] }[];
    const files = new Set(summary!.files.map((file) => file.path));
    // What the runtime loads: the command, its compiled code, the package.json it reads its version from.
    for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', ...Object.values(pkg.bin).map((path) => path.replace(/^\.\//, ''))]) {
      assert.ok(files.has(needed), `the tarball has ${needed}`);
    }
    for (const target of Object.values(pkg.exports)) {
      for (const path of typeof target === 'string' ? [target] : [target.types, target.default]) {
        assert.ok(files.has(path.replace(/^\.\//, '')), `the tarball has the export target ${path}`);
      }
    }
    assert.deepEqual([...files].filter((path) => /^(src|test|bench)\//.test(path)), [], 'sources and tests stay out of the tarball');
    assert.ok(pkg.dependencies['tsx'], 'tsx (which loads .ts apps) is a runtime dependency');

    const project = join(root, 'project');
    mkdirSync(project);
    const tarball = `file:../${summary!.filename}`;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'httpsd-consumer', private: true, type: 'module', dependencies: { [pkg.name]: tarball } }, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockfileFor('httpsd-consumer', tarball), null, 2));
    let install = await npm(['ci', '--offline', '--no-audit', '--no-fund'], project);
    t.diagnostic(install.code === 0 ? 'installed offline (npm ci --offline)' : `npm ci --offline failed, falling back to --prefer-offline: ${install.output.trim().split('\n')[0]}`);
    if (install.code !== 0) {
      // A cache without the runtime dependencies' tarballs: let npm fetch what is missing.
      rmSync(join(project, 'package-lock.json'), { force: true });
      rmSync(join(project, 'node_modules'), { recursive: true, force: true });
      install = await npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], project, 240_000);
    }
    assert.equal(install.code, 0, install.output);
    const bin = join(project, 'node_modules/.bin/httpsd');
    assert.ok(existsSync(bin), 'npm linked the httpsd command into node_modules/.bin');

    const version = await run(bin, ['--version'], { cwd: project, env: cliEnv() });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout.toString(), new RegExp(`^httpsd ${pkg.version.replace(/\./g, '\\.')} `));

    // A directory of static files, over TLS with a certificate from a fresh local CA.
    const site = join(project, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'hello.txt'), 'hello from the installed package\n');
    const env = cliEnv();
    const files1 = await startInstalled(bin, ['site', '--port', '0', '--host', '127.0.0.1', '--no-http3'], project, env);
    try {
      const response = await h1Request(`https://127.0.0.1:${files1.port}`, { path: '/hello.txt' });
      assert.equal(response.status, 200);
      assert.equal(response.body.toString(), 'hello from the installed package\n');
      // The local CA the installed command created is the one to trust.
      const curl = await run('curl', ['-sS', '--http2', '--cacert', join(env.HTTPSD_CAROOT!, 'rootCA.pem'), `https://localhost:${files1.port}/hello.txt`]);
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(curl.stdout.toString(), 'hello from the installed package\n');
    } finally {
      await files1.stop();
    }

    // A TypeScript app: loaded through the tsx the package depends on.
    writeFileSync(
      join(project, 'app.ts'),
      "import type { FetchHandler } from 'httpsd';\nconst fetch: FetchHandler = (request: Request) => new Response(`ts app: ${new URL(request.url).pathname}`);\nexport default { fetch };\n",
    );
    const app = await startInstalled(bin, ['app.ts', '--port', '0', '--host', '127.0.0.1', '--no-http3'], project, env);
    try {
      const response = await h1Request(`https://127.0.0.1:${app.port}`, { path: '/typed' });
      assert.equal(response.body.toString(), 'ts app: /typed');
    } finally {
      await app.stop();
    }

    // The package's entry points from plain ESM.
    writeFileSync(
      join(project, 'check.mjs'),
      [
        "import { serve, FastResponse } from 'httpsd';",
        "import { fromNodeHandler } from 'httpsd/node';",
        "import { createRequire } from 'node:module';",
        "const version = createRequire(import.meta.url)('httpsd/package.json').version;",
        "const server = serve({ port: 0, hostname: '127.0.0.1', http3: false, fetch: fromNodeHandler((req, res) => res.end('node handler ' + version)) });",
        'await server.ready;',
        'const text = await (await fetch(`http://127.0.0.1:${server.port}/`)).text();',
        'await server.close();',
        "console.log(JSON.stringify({ text, fast: typeof FastResponse }));",
      ].join('\n'),
    );
    const imported = await run(process.execPath, ['check.mjs'], { cwd: project, env: cliEnv(), timeoutMs: 60_000 });
    assert.equal(imported.code, 0, imported.stderr);
    assert.deepEqual(JSON.parse(imported.stdout.toString()), { text: `node handler ${pkg.version}`, fast: 'function' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
