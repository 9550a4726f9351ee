// Helpers for the HTTP API tests: a real HTTPS client against the stack
// that run.sh started (nginx + backupd), no dependency beyond Node.
//
// Every response is recorded (method, route template, status) in
// $SB_RECORD, so openapi.test.mjs can check docs/openapi.json documents
// each status the tests actually saw.
import https from 'node:https';
import tls from 'node:tls';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

export const env = {
	url: must('SB_URL'),
	port: Number(new URL(must('SB_URL')).port),
	rundir: must('SB_RUNDIR'),
	sourceDb: must('SB_SOURCE_DB'),
	lockFile: must('SB_LOCK_FILE'),
	backupdPid: Number(must('SB_BACKUPD_PID')),
	backupd: must('SB_BACKUPD'),
	socket: must('SB_SOCKET'),
	record: process.env.SB_RECORD || '',
	root: must('SB_ROOT'),
	// What nginx sends backupd as SAF_FASTCGI_SECRET: a direct FastCGI
	// client that stands in for nginx sends it too.
	secretFile: must('SB_SECRET_FILE'),
	secret: fs.readFileSync(must('SB_SECRET_FILE'), 'utf8').trim(),
};

function must(name) {
	const v = process.env[name];
	if (!v) throw new Error(`${name} is not set: run tests/integration/http/run.sh`);
	return v;
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false });

export const users = {
	admin: 'Basic ' + Buffer.from('admin:admin').toString('base64'),
	viewer: 'Basic ' + Buffer.from('viewer:viewer').toString('base64'),
};

// The route template of a path, for the record ("/backups/:id/restore").
export function template(path) {
	const p = path.split('?')[0];
	const m = p.match(/^\/backups\/([^/]+)(\/(restore|download|drill))?$/);
	const fixed = ['/backups', '/backups/health', '/backups/status', '/backups/metrics'];
	if (fixed.includes(p)) return p;
	if (m) return '/backups/:id' + (m[2] || '');
	return null;
}

function record(method, path, status) {
	if (!env.record) return;
	const t = template(path);
	if (t) fs.appendFileSync(env.record, JSON.stringify({ method, route: t, status }) + '\n');
}

/*
 * One request. opts: user ('admin' | 'viewer' | null), headers, body
 * (string or Buffer; objects are JSON-encoded with Content-Type set),
 * binary (keep the body as a Buffer).
 */
export function request(method, path, opts = {}) {
	const headers = { ...(opts.headers || {}) };
	const user = opts.user === undefined ? 'admin' : opts.user;
	if (user) headers.Authorization = users[user];
	let body = opts.body;
	if (body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body)) {
		body = JSON.stringify(body);
		if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
			headers['Content-Type'] = 'application/json';
	}
	if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
	return new Promise((resolve, reject) => {
		const req = https.request(env.url + path, { method, headers, agent, timeout: opts.timeout || 120000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('error', reject);
			res.on('end', () => {
				const buf = Buffer.concat(chunks);
				const out = { status: res.statusCode, headers: res.headers, buf, text: opts.binary ? '' : buf.toString('utf8') };
				try { out.json = opts.binary ? undefined : JSON.parse(out.text); } catch { out.json = undefined; }
				record(method, path, res.statusCode);
				resolve(out);
			});
		});
		req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
		req.on('error', reject);
		if (body !== undefined) req.write(body);
		req.end();
	});
}

/*
 * Raw bytes over TLS, for requests Node's client refuses to send (control
 * characters, broken request lines). Resolves with the status and body.
 */
