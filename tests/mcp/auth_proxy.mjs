// A loopback HTTP proxy that adds `Authorization: Bearer <token>` to every request and forwards it
// to the gateway: for MCP clients that cannot send our token, such as the conformance suite. Every
// other header goes through as it came (Host and Origin too: the DNS-rebinding scenario sends its
// own), and both bodies are streamed, so SSE responses arrive event by event. No dependencies.
//
//   node tests/mcp/auth_proxy.mjs --target http://127.0.0.1:PORT --token-file FILE [--port N]
//   prints "auth proxy: http://127.0.0.1:N -> http://127.0.0.1:PORT" once it listens
//
// or, in-process: const proxy = await startAuthProxy({target, token}); ...; await proxy.close();
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

// Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own, never forwarded.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

function forwardedHeaders(rawHeaders, drop = new Set()) {
  const connectionTokens = new Set();
  for (let i = 0; i < rawHeaders.length; i += 2)
    if (rawHeaders[i].toLowerCase() === 'connection')
      for (const token of rawHeaders[i + 1].split(',')) connectionTokens.add(token.trim().toLowerCase());
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || connectionTokens.has(name) || drop.has(name)) continue;
    out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
}

export function startAuthProxy({ target, token, port = 0, host = '127.0.0.1', log = () => {} }) {
  const upstream = new URL(target);
  if (upstream.protocol !== 'http:') throw new Error(`auth proxy: only http targets, not ${target}`);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const headers = forwardedHeaders(req.rawHeaders, new Set(['authorization']));
    headers.push('Authorization', `Bearer ${token}`);
    const outgoing = http.request({
      host: upstream.hostname,
      port: upstream.port || 80,
      method: req.method,
      path: req.url,
      headers, // an array: kept in order, Host as the client sent it
      agent,
    });
    outgoing.on('response', (incoming) => {
      res.writeHead(incoming.statusCode, incoming.statusMessage, forwardedHeaders(incoming.rawHeaders));
      res.flushHeaders();
      incoming.on('data', (chunk) => res.write(chunk));
      incoming.on('end', () => res.end());
      incoming.on('error', () => res.destroy());
      log(`${req.method} ${req.url} -> ${incoming.statusCode}`);
    });
    outgoing.on('error', (error) => {
      log(`${req.method} ${req.url} -> error ${error.message}`);
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`auth proxy: ${error.message}\n`);
    });
    // The client went away (a cancelled SSE stream, say): so does the upstream request.
    res.on('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    req.pipe(outgoing);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        url: `http://${host}:${address.port}`,
        port: address.port,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
            agent.destroy();
          }),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = {};
  for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i]] = process.argv[i + 1];
  if (!args['--target'] || !args['--token-file']) {
    console.error('usage: node auth_proxy.mjs --target http://127.0.0.1:PORT --token-file FILE [--port N] [--verbose 1]');
    process.exit(2);
  }
  const token = readFileSync(args['--token-file'], 'utf8').trim();
  const proxy = await startAuthProxy({
    target: args['--target'],
    token,
    port: Number(args['--port'] ?? 0),
    log: args['--verbose'] ? (line) => console.error(`auth proxy: ${line}`) : () => {},
  });
  console.log(`auth proxy: ${proxy.url} -> ${args['--target']}`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => proxy.close().then(() => process.exit(0)));
}
