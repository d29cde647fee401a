// The gateway's MCP endpoint driven by the official MCP TypeScript SDK client (Client +
// StreamableHTTPClientTransport, the pinned @modelcontextprotocol/sdk of package-lock.json), plus
// raw fetch requests for the Streamable HTTP transport's rules. Prints one line per check,
// "PASS <check>" or "FAIL <check>: <why>", then "N passed, N failed"; exits 1 when any failed.
//
//   node tests/mcp/client_test.mjs --url http://127.0.0.1:PORT/mcp --token-file FILE [--modules DIR]
//        [--allowed-origin ORIGIN] [--idle-timeout SECONDS]
//
// --allowed-origin: one of the gateway's server.cors_allowed_origins, checked to be accepted.
// --idle-timeout: the gateway's pool.session_idle_timeout when it is short (a few seconds): runs the
// idle-expiry check alone (the other checks need sessions that stay).
//
// The SDK is imported from DIR/node_modules (DIR: --modules, else $CI_MCP_MODULES, else this
// directory), as tests/mcp/install.sh installs it. Plain ESM for Node.js 18 or later: no compile
// step, nothing beyond the SDK.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';

function usage(message) {
  console.error(`client_test: ${message}`);
  console.error('usage: node client_test.mjs --url http://127.0.0.1:PORT/mcp --token-file FILE [--modules DIR]');
  console.error('       [--allowed-origin ORIGIN] [--idle-timeout SECONDS]');
  process.exit(2);
}

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i];
  const value = process.argv[i + 1];
  if (!['--url', '--token-file', '--modules', '--allowed-origin', '--idle-timeout'].includes(key) || value === undefined)
    usage(`bad argument ${key}`);
  args[key.slice(2)] = value;
}
if (!args.url || !args['token-file']) usage('--url and --token-file are required');
const ENDPOINT = new URL(args.url);
const TOKEN = readFileSync(args['token-file'], 'utf8').trim();
if (!TOKEN) usage(`no token in ${args['token-file']}`);
const IDLE_TIMEOUT_S = args['idle-timeout'] === undefined ? undefined : Number(args['idle-timeout']);
if (IDLE_TIMEOUT_S !== undefined && !(IDLE_TIMEOUT_S > 0 && IDLE_TIMEOUT_S <= 60)) usage('--idle-timeout: 0 < seconds <= 60');
// The directory holding node_modules/@modelcontextprotocol/sdk: --modules, $CI_MCP_MODULES, or this
// script's own directory (after an `npm ci` here).
const MODULES = args.modules ?? process.env.CI_MCP_MODULES ?? dirname(fileURLToPath(import.meta.url));
const SDK_DIR = join(MODULES, 'node_modules/@modelcontextprotocol/sdk');
if (!existsSync(join(SDK_DIR, 'package.json')))
  usage(`no @modelcontextprotocol/sdk in ${MODULES}/node_modules: run tests/mcp/install.sh and pass --modules with the directory it prints`);
// '@modelcontextprotocol/sdk/<sub>': the package maps "./*" to "./dist/esm/*" for import.
const sdk = (sub) => import(pathToFileURL(join(SDK_DIR, 'dist/esm', sub)).href);
const { Client } = await sdk('client/index.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const { LATEST_PROTOCOL_VERSION } = await sdk('types.js');
const sdkVersion = JSON.parse(readFileSync(join(SDK_DIR, 'package.json'), 'utf8')).version;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const FIVE_TOOLS = ['download_file', 'list_files', 'reset_session', 'run_python', 'upload_file'];

// ---- checks -------------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
class CheckFailure extends Error {}
function expect(condition, message) {
  if (!condition) throw new CheckFailure(message);
}
function show(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 600 ? text.slice(0, 600) + '...' : text;
}
async function check(name, body) {
  try {
    await body();
    passed++;
    console.log(`PASS ${name}`);
  } catch (error) {
    failed++;
    const why = error instanceof CheckFailure ? error.message : `threw ${error?.stack ?? error}`;
    console.log(`FAIL ${name}: ${why.replace(/\n/g, '\n    ')}`);
  }
}

// ---- helpers ------------------------------------------------------------------------------------

const openClients = [];

function endpointFor(userUuid) {
  const url = new URL(ENDPOINT);
  if (userUuid) url.searchParams.set('user_uuid', userUuid);
  return url;
}

// A connected SDK client on its own MCP session (and so its own sandbox session).
async function connect({ token = TOKEN, userUuid } = {}) {
  const transport = new StreamableHTTPClientTransport(endpointFor(userUuid), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'code-interpreter-mcp-test', version: '1.0.0' });
  await client.connect(transport);
  const entry = { client, transport };
  openClients.push(entry);
  return entry;
}

