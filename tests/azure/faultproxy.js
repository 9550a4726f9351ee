#!/usr/bin/env node
// faultproxy.js - an HTTP proxy between the store and Azurite that injects
// the faults a network brings, on demand. Tests only; loopback only.
//
//   node faultproxy.js --listen PORT --target PORT [--portfile FILE]
//
// --listen 0 picks a free port and writes it to --portfile.
//
// Control (on the same port, never forwarded):
//   GET /__proxy/set?mode=M&count=N[&method=GET][&match=SUBSTR]
//                   [&retryAfter=S][&delayMs=MS][&after=BYTES][&status=C]
//       mode  503     answer 503 ServerBusy with Retry-After: S
//             status  answer status C (with an x-ms-error-code)
//             reset   cut the connection: an upload after BYTES of its
//                     body, a download after BYTES of the response body
//             slow    hold the response for MS before sending it
//       count how many matching requests to hit (-1: all of them)
//       method/match  only requests with that method / URL substring
//   GET /__proxy/stats  {"fault", "requests", "faults", "ranged",
//                        "byMethod", "byStatus"}: faults counts the
//                        requests that took the fault (what a test reads
//                        to prove its fault happened); byStatus the
//                        statuses answered, Azurite's and injected ones
//   GET /__proxy/reset  no faults, counters to zero
'use strict';

const http = require('http');
const fs = require('fs');

function arg(name, def) {
	const i = process.argv.indexOf('--' + name);
	return i >= 0 ? process.argv[i + 1] : def;
}

const listenPort = Number(arg('listen', '0'));
const targetPort = Number(arg('target', '10000'));
const portFile = arg('portfile', null);

let fault = { mode: 'none', count: 0 };
function zero() {
	return { requests: 0, faults: 0, ranged: 0, byMethod: {}, byStatus: {} };
}
let stats = zero();
let seq = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function control(req, res) {
	const u = new URL(req.url, 'http://x');
	const q = u.searchParams;
	if (u.pathname === '/__proxy/set') {
		fault = {
			mode: q.get('mode') || 'none',
			count: Number(q.get('count') || '1'),
			method: q.get('method') || null,
			match: q.get('match') || null,
			retryAfter: q.get('retryAfter') || '1',
			delayMs: Number(q.get('delayMs') || '0'),
			after: Number(q.get('after') || '0'),
			status: Number(q.get('status') || '500'),
		};
	} else if (u.pathname === '/__proxy/reset') {
		fault = { mode: 'none', count: 0 };
		stats = zero();
	} else if (u.pathname !== '/__proxy/stats') {
		res.writeHead(404);
		res.end();
		return;
	}
	const body = JSON.stringify(Object.assign({ fault }, stats));
	res.writeHead(200, { 'Content-Type': 'application/json' });
	res.end(body + '\n');
}

// Whether this request takes the fault (and use up one of count).
function hit(req) {
	if (fault.mode === 'none' || fault.count === 0)
		return false;
	if (fault.method && req.method !== fault.method)
		return false;
	if (fault.match && !req.url.includes(fault.match))
		return false;
	if (fault.count > 0)
		fault.count--;
	stats.faults++;
	return true;
}

function countStatus(status) {
	stats.byStatus[status] = (stats.byStatus[status] || 0) + 1;
}

function answer(req, res, status, code, extra) {
	countStatus(status);
	req.resume();
	req.on('end', () => {
		const h = Object.assign({
			'x-ms-error-code': code,
			'x-ms-request-id': 'faultproxy-' + (++seq),
			'Content-Length': '0',
		}, extra || {});
		res.writeHead(status, h);
		res.end();
	});
}

function forward(req, res, f) {
	const up = http.request({
		host: '127.0.0.1', port: targetPort, method: req.method,
		path: req.url, headers: req.headers, agent,
	}, (ur) => {
		const send = () => {
			countStatus(ur.statusCode);
			res.writeHead(ur.statusCode, ur.headers);
			if (f && f.mode === 'reset' && req.method !== 'PUT') {
				let n = 0;
				ur.on('data', (d) => {
					if (res.destroyed)
						return;
					if (n + d.length >= f.after) {
						res.write(d.subarray(0, Math.max(0, f.after - n)));
						res.socket.destroy();
						ur.destroy();
						return;
					}
					n += d.length;
					res.write(d);
				});
				ur.on('end', () => { if (!res.destroyed) res.end(); });
			} else
				ur.pipe(res);
		};
		if (f && f.mode === 'slow')
			setTimeout(send, f.delayMs);
		else
			send();
	});
	// Upstream gone (Azurite killed): the client sees its connection cut.
	up.on('error', () => req.socket.destroy());
	res.on('close', () => up.destroy());
	if (f && f.mode === 'reset' && req.method === 'PUT') {
		let n = 0;
		req.on('data', (d) => {
			n += d.length;
			if (n >= f.after) {
				req.socket.destroy();
				up.destroy();
			} else
				up.write(d);
		});
		req.on('end', () => { req.socket.destroy(); up.destroy(); });
	} else
		req.pipe(up);
}

const server = http.createServer((req, res) => {
	if (req.url.startsWith('/__proxy/'))
		return control(req, res);
	stats.requests++;
	stats.byMethod[req.method] = (stats.byMethod[req.method] || 0) + 1;
	if (req.headers['x-ms-range'] || req.headers.range)
		stats.ranged++;
	const f = hit(req) ? Object.assign({}, fault) : null;
	if (f && f.mode === '503')
		return answer(req, res, 503, 'ServerBusy',
		    { 'Retry-After': f.retryAfter });
	if (f && f.mode === 'status')
		return answer(req, res, f.status, 'InjectedFault');
	forward(req, res, f);
});
server.keepAliveTimeout = 30000;
server.listen(listenPort, '127.0.0.1', () => {
	const p = server.address().port;
	if (portFile)
		fs.writeFileSync(portFile, String(p));
	process.stdout.write('faultproxy on 127.0.0.1:' + p + ' -> ' +
	    targetPort + '\n');
});
process.on('SIGTERM', () => process.exit(0));
