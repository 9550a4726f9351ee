// Encrypted backups through nginx and backupd (issue 13). backupd's config
// holds key http1 in its keyring (run.sh: STORE_KEY_FILE) and keeps
// encryption off; backup-cron, with the same catalog and store and a
// config that compresses and encrypts, makes the backups: one with
// http1, one with a key backupd does not hold. Then:
//  - GET /backups/:id/download of the encrypted backup streams the plain
//    .db (sha256 and size of the record, a .db file name);
//  - a restore, a drill and a download of the backup whose key backupd
//    lacks answer 422 KEY_UNAVAILABLE, and the live database is byte for
//    byte unchanged.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { env, request, assertError, assertBackup } from './lib.mjs';

const cron = process.env.SB_CRON;
const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// A config for backup-cron: the stack's, with [store] compression and
// encryption under key id, from key file keys.
function encConfig(name, keys, id) {
	const dir = fs.mkdtempSync(path.join(env.rundir, `codec-${name}-`));
	const keyfile = path.join(dir, 'keys');
	fs.writeFileSync(keyfile, keys, { mode: 0o600 });
	const conf = path.join(dir, 'safbackup.conf');
	// The stack's own [store] key_file gives way to this one.
	fs.writeFileSync(conf, fs.readFileSync(process.env.SB_CONFIG, 'utf8').replace(/^key_file = .*\n/m, '') +
	    `\n[store]\ncompression = zstd\nencryption = xchacha20poly1305\nkey_file = ${keyfile}\nkey_id = ${id}\n`);
	return conf;
}

// A backup made by backup-cron with conf; its record (JSON).
function cronBackup(conf, desc) {
	for (let i = 0; i < 200; i++) {
		try {
			return JSON.parse(execFileSync(cron, ['--config', conf, '--json', 'backup',
			    '--type', 'manual', '--description', desc], { stdio: ['ignore', 'pipe', 'ignore'] }));
		} catch (e) {
			if (e.status !== 3) throw e;	/* 3: busy, another write runs */
			execFileSync('sleep', ['0.1']);
		}
	}
	throw new Error('backup-cron: still busy');
}

describe('encrypted backups over HTTP', () => {
	let ours, foreign;

	before(() => {
		ours = cronBackup(encConfig('ours', fs.readFileSync(process.env.SB_KEY_FILE), 'http1'),
		    'encrypted with the key backupd holds');
		const other = `other ${crypto.randomBytes(32).toString('base64')}\n`;
		foreign = cronBackup(encConfig('foreign', other, 'other'),
		    'encrypted with a key backupd lacks');
	});

	test('the records: plain size and sha256, the stored size, an encoded name', async () => {
		const res = await request('GET', `/backups/${ours.id}`);
		assert.equal(res.status, 200, res.text);
		assertBackup(res.json);
		assert.match(res.json.location, /\.db\.zst\.enc$/);
		assert.equal(res.json.size, ours.size);
		assert.equal(res.json.sha256, ours.sha256);
		assert.ok(res.json.stored_size > 0 && res.json.stored_size !== res.json.size,
		    `stored_size ${res.json.stored_size}, size ${res.json.size}`);
		assert.equal(res.json.description, 'encrypted with the key backupd holds');
	});

	test('download of an encrypted backup streams the plain .db', async () => {
		const res = await request('GET', `/backups/${ours.id}/download`, { binary: true });
		assert.equal(res.status, 200, res.text);
		assert.equal(res.headers['content-type'], 'application/octet-stream');
		assert.match(res.headers['content-disposition'], /filename="backup-[^"]+\.db"$/);
		assert.equal(Number(res.headers['content-length']), ours.size);
		assert.equal(res.buf.length, ours.size);
		assert.equal(sha(res.buf), ours.sha256);
		assert.equal(res.buf.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
	});

	test('a key backupd lacks: restore, drill and download answer 422 KEY_UNAVAILABLE, live untouched', async () => {
		const before = sha(fs.readFileSync(env.sourceDb));
		const r = await request('POST', `/backups/${foreign.id}/restore`, { body: { confirm: true } });
		assertError(r, 422, 'KEY_UNAVAILABLE');
		assert.match(r.json.error.message, /key/);
		assertError(await request('POST', `/backups/${foreign.id}/drill`, { body: {} }), 422, 'KEY_UNAVAILABLE');
		assertError(await request('GET', `/backups/${foreign.id}/download`), 422, 'KEY_UNAVAILABLE');
		assert.equal(sha(fs.readFileSync(env.sourceDb)), before, 'the live database is byte for byte unchanged');
		const one = await request('GET', `/backups/${foreign.id}`);
		assert.equal(one.json.verify_status, 'failed', 'a backup these keys cannot read is recorded as a failed drill');
		assert.match(one.json.verify_detail, /key/);
	});

	test('a restore of the encrypted backup with the key backupd holds: 200', async () => {
		const res = await request('POST', `/backups/${ours.id}/restore`, { body: { confirm: true } });
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.status, 'completed');
	});
});
