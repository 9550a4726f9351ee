// Who may talk to backupd (docs/OPERATIONS.md, "Who may talk to
// backupd"). A local process that can reach backupd's socket, under the
// web server's own uid, with its own FastCGI client and without nginx's
// secret, claims scopes "*": refused, nothing changes. A wrong secret, or
// a uid allow_users does not list: refused. On TCP, a non-loopback bind
// without allow_addrs and a start without a secret are refused, and a
// peer allow_addrs does not list is refused. nginx still gets through
// (every other test file), and its health probe fails fast, in JSON,
// when every worker is held.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { env, request, assertError } from './lib.mjs';
import { fcgiRequest } from './fcgi.mjs';

const isRoot = process.getuid() === 0;
// Started as root, the stack's nginx runs its workers as nobody and the
// worker group (stack.sh's stack_worker_group); else as us.
const webGroup = isRoot ? execFileSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).trim() : '';
const webUid = isRoot ? Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })) : process.getuid();
const webGid = isRoot ? Number(execFileSync('getent', ['group', webGroup], { encoding: 'utf8' }).split(':')[2]) : process.getgid();
const asWeb = isRoot ? ['setpriv', '--reuid=nobody', `--regid=${webGroup}`, '--clear-groups'] : [];
// The client's module, where the web server's uid can read it: the
// checkout may be private (a 0700 mktemp -d, a home directory), the
// stack's share directory is open to nginx's workers (stack.sh).
const fcgiPath = `${process.env.SB_SHARE}/peer-fcgi.mjs`;
fs.copyFileSync(new URL('./fcgi.mjs', import.meta.url), fcgiPath);
fs.chmodSync(fcgiPath, 0o644);
const catalog = `${env.rundir}/catalog.db`;
const log = `${env.rundir}/logs/backupd.log`;

// An admin's claim, as a forging process would make it.
const claim = { SAF_USER_ID: 'mallory', SAF_USER_EMAIL: 'm@x', SAF_USER_SCOPES: '*', QUERY_STRING: '' };
const json = { ...claim, CONTENT_TYPE: 'application/json' };

/*
 * Run FastCGI requests from a process of the web server's uid (not ours
 * when we are root): [{ params, body }] against where (a socket path or
 * {host, port, localAddress}). Returns { uid, answers: [{status, code}] }.
 */
function fromWebUser(where, reqs) {
	const code = `import { fcgiRequest } from ${JSON.stringify(fcgiPath)};
		const [where, reqs] = JSON.parse(process.argv[1]);
		const answers = [];
		for (const r of reqs) {
			try {
				const a = await fcgiRequest(where, r.params, Buffer.from(r.body || ''));
				let code = null;
				try { code = JSON.parse(a.body).error?.code ?? null; } catch {}
				answers.push({ status: a.status, code, type: a.headers['content-type'] });
			} catch (e) { answers.push({ error: e.code || String(e) }); }
		}
		console.log(JSON.stringify({ uid: process.getuid(), answers }));`;
	const argv = [...asWeb, process.execPath, '--input-type=module', '-e', code, JSON.stringify([where, reqs])];
	const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60000, cwd: process.env.SB_SHARE });
	assert.equal(r.status, 0, `client: ${r.stderr}`);
	return JSON.parse(r.stdout);
}

// What the catalog and the store hold: must not move under a refusal.
function state() {
	return execFileSync('sqlite3', [catalog, 'SELECT id, status FROM backups ORDER BY id; SELECT count(*) FROM restores;'], { encoding: 'utf8' }) +
		fs.readdirSync(`${env.rundir}/store`, { recursive: true }).sort().join('\n');
}

function refusedLines(since) {
	return fs.readFileSync(log, 'utf8').slice(since).split('\n').filter((l) => l.includes('"peer.refused"')).map((l) => JSON.parse(l));
}

// A free TCP port on 127.0.0.1.
function freePort() {
	return new Promise((resolve) => {
		const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
	});
}

// Every backupd started here, stopped at the end even when a test failed
// half-way (a live child would keep this file's process, and the run,
// from ever ending).
const started = new Set();
after(() => { for (const p of started) if (p.exitCode === null) p.kill('SIGKILL'); });

/*
 * A second backupd on the stack's config with these [daemon] overrides,
 * started and answering /backups/health (probed with the secret from
 * probe, a socket path or {host, port}). Returns { proc, stderr() }.
 */
