/* global process, console -- plain Node.js ESM, outside the TypeScript project */
// Opens the queue given on the command line and prints how long that took and the process's RSS. Plain
// JavaScript on the built package, so no TypeScript loader inflates the figures.
import { performance } from 'node:perf_hooks';
import { openStateStore } from '../dist/index.js';

const directory = process.argv[2];
if (!directory) throw new Error('usage: open-child.mjs <directory>');
const mb = () => process.memoryUsage.rss() / 1_048_576;
const rssBeforeMb = mb();
const start = performance.now();
const store = await openStateStore({ directory });
const openMs = performance.now() - start;
if (store.queue.size !== 100_000) throw new Error(`expected 100000 entries, got ${store.queue.size}`);
const rssAfterMb = mb();
await store.close();
console.log(JSON.stringify({ openMs, rssBeforeMb, rssAfterMb }));
