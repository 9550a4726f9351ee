// A worker SIGKILLed in the middle of a backup: the parent logs its death
// and respawns it, the interrupted backup ends failed (not stuck
// pending), and the next request succeeds.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { env, request, createBackup, health, lockHolder, workers, growSourceDb, shrinkSourceDb, sleep } from './lib.mjs';

describe('worker crash', () => {
	test('SIGKILL mid-backup: respawned, backup failed, next request fine', async () => {
		const pool = workers();
		assert.ok(pool.length >= 2, `workers: ${pool}`);
		growSourceDb(200);
		try {
			const creating = request('POST', '/backups', { body: { description: 'killed mid-way' } });
			// Find the worker holding the writer lock and the pending record.
			let victim = 0, pending;
			for (let i = 0; i < 1000 && !(victim && pending); i++) {
				victim = lockHolder();
				const l = await request('GET', '/backups?status=pending&q=killed');
				pending = l.json[0];
				if (!(victim && pending)) await sleep(5);
			}
			assert.ok(victim, 'a worker holds the lock');
			assert.ok(pending, 'the backup is pending');
			process.kill(victim, 'SIGKILL');

			// nginx answers the cut request itself, still in JSON.
			const res = await creating;
			assert.equal(res.status, 502, res.text);
			assert.equal(res.json?.error?.code, 'INTERNAL');

			// The parent marks it failed.
			let b;
			for (let i = 0; i < 100; i++) {
				b = (await request('GET', `/backups/${pending.id}`)).json;
				if (b.status !== 'pending') break;
				await sleep(50);
			}
			assert.equal(b.status, 'failed', JSON.stringify(b));
			assert.ok(b.error && b.error.length > 0, 'failed with a reason');

			// Respawned: the pool is back to its size, without the victim.
			let now = [];
			for (let i = 0; i < 60; i++) {
				now = workers();
				if (now.length === pool.length && !now.includes(victim)) break;
				await sleep(50);
			}
			assert.equal(now.length, pool.length, 'pool size restored');
			assert.ok(!now.includes(victim));
			const log = fs.readFileSync(`${env.rundir}/logs/backupd.log`, 'utf8');
			assert.match(log, new RegExp(`"event":"worker.died".*"pid":"${victim}".*"exit":"signal 9"`));
		} finally {
			shrinkSourceDb();
		}
		// The next request succeeds.
		const next = await createBackup({ description: 'after the crash' });
		assert.equal(next.status, 'completed');
		await health();
	});
});
