// Runs a did:plc directory and a Bluesky PDS (the reference implementation, via
// @atproto/dev-env's TestNetworkNoAppView) for the test suite, on loopback only.
//
// Environment (set by tests/peers/bluesky.py):
//   BSKY_PEER_DIR  the install directory holding node_modules/@atproto/dev-env
//   PLC_PORT, PDS_PORT  free ports chosen by the caller
//   TMPDIR         a directory the caller owns; the PDS keeps its SQLite files and blobs in it
//   BSKY_PEER_REMOVE_ON_EXIT  optional: a directory to delete on exit as well (the caller's
//                  work dir, which it cannot delete itself if it was killed)
// Prints one JSON line {"ready": true, ...} on stdout once both servers answer.
// Stops on SIGTERM/SIGINT, and when stdin closes, so a test run that dies without
// cleaning up does not leave a PDS behind.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const LOOPBACK = '127.0.0.1';

// The PLC and PDS servers call listen(port) without a host, which binds every interface.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const [first, second] = args;
  if (typeof first === 'number' && (second === undefined || typeof second === 'function')) {
    args.splice(1, 0, LOOPBACK);
  } else if (first && typeof first === 'object' && first.path === undefined && !first.host) {
    args[0] = { ...first, host: LOOPBACK };
  }
  return listen.apply(this, args);
};

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`launch.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const installDir = required('BSKY_PEER_DIR');
const plcPort = Number(required('PLC_PORT'));
const pdsPort = Number(required('PDS_PORT'));

// dev-env never removes what it writes under os.tmpdir(): give it a directory of its own.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-'));
process.env.TMPDIR = dataDir;

// This file lives in the repository, not next to node_modules, so resolve from the install.
const requireFromInstall = createRequire(path.join(installDir, 'package.json'));
const devEnv = await import(pathToFileURL(requireFromInstall.resolve('@atproto/dev-env')).href);
const { TestNetworkNoAppView } = devEnv.default ?? devEnv;

const started = Date.now();
const network = await TestNetworkNoAppView.create({
  plc: { port: plcPort },
  pds: { port: pdsPort, hostname: 'localhost' },
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    await network.close();
  } catch (err) {
    console.error('launch.mjs: error while closing the network', err);
    code = code || 1;
  }
  for (const dir of [dataDir, process.env.BSKY_PEER_REMOVE_ON_EXIT]) {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
process.stdin.on('end', () => stop(0));
process.stdin.on('error', () => stop(0));
process.stdin.resume();

process.stdout.write(
  JSON.stringify({
    ready: true,
    plc: `http://${LOOPBACK}:${plcPort}`,
    pds: `http://${LOOPBACK}:${pdsPort}`,
    public_url: network.pds.url,
    handle_domains: network.pds.ctx.cfg.identity.serviceHandleDomains,
    data_dir: dataDir,
    startup_ms: Date.now() - started,
  }) + '\n',
);
