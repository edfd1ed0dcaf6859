#!/usr/bin/env node
// Serves the bare repositories in one folder over git's smart HTTP protocol, read-only, on
// 127.0.0.1:7071 under /git/ (what gitrepo.yaml expects). It hands each request to
// `git http-backend` as a CGI program, so any real git client or isomorphic-git can clone.
//
//   node examples/volumes/serve-git.mjs /path/to/folder-with-site.git
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { resolve } from 'node:path';

const projectRoot = resolve(process.argv[2] ?? '.');
const host = '127.0.0.1';
const port = Number(process.env.PORT ?? 7071);
const prefix = '/git';

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', `http://${host}`);
  if (!url.pathname.startsWith(`${prefix}/`)) {
    response.writeHead(404).end('not found\n');
    return;
  }
  const backend = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: request.method,
      PATH_INFO: decodeURIComponent(url.pathname.slice(prefix.length)),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: request.headers['content-type'] ?? '',
      CONTENT_LENGTH: request.headers['content-length'] ?? '',
      HTTP_CONTENT_ENCODING: request.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: request.headers['git-protocol'] ?? '',
      REMOTE_ADDR: request.socket.remoteAddress ?? '',
    },
  });
  backend.on('error', (error) => {
    console.error(`cannot run git http-backend: ${error.message}`);
    if (!response.headersSent) response.writeHead(500);
    response.end();
  });
  request.pipe(backend.stdin);
  backend.stderr.pipe(process.stderr);

  // CGI output: header lines, a blank line, then the body.
  let head = Buffer.alloc(0);
  let headDone = false;
  backend.stdout.on('data', (chunk) => {
    if (headDone) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    headDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.writeHead(status);
    response.write(head.subarray(end + 4));
  });
  backend.on('close', (code) => {
    if (!headDone) response.writeHead(code === 0 ? 200 : 500);
    response.end();
  });
});

server.listen(port, host, () => {
  console.log(`serving git repositories in ${projectRoot} at http://${host}:${port}${prefix}/`);
});
