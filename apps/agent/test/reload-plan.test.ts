import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { reloadPlan } from '../src/reload-plan.js';

const base = {
  vehicle_id: 'v1',
  log_directories: [{ path: '/logs/terminal', source: 'terminal' }],
  s3: { bucket: 'b', region: 'cn-north-1', credentials_path: '/aws' },
};
const parse = (doc: object) => parseConfig(JSON.stringify(doc), { env: {} }).config;

describe('reloadPlan (defect 14)', () => {
  it('applies bandwidth, schedule, hours and deletion live', () => {
    const plan = reloadPlan(
      parse(base),
      parse({
        ...base,
        upload: {
          bandwidth_limit: '1MB/s',
          schedule: { interval_hours: 4 },
          operational_hours: { enabled: true, start: '07:00', end: '18:00' },
        },
        deletion: { after_upload: { keep_days: 3 } },
      }),
    );
    expect(plan.restart).toEqual([]);
    expect(plan.live).toEqual([
      'deletion.after_upload.keep_days',
      'upload.bandwidth_limit',
      'upload.operational_hours.start',
      'upload.schedule.interval_hours',
    ]);
  });

  it('restarts for directories, bucket and concurrency', () => {
    const plan = reloadPlan(
      parse(base),
      parse({
        ...base,
        log_directories: [...base.log_directories, { path: '/logs/ros', source: 'ros' }],
        s3: { ...base.s3, bucket: 'c', concurrency: 2 },
      }),
    );
    expect(plan.restart).toEqual(['log_directories', 's3.bucket', 's3.concurrency']);
  });

  it('says nothing changed for the same file', () => {
    expect(reloadPlan(parse(base), parse(base))).toEqual({ live: [], restart: [] });
  });
});
