#!/usr/bin/env node
// peer-upload.js ENDPOINT CONTAINER NAME FILE - the upload a Node user
// would write: @azure/storage-blob uploadFile, 8 MiB blocks, concurrency 4.
// peer-upload.js --clear ENDPOINT CONTAINER - delete every blob in it.
// The key comes from SB_PEER_KEY (the Azurite development key). Bench only.
'use strict';
const { BlobServiceClient, StorageSharedKeyCredential } =
    require('@azure/storage-blob');

async function main() {
	const clear = process.argv[2] === '--clear';
	const [endpoint, container, name, file] =
	    process.argv.slice(clear ? 3 : 2);
	const cred = new StorageSharedKeyCredential('devstoreaccount1',
	    process.env.SB_PEER_KEY);
	const svc = new BlobServiceClient(endpoint, cred);
	const cc = svc.getContainerClient(container);
	await cc.createIfNotExists();
	if (clear) {
		for await (const b of cc.listBlobsFlat())
			await cc.deleteBlob(b.name);
		return;
	}
	await cc.getBlockBlobClient(name).uploadFile(file, {
		blockSize: 8 * 1024 * 1024,
		concurrency: 4,
	});
}
main().catch((e) => { console.error(e.message); process.exit(1); });
