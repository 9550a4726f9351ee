// GET /backups/status and GET /backups/metrics through nginx: the
// overview and the Prometheus text format agree with what GET /backups
// lists; the metrics are read by a real text-format parser
// (parse-prometheus-text-format), not a regex; viewers get 403 and the
// unauthenticated 401, JSON both.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheus from 'parse-prometheus-text-format';
import { request, assertJson, assertError, createBackup, UUID } from './lib.mjs';

const TYPES = ['manual', 'automatic'];
const STATUSES = ['pending', 'completed', 'failed'];

// What GET /backups says: count and completed bytes per type and status.
async function listed() {
	const out = {};
	for (const t of TYPES) {
		out[t] = {};
		for (const s of STATUSES) {
			const res = await request('GET', `/backups?type=${t}&status=${s}&limit=1000`);
			assert.equal(res.status, 200, res.text);
			assert.ok(res.json.length < 1000, 'the test stack holds fewer than 1000');
			out[t][s] = { n: res.json.length, bytes: res.json.reduce((a, b) => a + (b.size > 0 ? b.size : 0), 0), rows: res.json };
		}
	}
	return out;
}

// The families by name; each sample's value as a number.
function families(text) {
	const byName = {};
	for (const f of parsePrometheus(text)) byName[f.name] = f;
	return byName;
}
const only = (fam) => { assert.equal(fam.metrics.length, 1, fam.name); return Number(fam.metrics[0].value); };

describe('GET /backups/status and /backups/metrics', () => {
	let made;

	before(async () => {
		made = await createBackup({ description: 'for the status' });
	});

	test('status: 200, the overview, counts as GET /backups lists them', async () => {
		const res = await request('GET', '/backups/status');
		assert.equal(res.status, 200, res.text);
		assertJson(res);
		const s = res.json;
		const want = await listed();
		for (const t of TYPES) for (const st of STATUSES) {
			assert.equal(s.counts[t][st], want[t][st].n, `count ${t} ${st}`);
			if (st === 'completed') assert.equal(s.bytes[t][st], want[t][st].bytes, `bytes ${t}`);
		}
		assert.ok(['OK', 'WARNING', 'CRITICAL'].includes(s.health.state), s.health.state);
		assert.equal(typeof s.health.reason, 'string');
		assert.equal(s.health.store_checked, false);
		assert.equal(s.store_kind, 'disk');
		assert.ok(s.database_size > 0, `database_size ${s.database_size}`);
		assert.ok(!Number.isNaN(Date.parse(s.generated_at)));
		// The newest completed backup is the one just made (nothing else runs).
		assert.equal(s.last_success.id, made.id);
		assert.equal(s.last_success.type, 'manual');
		assert.equal(s.last_success.completed_at, made.completed_at);
		assert.equal(typeof s.prune.halted, 'boolean');
		if (want.automatic.completed.n > 0) {
			const newest = Date.parse(want.automatic.completed.rows[0].created_at);
			assert.ok(Date.parse(s.next_automatic_expected_by) > newest);
		} else {
			assert.equal(s.next_automatic_expected_by, null);
		}
		if (s.last_failure !== null) assert.match(s.last_failure.id, UUID);
	});

	test('status after a drill: the newest verified backup', async () => {
		const d = await request('POST', `/backups/${made.id}/drill`, { body: {} });
		assert.equal(d.status, 200, d.text);
		assert.equal(d.json.verify_status, 'ok');
		const res = await request('GET', '/backups/status');
		assert.equal(res.json.last_verified.id, made.id);
		assert.equal(res.json.last_verified.verified_at, d.json.verified_at);
	});

	test('metrics: 200, text format 0.0.4, values as GET /backups lists them', async () => {
		const res = await request('GET', '/backups/metrics');
		assert.equal(res.status, 200, res.text);
		assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
		const fams = families(res.text);
		const want = await listed();
		const backups = fams.safbackup_backups;
		assert.equal(backups.type, 'GAUGE');
		assert.equal(backups.metrics.length, TYPES.length * STATUSES.length, 'every combination');
		for (const m of backups.metrics)
			assert.equal(Number(m.value), want[m.labels.type][m.labels.status].n, JSON.stringify(m));
		const bytes = fams.safbackup_backup_bytes;
		for (const m of bytes.metrics)
			assert.equal(Number(m.value), want[m.labels.type].completed.bytes, JSON.stringify(m));
		const status = (await request('GET', '/backups/status')).json;
		assert.equal(only(fams.safbackup_last_success_timestamp_seconds), Date.parse(status.last_success.completed_at) / 1000);
		assert.equal(only(fams.safbackup_last_verified_timestamp_seconds), Date.parse(status.last_verified.verified_at) / 1000);
		const fail = only(fams.safbackup_last_failure_timestamp_seconds);
		assert.equal(fail, status.last_failure ? Date.parse(status.last_failure.completed_at) / 1000 : 0);
		assert.equal(only(fams.safbackup_prune_halted), status.prune.halted ? 1 : 0);
		assert.ok(only(fams.safbackup_last_backup_duration_seconds) >= 0);
		assert.equal(only(fams.safbackup_health), ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'].indexOf(status.health.state));
		// One HELP and one TYPE line per family.
		const types = res.text.split('\n').filter((l) => l.startsWith('# TYPE '));
		assert.equal(new Set(types).size, types.length);
		assert.equal(types.length, Object.keys(fams).length);
	});

	for (const path of ['/backups/status', '/backups/metrics']) {
		test(`${path}: viewer 403, no credentials 401, unknown parameter 400, POST 405`, async () => {
			assertError(await request('GET', path, { user: 'viewer' }), 403, 'FORBIDDEN');
			assertError(await request('GET', path, { user: null }), 401, 'UNAUTHENTICATED');
			assertError(await request('GET', `${path}?x=1`), 400, 'BAD_REQUEST');
			const post = await request('POST', path, { body: {} });
			assert.equal(post.status, 405, post.text);
		});
	}
});
