import type { BandwidthState } from '../bandwidth/controller.js';
import { parseRate } from '../bandwidth/timetable.js';
import { currentAgent, type DaemonContext } from './routes.js';
import { ControlRequestError, type ControlServer } from './server.js';

/** The answer of `GET` and `PUT /v1/bandwidth`: the limit in force, where it comes from, and until when. */
export type BandwidthAnswer = BandwidthState;

/**
 * `GET /v1/bandwidth`: the limit in force. `PUT /v1/bandwidth` with `{ "rate": "256KiB/s" | "off" | <bytes/s> }`:
 * sets it now, for every upload (those in flight too), until the next timetable boundary or a restart.
 */
export function registerBandwidthRoutes(server: ControlServer, context: DaemonContext): void {
  server.route('GET', '/v1/bandwidth', () => ({ body: currentAgent(context).bandwidth.state() }));
  server.route('PUT', '/v1/bandwidth', ({ body }) => {
    const rate = (body as { rate?: unknown } | undefined)?.rate;
    const bytesPerSecond = typeof rate === 'string' || typeof rate === 'number' ? parseRate(rate) : undefined;
    if (bytesPerSecond === undefined) {
      throw new ControlRequestError(
        400,
        `"rate" must be a rate such as "2MB/s" or "256KiB/s", or off (or 0) for unlimited, got ${JSON.stringify(rate)}`,
      );
    }
    return { body: currentAgent(context).bandwidth.override(bytesPerSecond) };
  });
}
