// Progress of a running backup and restore (issue 11 item 5), read
// through nginx from other connections while the synchronous POST runs:
// GET /backups/status ("running", which is how the page finds a backup
// whose POST has not returned) and GET /backups/:id ("progress"). A
// large live database makes the operations last; nothing here waits for
// a time or asserts one. Also: failure messages the browser gets name
// no server path (item 6).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import { env, request, assertJson, workers, growSourceDb, shrinkSourceDb, health, sleep, UUID } from './lib.mjs';

const SIZE_MB = Number(process.env.SB_PROGRESS_MB || 400);
const run = promisify(execFile);
const cron = (...args) => run(process.env.SB_CRON, ['--config', process.env.SB_CONFIG, ...args], { encoding: 'utf8' });

// Where each phase comes in its operation; download and verify are
// alternatives (a remote object is hashed as it arrives, a local one
// read again), so they share a rank.
const RANK = {
	backup: { snapshot: 0, upload: 1 },
	restore: { download: 0, verify: 0, safety_backup: 1, copy: 2 },
};

// A progress object as contract 1 (docs/HTTP.md) says.
function assertProgress(p, op, withId) {
	assert.equal(p.operation, op, JSON.stringify(p));
	assert.ok(p.phase in RANK[op], `phase ${p.phase} of a ${op}`);
	assert.ok(Number.isInteger(p.bytes_done) && p.bytes_done >= 0, JSON.stringify(p));
	assert.ok(p.bytes_total === null || (Number.isInteger(p.bytes_total) && p.bytes_done <= p.bytes_total),
		`bytes_done ${p.bytes_done} over bytes_total ${p.bytes_total}`);
	assert.ok(!Number.isNaN(Date.parse(p.started_at)), p.started_at);
	assert.ok(!Number.isNaN(Date.parse(p.updated_at)), p.updated_at);
	assert.ok(Date.parse(p.updated_at) >= Date.parse(p.started_at), JSON.stringify(p));
	if (withId) assert.match(p.backup_id, UUID);
	else assert.ok(!('backup_id' in p), 'no backup_id in GET /backups/:id');
}

// Observations in the order they were read: phases never go back, bytes
// never go back within a phase, one operation throughout.
function assertForward(seen, op) {
	for (let i = 1; i < seen.length; i++) {
		const a = seen[i - 1], b = seen[i];
		assert.equal(b.started_at, a.started_at, 'one operation');
		assert.ok(RANK[op][b.phase] >= RANK[op][a.phase], `phase ${a.phase} then ${b.phase}`);
		if (a.phase === b.phase)
			assert.ok(b.bytes_done >= a.bytes_done, `${a.phase}: ${a.bytes_done} then ${b.bytes_done}`);
		assert.ok(Date.parse(b.updated_at) >= Date.parse(a.updated_at), 'updated_at forward');
	}
}

/*
 * While pending() is true, read GET /backups/status and, once the
 * operation's backup id is known (known, or found in "running"),
 * GET /backups/:id, one after the other: every progress seen, in order.
 * onSeen (optional) runs once, at the first.
 */
async function watch(op, pending, known, onSeen) {
	const seen = [];
	let id = known, ids = new Set(), side;
	while (pending()) {
		const st = await request('GET', '/backups/status');
		assert.equal(st.status, 200, st.text);
		assert.ok(Array.isArray(st.json.running), 'running is an array');
		for (const r of st.json.running) {
			assertProgress(r, r.operation, true);
			if (r.operation !== op || (known && r.backup_id !== known)) continue;
			ids.add(r.backup_id);
			id = r.backup_id;
			seen.push(r);
		}
		if (!id) continue;
		const one = await request('GET', `/backups/${id}`);
		assert.equal(one.status, 200, one.text);
		assertJson(one);
		assert.ok('progress' in one.json, 'GET /backups/:id has progress');
		if (one.json.progress !== null) {
			assertProgress(one.json.progress, op, false);
			seen.push({ ...one.json.progress, backup_id: id });
		}
		if (seen.length > 0 && onSeen && !side) side = onSeen(id);
		await sleep(20);	/* share the CPUs with the operation */
	}
	if (side) await side;
	assert.ok(ids.size <= 1, `one ${op} ran: ${[...ids]}`);
	return { seen, id };
}