// Ends the MCP session (DELETE) and closes the client; never throws.
async function disconnect(entry) {
  if (!entry) return;
  const index = openClients.indexOf(entry);
  if (index >= 0) openClients.splice(index, 1);
  try {
    await entry.transport.terminateSession();
  } catch {}
  try {
    await entry.client.close();
  } catch {}
}

const texts = (result) => (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text);
const allText = (result) => texts(result).join('\n');

async function call(client, name, args = {}, options = {}) {
  return client.callTool({ name, arguments: args }, undefined, { timeout: 120_000, ...options });
}

// run_python that must succeed (no isError); its result.
async function run(client, code, options) {
  const result = await call(client, 'run_python', { code }, options);
  expect(!result.isError, `run_python ${show(code)} gave isError: ${show(result.content)}`);
  return result;
}

// A call whose refusal may be a tool error (isError) or a JSON-RPC error; the error's text, or
// null when it succeeded.
async function refusal(client, name, args) {
  try {
    const result = await call(client, name, args);
    return result.isError ? allText(result) || '(isError without text)' : null;
  } catch (error) {
    return `JSON-RPC error: ${error.message}`;
  }
}

// Raw HTTP to the endpoint, for the transport's rules. Returns {status, headers, body, messages}:
// messages are the JSON-RPC messages of a JSON or an SSE body.
async function raw(method, { headers = {}, body, token = TOKEN, auth = 'bearer', url = ENDPOINT } = {}) {
  const h = { ...headers };
  if (auth === 'bearer') h.Authorization = `Bearer ${token}`;
  else if (auth === 'x-auth-token') h['X-Auth-Token'] = token;
  if (body !== undefined) {
    h['Content-Type'] ??= 'application/json';
    h.Accept ??= 'application/json, text/event-stream';
  }
  const response = await fetch(url, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  const messages = [];
  const type = response.headers.get('content-type') ?? '';
  try {
    if (type.includes('text/event-stream')) {
      for (const event of text.split(/\r?\n\r?\n/)) {
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data.trim()) messages.push(JSON.parse(data));
      }
    } else if (type.includes('application/json') && text.trim()) {
      const parsed = JSON.parse(text);
      messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
    }
  } catch {}
  return { status: response.status, headers: response.headers, body: text, messages };
}

const initializeRequest = (protocolVersion = LATEST_PROTOCOL_VERSION, id = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'code-interpreter-mcp-test-raw', version: '1.0.0' } },
});

