import type { DiskGuard, Plan, PolicyName } from '@tvm/disk-guard';
import type { StateStore } from '@tvm/durable-queue';
import { resolveDirectory } from './adapters/files.js';
import { deletionCandidates, type DeletionState, type LogDirectory } from './deletion-candidates.js';

/** The configured log directories with their real paths, resolved now (undefined for one that is missing). */
export async function resolveLogDirectories(
  directories: readonly { readonly path: string }[],
): Promise<LogDirectory[]> {
  return Promise.all(
    directories.map(async ({ path }) => ({
      path,
      realPath: await resolveDirectory(path),
    })),
  );
}

/** An open store's entries as the plain state the deletion decision reads. */
export function storeState(store: Pick<StateStore, 'registry' | 'queue' | 'failed'>): DeletionState {
  return { registry: store.registry.list(), queue: store.queue.list(), failed: store.failed.list() };
}

/**
 * The deletion plan, the one way the daemon and `tvm-upload cleanup` make it: candidates from the state
 * (`deletionCandidates()`), then the disk guard's policies and safety gate, which bring the configuration, the disk
 * usage (for the emergency policy) and the time. `policies` defaults to every policy (each only if enabled).
 */
export function planDeletion(
  guard: DiskGuard,
  state: DeletionState,
  directories: readonly LogDirectory[],
  policies?: readonly PolicyName[],
): Promise<Plan> {
  return guard.plan({ candidates: deletionCandidates(state, directories), policies });
}
