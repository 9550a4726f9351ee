import { describe, expect, it } from 'vitest';
import { ApiError, createApi } from '../src/api.js';
import { dayBoundIso, exactSize, humanSize, parseTags, shortId } from '../src/format.js';
import { apiError, fetchStub } from './helpers.js';

async function rejection(p) {
	try {
		await p;
	} catch (e) {
		return e;
	}
	throw new Error('expected a rejection');
}

describe('api', () => {
	it('drills with an empty JSON body and reads the status', async () => {
		const stub = fetchStub({ 'POST /backups/:id/drill': { id: 'a b' }, 'GET /backups/status': { health: {} } });
		const api = createApi('', stub);
		await api.drill('a b');
		await api.status();
		expect(stub.calls[0].path).toBe('/backups/a%20b/drill');
		expect(stub.calls[0].body).toEqual({});
		expect(stub.calls[0].headers['Content-Type']).toBe('application/json');
		expect(stub.calls[1]).toMatchObject({ method: 'GET', path: '/backups/status', query: {} });
	});

	it('leaves empty filters out of the query', async () => {
		const stub = fetchStub({ 'GET /backups': [] });
		await createApi('', stub).list({ type: 'manual', status: '', q: 'a b', limit: 10, offset: 0 });
		expect(stub.calls[0].query).toEqual({ type: 'manual', q: 'a b', limit: '10', offset: '0' });
		expect(stub.calls[0].headers['Content-Type']).toBeUndefined();
	});

	it('turns an error body into an ApiError with its code and message', async () => {
		const stub = fetchStub({ 'GET /backups': apiError(400, 'BAD_REQUEST', 'bad status') });
		const e = await rejection(createApi('', stub).list());
		expect(e).toBeInstanceOf(ApiError);
		expect(e.status).toBe(400);
		expect(e.code).toBe('BAD_REQUEST');
		expect(e.message).toBe('bad status');
	});

	it('guesses the code from the status when the body is not JSON', async () => {
		const stub = fetchStub({ 'GET /backups': () => new Response('<html>Forbidden</html>', { status: 403 }) });
		const e = await rejection(createApi('', stub).list());
		expect(e.code).toBe('FORBIDDEN');
		expect(e.message).toContain('403');
	});

	it('reports a network failure', async () => {
		const e = await rejection(createApi('', () => Promise.reject(new TypeError('fetch failed'))).list());
		expect(e.code).toBe('NETWORK');
		expect(e.status).toBe(0);
	});

	it('refuses a success that is not JSON', async () => {
		const stub = fetchStub({ 'GET /backups': () => new Response('<html>ok</html>', { status: 200 }) });
		const e = await rejection(createApi('', stub).list());
		expect(e.code).toBe('INTERNAL');
	});

	it('encodes ids in paths and builds the download link', async () => {
		const stub = fetchStub({ 'DELETE /base/backups/:id': { deleted: 'x' } });
		const a = createApi('/base', stub);
		await a.remove('a/b');
		expect(stub.calls[0].path).toBe('/base/backups/a%2Fb');
		expect(a.downloadUrl('id-1')).toBe('/base/backups/id-1/download');
	});
});

describe('format', () => {
	it('humanSize', () => {
		expect(humanSize(0)).toBe('0 B');
		expect(humanSize(1023)).toBe('1023 B');
		expect(humanSize(1024)).toBe('1.0 KiB');
		expect(humanSize(10 * 1024 * 1024 * 1024)).toBe('10.0 GiB');
		expect(humanSize(500 * 1024 * 1024)).toBe('500 MiB');
		expect(humanSize(null)).toBe('—');
	});

	it('exactSize', () => {
		expect(exactSize(1)).toBe('1 byte');
		expect(exactSize(1234567)).toBe('1,234,567 bytes');
		expect(exactSize(null)).toBe('unknown');
	});

	it('parseTags', () => {
		expect(parseTags(' a, b ,, a,c ')).toEqual(['a', 'b', 'c']);
		expect(parseTags('')).toEqual([]);
	});

	it('dayBoundIso covers a whole local day', () => {
		const from = new Date(dayBoundIso('2026-03-05', false));
		const to = new Date(dayBoundIso('2026-03-05', true));
		expect(from.getHours()).toBe(0);
		expect(from.getDate()).toBe(5);
		expect(to.getDate()).toBe(5);
		expect(to.getHours()).toBe(23);
		expect(to.getSeconds()).toBe(59);
		expect(dayBoundIso('2026-03-05', false)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
		expect(dayBoundIso('nope', false)).toBe('');
	});

	it('shortId', () => {
		expect(shortId('12345678-aaaa')).toBe('12345678');
	});
});