describe('progress of a running operation', () => {
	before(() => growSourceDb(SIZE_MB));
	after(() => shrinkSourceDb());

	test('the pool has more than one worker: the polls do not queue behind the POST', () => {
		assert.ok(workers().length > 1, `workers: ${workers()}`);
	});

	test('idle: running is empty', async () => {
		const st = await request('GET', '/backups/status');
		assert.equal(st.status, 200, st.text);
		assert.deepEqual(st.json.running, []);
	});

	let made;
	test('a backup: phases in order, bytes forward and within the total, null after', async () => {
		let pending = true;
		const creating = request('POST', '/backups', { body: { description: 'progress watched' } })
			.finally(() => { pending = false; });
		const { seen, id } = await watch('backup', () => pending);
		const res = await creating;
		assert.equal(res.status, 201, res.text);
		made = res.json;
		assert.ok(seen.length > 0, 'the progress was seen while the POST ran');
		assert.equal(id, made.id, 'running named the backup being created');
		assertForward(seen, 'backup');
		for (const p of seen)
			if (p.bytes_total !== null) assert.ok(p.bytes_total <= 2 * made.size, `total ${p.bytes_total} of ${made.size}`);
		/* The snapshot has a total from its first row: the source's size. */
		for (const p of seen.filter((x) => x.phase === 'snapshot'))
			assert.notEqual(p.bytes_total, null, 'a snapshot reading without a total');
		console.log(`# backup: ${seen.length} readings, phases ${[...new Set(seen.map((p) => p.phase))]}`);
		const one = await request('GET', `/backups/${made.id}`);
		assert.equal(one.json.status, 'completed');
		assert.equal(one.json.progress, null);
		assert.deepEqual((await request('GET', '/backups/status')).json.running, []);
	});

	test('a restore: phases in order, progress on the backup restored from, null after', async () => {
		assert.ok(made, 'the backup of the previous test');
		let pending = true, shown = '';
		const restoring = request('POST', `/backups/${made.id}/restore`, { body: { confirm: true } })
			.finally(() => { pending = false; });
		// `backup-cron show` prints the same progress as a line.
		const showOnce = async (id) => {
			const out = (await cron('show', id)).stdout;
			shown = out.split('\n').find((l) => l.startsWith('progress:')) || '';
			if (!shown && pending) shown = (await cron('show', id)).stdout.split('\n').find((l) => l.startsWith('progress:')) || '';
		};
		const { seen } = await watch('restore', () => pending, made.id, showOnce);
		const res = await restoring;
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.status, 'completed');
		assert.ok(seen.length > 0, 'the progress was seen while the POST ran');
		assertForward(seen, 'restore');
		for (const p of seen) assert.equal(p.backup_id, made.id);
		console.log(`# restore: ${seen.length} readings, phases ${[...new Set(seen.map((p) => p.phase))]}`);
		assert.match(shown, /^progress: +restore, (download|verify|safety_backup|copy): [0-9.]+ (B|KiB|MiB|GiB)( of [0-9.]+ (B|KiB|MiB|GiB) \(\d+%\))?, updated \d{4}-/, `show printed: ${shown}`);
		assert.equal((await request('GET', `/backups/${made.id}`)).json.progress, null);
		assert.equal((await request('GET', `/backups/${res.json.safety_backup_id}`)).json.progress, null);
		assert.deepEqual((await request('GET', '/backups/status')).json.running, []);
		assert.doesNotMatch((await cron('show', made.id)).stdout, /^progress:/m);
	});
});

describe('failure messages without server paths', () => {
	test('a failed backup names the file, not its directory, to the browser; the log keeps it', async () => {
		const away = `${env.sourceDb}.away`;
		const dir = path.dirname(env.sourceDb);
		fs.renameSync(env.sourceDb, away);
		let res;
		try {
			res = await request('POST', '/backups', { body: { description: 'no source' } });
		} finally {
			fs.renameSync(away, env.sourceDb);
		}
		assert.ok(res.status >= 400, res.text);
		assert.ok(!res.text.includes(dir), `error body: ${res.text}`);
		const failed = (await request('GET', '/backups?status=failed&q=no%20source')).json;
		assert.equal(failed.length, 1, JSON.stringify(failed));
		const b = (await request('GET', `/backups/${failed[0].id}`)).json;
		for (const rec of [failed[0], b]) {
			assert.match(rec.error, new RegExp(path.basename(env.sourceDb).replace('.', '\\.')), rec.error);
			assert.ok(!rec.error.includes(dir), `error: ${rec.error}`);
			assert.doesNotMatch(rec.error, /(^|[\s:"'(])\/[A-Za-z]/, `a path in: ${rec.error}`);
		}
		// The command line and the log keep the whole message.
		assert.ok((await cron('show', b.id)).stdout.includes(env.sourceDb), 'show prints the path');
		const log = fs.readFileSync(`${env.rundir}/logs/backupd.log`, 'utf8');
		assert.ok(log.includes(env.sourceDb), 'the log has the path');
		await health();
	});
});
