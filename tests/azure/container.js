#!/usr/bin/env node
// container.js ENDPOINT KEY exists|delete|blobs CONTAINER - what a test
// needs to see or do to a container behind safbackup's back, through
// @azure/storage-blob (Azurite development account). Prints "yes"/"no"
// for exists, one blob name a line for blobs. Tests only.
// container.js ENDPOINT KEY meta CONTAINER BLOB: the blob's metadata as
// JSON; ... flip CONTAINER BLOB OFFSET: the blob uploaded again with the
// byte at OFFSET inverted, its metadata kept (a tampered object).
'use strict';
const { BlobServiceClient, StorageSharedKeyCredential } = require('@azure/storage-blob');

const [endpoint, key, op, container] = process.argv.slice(2);
const svc = new BlobServiceClient(endpoint,
    new StorageSharedKeyCredential('devstoreaccount1', key));
const c = svc.getContainerClient(container);
(async () => {
	if (op === 'exists') console.log((await c.exists()) ? 'yes' : 'no');
	else if (op === 'delete') await c.delete();
	else if (op === 'blobs') for await (const b of c.listBlobsFlat()) console.log(b.name);
	else if (op === 'meta') {
		const p = await c.getBlockBlobClient(process.argv[6]).getProperties();
		console.log(JSON.stringify(p.metadata));
	} else if (op === 'flip') {
		const b = c.getBlockBlobClient(process.argv[6]);
		const p = await b.getProperties();
		const buf = await b.downloadToBuffer();
		buf[Number(process.argv[7])] ^= 0xff;
		await b.uploadData(buf, { metadata: p.metadata });
	}
	else throw new Error(`unknown op ${op}`);
})().catch((e) => { console.error(e.message); process.exit(1); });
