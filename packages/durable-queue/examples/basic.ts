import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateStore, readStateSnapshot, requestRequeue } from '@tvm/durable-queue';

const directory = await mkdtemp(join(tmpdir(), 'tvm-state-'));
const store = await openStateStore({ directory, registryRetentionDays: 30 });

// Two stable files were detected. Each promise resolves once the change is durable (fsync'ed, renamed).
const launchLog = {
  filepath: '/home/autoware/.ros/log/run-1/launch.log',
  size: 104_857_600,
  mtimeMs: Date.UTC(2025, 9, 20, 15, 30),
};
await Promise.all([
  store.queue.add({ ...launchLog, source: 'ros' }),
  store.queue.add({ filepath: '/var/log/syslog.1', size: 2048, source: 'syslog' }),
]);
console.log(`queued: ${store.queue.size}`);
// queued: 2

// A temporary failure: the retry is a time written into the entry, never a sleep.
await store.queue.update(launchLog.filepath, {
  attempts: 1,
  nextAttemptAt: Date.now() + 1000,
  lastError: { category: 'network', message: 'ECONNRESET' },
});
console.log(`due now: ${store.queue.due().map((entry) => entry.filepath)}`);
// due now: /var/log/syslog.1

// A permanent failure: the file moves to the failed list.
const failed = await store.failed.add({
  filepath: '/var/log/syslog.1',
  category: 'access-denied',
  message: 'AccessDenied: Access Denied',
});
console.log(`PERMANENT FAILURE: ${failed.message} (${failed.filepath})`);
// PERMANENT FAILURE: AccessDenied: Access Denied (/var/log/syslog.1)

// An upload succeeded: record it in the registry first, then take it off the queue.
await store.registry.mark({ ...launchLog, key: 'vehicle-CN-001/2025-10-20/ros/run-1/launch.log' });
await store.queue.remove(launchLog.filepath);
console.log(`already uploaded: ${store.registry.has(launchLog)}`);
// already uploaded: true

// The CLI, in another process while the daemon holds the lock, reads without the lock and leaves a request.
await requestRequeue({ directory }, 'all');
const snapshot = await readStateSnapshot({ directory });
console.log(
  `snapshot: ${snapshot.queue.length} queued, ${snapshot.failed.length} failed, ${snapshot.requests.length} request`,
);
// snapshot: 0 queued, 1 failed, 1 request

// The daemon picks the request up on its next poll.
const { requeued } = await store.pollRequests();
console.log(`requeued: ${requeued}`);
// requeued: 1

// What the runbook's `jq '.files[].filepath' queue.json` shows.
const queueJson = JSON.parse(await readFile(join(directory, 'queue.json'), 'utf8')) as {
  files: { filepath: string }[];
};
console.log(`queue.json: ${queueJson.files.map((entry) => entry.filepath)}`);
// queue.json: /var/log/syslog.1

await store.close();
await rm(directory, { recursive: true });
