#!/usr/bin/env node
// container.js ENDPOINT KEY exists|delete|blobs CONTAINER - what a test
// needs to see or do to a container behind safbackup's back, through
// @azure/storage-blob (Azurite development account). Prints "yes"/"no"
// for exists, one blob name a line for blobs. Tests only.
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
	else throw new Error(`unknown op ${op}`);
})().catch((e) => { console.error(e.message); process.exit(1); });
