// Runs the compiled client (out/) the way an application would, against a stand-in for the gateway
// on 127.0.0.1 that records each request: the client must send the documented method, path,
// X-Auth-Token header and JSON body, and read the answers. Also checks that the generator made a
// method for every operationId of the document.
//   node smoke.cjs DOCUMENT   (from the directory holding out/)
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const smoke = require(path.resolve('out/smoke.js'));
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const TOKEN = 'smoke-test-token';

const answers = {
  'POST /api/v1/execute': [200, { result_text: '42\n', result_base64: null, stdout: '42\n', stderr: '',
    outputs: [], error: null, execution_count: 0, duration_ms: 3, truncated: false, new_session: false,
    previous_session: null }],
  [`POST /api/v1/release?user_uuid=${smoke.USER}`]: [200, { status: 'ok', detail: 'The session was released.' }],
  'POST /api/v1/release': [404, { detail: 'This user has no session.', reason: 'not_found' }],
  'GET /api/v1/health': [200, { status: 'ok' }],
};

async function main() {
  const missing = [];
  const services = Object.values(smoke.services('http://127.0.0.1:1'));
  for (const [route, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== 'object' || !op.operationId) continue;
      if (!services.some((s) => typeof s[op.operationId] === 'function'))
        missing.push(`${method.toUpperCase()} ${route} (${op.operationId})`);
    }
  assert.deepEqual(missing, [], 'the generated client has no method for these operations');

  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const key = `${req.method} ${req.url}`;
      requests.push({ key, token: req.headers['x-auth-token'], type: req.headers['content-type'] || '', body });
      const [status, answer] = answers[key] || [404, { detail: `no route ${req.url}`, reason: 'not_found' }];
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const seen = await smoke.session(`http://127.0.0.1:${server.address().port}`, TOKEN);
    assert.deepEqual(seen, ['stdout "42\\n" new_session false', 'error none', 'second release 404 not_found',
      'health ok']);
  } finally {
    server.close();
  }
  assert.deepEqual(requests.map((r) => r.key), ['POST /api/v1/execute', 'POST /api/v1/release?user_uuid=' + smoke.USER,
    'POST /api/v1/release', 'GET /api/v1/health']);
  for (const r of requests) assert.equal(r.token, TOKEN, `${r.key} without the token`);
  assert.match(requests[0].type, /^application\/json/);
  assert.deepEqual(JSON.parse(requests[0].body), { user_uuid: smoke.USER, code: 'print(a * 2)' });
  assert.deepEqual(JSON.parse(requests[2].body), { user_uuid: smoke.USER });
  console.log(`smoke: the generated client has a method for each of the document's operations and ` +
    `sent ${requests.length} requests as documented`);
}

main().catch((error) => {
  console.error(`smoke: ${error.stack || error}`);
  process.exit(1);
});
