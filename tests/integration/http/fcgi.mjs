// A minimal FastCGI client (FastCGI spec 1.0, s3 records, s5 Responder):
// one request per connection, params and optional stdin, collects stdout
// and parses the CGI-style response headers. For tests that talk to
// backupd without nginx in front.
import net from 'node:net';

const VERSION = 1;
const BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6, STDERR = 7;
const RESPONDER = 1;

function record(type, id, content) {
	const pad = (8 - (content.length % 8)) % 8;
	const h = Buffer.alloc(8);
	h.writeUInt8(VERSION, 0);
	h.writeUInt8(type, 1);
	h.writeUInt16BE(id, 2);
	h.writeUInt16BE(content.length, 4);
	h.writeUInt8(pad, 6);
	return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

function len(n) {
	if (n < 128) return Buffer.from([n]);
	const b = Buffer.alloc(4);
	b.writeUInt32BE((n | 0x80000000) >>> 0);
	return b;
}

function params(obj) {
	const parts = [];
	for (const [k, v] of Object.entries(obj)) {
		const kb = Buffer.from(k), vb = Buffer.from(String(v));
		parts.push(len(kb.length), len(vb.length), kb, vb);
	}
	return Buffer.concat(parts);
}

// Split content into records of at most 65535 bytes, then an empty one.
function stream(type, id, buf) {
	const out = [];
	for (let i = 0; i < buf.length; i += 65535) out.push(record(type, id, buf.subarray(i, i + 65535)));
	out.push(record(type, id, Buffer.alloc(0)));
	return out;
}

export function fcgiRequest(socketPath, env, body = Buffer.alloc(0)) {
	return new Promise((resolve, reject) => {
		const id = 1;
		const begin = Buffer.alloc(8);
		begin.writeUInt16BE(RESPONDER, 0);
		const penv = { CONTENT_LENGTH: String(body.length), ...env };
		const s = net.connect(socketPath, () => {
			s.write(Buffer.concat([record(BEGIN_REQUEST, id, begin), ...stream(PARAMS, id, params(penv)), ...stream(STDIN, id, Buffer.from(body))]));
		});
		let buf = Buffer.alloc(0);
		const out = [];
		let ended = false;
		s.setTimeout(30000, () => s.destroy(new Error('fastcgi timeout')));
		s.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			while (buf.length >= 8) {
				const type = buf.readUInt8(1), clen = buf.readUInt16BE(4), pad = buf.readUInt8(6);
				if (buf.length < 8 + clen + pad) break;
				const content = buf.subarray(8, 8 + clen);
				if (type === STDOUT) out.push(content);
				if (type === END_REQUEST) ended = true;
				buf = buf.subarray(8 + clen + pad);
			}
			if (ended) s.end();
		});
		s.on('error', reject);
		s.on('close', () => {
			const all = Buffer.concat(out).toString('utf8');
			const i = all.indexOf('\r\n\r\n');
			const head = i >= 0 ? all.slice(0, i) : all;
			const headers = {};
			for (const line of head.split('\r\n')) {
				const c = line.indexOf(':');
				if (c > 0) headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
			}
			const status = Number((headers.status || '200').split(' ')[0]);
			resolve({ status, headers, body: i >= 0 ? all.slice(i + 4) : '', ended });
		});
	});
}
