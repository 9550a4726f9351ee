// Every endpoint and every filter of the /backups API, through nginx over
// HTTPS, on the disk store.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { env, request, assertJson, assertError, assertBackup, createBackup, health, UUID, sleep } from './lib.mjs';

const cron = (...args) => execFileSync(process.env.SB_CRON, ['--config', process.env.SB_CONFIG, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sql = (q) => execFileSync('sqlite3', [env.sourceDb, q], { encoding: 'utf8' }).trim();

describe('the /backups API', () => {
	let a, b, c, auto;

	before(async () => {
		a = await createBackup({ description: 'alpha before upgrade', tags: ['upgrade', 'v1'] });
		await sleep(20);
		b = await createBackup({ description: 'beta nightly' });
		await sleep(20);
		c = await createBackup({ tags: ['gamma'] });
		// An automatic backup, as backup-cron takes them.
		cron('backup', '--type', 'automatic');
		const l = await request('GET', '/backups?type=automatic&limit=1');
		auto = l.json[0];
	});

	test('GET /backups/health is public and ok', async () => {
		await health();
	});

	test('POST /backups answers 201 with the completed Backup', async () => {
		const res = await request('POST', '/backups', { body: { description: 'created here', tags: ['x', 'y z'] } });
		assert.equal(res.status, 201, res.text);
		assertJson(res);
		assert.equal(res.headers['cache-control'], 'no-store');
		const bk = res.json;
		assertBackup(bk);
		assert.equal(bk.type, 'manual');
		assert.equal(bk.status, 'completed');
		assert.equal(bk.description, 'created here');
		assert.deepEqual(bk.tags, ['x', 'y z']);
		assert.equal(bk.error, null);
		assert.ok(bk.size > 0);
		assert.match(bk.location, /^backup-\d{8}T\d{9}Z-manual-[0-9a-f-]{36}\.db$/);
		assert.equal(res.headers.location, `/backups/${bk.id}`);
	});

	test('POST /backups with an empty body is a backup without description', async () => {
		const res = await request('POST', '/backups', { body: '', headers: { 'Content-Type': 'application/json' } });
		assert.equal(res.status, 201, res.text);
		assert.equal(res.json.description, null);
		assert.deepEqual(res.json.tags, []);
	});

	test('GET /backups lists newest first, every field present', async () => {
		const res = await request('GET', '/backups');
		assert.equal(res.status, 200);
		assertJson(res);
		assert.ok(Array.isArray(res.json));
		for (const bk of res.json) assertBackup(bk);
		const ids = res.json.map((x) => x.id);
		assert.ok(ids.indexOf(c.id) < ids.indexOf(b.id) && ids.indexOf(b.id) < ids.indexOf(a.id), 'newest first');
		const times = res.json.map((x) => Date.parse(x.created_at));
		assert.deepEqual(times, [...times].sort((x, y) => y - x));
	});

	test('GET /backups/:id gives one backup', async () => {
		const res = await request('GET', `/backups/${a.id}`);
		assert.equal(res.status, 200);
		// Idle: nothing runs on it (progress, GET /backups/:id only).
		assert.deepEqual(res.json, { ...a, progress: null });
	});

	test('filter type', async () => {
		const man = await request('GET', '/backups?type=manual&limit=1000');
		assert.ok(man.json.length >= 3);
		assert.ok(man.json.every((x) => x.type === 'manual'));
		const au = await request('GET', '/backups?type=automatic');
		assert.ok(au.json.length >= 1);
		assert.ok(au.json.every((x) => x.type === 'automatic'));
		assert.ok(au.json.some((x) => x.id === auto.id));
	});

	test('filter status', async () => {
		const done = await request('GET', '/backups?status=completed&limit=1000');
		assert.ok(done.json.some((x) => x.id === a.id));
		assert.ok(done.json.every((x) => x.status === 'completed'));
		const failed = await request('GET', '/backups?status=failed');
		assert.equal(failed.status, 200);
		assert.ok(failed.json.every((x) => x.status === 'failed'));
		assert.ok(!failed.json.some((x) => x.id === a.id));
	});

	test('filter from and to (ISO 8601, inclusive)', async () => {
		const from = await request('GET', `/backups?type=manual&from=${encodeURIComponent(b.created_at)}&limit=1000`);
		const ids = from.json.map((x) => x.id);
		assert.ok(ids.includes(b.id) && ids.includes(c.id));
		assert.ok(!ids.includes(a.id));
		const to = await request('GET', `/backups?to=${encodeURIComponent(b.created_at)}&limit=1000`);
		const tids = to.json.map((x) => x.id);
		assert.ok(tids.includes(a.id) && tids.includes(b.id));
		assert.ok(!tids.includes(c.id));
		const both = await request('GET', `/backups?from=${encodeURIComponent(b.created_at)}&to=${encodeURIComponent(b.created_at)}`);
		assert.deepEqual(both.json.map((x) => x.id), [b.id]);
		// A date alone, and an offset form.
		const day = new Date(Date.parse(a.created_at)).toISOString().slice(0, 10);
		const d = await request('GET', `/backups?from=${day}`);
		assert.ok(d.json.some((x) => x.id === a.id));
		const dt = await request('GET', `/backups?from=${day}&to=${day}&limit=1000`);
		assert.ok(dt.json.some((x) => x.id === a.id), 'to=<date> covers that whole day');
		const off = await request('GET', `/backups?to=${encodeURIComponent('2000-01-01T00:00:00+02:00')}`);
		assert.equal(off.status, 200);
		assert.deepEqual(off.json, []);
	});

	test('filter q matches description and tags', async () => {
		const d = await request('GET', '/backups?q=nightly');
		assert.deepEqual(d.json.map((x) => x.id), [b.id]);
		const t = await request('GET', '/backups?q=gamma');
		assert.deepEqual(t.json.map((x) => x.id), [c.id]);
		const none = await request('GET', '/backups?q=' + encodeURIComponent('no such thing ü'));
		assert.deepEqual(none.json, []);
	});

	test('limit and offset page through the list', async () => {
		const all = (await request('GET', '/backups?limit=1000')).json;
		const one = await request('GET', '/backups?limit=1');
		assert.equal(one.json.length, 1);
		assert.equal(one.json[0].id, all[0].id);
		const second = await request('GET', '/backups?limit=2&offset=1');
		assert.deepEqual(second.json.map((x) => x.id), all.slice(1, 3).map((x) => x.id));
		const past = await request('GET', '/backups?offset=100000');
		assert.deepEqual(past.json, []);
		const combo = await request('GET', `/backups?type=manual&status=completed&q=alpha&limit=5&offset=0&from=2020-01-01&to=2999-01-01`);
		assert.deepEqual(combo.json.map((x) => x.id), [a.id]);
	});

	test('X-Total-Count counts every match, whatever limit and offset', async () => {
		const all = (await request('GET', '/backups?limit=1000')).json;
		assert.ok(all.length >= 3, 'the suite made at least three backups');
		const one = await request('GET', '/backups?limit=1&offset=1');
		assert.equal(one.json.length, 1);
		assert.equal(one.headers['x-total-count'], String(all.length));
		const man = (await request('GET', '/backups?type=manual&limit=1000')).json;
		const q = await request('GET', '/backups?type=manual&limit=1&offset=100000');
		assert.deepEqual(q.json, []);
		assert.equal(q.headers['x-total-count'], String(man.length));
		const none = await request('GET', '/backups?q=' + encodeURIComponent('no such thing ü'));
		assert.equal(none.headers['x-total-count'], '0');
	});

	test('GET /backups/:id/download streams the file', async () => {
		const res = await request('GET', `/backups/${a.id}/download`, { binary: true });
		assert.equal(res.status, 200);
		assert.equal(res.headers['content-type'], 'application/octet-stream');
		assert.equal(res.headers['content-disposition'], `attachment; filename="${a.location}"`);
		assert.equal(Number(res.headers['content-length']), a.size);
		assert.equal(res.buf.length, a.size);
		assert.equal(crypto.createHash('sha256').update(res.buf).digest('hex'), a.sha256);
		assert.equal(res.buf.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
	});

	test('download of a missing backup is 404 JSON', async () => {
		assertError(await request('GET', `/backups/${crypto.randomUUID()}/download`), 404, 'NOT_FOUND');
	});

	test('POST /backups/:id/restore restores, after a safety backup', async () => {
		const before = sql('SELECT count(*) FROM t');
		const bk = await createBackup({ description: 'restore point' });
		sql("INSERT INTO t(v) VALUES ('written after the backup')");
		assert.equal(sql('SELECT count(*) FROM t'), String(Number(before) + 1));
		const res = await request('POST', `/backups/${bk.id}/restore`, { body: { confirm: true } });
		assert.equal(res.status, 200, res.text);
		assertJson(res);
		assert.match(res.json.id, UUID);
		assert.equal(res.json.backup_id, bk.id);
		assert.match(res.json.safety_backup_id, UUID);
		assert.equal(res.json.status, 'completed');
		assert.equal(sql('SELECT count(*) FROM t'), before, 'the row written after the backup is gone');
		// The safety backup is a completed backup holding that row.
		const s = await request('GET', `/backups/${res.json.safety_backup_id}`);
		assert.equal(s.status, 200);
		assert.equal(s.json.status, 'completed');
	});

	test('restore of a corrupt backup is 422 BACKUP_CORRUPT, live DB untouched', async () => {
		const bk = await createBackup({ description: 'to corrupt' });
		const obj = `${env.rundir}/store/${bk.location}`;
		const fd = fs.openSync(obj, 'r+');
		fs.writeSync(fd, Buffer.from('garbage!'), 0, 8, 4096);
		fs.closeSync(fd);
		sql("INSERT INTO t(v) VALUES ('kept through a refused restore')");
		const before = sql('SELECT count(*) FROM t');
		const res = await request('POST', `/backups/${bk.id}/restore`, { body: { confirm: true } });
		assertError(res, 422, 'BACKUP_CORRUPT');
		assert.equal(sql('SELECT count(*) FROM t'), before);
		// Its download still streams what is stored (it is the admin's file).
		assert.equal((await request('GET', `/backups/${bk.id}/download`, { binary: true })).status, 200);
	});

	test('download of a backup whose object vanished is a JSON 404', async () => {
		const bk = await createBackup({ description: 'object removed' });
		fs.unlinkSync(`${env.rundir}/store/${bk.location}`);
		assertError(await request('GET', `/backups/${bk.id}/download`), 404, 'NOT_FOUND');
	});

	test('restore needs {"confirm": true}', async () => {
		assertError(await request('POST', `/backups/${a.id}/restore`, { body: {} }), 400, 'BAD_REQUEST');
		assertError(await request('POST', `/backups/${a.id}/restore`, { body: { confirm: false } }), 400, 'BAD_REQUEST');
		assertError(await request('POST', `/backups/${a.id}/restore`, { body: { confirm: 'yes' } }), 400, 'BAD_REQUEST');
	});

	test('restore of a missing backup is 404', async () => {
		assertError(await request('POST', `/backups/${crypto.randomUUID()}/restore`, { body: { confirm: true } }), 404, 'NOT_FOUND');
	});

	test('DELETE /backups/:id deletes a manual backup', async () => {
		const bk = await createBackup({ description: 'to delete' });
		const res = await request('DELETE', `/backups/${bk.id}`, { headers: { 'Content-Type': 'application/json' } });
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json, { deleted: bk.id });
		assertError(await request('GET', `/backups/${bk.id}`), 404, 'NOT_FOUND');
		assertError(await request('DELETE', `/backups/${bk.id}`, { headers: { 'Content-Type': 'application/json' } }), 404, 'NOT_FOUND');
	});

	test('DELETE of an automatic backup is 400 AUTOMATIC_NOT_DELETABLE', async () => {
		const res = await request('DELETE', `/backups/${auto.id}`, { headers: { 'Content-Type': 'application/json' } });
		assertError(res, 400, 'AUTOMATIC_NOT_DELETABLE');
		assert.equal((await request('GET', `/backups/${auto.id}`)).status, 200);
	});

	test('every answer carries the security headers and no-store', async () => {
		const res = await request('GET', '/backups?limit=1');
		assert.equal(res.headers['cache-control'], 'no-store');
		assert.equal(res.headers['x-content-type-options'], 'nosniff');
		assert.match(res.headers['strict-transport-security'], /max-age=\d+/);
		assert.match(res.headers['x-request-id'], /^[0-9a-f]{32}$/);
	});

	test('one log line per request, with method, path, status, duration, user and request id', async () => {
		const res = await request('GET', '/backups?limit=2');
		const rid = res.headers['x-request-id'];
		await sleep(100);
		const lines = (await import('node:fs')).readFileSync(`${env.rundir}/logs/backupd.log`, 'utf8').split('\n').filter((l) => l.includes(rid));
		assert.equal(lines.length, 1, lines.join('\n'));
		const l = JSON.parse(lines[0]);
		assert.equal(l.event, 'http.request');
		assert.equal(l.method, 'GET');
		assert.equal(l.path, '/backups?limit=2');
		assert.equal(l.status, '200');
		assert.match(l.duration_ms, /^\d+$/);
		assert.equal(l.user_id, 'admin');
		assert.equal(l.request_id, rid);
	});
});
