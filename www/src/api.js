/*
 * Client for the /backups HTTP API (see DESIGN.md, "HTTP contract").
 *
 * Every error the server sends is {"error": {"code", "message"}}; a
 * response that is not JSON (an nginx error page, a dropped connection)
 * is turned into the same shape here so the page only ever deals with
 * ApiError.  State-changing requests carry Content-Type: application/json
 * because the server refuses them otherwise (a cross-site form cannot set
 * that header, which is the point).
 */

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
	}
}

/* The code to assume when the body did not carry one. */
function codeForStatus(status) {
	switch (status) {
	case 400: return 'BAD_REQUEST';
	case 401: return 'UNAUTHENTICATED';
	case 403: return 'FORBIDDEN';
	case 404: return 'NOT_FOUND';
	case 409: return 'BUSY';
	case 422: return 'BACKUP_CORRUPT';
	default: return 'INTERNAL';
	}
}

export function createApi(base = '', fetchImpl) {
	const doFetch = (...args) => (fetchImpl ?? globalThis.fetch)(...args);

	/* The parsed body; with withHeaders, {data, headers}. */
	async function request(method, path, body, withHeaders = false) {
		const headers = { Accept: 'application/json' };
		const opts = { method, headers, credentials: 'same-origin' };
		if (method !== 'GET') {
			headers['Content-Type'] = 'application/json';
			if (body !== undefined)
				opts.body = JSON.stringify(body);
		}
		let res;
		try {
			res = await doFetch(base + path, opts);
		} catch (e) {
			throw new ApiError(0, 'NETWORK',
			    'Could not reach the server. Check your connection and try again.');
		}
		let data = null;
		let text = '';
		try {
			text = await res.text();
			data = text ? JSON.parse(text) : null;
		} catch (e) {
			data = null;
		}
		if (!res.ok) {
			const err = data && typeof data === 'object' && data.error ? data.error : {};
			throw new ApiError(res.status,
			    typeof err.code === 'string' ? err.code : codeForStatus(res.status),
			    typeof err.message === 'string' && err.message !== '' ?
			    err.message : `The server answered ${res.status} ${res.statusText || ''}`.trim());
		}
		if (data === null && text !== '')
			throw new ApiError(res.status, 'INTERNAL',
			    'The server sent a response that is not JSON.');
		return withHeaders ? { data, headers: res.headers } : data;
	}

	function listPath(filters) {
		const qs = new URLSearchParams();
		for (const k of ['type', 'status', 'from', 'to', 'q', 'limit', 'offset']) {
			const v = filters[k];
			if (v !== undefined && v !== null && v !== '')
				qs.set(k, String(v));
		}
		const s = qs.toString();
		return '/backups' + (s ? '?' + s : '');
	}

	const enc = encodeURIComponent;

	return {
		/* filters: {type, status, from, to, q, limit, offset}; empty ones are left out. */
		list(filters = {}) {
			return request('GET', listPath(filters));
		},
		/* The same page and the number of every match (X-Total-Count),
		 * null when the server did not say. */
		async listPage(filters = {}) {
			const { data, headers } = await request('GET', listPath(filters),
			    undefined, true);
			const h = headers?.get?.('X-Total-Count');
			const total = h !== null && h !== undefined && /^[0-9]+$/.test(h) ?
			    Number(h) : null;
			return { rows: data, total };
		},
		create({ description, tags } = {}) {
			const body = {};
			if (description)
				body.description = description;
			if (tags && tags.length)
				body.tags = tags;
			return request('POST', '/backups', body);
		},
		remove(id) {
			return request('DELETE', '/backups/' + enc(id));
		},
		restore(id) {
			return request('POST', '/backups/' + enc(id) + '/restore', { confirm: true });
		},
		/* A restore drill now (no lock, never the live database): the
		 * backup with verify_status, verified_at, verify_detail. */
		drill(id) {
			return request('POST', '/backups/' + enc(id) + '/drill', {});
		},
		/* The overview: health verdict, last success/failure/drill, next
		 * automatic backup due, prune, counts and bytes, and "running":
		 * the operations in flight with their phase and bytes. */
		status() {
			return request('GET', '/backups/status');
		},
		downloadUrl(id) {
			return base + '/backups/' + enc(id) + '/download';
		},
	};
}

export const api = createApi(import.meta.env?.VITE_API_BASE ?? '');