// A session made with raw requests: initialize, then notifications/initialized. Returns
// {sessionId, protocolVersion, response}; end it with rawEnd.
async function rawSession(protocolVersion = LATEST_PROTOCOL_VERSION, extra = {}) {
  const response = await raw('POST', { body: initializeRequest(protocolVersion), ...extra });
  const sessionId = response.headers.get('mcp-session-id');
  const result = response.messages.find((m) => m.id === 1)?.result;
  if (response.status === 200 && sessionId) {
    await raw('POST', {
      headers: { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': result?.protocolVersion ?? protocolVersion },
      body: { jsonrpc: '2.0', method: 'notifications/initialized' },
    });
  }
  return { sessionId, protocolVersion: result?.protocolVersion, response };
}
async function rawEnd(session) {
  if (session?.sessionId) await raw('DELETE', { headers: { 'Mcp-Session-Id': session.sessionId } }).catch(() => {});
}

// ---- the checks ---------------------------------------------------------------------------------

console.log(`MCP client test: ${ENDPOINT.href} with @modelcontextprotocol/sdk ${sdkVersion} on node ${process.version}`);

if (IDLE_TIMEOUT_S !== undefined) {
  await check(`idle expiry: an MCP session unused for ${IDLE_TIMEOUT_S} s ends and releases its sandbox session`, async () => {
    const uuid = randomUUID();
    const a = await connect({ userUuid: uuid });
    let b;
    try {
      await run(a.client, 'idle_value = 1');
      // Used within the timeout: kept.
      await new Promise((r) => setTimeout(r, (IDLE_TIMEOUT_S * 1000) / 2));
      expect(allText(await run(a.client, 'print(idle_value)')).includes('1'), 'the session ended before its idle timeout');
      // Then unused past it (plus a reaper pass and margin for a loaded machine).
      await new Promise((r) => setTimeout(r, IDLE_TIMEOUT_S * 1000 + 3000));
      const after = await raw('POST', {
        headers: { 'Mcp-Session-Id': a.transport.sessionId, 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION },
        body: { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'run_python', arguments: { code: 'idle_value' } } },
      });
      expect(after.status === 404, `the idle session's id: HTTP ${after.status} ${show(after.body)}`);
      b = await connect({ userUuid: uuid });
      const gone = await call(b.client, 'run_python', { code: 'idle_value' });
      expect(gone.isError === true && allText(gone).includes('NameError'), `a new session on its user_uuid: ${show(gone.content)}`);
    } finally {
      await disconnect(a);
      await disconnect(b);
    }
  });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

let main;
try {
  main = await connect();
} catch (error) {
  console.log(`FAIL initialize: could not connect: ${error?.stack ?? error}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const { client, transport } = main;

await check('initialize: server name and version, protocol 2025-11-25, tools capability only', async () => {
  const info = client.getServerVersion();
  expect(typeof info?.name === 'string' && info.name.length > 0, `serverInfo.name: ${show(info)}`);
  expect(typeof info?.version === 'string' && info.version.length > 0, `serverInfo.version: ${show(info)}`);
  expect(LATEST_PROTOCOL_VERSION === '2025-11-25', `the SDK's latest protocol is ${LATEST_PROTOCOL_VERSION}`);
  expect(transport.protocolVersion === '2025-11-25', `negotiated protocol version ${transport.protocolVersion}`);
  const caps = client.getServerCapabilities();
  expect(caps?.tools && typeof caps.tools === 'object', `capabilities without tools: ${show(caps)}`);
  for (const other of ['resources', 'prompts', 'completions'])
    expect(!(other in caps), `capabilities has ${other}: ${show(caps)}`);
  expect(typeof transport.sessionId === 'string' && transport.sessionId.length > 0, 'no Mcp-Session-Id assigned');
});

await check('tools/list: the five tools with descriptions and object input schemas', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  expect(JSON.stringify(names) === JSON.stringify(FIVE_TOOLS), `tools ${show(names)}`);
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  const want = {
    run_python: { code: 'string' },
    upload_file: { path: 'string', text: 'string', base64: 'string', overwrite: 'boolean' },
    download_file: { path: 'string' },
    list_files: { path: 'string' },
    reset_session: {},
  };
  const required = { run_python: ['code'], upload_file: ['path'], download_file: ['path'], list_files: [], reset_session: [] };
  for (const [name, properties] of Object.entries(want)) {
    const tool = byName[name];
    expect(typeof tool.description === 'string' && tool.description.trim().length > 0, `${name}: no description`);
    const schema = tool.inputSchema;
    expect(schema?.type === 'object', `${name}: inputSchema type ${show(schema)}`);
    const props = schema.properties ?? {};
    expect(
      JSON.stringify(Object.keys(props).sort()) === JSON.stringify(Object.keys(properties).sort()),
      `${name}: properties ${show(Object.keys(props))}, want ${show(Object.keys(properties))}`,
    );
    for (const [prop, type] of Object.entries(properties))
      expect(props[prop]?.type === type, `${name}.${prop}: type ${show(props[prop])}, want ${type}`);
    for (const prop of required[name])
      expect((schema.required ?? []).includes(prop), `${name}: ${prop} not required: ${show(schema.required)}`);
  }
});

