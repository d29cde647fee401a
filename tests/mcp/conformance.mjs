// The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
// package-lock.json) in server mode against the gateway's MCP endpoint. The suite cannot send our
// token, so it talks to auth_proxy.mjs on 127.0.0.1, which adds it. Every server scenario the suite
// lists runs, one by one, except those in conformance-baseline.yml (they do not apply to a
// tools-only server with our tools; docs/mcp.md, "Conformance"); each that runs must pass all its
// checks. Prints "PASS conformance <scenario>: ..." or "FAIL conformance <scenario>: ..." per
// scenario, then "N passed, N failed"; exits 1 when any failed.
//
//   node tests/mcp/conformance.mjs --url http://127.0.0.1:PORT/mcp --token-file FILE [--modules DIR]
//        [--baseline FILE] [--output-dir DIR] [--scenario NAME]
//
// DIR holds node_modules as tests/mcp/install.sh installs it (default $CI_MCP_MODULES, else this
// directory). The suite's CLI needs Node.js 22 or later (fs.globSync): this Node.js when it is
// that recent, else the one of the node-linux-<arch> package installed beside it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAuthProxy } from './auth_proxy.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function usage(message) {
  console.error(`conformance: ${message}`);
  console.error(
    'usage: node conformance.mjs --url http://127.0.0.1:PORT/mcp --token-file FILE [--modules DIR] [--baseline FILE] [--output-dir DIR] [--scenario NAME]',
  );
  process.exit(2);
}

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i];
  const value = process.argv[i + 1];
  if (!['--url', '--token-file', '--modules', '--baseline', '--output-dir', '--scenario'].includes(key) || value === undefined)
    usage(`bad argument ${key}`);
  args[key.slice(2)] = value;
}
if (!args.url || !args['token-file']) usage('--url and --token-file are required');
const endpoint = new URL(args.url);
const token = readFileSync(args['token-file'], 'utf8').trim();
const modules = args.modules ?? process.env.CI_MCP_MODULES ?? here;
const packageDir = join(modules, 'node_modules/@modelcontextprotocol/conformance');
const cli = join(packageDir, 'dist/index.js');
if (!existsSync(cli)) usage(`no @modelcontextprotocol/conformance in ${modules}/node_modules: run tests/mcp/install.sh`);
const suiteVersion = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version;
const baselineFile = args.baseline ?? join(here, 'conformance-baseline.yml');

// A Node.js that runs the suite's CLI.
function suiteNode() {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  const bundled = arch && join(modules, `node_modules/node-linux-${arch}/bin/node`);
  if (bundled && existsSync(bundled)) return bundled;
  console.error(`conformance: the suite needs Node.js 22+, this is ${process.version} and ${modules} has no node-linux-${process.arch}`);
  process.exit(1);
}
const node = suiteNode();

function runSuite(cliArgs, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(node, [cli, ...cliArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status: status ?? -1, signal, output });
    });
  });
}

// The scenario names of conformance-baseline.yml's `server:` list (the suite's baseline format; this
// reads the subset it uses: one `- name # reason` a line).
function baselineScenarios(file) {
  const names = [];
  let inServer = false;
  for (const rawLine of readFileSync(file, 'utf8').split('\n')) {
    const line = rawLine.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (!line.trim()) continue;
    if (/^\S/.test(line)) {
      inServer = /^server:\s*$/.test(line);
      continue;
    }
    const item = line.match(/^\s+-\s+([\w./-]+)\s*$/);
    if (!item) throw new Error(`${file}: cannot read line ${JSON.stringify(rawLine)}`);
    if (inServer) names.push(item[1]);
  }
  return names;
}

const stripAnsi = (text) => text.replace(/\x1b\[[0-9;]*m/g, '');
const indent = (text) => text.trimEnd().split('\n').map((l) => `    ${l}`).join('\n');

let passed = 0;
let failed = 0;
function report(ok, line, details) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} conformance ${line}`);
  if (!ok && details) console.log(indent(details));
}

const proxy = await startAuthProxy({ target: endpoint.origin, token });
const proxied = new URL(endpoint.pathname + endpoint.search, proxy.url).href;
const outputDir = args['output-dir'] ?? mkdtempSync(join(tmpdir(), 'ci-mcp-conformance-'));
const suiteNodeVersion = await new Promise((resolve) => {
  const child = spawn(node, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.on('close', () => resolve(out.trim()));
});
console.log(
  `MCP conformance: @modelcontextprotocol/conformance ${suiteVersion} on node ${suiteNodeVersion} (${node}), ` +
    `against ${endpoint.href} through the auth proxy ${proxied}`,
);

try {
  const listing = await runSuite(['list', '--server'], 60_000);
  const listed = [...stripAnsi(listing.output).matchAll(/^\s+-\s+([\w./-]+)\s+\[/gm)].map((m) => m[1]);
  if (listing.status !== 0 || listed.length === 0) {
    report(false, 'list: the suite lists no server scenario', listing.output);
  } else {
    const baseline = baselineScenarios(baselineFile);
    const unknown = baseline.filter((name) => !listed.includes(name));
    if (unknown.length) report(false, `baseline: names scenarios the suite does not list: ${unknown.join(', ')}`);
    let apply = listed.filter((name) => !baseline.includes(name));
    if (args.scenario) apply = apply.filter((name) => name === args.scenario);
    console.log(`${listed.length} server scenarios listed; ${baseline.length} do not apply (${baselineFile}); running ${apply.length}: ${apply.join(', ')}`);
    if (apply.length === 0) report(false, 'no scenario to run');
    for (const scenario of apply) {
      const run = await runSuite(['server', '--url', proxied, '--scenario', scenario, '--output-dir', outputDir], 180_000);
      const text = stripAnsi(run.output);
      const result = text.match(/Passed: (\d+)\/(\d+), (\d+) failed, (\d+) warnings/);
      if (!result) {
        report(false, `${scenario}: no result (exit ${run.status})`, text);
        continue;
      }
      const [, ok, total, bad, warnings] = result.map(Number);
      const good = run.status === 0 && bad === 0 && total > 0 && ok === total;
      report(good, `${scenario}: ${ok}/${total} checks passed, ${bad} failed, ${warnings} warnings`, good ? '' : text);
      if (good && warnings > 0) console.log(indent(text.slice(0, text.indexOf('Test Results:'))));
    }
  }
} finally {
  await proxy.close();
  if (!args['output-dir']) rmSync(outputDir, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
