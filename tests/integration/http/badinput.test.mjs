// Bad input: each case is answered with a JSON 4xx in the API's error
// shape, never a crash, a hang or an HTML page; the stack stays healthy
// and nothing is created by any of them.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { request, rawRequest, assertError, health, createBackup } from './lib.mjs';

const J = { 'Content-Type': 'application/json' };
const id = crypto.randomUUID();
const nest = (n) => '{"tags":' + '['.repeat(n) + ']'.repeat(n) + '}';

// [name, method, path, {headers, body}, status, code]
const cases = [
	// malformed JSON
	['truncated JSON', 'POST', '/backups', { headers: J, body: '{"description":' }, 400, 'BAD_REQUEST'],
	['not JSON at all', 'POST', '/backups', { headers: J, body: 'description=x' }, 400, 'BAD_REQUEST'],
	['JSON array body', 'POST', '/backups', { headers: J, body: '[]' }, 400, 'BAD_REQUEST'],
	['JSON string body', 'POST', '/backups', { headers: J, body: '"x"' }, 400, 'BAD_REQUEST'],
	['JSON null body', 'POST', '/backups', { headers: J, body: 'null' }, 400, 'BAD_REQUEST'],
	['trailing garbage', 'POST', '/backups', { headers: J, body: '{} {}' }, 400, 'BAD_REQUEST'],
	['trailing comma', 'POST', '/backups', { headers: J, body: '{"description":"x",}' }, 400, 'BAD_REQUEST'],
	['single quotes', 'POST', '/backups', { headers: J, body: "{'description':'x'}" }, 400, 'BAD_REQUEST'],
	['comment in JSON', 'POST', '/backups', { headers: J, body: '/*x*/{}' }, 400, 'BAD_REQUEST'],
	['NUL byte in body', 'POST', '/backups', { headers: J, body: '{}\u0000' }, 400, 'BAD_REQUEST'],
	['invalid UTF-8 in JSON', 'POST', '/backups', { headers: J, body: Buffer.from([0x7b, 0x22, 0x64, 0x65, 0x73, 0x63, 0x72, 0x69, 0x70, 0x74, 0x69, 0x6f, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }, 400, 'BAD_REQUEST'],
	['escaped NUL in description', 'POST', '/backups', { headers: J, body: '{"description":"a\\u0000b"}' }, 400, 'BAD_REQUEST'],
	['lone surrogate escape', 'POST', '/backups', { headers: J, body: '{"description":"\\ud800"}' }, 400, 'BAD_REQUEST'],
	// strict fields
	['unknown field', 'POST', '/backups', { headers: J, body: { description: 'x', type: 'automatic' } }, 400, 'BAD_REQUEST'],
	['description not a string', 'POST', '/backups', { headers: J, body: { description: 42 } }, 400, 'BAD_REQUEST'],
	['description too long', 'POST', '/backups', { headers: J, body: { description: 'x'.repeat(1025) } }, 400, 'BAD_REQUEST'],
	['control character in description', 'POST', '/backups', { headers: J, body: { description: 'a\u0007b' } }, 400, 'BAD_REQUEST'],
	['tags not an array', 'POST', '/backups', { headers: J, body: { tags: 'a,b' } }, 400, 'BAD_REQUEST'],
	['tag not a string', 'POST', '/backups', { headers: J, body: { tags: [1] } }, 400, 'BAD_REQUEST'],
	['empty tag', 'POST', '/backups', { headers: J, body: { tags: [''] } }, 400, 'BAD_REQUEST'],
	['tag too long', 'POST', '/backups', { headers: J, body: { tags: ['t'.repeat(65)] } }, 400, 'BAD_REQUEST'],
	['too many tags', 'POST', '/backups', { headers: J, body: { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) } }, 400, 'BAD_REQUEST'],
	['restore confirm a string', 'POST', `/backups/${id}/restore`, { headers: J, body: { confirm: 'true' } }, 400, 'BAD_REQUEST'],
	['restore with an unknown field', 'POST', `/backups/${id}/restore`, { headers: J, body: { confirm: true, force: true } }, 400, 'BAD_REQUEST'],
	// huge and deep
	['deeply nested JSON (5000 levels)', 'POST', '/backups', { headers: J, body: nest(5000) }, 400, 'BAD_REQUEST'],
	['nested 9 levels', 'POST', '/backups', { headers: J, body: nest(9) }, 400, 'BAD_REQUEST'],
	['huge body (1 MiB, nginx cap)', 'POST', '/backups', { headers: J, body: JSON.stringify({ description: 'x'.repeat(1 << 20) }) }, 413, 'BAD_REQUEST'],
	['body over backupd cap (20 KiB of spaces, max_body 16k)', 'POST', '/backups', { headers: J, body: '{' + ' '.repeat(20 * 1024) + '}' }, 413, 'BAD_REQUEST'],
	['DELETE with a body', 'DELETE', `/backups/${id}`, { headers: J, body: '{}' }, 400, 'BAD_REQUEST'],
	// content type
	['POST without Content-Type', 'POST', '/backups', { body: '{}' }, 415, 'BAD_REQUEST'],
	['POST as a form', 'POST', '/backups', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'description=x' }, 415, 'BAD_REQUEST'],
	['POST as text/plain', 'POST', '/backups', { headers: { 'Content-Type': 'text/plain' }, body: '{}' }, 415, 'BAD_REQUEST'],
	['POST multipart', 'POST', '/backups', { headers: { 'Content-Type': 'multipart/form-data; boundary=x' }, body: '--x--' }, 415, 'BAD_REQUEST'],
	['JSON with a latin1 charset', 'POST', '/backups', { headers: { 'Content-Type': 'application/json; charset=iso-8859-1' }, body: '{}' }, 415, 'BAD_REQUEST'],
	['DELETE without Content-Type', 'DELETE', `/backups/${id}`, {}, 415, 'BAD_REQUEST'],
	['restore without Content-Type', 'POST', `/backups/${id}/restore`, { body: '{"confirm":true}' }, 415, 'BAD_REQUEST'],
	// ids
	['id not a uuid', 'GET', '/backups/123', {}, 400, 'BAD_REQUEST'],
	['uppercase uuid', 'GET', `/backups/${id.toUpperCase()}`, {}, 400, 'BAD_REQUEST'],
	['uuid with a suffix', 'DELETE', `/backups/${id}x`, { headers: J }, 400, 'BAD_REQUEST'],
	['SQL in the id', 'GET', "/backups/1'%20OR%20'1'='1/download", {}, 400, 'BAD_REQUEST'],
	['restore of a non-uuid', 'POST', '/backups/latest/restore', { headers: J, body: { confirm: true } }, 400, 'BAD_REQUEST'],
	// traversal
	['encoded traversal in the id', 'GET', '/backups/..%2F..%2Fetc%2Fpasswd/download', {}, 400, 'BAD_REQUEST'],
	['double-encoded traversal', 'GET', '/backups/%252e%252e%252fetc/download', {}, 400, 'BAD_REQUEST'],
	['encoded slash in the id', 'GET', `/backups/${id}%2Fdownload`, {}, 400, 'BAD_REQUEST'],
	['encoded NUL in the path', 'GET', `/backups/${id}%00/download`, {}, 400, 'BAD_REQUEST'],
	['backslash traversal', 'GET', '/backups/..%5C..%5Cetc%5Cpasswd', {}, 400, 'BAD_REQUEST'],
	// routes and methods
	['unknown route', 'GET', '/backups/x/y/z', {}, 404, 'NOT_FOUND'],
	['unknown action', 'POST', `/backups/${id}/explode`, { headers: J, body: {} }, 404, 'NOT_FOUND'],
	['trailing slash', 'GET', '/backups/', {}, 400, 'BAD_REQUEST'],
	['PUT on the collection', 'PUT', '/backups', { headers: J, body: {} }, 405, 'BAD_REQUEST'],
	['PATCH a backup', 'PATCH', `/backups/${id}`, { headers: J, body: {} }, 405, 'BAD_REQUEST'],
	['GET a restore', 'GET', `/backups/${id}/restore`, {}, 405, 'BAD_REQUEST'],
	['DELETE the collection', 'DELETE', '/backups', { headers: J }, 405, 'BAD_REQUEST'],
	// query strings
	['unknown parameter', 'GET', '/backups?sort=asc', {}, 400, 'BAD_REQUEST'],
	['parameter on a route without any', 'GET', `/backups/${id}?verbose=1`, {}, 400, 'BAD_REQUEST'],
	['negative limit', 'GET', '/backups?limit=-1', {}, 400, 'BAD_REQUEST'],
	['zero limit', 'GET', '/backups?limit=0', {}, 400, 'BAD_REQUEST'],
	['limit over 1000', 'GET', '/backups?limit=1001', {}, 400, 'BAD_REQUEST'],
	['limit not a number', 'GET', '/backups?limit=ten', {}, 400, 'BAD_REQUEST'],
	['limit overflowing int64', 'GET', '/backups?limit=99999999999999999999999', {}, 400, 'BAD_REQUEST'],
	['negative offset', 'GET', '/backups?offset=-5', {}, 400, 'BAD_REQUEST'],
	['offset in hex', 'GET', '/backups?offset=0x10', {}, 400, 'BAD_REQUEST'],
	['repeated parameter', 'GET', '/backups?limit=1&limit=2', {}, 400, 'BAD_REQUEST'],
	['bad type', 'GET', '/backups?type=weekly', {}, 400, 'BAD_REQUEST'],
	['bad status', 'GET', '/backups?status=done', {}, 400, 'BAD_REQUEST'],
	['bad date', 'GET', '/backups?from=yesterday', {}, 400, 'BAD_REQUEST'],
	['impossible date', 'GET', '/backups?from=2026-02-30', {}, 400, 'BAD_REQUEST'],
	['bad month', 'GET', '/backups?to=2026-13-01', {}, 400, 'BAD_REQUEST'],
	['bad time', 'GET', '/backups?to=2026-01-01T25:00:00Z', {}, 400, 'BAD_REQUEST'],
	['date with junk after', 'GET', '/backups?from=2026-01-01junk', {}, 400, 'BAD_REQUEST'],
	['from after to', 'GET', '/backups?from=2026-03-01&to=2026-02-01', {}, 400, 'BAD_REQUEST'],
	['bad percent escape', 'GET', '/backups?q=%zz', {}, 400, 'BAD_REQUEST'],
	['encoded control char in q', 'GET', '/backups?q=a%0Db', {}, 400, 'BAD_REQUEST'],
	['invalid UTF-8 in q', 'GET', '/backups?q=%ff%fe', {}, 400, 'BAD_REQUEST'],
	['empty q', 'GET', '/backups?q=', {}, 400, 'BAD_REQUEST'],
	['parameter without value', 'GET', '/backups?limit', {}, 400, 'BAD_REQUEST'],
	['empty pair', 'GET', '/backups?&&', {}, 400, 'BAD_REQUEST'],
	['huge query string', 'GET', '/backups?q=' + 'a'.repeat(5000), {}, 400, 'BAD_REQUEST'],
];