await check('run_python: state persists across calls (x = 41, then x + 1 gives 42)', async () => {
  await run(client, 'x = 41');
  const result = await run(client, 'x + 1');
  expect(texts(result).includes('42'), `content ${show(result.content)}`);
});

await check('run_python: stdout, [stderr] and the last value are text items; no output is "(no output)"', async () => {
  const result = await run(client, 'import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)\n6 * 7');
  const t = texts(result);
  expect(t.some((s) => s.includes('to stdout') && !s.startsWith('[stderr]')), `no stdout item: ${show(result.content)}`);
  expect(t.some((s) => s.startsWith('[stderr]\n') && s.includes('to stderr')), `no [stderr] item: ${show(result.content)}`);
  expect(t.includes('42'), `no "42" item for the last value: ${show(result.content)}`);
  const quiet = await run(client, 'quiet = 1');
  expect(JSON.stringify(quiet.content) === JSON.stringify([{ type: 'text', text: '(no output)' }]), `quiet: ${show(quiet.content)}`);
});

await check('run_python: a matplotlib plot comes as an image item holding a PNG', async () => {
  const result = await run(client, 'import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 3, 2])\nplt.show()');
  const images = result.content.filter((c) => c.type === 'image');
  expect(images.length === 1, `image items: ${show(result.content.map((c) => c.type))}`);
  expect(images[0].mimeType === 'image/png', `mimeType ${images[0].mimeType}`);
  const bytes = Buffer.from(images[0].data, 'base64');
  expect(bytes.length > 100 && bytes.subarray(0, 8).equals(PNG_SIGNATURE), `not a PNG: ${bytes.subarray(0, 16).toString('hex')}`);
});

await check('run_python: an exception gives isError with the exception and its traceback', async () => {
  const result = await call(client, 'run_python', { code: 'def f():\n    return 1 / 0\nf()' });
  expect(result.isError === true, `isError ${result.isError}: ${show(result.content)}`);
  const text = allText(result);
  expect(text.includes('ZeroDivisionError: division by zero'), `text ${show(text)}`);
  expect(/Traceback|line \d|f\(\)/.test(text), `no traceback: ${show(text)}`);
});

await check('run_python: print() output arrives as progress notifications (onprogress)', async () => {
  const notes = [];
  const started = Date.now();
  const result = await run(
    client,
    'import time\nfor i in range(3):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.4)\nprint("done")',
    { onprogress: (p) => notes.push({ ...p, at: Date.now() - started }) },
  );
  const resultAt = Date.now() - started;
  expect(notes.length >= 1, `no progress notifications; result ${show(result.content)}`);
  const messages = notes.map((n) => n.message ?? '').join('');
  for (const tick of ['tick 0', 'tick 1', 'tick 2'])
    expect(messages.includes(tick), `"${tick}" not in the progress messages ${show(notes)}`);
  for (let i = 1; i < notes.length; i++)
    expect(notes[i].progress > notes[i - 1].progress, `progress not increasing: ${show(notes)}`);
  // Streamed as it happened: "tick 0" well before the end (the loop sleeps 1.2 s).
  const first = notes.find((n) => (n.message ?? '').includes('tick 0'));
  expect(first.at < resultAt - 500, `tick 0 at ${first.at} ms, the result at ${resultAt} ms: not streamed`);
  expect(allText(result).includes('tick 2') && allText(result).includes('done'), `result ${show(result.content)}`);
});

await check('run_python: cancelling a running call interrupts it; the session and its state are kept', async () => {
  await run(client, 'kept = "still here"');
  const controller = new AbortController();
  const started = Date.now();
  const pending = call(client, 'run_python', { code: 'import time\ntime.sleep(60)\nprint("not interrupted")' }, { signal: controller.signal });
  setTimeout(() => controller.abort('test cancels'), 1000);
  let outcome;
  try {
    outcome = { result: await pending };
  } catch (error) {
    outcome = { error };
  }
  expect(outcome.error, `the cancelled call resolved: ${show(outcome.result)}`);
  expect(Date.now() - started < 10_000, `the cancelled call rejected only after ${Date.now() - started} ms`);
  const next = Date.now();
  const result = await run(client, 'print(kept)', { timeout: 30_000 });
  const took = Date.now() - next;
  expect(allText(result).includes('still here'), `state lost: ${show(result.content)}`);
  expect(took < 8_000, `the next run_python took ${took} ms (the sleep was not interrupted?)`);
});

