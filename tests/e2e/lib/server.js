// A tsuzuki server for one test file: the binary the build made (this module builds nothing),
// a free loopback port, a fresh data directory, configuration by environment.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The password every test account gets (long enough for the default policy of 12). */
export const PASSWORD = 'correct horse battery staple';

/**
 * The tsuzuki binary: $TSUZUKI_TEST_BIN (scripts/test sets it; the server ignores
 * TSUZUKI_TEST_* variables, every other TSUZUKI_* is configuration), else the debug build in
 * $CARGO_TARGET_DIR or ./target. Build it first with `cargo build -p tsuzuki`.
 */
export function binaryPath() {
  const candidates = [
    process.env.TSUZUKI_TEST_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'debug', 'tsuzuki'),
    join(REPO, 'target', 'debug', 'tsuzuki'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `tsuzuki binary not found (looked at ${candidates.join(', ')}); run \`cargo build -p tsuzuki\` ` +
        'or set TSUZUKI_TEST_BIN',
    );
  }
  return found;
}

/** A port that was free a moment ago (bind port 0, read it, close). */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, fail) => {
      timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Starts `tsuzuki serve` with a fresh data directory and `env` (TSUZUKI_* keys as in
 * docs/configuration.md, e.g. { TSUZUKI_SESSION__IDLE_TIMEOUT: '20s' }); creates `users`
 * (addresses; password PASSWORD) first. `args` are extra `serve` arguments (e.g. ['--demo']).
 * Resolves once /readyz answers 200.
 */
export async function startServer({ env = {}, users = [], args = [], readyTimeoutMs = 15_000 } = {}) {
  const bin = binaryPath();
  const dataDir = mkdtempSync(join(tmpdir(), 'tsuzuki-e2e-'));
  const port = await freePort();
  const url = `http://localhost:${port}`;
  // The server reads every TSUZUKI_* variable as configuration: start from the caller's
  // environment without them (a developer's own settings must not leak into a test), keeping
  // the ones the server ignores (TSUZUKI_TEST_*, TSUZUKI_REQUIRE_*).
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('TSUZUKI_') || k.startsWith('TSUZUKI_TEST_') || k.startsWith('TSUZUKI_REQUIRE_'),
    ),
  );
  const fullEnv = {
    ...inherited,
    TSUZUKI_DATA_DIR: dataDir,
    TSUZUKI_LISTEN: `127.0.0.1:${port}`,
    ...env,
  };
  const server = {
    url,
    port,
    dataDir,
    env: fullEnv,
    log: '',
    /** Creates an account through the CLI (same database; works while the server runs). */
    addUser(email, password = PASSWORD) {
      const r = spawnSync(bin, ['user', 'add', email, '--password-stdin'], {
        env: fullEnv,
        input: `${password}\n`,
        encoding: 'utf8',
        timeout: 30_000,
      });
      if (r.status !== 0) {
        throw new Error(`tsuzuki user add ${email} failed (${r.status}): ${r.stderr}${r.stdout}`);
      }
    },
    stop: async () => {},
  };
  try {
    for (const email of users) server.addUser(email);
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }

  const child = spawn(bin, ['serve', ...args], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const announced = new Promise((ok) => {
    child.stdout.on('data', (d) => {
      server.log += d;
      if (server.log.includes('tsuzuki is serving')) ok();
    });
  });
  child.stderr.on('data', (d) => {
    server.log += d;
  });

  server.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      try {
        await withTimeout(exited, 10_000, 'tsuzuki to stop after SIGTERM');
      } catch {
        child.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await withTimeout(
      Promise.race([
        announced,
        exited.then(({ code, signal }) => {
          throw new Error(`tsuzuki serve exited early (${code ?? signal})`);
        }),
      ]),
      readyTimeoutMs,
      'tsuzuki serve to announce itself',
    );
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const r = await fetch(`${url}/readyz`).catch(() => null);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`/readyz did not answer 200 within ${readyTimeoutMs} ms`);
      await new Promise((ok) => setTimeout(ok, 50));
    }
  } catch (e) {
    await server.stop();
    e.message += `\n--- server output ---\n${server.log}`;
    throw e;
  }
  return server;
}
