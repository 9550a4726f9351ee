/*
 * A fetch stub for component tests: routes "METHOD /path" to handlers,
 * records every call (method, url, headers, parsed body), and answers
 * with Response objects the way the real server would.
 */
import { flushPromises } from '@vue/test-utils';

export function json(status, body) {
	return new Response(body === undefined ? '' : JSON.stringify(body), {
		status,
		headers: { 'Content-Type': 'application/json' },
	});
}

export function apiError(status, code, message) {
	return json(status, { error: { code, message } });
}

/*
 * routes: { 'GET /backups': fn(call) | Response | value, ... }; a handler
 * may return a Response, a plain value (sent as 200 JSON) or a Promise.
 * The key matches the path without its query string.
 */
export function fetchStub(routes) {
	const calls = [];
	const stub = async (url, opts = {}) => {
		const u = new URL(url, 'http://localhost');
		const method = opts.method ?? 'GET';
		const call = {
			method,
			path: u.pathname,
			query: Object.fromEntries(u.searchParams),
			headers: opts.headers ?? {},
			body: opts.body === undefined ? undefined : JSON.parse(opts.body),
		};
		calls.push(call);
		const key = `${method} ${u.pathname}`;
		let h = routes[key];
		if (h === undefined) {
			const pattern = Object.keys(routes).find((k) => {
				const re = new RegExp('^' + k.replace(/:[a-z]+/g, '[^/]+') + '$');
				return re.test(key);
			});
			h = pattern ? routes[pattern] : undefined;
		}
		if (h === undefined)
			return apiError(404, 'NOT_FOUND', `no route ${key}`);
		let r = typeof h === 'function' ? await h(call) : h;
		if (r instanceof Response)
			return r.clone();
		return json(200, r);
	};
	stub.calls = calls;
	stub.callsTo = (method, path) => calls.filter((c) => c.method === method &&
	    (path === undefined || c.path === path));
	return stub;
}

/* A deferred promise: the test decides when the "server" answers. */
export function deferred() {
	let resolve;
	let reject;
	const promise = new Promise((a, b) => { resolve = a; reject = b; });
	return { promise, resolve, reject };
}

export async function settle() {
	for (let i = 0; i < 5; i++)
		await flushPromises();
}

let n = 0;
export function backup(over = {}) {
	n++;
	const id = over.id ?? `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
	return {
		id,
		type: 'manual',
		status: 'completed',
		created_at: '2026-11-20T10:00:00Z',
		completed_at: '2026-11-20T10:00:02Z',
		size: 1536,
		sha256: 'ab'.repeat(32),
		location: `backup-20261120T100000Z-manual-${id}.db`,
		description: '',
		tags: [],
		error: null,
		...over,
	};
}