await check('files: upload text and base64, list, download the same text and bytes back', async () => {
  const text = 'héllo wörld\nsecond line ✓\n';
  const bytes = Buffer.from([0x00, 0x01, 0x02, 0xfe, 0xff, 0x00, 0x80, 0x7f, 0x0a, 0x0d]);
  const up1 = await call(client, 'upload_file', { path: 'notes/hello.txt', text });
  expect(!up1.isError, `upload text: ${show(up1.content)}`);
  const up2 = await call(client, 'upload_file', { path: 'blob.bin', base64: bytes.toString('base64') });
  expect(!up2.isError, `upload base64: ${show(up2.content)}`);
  const up3 = await call(client, 'upload_file', { path: '/sandbox/notes/absolute.txt', text: 'absolute' });
  expect(!up3.isError, `upload to /sandbox/...: ${show(up3.content)}`);

  const listed = await call(client, 'list_files', {});
  expect(!listed.isError, `list_files: ${show(listed.content)}`);
  const root = JSON.parse(texts(listed)[0]);
  expect(root.path !== undefined && Array.isArray(root.entries), `list_files document ${show(root)}`);
  const blob = root.entries.find((e) => e.name === 'blob.bin');
  expect(blob?.type === 'file' && blob.size === bytes.length && Number.isInteger(blob.modified_unix_ms), `blob.bin entry ${show(blob)}`);
  const notesDir = root.entries.find((e) => e.name === 'notes');
  expect(notesDir?.type === 'directory', `notes entry ${show(notesDir)}`);
  const sub = JSON.parse(texts(await call(client, 'list_files', { path: 'notes' }))[0]);
  const hello = sub.entries.find((e) => e.name === 'hello.txt');
  expect(hello?.size === Buffer.byteLength(text), `notes/hello.txt entry ${show(sub)}`);
  expect(sub.entries.some((e) => e.name === 'absolute.txt'), `notes/absolute.txt not listed: ${show(sub)}`);

  const down = await call(client, 'download_file', { path: 'notes/hello.txt' });
  expect(!down.isError && down.content.length === 1 && down.content[0].type === 'text', `download text: ${show(down.content)}`);
  expect(down.content[0].text === text, `text differs: ${show(down.content[0].text)}`);
  const downAbs = await call(client, 'download_file', { path: '/sandbox/notes/absolute.txt' });
  expect(allText(downAbs) === 'absolute', `download /sandbox/notes/absolute.txt: ${show(downAbs.content)}`);

  const binary = await call(client, 'download_file', { path: 'blob.bin' });
  expect(!binary.isError && binary.content.length === 1 && binary.content[0].type === 'resource', `download binary: ${show(binary.content)}`);
  const resource = binary.content[0].resource;
  expect(resource.uri === 'file:///sandbox/blob.bin', `resource uri ${resource.uri}`);
  expect(typeof resource.mimeType === 'string' && resource.mimeType.length > 0, `resource mimeType ${resource.mimeType}`);
  expect(Buffer.from(resource.blob ?? '', 'base64').equals(bytes), `blob differs: ${show(resource.blob)}`);

  // The files are the kernel's: the same workspace.
  const seen = await run(client, 'print(open("notes/hello.txt", encoding="utf-8").read() == ' + JSON.stringify(text) + ', len(open("blob.bin", "rb").read()))');
  expect(allText(seen).includes(`True ${bytes.length}`), `the kernel sees ${show(seen.content)}`);
});

