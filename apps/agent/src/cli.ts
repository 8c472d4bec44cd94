#!/usr/bin/env node
import { VERSION } from './version.js';

/** Entry point of the `tvm-upload` command. */
async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === '--version' || command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  process.stderr.write('Usage: tvm-upload <run|check-config> [--config <path>]\n');
  return command === undefined || command === '--help' ? 0 : 2;
}

process.exitCode = await main(process.argv.slice(2));
