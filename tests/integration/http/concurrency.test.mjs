// Writes at the same time: one at a time per source database, the others
// told 409 BUSY, none lost; a create during a restore is 409.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, assertError, assertBackup, createBackup, health, lockHolder, growSourceDb, shrinkSourceDb, sleep } from './lib.mjs';

describe('concurrent writes', () => {
	test('20 concurrent creates all complete with distinct ids (409 retried)', async () => {
		const before = (await request('GET', '/backups?limit=1000')).json.length;
		let busy = 0;
		const one = async (i) => {
			for (let t = 0; t < 400; t++) {
				const res = await request('POST', '/backups', { body: { description: `concurrent ${i}`, tags: ['concurrent'] } });
				if (res.status === 201) return res.json;
				assertError(res, 409, 'BUSY');
				busy++;
				await sleep(20 + Math.random() * 60);
			}
			throw new Error(`create ${i} never got through`);
		};
		const made = await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
		for (const b of made) {
			assertBackup(b);
			assert.equal(b.status, 'completed');
		}
		assert.equal(new Set(made.map((b) => b.id)).size, 20, 'distinct ids');
		assert.deepEqual(made.map((b) => b.description).sort(), Array.from({ length: 20 }, (_, i) => `concurrent ${i}`).sort());
		const listed = (await request('GET', '/backups?q=concurrent&limit=1000')).json;
		assert.equal(listed.length, 20, 'all 20 listed');
		assert.equal((await request('GET', '/backups?limit=1000')).json.length, before + 20);
		// With 4 workers and one lock, some must have been refused.
		console.log(`# 20 creates, ${busy} BUSY answers retried`);
	});

	test('a create during a restore gets 409 BUSY, and succeeds after', async () => {
		growSourceDb(120);
		try {
			const big = await createBackup({ description: 'big restore point' });
			const restoring = request('POST', `/backups/${big.id}/restore`, { body: { confirm: true } });
			// Wait until the restore holds the writer lock.
			let holder = 0;
			for (let i = 0; i < 500 && !holder; i++) {
				holder = lockHolder();
				if (!holder) await sleep(5);
			}
			assert.ok(holder, 'the restore took the lock');
			const res = await request('POST', '/backups', { body: { description: 'during restore' } });
			assertError(res, 409, 'BUSY');
			const del = await request('DELETE', `/backups/${big.id}`, { headers: { 'Content-Type': 'application/json' } });
			assertError(del, 409, 'BUSY');
			const r = await restoring;
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.status, 'completed');
			const after = await createBackup({ description: 'after restore' });
			assert.equal(after.status, 'completed');
			// Reads are never blocked by the writer.
			assert.equal((await request('GET', '/backups?limit=1')).status, 200);
		} finally {
			shrinkSourceDb();
		}
	});

	after(health);
});
