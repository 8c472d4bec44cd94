import { IncidentRequestError } from '../incident/uploads.js';
import { currentAgent, type DaemonContext } from './routes.js';
import { ControlRequestError, type ControlServer } from './server.js';

/** The body of `POST /v1/uploads`: the window in epoch ms (the command reads the times), optional sources. */
export interface IncidentUploadBody {
  since: number;
  until: number;
  sources?: string[];
}

function readBody(body: unknown): IncidentUploadBody {
  if (typeof body !== 'object' || body === null) {
    throw new ControlRequestError(400, 'Expected a JSON object { since, until, sources? }');
  }
  const { since, until, sources } = body as Record<string, unknown>;
  for (const [name, value] of [
    ['since', since],
    ['until', until],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ControlRequestError(
        400,
        `\`${name}\` must be epoch milliseconds, got ${JSON.stringify(value)}`,
      );
    }
  }
  if ((since as number) > (until as number)) throw new ControlRequestError(400, '`since` is after `until`');
  if (sources !== undefined && !(Array.isArray(sources) && sources.every((s) => typeof s === 'string'))) {
    throw new ControlRequestError(400, '`sources` must be a list of source names');
  }
  return { since: since as number, until: until as number, ...(sources ? { sources } : {}) };
}

/**
 * `tvm-upload upload`'s routes. `POST /v1/uploads` queues the window's files in the incident lane and answers 201
 * with the request (its `id` and files); `GET /v1/uploads/:id` reports where each file is now (404 for a request
 * this daemon does not know: it restarted since).
 */
export function registerIncidentRoutes(server: ControlServer, context: DaemonContext): void {
  server.route('POST', '/v1/uploads', async ({ body }) => {
    const { since, until, sources } = readBody(body);
    try {
      return { status: 201, body: await currentAgent(context).incident.create({ since, until }, sources) };
    } catch (error) {
      if (error instanceof IncidentRequestError) throw new ControlRequestError(400, error.message);
      throw error;
    }
  });
  server.route('GET', '/v1/uploads/:id', ({ params }) => {
    const id = params['id'] as string;
    const request = currentAgent(context).incident.get(id);
    if (!request) {
      throw new ControlRequestError(404, `No upload request ${id} (the agent restarted since it was made?)`);
    }
    return { body: request };
  });
}