async function startBackupd(over, probe) {
	const proc = spawn(env.backupd, ['--config', process.env.SB_CONFIG], {
		env: { ...process.env, SAFBACKUP_DAEMON_WORKERS: '1', ...over }, stdio: ['ignore', 'ignore', 'pipe'],
	});
	started.add(proc);
	let err = '';
	proc.stderr.on('data', (d) => { err += d; });
	for (let i = 0; i < 200; i++) {
		if (proc.exitCode !== null) break;
		try {
			const a = await fcgiRequest(probe, { REQUEST_METHOD: 'GET', REQUEST_URI: '/backups/health', SAF_FASTCGI_SECRET: env.secret });
			if (a.status === 200) return { proc, stderr: () => err };
		} catch { /* not listening yet */ }
		await new Promise((r) => setTimeout(r, 50));
	}
	proc.kill('SIGKILL');
	throw new Error(`backupd did not start: ${err}`);
}

async function stopBackupd(b) {
	if (b.proc.exitCode !== null) return;
	const done = new Promise((r) => b.proc.once('exit', r));
	b.proc.kill('SIGTERM');
	await done;
}

// backupd must refuse to start: exit non-zero, naming the key, no socket.
function expectNoStart(over, key) {
	const r = spawnSync(env.backupd, ['--config', process.env.SB_CONFIG], {
		env: { ...process.env, SAFBACKUP_DAEMON_WORKERS: '1', ...over }, encoding: 'utf8', timeout: 20000,
	});
	assert.notEqual(r.status, 0, `backupd started (or was killed): ${r.stderr}`);
	assert.equal(r.signal, null, 'backupd had to be killed: it started');
	assert.match(r.stderr, new RegExp(`\\[daemon\\] ${key}`), r.stderr);
	assert.match(r.stderr, /"level":"error"/);
	return r.stderr;
}

