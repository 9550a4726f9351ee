// Identity: 401 without it, 403 without the "*" scope, and a client's own
// X-User-* headers have no effect - through nginx, and straight to
// backupd over FastCGI (so the daemon's own rule is tested, not only
// nginx's blanking).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { env, request, assertError } from './lib.mjs';
import { fcgiRequest } from './fcgi.mjs';

const forged = { 'X-User-Id': 'admin', 'X-User-Email': 'admin@example.org', 'X-User-Scopes': '*' };

describe('auth through nginx', () => {
	const routes = [
		['GET', '/backups'],
		['POST', '/backups'],
		['GET', `/backups/${crypto.randomUUID()}`],
		['DELETE', `/backups/${crypto.randomUUID()}`],
		['POST', `/backups/${crypto.randomUUID()}/restore`],
		['GET', `/backups/${crypto.randomUUID()}/download`],
	];

	for (const [m, p] of routes) {
		test(`${m} ${p.replace(/[0-9a-f-]{36}/, ':id')} without credentials is 401`, async () => {
			const res = await request(m, p, { user: null, body: m === 'POST' ? { confirm: true } : undefined });
			assertError(res, 401, 'UNAUTHENTICATED');
		});
		test(`${m} ${p.replace(/[0-9a-f-]{36}/, ':id')} as viewer is 403`, async () => {
			const res = await request(m, p, { user: 'viewer', body: m === 'POST' ? { confirm: true } : undefined, headers: m === 'DELETE' ? { 'Content-Type': 'application/json' } : {} });
			assertError(res, 403, 'FORBIDDEN');
		});
	}

	test('wrong password is 401', async () => {
		const res = await request('GET', '/backups', { user: null, headers: { Authorization: 'Basic ' + Buffer.from('admin:nope').toString('base64') } });
		assertError(res, 401, 'UNAUTHENTICATED');
	});

	test('forged X-User-* headers without credentials are 401', async () => {
		assertError(await request('GET', '/backups', { user: null, headers: forged }), 401, 'UNAUTHENTICATED');
	});

	test('forged X-User-Scopes: * does not lift a viewer', async () => {
		assertError(await request('GET', '/backups', { user: 'viewer', headers: forged }), 403, 'FORBIDDEN');
		assertError(await request('POST', '/backups', { user: 'viewer', headers: forged, body: {} }), 403, 'FORBIDDEN');
	});

	test('forged SAF headers do nothing either', async () => {
		const h = { 'Saf-User-Id': 'admin', 'Saf-User-Scopes': '*', 'SAF_USER_SCOPES': '*' };
		assertError(await request('GET', '/backups', { user: 'viewer', headers: h }), 403, 'FORBIDDEN');
	});

	test('health needs no identity', async () => {
		const res = await request('GET', '/backups/health', { user: null });
		assert.equal(res.status, 200);
	});
});

describe('auth in backupd itself (FastCGI, no nginx)', () => {
	// With the secret: these stand in for nginx (peer.test.mjs: without).
	const base = { REQUEST_METHOD: 'GET', REQUEST_URI: '/backups', QUERY_STRING: '', SAF_FASTCGI_SECRET: env.secret };

	test('no SAF_USER_ID: 401, whatever HTTP_X_USER_* say', async () => {
		const res = await fcgiRequest(env.socket, { ...base, HTTP_X_USER_ID: 'admin', HTTP_X_USER_SCOPES: '*', HTTP_X_USER_EMAIL: 'a@b' });
		assert.equal(res.status, 401, res.body);
		assert.equal(JSON.parse(res.body).error.code, 'UNAUTHENTICATED');
		assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
	});

	test('empty SAF_USER_ID: 401', async () => {
		const res = await fcgiRequest(env.socket, { ...base, SAF_USER_ID: '', SAF_USER_SCOPES: '*' });
		assert.equal(res.status, 401, res.body);
	});

	test('SAF_USER_ID without "*": 403, whatever HTTP_X_USER_SCOPES says', async () => {
		for (const scopes of ['', 'backups:read', 'backups:*', '**', 'admin,write']) {
			const res = await fcgiRequest(env.socket, { ...base, SAF_USER_ID: 'u1', SAF_USER_SCOPES: scopes, HTTP_X_USER_SCOPES: '*' });
			assert.equal(res.status, 403, `${scopes}: ${res.body}`);
			assert.equal(JSON.parse(res.body).error.code, 'FORBIDDEN');
		}
	});

	test('"*" among scopes, space or comma separated: 200', async () => {
		for (const scopes of ['*', 'backups:read *', 'a,*', ' * ']) {
			const res = await fcgiRequest(env.socket, { ...base, SAF_USER_ID: 'u1', SAF_USER_SCOPES: scopes });
			assert.equal(res.status, 200, `${scopes}: ${res.body}`);
			assert.ok(Array.isArray(JSON.parse(res.body)));
		}
	});
});