describe('bad input', () => {
	let countBefore;

	before(async () => {
		await createBackup({ description: 'bad input baseline' });
		countBefore = (await request('GET', '/backups?limit=1000')).json.length;
	});

	test(`at least 40 cases (${cases.length})`, () => {
		assert.ok(cases.length >= 40);
	});

	for (const [name, method, path, opts, status, code] of cases) {
		test(`${name}: ${status} ${code}`, async () => {
			const res = await request(method, path, opts);
			assertError(res, status, code);
		});
	}

	// The filters are parsed by the core, as `backup-cron list` does: the
	// same limits and reasons (tests/integration/cron/run.sh checks the CLI).
	const reasons = [
		['/backups?offset=2147483648', 'offset: expected an integer from 0 to 2147483647'],
		['/backups?from=2026-03-01&to=2026-02-01', 'from is after to'],
		['/backups?from=yesterday', 'from: expected a date (2026-11-26) or an ISO 8601 time (2026-11-26T04:30:00Z) after 1970-01-01'],
	];
	for (const [path, message] of reasons) {
		test(`${path}: 400 "${message}"`, async () => {
			const res = await request('GET', path);
			assertError(res, 400, 'BAD_REQUEST');
			assert.equal(res.json.error.message, message);
		});
	}
	test('offset 2147483647 is accepted (an empty page)', async () => {
		const res = await request('GET', '/backups?offset=2147483647');
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json, []);
	});

	// Requests Node's client will not send: raw bytes over TLS.
	const raw = [
		['raw space in the path', 'GET /backups/a b HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nConnection: close\r\n\r\n', 400],
		['raw traversal above root', 'GET /backups/../../../etc/passwd HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nConnection: close\r\n\r\n', 400],
		['raw traversal inside /backups', 'GET /backups/a/../b HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nConnection: close\r\n\r\n', 400],
		// Node's URL parser would turn %2e%2e into a real "..".
		['encoded dot-dot segment', `POST /backups/${id}/%2e%2e/restore HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, 400],
		['control byte in the path', 'GET /backups/\x01 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nConnection: close\r\n\r\n', 400],
		['broken request line', 'GARBAGE\r\n\r\n', 400],
		['lying Content-Length', 'POST /backups HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nContent-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}', 400],
		['unknown method', 'BREW /backups HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nConnection: close\r\n\r\n', 405],
	];
	for (const [name, text, status] of raw) {
		test(`${name}: JSON ${status}`, async () => {
			const res = await rawRequest(text);
			assert.equal(res.status, status, res.head + '\n' + res.body);
			assert.match(res.head, /content-type: application\/json/i, res.head);
			assert.equal(typeof res.json?.error?.code, 'string', res.body);
		});
	}

	after(async () => {
		await health();
		const res = await request('GET', '/backups?limit=1000');
		assert.equal(res.status, 200);
		assert.equal(res.json.length, countBefore, 'no bad request created a backup');
	});
});