export function rawRequest(text) {
	return new Promise((resolve, reject) => {
		const s = tls.connect({ host: '127.0.0.1', port: env.port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => s.write(text));
		const chunks = [];
		s.setTimeout(10000, () => s.destroy(new Error('raw request timeout')));
		s.on('data', (c) => chunks.push(c));
		s.on('error', reject);
		s.on('end', () => {
			const all = Buffer.concat(chunks).toString('latin1');
			const m = all.match(/^HTTP\/1\.[01] (\d{3})/);
			const i = all.indexOf('\r\n\r\n');
			const head = i >= 0 ? all.slice(0, i) : all;
			let body = i >= 0 ? all.slice(i + 4) : '';
			if (/transfer-encoding: chunked/i.test(head)) body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
			let json;
			try { json = JSON.parse(body); } catch { json = undefined; }
			resolve({ status: m ? Number(m[1]) : 0, head, body, json });
		});
	});
}

// The answer is JSON with the API's headers.
export function assertJson(res) {
	assert.match(res.headers['content-type'] || '', /^application\/json; charset=utf-8$/, `content-type of ${res.status}: ${res.text}`);
	assert.notEqual(res.json, undefined, `body is JSON: ${res.text}`);
}

// An error answer: status, JSON, {"error":{"code","message"}} with code.
export function assertError(res, status, code) {
	assert.equal(res.status, status, `status (body: ${res.text})`);
	assertJson(res);
	assert.equal(typeof res.json.error, 'object', res.text);
	assert.equal(typeof res.json.error.message, 'string', res.text);
	if (code) assert.equal(res.json.error.code, code, res.text);
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Check a Backup object's shape.
export function assertBackup(b) {
	assert.match(b.id, UUID);
	assert.ok(['manual', 'automatic'].includes(b.type), b.type);
	assert.ok(['pending', 'completed', 'failed'].includes(b.status), b.status);
	assert.ok(!Number.isNaN(Date.parse(b.created_at)), b.created_at);
	for (const k of ['id', 'type', 'status', 'created_at', 'completed_at', 'size', 'sha256', 'stored_size', 'location', 'description', 'tags', 'error'])
		assert.ok(k in b, `field ${k}`);
	assert.ok(Array.isArray(b.tags));
	if (b.status === 'completed') {
		assert.equal(typeof b.size, 'number');
		assert.match(b.sha256, /^[0-9a-f]{64}$/);
		assert.equal(typeof b.stored_size, 'number');
		assert.ok(!Number.isNaN(Date.parse(b.completed_at)));
	}
}

// Create a backup, retrying on 409 (another write runs): none is lost.
export async function createBackup(body = {}, tries = 200) {
	for (let i = 0; i < tries; i++) {
		const res = await request('POST', '/backups', { body });
		if (res.status === 201) return res.json;
		if (res.status !== 409) throw new Error(`create: ${res.status} ${res.text}`);
		await sleep(50 + Math.random() * 100);
	}
	throw new Error('create: still busy');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Worker pids: the children of backupd's parent.
export function workers() {
	const out = [];
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		try {
			const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
			const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
			if (ppid === env.backupdPid) out.push(Number(d));
		} catch { /* gone */ }
	}
	return out;
}

// The worker holding the writer lock (it has the lock file open), or 0.
export function lockHolder() {
	for (const pid of workers()) {
		try {
			for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
				let link = '';
				try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
				if (link === env.lockFile) return pid;
			}
		} catch { /* gone */ }
	}
	return 0;
}

// Grow the live database to about mb megabytes (slow backups for the
// crash and busy tests), in one sqlite3 transaction.
export function growSourceDb(mb) {
	const rows = Math.ceil((mb * 1024 * 1024) / 4096);
	execFileSync('sqlite3', [env.sourceDb, `CREATE TABLE IF NOT EXISTS bulk(id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ${rows}) INSERT INTO bulk(b) SELECT randomblob(4000) FROM c;`]);
}

export function shrinkSourceDb() {
	execFileSync('sqlite3', [env.sourceDb, 'DROP TABLE IF EXISTS bulk; VACUUM;']);
}

export async function health() {
	const res = await request('GET', '/backups/health', { user: null });
	assert.equal(res.status, 200, res.text);
	assert.deepEqual(res.json, { status: 'ok' });
}