await check('files: a PNG made by code downloads as an image item', async () => {
  await run(client, 'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.figure()\nplt.plot([3, 1, 2])\nplt.savefig("made.png")\nplt.close("all")');
  const result = await call(client, 'download_file', { path: 'made.png' });
  expect(!result.isError && result.content.length === 1 && result.content[0].type === 'image', `download: ${show(result.content)}`);
  expect(result.content[0].mimeType === 'image/png', `mimeType ${result.content[0].mimeType}`);
  expect(Buffer.from(result.content[0].data, 'base64').subarray(0, 8).equals(PNG_SIGNATURE), 'not a PNG');
});

await check('files: GIF, JPEG and WebP files download as image items; other binary files as resources', async () => {
  const images = {
    'pics/dot.gif': ['image/gif', 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'],
    'pics/dot.jpg': ['image/jpeg', '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA='],
    'pics/dot.webp': ['image/webp', 'UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA'],
  };
  for (const [path, [mimeType, data]] of Object.entries(images)) {
    const up = await call(client, 'upload_file', { path, base64: data });
    expect(!up.isError, `upload ${path}: ${show(up.content)}`);
    const down = await call(client, 'download_file', { path });
    expect(!down.isError && down.content.length === 1 && down.content[0].type === 'image', `${path}: ${show(down.content)}`);
    expect(down.content[0].mimeType === mimeType, `${path}: mimeType ${down.content[0].mimeType}, want ${mimeType}`);
    expect(down.content[0].data === data, `${path}: the data differs`);
  }
  // Not text: invalid UTF-8 without a NUL, and valid UTF-8 with one.
  for (const [path, bytes] of [['odd/latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])], ['odd/nul.txt', Buffer.from('a\0b\n')]]) {
    await call(client, 'upload_file', { path, base64: bytes.toString('base64') });
    const down = await call(client, 'download_file', { path });
    expect(!down.isError && down.content.length === 1 && down.content[0].type === 'resource', `${path}: ${show(down.content)}`);
    expect(down.content[0].resource.uri === `file:///sandbox/${path}`, `${path}: uri ${down.content[0].resource.uri}`);
    expect(Buffer.from(down.content[0].resource.blob, 'base64').equals(bytes), `${path}: the blob differs`);
  }
});

await check('files: paths outside the workspace are refused', async () => {
  for (const path of ['../outside.txt', '/etc/passwd', '/sandbox/../etc/passwd', 'notes/../../outside.txt']) {
    const up = await refusal(client, 'upload_file', { path, text: 'x' });
    expect(up !== null, `upload_file ${path} accepted`);
    const down = await refusal(client, 'download_file', { path });
    expect(down !== null, `download_file ${path} accepted`);
  }
});

await check('files: a missing file, overwrite false and both text and base64 are refused', async () => {
  const missing = await call(client, 'download_file', { path: 'no/such/file.txt' });
  expect(missing.isError === true, `missing file: ${show(missing)}`);
  const keep = await refusal(client, 'upload_file', { path: 'notes/hello.txt', text: 'replaced', overwrite: false });
  expect(keep !== null, 'overwrite: false replaced an existing file');
  const again = await call(client, 'download_file', { path: 'notes/hello.txt' });
  expect(allText(again).startsWith('héllo'), `the file changed: ${show(again.content)}`);
  const replaced = await call(client, 'upload_file', { path: 'notes/hello.txt', text: 'replaced' });
  expect(!replaced.isError, `overwrite by default: ${show(replaced.content)}`);
  expect(allText(await call(client, 'download_file', { path: 'notes/hello.txt' })) === 'replaced', 'not overwritten');
  const both = await refusal(client, 'upload_file', { path: 'both.txt', text: 'a', base64: 'YQ==' });
  expect(both !== null, 'text and base64 together accepted');
});

await check('reset_session: the next run_python starts from a fresh kernel', async () => {
  await run(client, 'before_reset = 7');
  const reset = await call(client, 'reset_session', {});
  expect(!reset.isError, `reset_session: ${show(reset.content)}`);
  const result = await call(client, 'run_python', { code: 'before_reset' });
  expect(result.isError === true && allText(result).includes('NameError'), `after reset: ${show(result.content)}`);
  const fresh = await run(client, '1 + 1');
  expect(texts(fresh).includes('2'), `fresh session: ${show(fresh.content)}`);
});

await check('auth: a wrong token is refused with 401', async () => {
  let error;
  try {
    const entry = await connect({ token: 'not-the-token' });
    await disconnect(entry);
  } catch (e) {
    error = e;
  }
  expect(error, 'connected with a wrong token');
  expect(error.code === 401 || /\b401\b/.test(String(error.message)), `error ${error.code}: ${error.message}`);
  const r = await raw('POST', { body: initializeRequest(), auth: 'none' });
  expect(r.status === 401, `no token: HTTP ${r.status} ${show(r.body)}`);
  const wrong = await raw('POST', { body: initializeRequest(), token: 'not-the-token', auth: 'x-auth-token' });
  expect(wrong.status === 401, `wrong X-Auth-Token: HTTP ${wrong.status}`);
});

await check('auth: X-Auth-Token is accepted as well as Authorization: Bearer', async () => {
  const session = await rawSession(LATEST_PROTOCOL_VERSION, { auth: 'x-auth-token' });
  try {
    expect(session.response.status === 200 && session.sessionId, `initialize: HTTP ${session.response.status} ${show(session.response.body)}`);
    const list = await raw('POST', {
      auth: 'x-auth-token',
      headers: { 'Mcp-Session-Id': session.sessionId, 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION },
      body: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    });
    expect(list.status === 200 && list.messages.find((m) => m.id === 2)?.result?.tools?.length === 5, `tools/list: HTTP ${list.status} ${show(list.body)}`);
  } finally {
    await rawEnd(session);
  }
});

await check('user_uuid: two MCP sessions naming the same user_uuid share variables; terminating one releases it', async () => {
  const uuid = randomUUID();
  const a = await connect({ userUuid: uuid });
  const b = await connect({ userUuid: uuid });
  let c;
  try {
    expect(a.transport.sessionId !== b.transport.sessionId, 'the two MCP sessions have the same id');
    await run(a.client, `shared_value = "from a ${uuid}"`);
    const seen = await run(b.client, 'print(shared_value)');
    expect(allText(seen).includes(`from a ${uuid}`), `b sees ${show(seen.content)}`);
    // Another user_uuid sees nothing of it.
    const other = await connect({ userUuid: randomUUID() });
    const none = await call(other.client, 'run_python', { code: 'shared_value' });
    await disconnect(other);
    expect(none.isError === true && allText(none).includes('NameError'), `another user_uuid sees ${show(none.content)}`);

    await a.transport.terminateSession();
    expect(a.transport.sessionId === undefined, 'terminateSession kept the session id');
    c = await connect({ userUuid: uuid });
    const gone = await call(c.client, 'run_python', { code: 'shared_value' });
    expect(gone.isError === true && allText(gone).includes('NameError'), `after terminateSession: ${show(gone.content)}`);
  } finally {
    await disconnect(a);
    await disconnect(b);
    await disconnect(c);
  }
});

await check('transport: protocol versions 2025-06-18 and 2025-03-26 are negotiated; an unknown one gets a supported one', async () => {
  for (const version of ['2025-06-18', '2025-03-26']) {
    const session = await rawSession(version);
    await rawEnd(session);
    expect(session.response.status === 200, `${version}: HTTP ${session.response.status} ${show(session.response.body)}`);
    expect(session.protocolVersion === version, `${version}: answered ${session.protocolVersion}`);
  }
  const session = await rawSession('2024-01-01');
  await rawEnd(session);
  expect(session.response.status === 200, `2024-01-01: HTTP ${session.response.status} ${show(session.response.body)}`);
  expect(['2025-11-25', '2025-06-18', '2025-03-26'].includes(session.protocolVersion), `2024-01-01: answered ${session.protocolVersion}`);
});

await check('transport: a request without Mcp-Session-Id gets 400', async () => {
  const r = await raw('POST', {
    headers: { 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION },
    body: { jsonrpc: '2.0', id: 5, method: 'tools/list' },
  });
  expect(r.status === 400, `HTTP ${r.status} ${show(r.body)}`);
});

await check('transport: an unknown Mcp-Session-Id gets 404', async () => {
  const r = await raw('POST', {
    headers: { 'Mcp-Session-Id': `unknown-${randomUUID()}`, 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION },
    body: { jsonrpc: '2.0', id: 6, method: 'tools/list' },
  });
  expect(r.status === 404, `HTTP ${r.status} ${show(r.body)}`);
});

await check('transport: a bad MCP-Protocol-Version header gets 400', async () => {
  const r = await raw('POST', {
    headers: { 'Mcp-Session-Id': transport.sessionId, 'MCP-Protocol-Version': '1999-01-01' },
    body: { jsonrpc: '2.0', id: 7, method: 'tools/list' },
  });
  expect(r.status === 400, `HTTP ${r.status} ${show(r.body)}`);
  const ok = await raw('POST', {
    headers: { 'Mcp-Session-Id': transport.sessionId, 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION },
    body: { jsonrpc: '2.0', id: 8, method: 'tools/list' },
  });
  expect(ok.status === 200, `the same request with the right version: HTTP ${ok.status} ${show(ok.body)}`);
});

await check('transport: Origin http://evil.example gets 403; loopback origins are accepted', async () => {
  const evil = await raw('POST', { headers: { Origin: 'http://evil.example' }, body: initializeRequest() });
  await rawEnd({ sessionId: evil.headers.get('mcp-session-id') });
  expect(evil.status === 403, `http://evil.example: HTTP ${evil.status} ${show(evil.body)}`);
  for (const origin of [`http://localhost:${ENDPOINT.port || 80}`, 'http://127.0.0.1:9', 'http://[::1]:5173', 'http://localhost']) {
    const session = await rawSession(LATEST_PROTOCOL_VERSION, { headers: { Origin: origin } });
    await rawEnd(session);
    expect(session.response.status === 200, `${origin}: HTTP ${session.response.status} ${show(session.response.body)}`);
  }
});

await check('user_uuid: a malformed one is refused at initialize with 400', async () => {
  for (const bad of ['not-a-uuid', '', '0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a/../x']) {
    const url = new URL(ENDPOINT);
    url.searchParams.set('user_uuid', bad);
    const session = await rawSession(LATEST_PROTOCOL_VERSION, { url });
    await rawEnd(session);
    expect(session.response.status === 400, `user_uuid=${JSON.stringify(bad)}: HTTP ${session.response.status} ${show(session.response.body)}`);
  }
});

if (args['allowed-origin'])
  await check(`transport: the configured CORS origin ${args['allowed-origin']} is accepted`, async () => {
    const session = await rawSession(LATEST_PROTOCOL_VERSION, { headers: { Origin: args['allowed-origin'] } });
    await rawEnd(session);
    expect(session.response.status === 200, `HTTP ${session.response.status} ${show(session.response.body)}`);
    const other = await raw('POST', { headers: { Origin: args['allowed-origin'] + '.evil.example' }, body: initializeRequest() });
    await rawEnd({ sessionId: other.headers.get('mcp-session-id') });
    expect(other.status === 403, `${args['allowed-origin']}.evil.example: HTTP ${other.status}`);
  });

await check('transport: GET gets 405 (no server-initiated stream)', async () => {
  const r = await raw('GET', { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': transport.sessionId, 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION } });
  expect(r.status === 405, `HTTP ${r.status} ${show(r.body)}`);
});

await check('transport: DELETE ends the session; its id then gets 404', async () => {
  const session = await rawSession();
  expect(session.sessionId, `initialize: HTTP ${session.response.status}`);
  const del = await raw('DELETE', { headers: { 'Mcp-Session-Id': session.sessionId } });
  expect(del.status >= 200 && del.status < 300, `DELETE: HTTP ${del.status} ${show(del.body)}`);
  const after = await raw('POST', {
    headers: { 'Mcp-Session-Id': session.sessionId, 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION },
    body: { jsonrpc: '2.0', id: 9, method: 'tools/list' },
  });
  expect(after.status === 404, `after DELETE: HTTP ${after.status} ${show(after.body)}`);
});

await disconnect(main);
for (const entry of [...openClients]) await disconnect(entry);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