describe('a local process that is not nginx, on the unix socket', () => {
	let id;
	before(async () => {
		const res = await request('POST', '/backups', { body: { description: 'peer test' } });
		assert.equal(res.status, 201, res.text);
		id = res.json.id;
	});

	test('runs under the uid of nginx\'s workers', () => {
		const nginxPid = Number(fs.readFileSync(`${env.rundir}/nginx.pid`, 'utf8'));
		const workers = execFileSync('pgrep', ['-P', String(nginxPid)], { encoding: 'utf8' }).trim().split('\n');
		const uid = Number(fs.readFileSync(`/proc/${workers[0]}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)[1]);
		assert.equal(uid, webUid);
		assert.equal(fromWebUser(env.socket, []).uid, webUid);
	});

	test('without the secret, claiming scopes *: 403 PEER_REFUSED on every route, nothing changes, logged', () => {
		const before = state();
		const mark = fs.statSync(log).size;
		const reqs = [
			{ params: { ...claim, REQUEST_METHOD: 'GET', REQUEST_URI: '/backups' } },
			{ params: { ...claim, REQUEST_METHOD: 'GET', REQUEST_URI: '/backups/health' } },
			{ params: { ...json, REQUEST_METHOD: 'POST', REQUEST_URI: '/backups' }, body: '{}' },
			{ params: { ...json, REQUEST_METHOD: 'POST', REQUEST_URI: `/backups/${id}/restore` }, body: '{"confirm":true}' },
			{ params: { ...json, REQUEST_METHOD: 'DELETE', REQUEST_URI: `/backups/${id}` } },
			{ params: { ...claim, REQUEST_METHOD: 'GET', REQUEST_URI: `/backups/${id}/download` } },
			{ params: { ...claim, REQUEST_METHOD: 'GET', REQUEST_URI: '/backups', SAF_FASTCGI_SECRET: '' } },
		];
		const { uid, answers } = fromWebUser(env.socket, reqs);
		assert.equal(uid, webUid);
		assert.equal(state(), before, 'the catalog or the store changed');
		for (const a of answers) assert.deepEqual(a, { status: 403, code: 'PEER_REFUSED', type: 'application/json; charset=utf-8' });
		const lines = refusedLines(mark);
		assert.equal(lines.length, reqs.length);
		for (const l of lines) {
			assert.equal(Number(l.peer_uid), webUid);
			assert.equal(Number(l.peer_gid), webGid);
			assert.ok(Number(l.peer_pid) > 0);
			assert.match(l.reason, /no SAF_FASTCGI_SECRET/);
		}
	});

	test('with a wrong secret: refused; with nginx\'s: served (the client works)', () => {
		const before = state();
		const wrong = env.secret.slice(0, -1) + (env.secret.endsWith('0') ? '1' : '0');
		const bad = [env.secret.slice(1), env.secret + '0', wrong, wrong.toUpperCase(), 'x'];
		const { answers } = fromWebUser(env.socket, [
			...bad.map((s) => ({ params: { ...json, REQUEST_METHOD: 'POST', REQUEST_URI: '/backups', SAF_FASTCGI_SECRET: s }, body: '{}' })),
			{ params: { ...claim, REQUEST_METHOD: 'GET', REQUEST_URI: '/backups', SAF_FASTCGI_SECRET: env.secret } },
		]);
		assert.equal(state(), before, 'the catalog or the store changed');
		for (const a of answers.slice(0, bad.length)) assert.deepEqual(a, { status: 403, code: 'PEER_REFUSED', type: 'application/json; charset=utf-8' });
		assert.equal(answers[bad.length].status, 200);
	});
});

describe('allow_users and allow_groups (SO_PEERCRED)', () => {
	const sock = `${process.env.SB_SHARE}/peer-test.sock`;
	let b;
	// The socket where the web server's uid may reach it, as stack.sh does.
	const share = () => { if (isRoot) fs.chownSync(sock, 0, webGid); };
	after(async () => { if (b) await stopBackupd(b); });

	test('a uid allow_users does not list is refused even with the secret; a listed one is served', async () => {
		b = await startBackupd({ SAFBACKUP_DAEMON_LISTEN: `unix:${sock}`, SAFBACKUP_DAEMON_ALLOW_USERS: 'root' }, sock);
		share();
		const req = { params: { ...claim, REQUEST_METHOD: 'GET', REQUEST_URI: '/backups', SAF_FASTCGI_SECRET: env.secret } };
		const { uid, answers } = fromWebUser(sock, [req]);
		assert.notEqual(uid, 0);
		assert.deepEqual(answers, [{ status: 403, code: 'PEER_REFUSED', type: 'application/json; charset=utf-8' }]);
		if (isRoot) {
			const a = await fcgiRequest(sock, req.params);
			assert.equal(a.status, 200, a.body);
		}
		await stopBackupd(b);
		assert.match(b.stderr(), new RegExp(`"peer\\.refused".*"peer_uid":"${uid}".*is not in allow_users or allow_groups`));
		b = null;
	});

	test('a gid allow_groups lists is served; without the secret still refused', async () => {
		b = await startBackupd({ SAFBACKUP_DAEMON_LISTEN: `unix:${sock}`, SAFBACKUP_DAEMON_ALLOW_USERS: 'root', SAFBACKUP_DAEMON_ALLOW_GROUPS: isRoot ? webGroup : execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim() }, sock);
		share();
		const p = { ...claim, REQUEST_METHOD: 'GET', REQUEST_URI: '/backups' };
		const { answers } = fromWebUser(sock, [{ params: { ...p, SAF_FASTCGI_SECRET: env.secret } }, { params: p }]);
		assert.equal(answers[0].status, 200, JSON.stringify(answers));
		assert.deepEqual(answers[1], { status: 403, code: 'PEER_REFUSED', type: 'application/json; charset=utf-8' });
		await stopBackupd(b);
		b = null;
	});

	test('an unknown user or group, or allow_addrs on a unix socket: backupd does not start', () => {
		const l = { SAFBACKUP_DAEMON_LISTEN: `unix:${sock}` };
		expectNoStart({ ...l, SAFBACKUP_DAEMON_ALLOW_USERS: 'no-such-user-sb' }, 'allow_users');
		expectNoStart({ ...l, SAFBACKUP_DAEMON_ALLOW_GROUPS: 'no-such-group-sb' }, 'allow_groups');
		expectNoStart({ ...l, SAFBACKUP_DAEMON_ALLOW_ADDRS: '127.0.0.1' }, 'allow_addrs');
	});
});

describe('the secret at start', () => {
	test('no secret_file (and no SAFBACKUP_DAEMON_SECRET): backupd does not start', () => {
		const sock = `${env.rundir}/nosecret.sock`;
		const err = expectNoStart({ SAFBACKUP_DAEMON_LISTEN: `unix:${sock}`, SAFBACKUP_DAEMON_SECRET_FILE: '', SAFBACKUP_DAEMON_SECRET: '' }, 'secret_file');
		assert.match(err, /required.*OPERATIONS\.md/);
		assert.equal(fs.existsSync(sock), false);
	});

	test('a secret file others may read, or a short secret: backupd does not start', () => {
		const f = `${env.rundir}/loose.secret`;
		fs.writeFileSync(f, env.secret + '\n', { mode: 0o644 });
		fs.chmodSync(f, 0o644);
		const l = { SAFBACKUP_DAEMON_LISTEN: `unix:${env.rundir}/x.sock` };
		assert.match(expectNoStart({ ...l, SAFBACKUP_DAEMON_SECRET_FILE: f }, 'secret_file'), /chmod 600/);
		fs.writeFileSync(f, 'short\n', { mode: 0o600 });
		fs.chmodSync(f, 0o600);
		assert.match(expectNoStart({ ...l, SAFBACKUP_DAEMON_SECRET_FILE: f }, 'secret_file'), /32 to 1024 bytes/);
	});
});

describe('TCP', () => {
	let b;
	after(async () => { if (b) await stopBackupd(b); });
	const health = (extra = {}) => ({ REQUEST_METHOD: 'GET', REQUEST_URI: '/backups/health', ...extra });

	test('0.0.0.0 without allow_addrs: backupd does not start', async () => {
		const port = await freePort();
		expectNoStart({ SAFBACKUP_DAEMON_LISTEN: `0.0.0.0:${port}` }, 'allow_addrs');
		expectNoStart({ SAFBACKUP_DAEMON_LISTEN: `0.0.0.0:${port}`, SAFBACKUP_DAEMON_ALLOW_USERS: 'root', SAFBACKUP_DAEMON_ALLOW_ADDRS: '127.0.0.1' }, 'allow_users');
	});

	test('0.0.0.0 with allow_addrs = 127.0.0.1: a client from 127.0.0.1 with the secret is served, without it refused', async () => {
		const port = await freePort();
		const at = { host: '127.0.0.1', port };
		b = await startBackupd({ SAFBACKUP_DAEMON_LISTEN: `0.0.0.0:${port}`, SAFBACKUP_DAEMON_ALLOW_ADDRS: '127.0.0.1' }, at);
		assert.equal((await fcgiRequest(at, health({ SAF_FASTCGI_SECRET: env.secret }))).status, 200);
		const r = await fcgiRequest(at, health());
		assert.equal(r.status, 403);
		assert.equal(JSON.parse(r.body).error.code, 'PEER_REFUSED');
		await stopBackupd(b);
		b = null;
	});

	test('a peer allow_addrs does not list is refused, even with the secret', async () => {
		const port = await freePort();
		const listed = { host: '127.0.0.1', port, localAddress: '127.0.0.2' };
		b = await startBackupd({ SAFBACKUP_DAEMON_LISTEN: `127.0.0.1:${port}`, SAFBACKUP_DAEMON_ALLOW_ADDRS: '10.0.0.0/8, 127.0.0.2/32' }, listed);
		const r = await fcgiRequest({ host: '127.0.0.1', port, localAddress: '127.0.0.1' }, health({ SAF_FASTCGI_SECRET: env.secret }));
		assert.equal(r.status, 403);
		assert.equal(JSON.parse(r.body).error.code, 'PEER_REFUSED');
		assert.match(b.stderr(), /"peer_addr":"127\.0\.0\.1".*not in allow_addrs/);
		assert.equal((await fcgiRequest(listed, health({ SAF_FASTCGI_SECRET: env.secret }))).status, 200);
		await stopBackupd(b);
		b = null;
	});
});

describe('nginx', () => {
	test('/backupsfoo is not the API: nginx does not hand it to backupd', async () => {
		const res = await request('GET', '/backupsfoo');
		// The admin page's fallback (index.html), not backupd's JSON.
		assert.match(res.headers['content-type'], /^text\/html/, res.text);
	});

	test('the health probe fails fast, in JSON, while every worker is held', async () => {
		// Hold every worker: connections that send one byte of a record
		// header and no more keep each worker reading its request (one
		// that sends nothing, libfcgi drops after 2 s); more of them
		// than workers, so nginx's connection queues behind them
		// (accept takes them in order).
		const held = [];
		for (let i = 0; i < 8; i++) {
			held.push(await new Promise((resolve, reject) => {
				const s = net.connect(env.socket, () => s.write(Buffer.from([1]), () => resolve(s)));
				s.on('error', reject);
			}));
		}
		try {
			const res = await request('GET', '/backups/health', { user: null, timeout: 60000 });
			// nginx's fastcgi_read_timeout: 504, in json-errors.conf's JSON.
			assertError(res, 504, 'INTERNAL');
		} finally {
			for (const s of held) s.destroy();
		}
		let res;
		for (let i = 0; i < 100; i++) {
			res = await request('GET', '/backups/health', { user: null });
			if (res.status === 200) break;
			await new Promise((r) => setTimeout(r, 50));
		}
		assert.equal(res.status, 200);
	});
});
