// docs/openapi.json is kept true: every route of backupd's table is in it
// with every status the table says the route gives, every status the
// other test files actually saw is documented for its route, and nothing
// is documented that backupd does not route. Runs last (run.sh order).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { env } from './lib.mjs';

const spec = JSON.parse(fs.readFileSync(`${env.root}/docs/openapi.json`, 'utf8'));
const oaPath = (p) => p.replace(':id', '{id}');
const table = execFileSync(env.backupd, ['--routes'], { encoding: 'utf8' }).trim().split('\n').map((l) => {
	const [method, pattern, auth, ...codes] = l.split(' ');
	return { method: method.toLowerCase(), pattern, auth, codes };
});

describe('docs/openapi.json', () => {
	test('is OpenAPI 3 with the error schema', () => {
		assert.match(spec.openapi, /^3\./);
		assert.ok(spec.components.schemas.Error);
		assert.ok(spec.components.schemas.Backup);
		assert.ok(spec.components.schemas.Restore);
	});

	test('documents every route of the table with its statuses', () => {
		assert.ok(table.length >= 6);
		for (const r of table) {
			const op = spec.paths[oaPath(r.pattern)]?.[r.method];
			assert.ok(op, `${r.method.toUpperCase()} ${r.pattern} is documented`);
			for (const c of r.codes) assert.ok(op.responses[c], `${r.method.toUpperCase()} ${r.pattern} documents ${c}`);
			if (r.auth === 'auth') {
				for (const c of ['401', '403']) assert.ok(op.responses[c], `${r.pattern} documents ${c}`);
				assert.notDeepEqual(op.security, [], `${r.pattern} needs auth`);
			} else {
				assert.deepEqual(op.security, [], `${r.pattern} is public`);
			}
		}
	});

	test('documents no route backupd does not have', () => {
		for (const [p, ops] of Object.entries(spec.paths))
			for (const m of Object.keys(ops).filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k)))
				assert.ok(table.some((r) => oaPath(r.pattern) === p && r.method === m), `${m} ${p} is routed`);
	});

	test('documents every status the tests saw', { skip: !env.record || !fs.existsSync(env.record) }, () => {
		const seen = new Set(fs.readFileSync(env.record, 'utf8').trim().split('\n').filter(Boolean));
		// The whole suite (run.sh without arguments) sees many answers.
		if (process.env.SB_ALL === '1') assert.ok(seen.size > 20, `recorded ${seen.size} distinct answers`);
		const missing = [];
		for (const line of seen) {
			const { method, route, status } = JSON.parse(line);
			const ops = spec.paths[oaPath(route)];
			const op = ops?.[method.toLowerCase()];
			// 405 (wrong method) is documented once per path, as x-405.
			if (!op) {
				if (status === 405 && ops) continue;
				if (status === 405 || status === 401) continue; // unknown method or nginx auth first
				missing.push(`${method} ${route} (no operation)`);
				continue;
			}
			if (!op.responses[String(status)]) missing.push(`${method} ${route} ${status}`);
		}
		assert.deepEqual(missing, []);
	});
});
