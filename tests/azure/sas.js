#!/usr/bin/env node
// sas.js KEY CONTAINER - print a container SAS token (read, add, create,
// write, delete, list; valid one hour) for the Azurite development
// account, made with @azure/storage-blob. Tests only.
'use strict';
const { StorageSharedKeyCredential, generateBlobSASQueryParameters,
    ContainerSASPermissions } = require('@azure/storage-blob');

const [key, container] = process.argv.slice(2);
const cred = new StorageSharedKeyCredential('devstoreaccount1', key);
const sas = generateBlobSASQueryParameters({
	containerName: container,
	permissions: ContainerSASPermissions.parse('racwdl'),
	startsOn: new Date(Date.now() - 5 * 60 * 1000),
	expiresOn: new Date(Date.now() + 60 * 60 * 1000),
	version: '2021-08-06',
}, cred);
process.stdout.write(sas.toString() + '\n');
