// POST /backups/:id/drill through nginx: a restore drill run now, its
// result on the backup (GET /backups/:id and the list), a damaged object
// failing it, and the bad inputs (viewer, malformed id, unknown id, body).
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { env, request, assertJson, assertError, assertBackup, createBackup, UUID } from './lib.mjs';

// The disk store's root, from the config the stack wrote.
const storeRoot = () => fs.readFileSync(process.env.SB_CONFIG, 'utf8').match(/^root = (.*)$/m)[1];

describe('POST /backups/:id/drill', () => {
	let bk;

	before(async () => {
		bk = await createBackup({ description: 'to drill' });
	});

	test('a good backup: 200, recorded ok, shown by GET and the list', async () => {
		assert.equal(bk.verify_status, null, 'never drilled before');
		assert.equal(bk.verified_at, null);
		const res = await request('POST', `/backups/${bk.id}/drill`, { body: {} });
		assert.equal(res.status, 200, res.text);
		assertJson(res);
		assertBackup(res.json);
		assert.equal(res.json.id, bk.id);
		assert.equal(res.json.verify_status, 'ok');
		assert.ok(!Number.isNaN(Date.parse(res.json.verified_at)), res.json.verified_at);
		assert.match(res.json.verify_detail, /integrity_check and foreign_key_check passed/);
		assert.match(res.json.verify_detail, /schema (matches|differs from) the live database/);
		const one = await request('GET', `/backups/${bk.id}`);
		assert.equal(one.json.verify_status, 'ok');
		assert.equal(one.json.verified_at, res.json.verified_at);
		const list = await request('GET', `/backups?q=${encodeURIComponent('to drill')}`);
		const row = list.json.find((b) => b.id === bk.id);
		assert.equal(row.verify_status, 'ok');
		assert.equal(row.verify_detail, res.json.verify_detail);
	});

	test('an empty body works too', async () => {
		const res = await request('POST', `/backups/${bk.id}/drill`, { body: '', headers: { 'Content-Type': 'application/json' } });
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.verify_status, 'ok');
	});

	test('a damaged object: 200 with verify_status failed, and why', async () => {
		const own = await createBackup({ description: 'to damage' });
		const obj = `${storeRoot()}/${own.location}`;
		const pristine = fs.readFileSync(obj);
		const bad = Buffer.from(pristine);
		bad.write('garbage!', 2000);
		fs.writeFileSync(obj, bad);
		try {
			const res = await request('POST', `/backups/${own.id}/drill`, { body: {} });
			assert.equal(res.status, 200, res.text);
			assert.equal(res.json.verify_status, 'failed');
			assert.match(res.json.verify_detail, /sha256 .* in the store/);
			const one = await request('GET', `/backups/${own.id}`);
			assert.equal(one.json.verify_status, 'failed');
		} finally {
			fs.writeFileSync(obj, pristine);
		}
		const again = await request('POST', `/backups/${own.id}/drill`, { body: {} });
		assert.equal(again.json.verify_status, 'ok', 'repaired: passes again');
	});

	test('a viewer gets 403', async () => {
		const res = await request('POST', `/backups/${bk.id}/drill`, { user: 'viewer', body: {} });
		assertError(res, 403, 'FORBIDDEN');
	});

	test('a malformed id is 400, an unknown one 404', async () => {
		assertError(await request('POST', '/backups/not-a-uuid/drill', { body: {} }), 400, 'BAD_REQUEST');
		const res = await request('POST', '/backups/00000000-0000-4000-8000-000000000000/drill', { body: {} });
		assertError(res, 404, 'NOT_FOUND');
		assert.match('00000000-0000-4000-8000-000000000000', UUID);
	});

	test('a body with a field or a query parameter is 400', async () => {
		assertError(await request('POST', `/backups/${bk.id}/drill`, { body: { now: true } }), 400, 'BAD_REQUEST');
		assertError(await request('POST', `/backups/${bk.id}/drill?x=1`, { body: {} }), 400, 'BAD_REQUEST');
	});

	test('GET is 405', async () => {
		const res = await request('GET', `/backups/${bk.id}/drill`);
		assert.equal(res.status, 405, res.text);
	});
});
