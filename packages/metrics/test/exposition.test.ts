import { describe, expect, it } from 'vitest';
import { renderExposition } from '../src/index.js';

describe('renderExposition', () => {
  it('renders families in order with HELP, TYPE, escaped labels and Prometheus numbers', () => {
    const text = renderExposition([
      {
        name: 'tvm_upload_queue_files',
        type: 'gauge',
        help: 'Files waiting.\nSecond line',
        samples: [
          { labels: { lane: 'incident' }, value: 2 },
          { labels: { lane: 'a"b\\c\nd' }, value: 0.5 },
        ],
      },
      { name: 'tvm_upload_failures_total', type: 'counter', help: 'Failures.', samples: [{ value: 7 }] },
      {
        name: 'odd',
        type: 'gauge',
        help: 'x',
        samples: [{ value: Number.NaN }, { value: Infinity }, { value: -Infinity }],
      },
      { name: 'tvm_upload_never_measured', type: 'gauge', help: 'Not yet.', samples: [] },
    ]);
    expect(text).toBe(
      [
        '# HELP tvm_upload_queue_files Files waiting.\\nSecond line',
        '# TYPE tvm_upload_queue_files gauge',
        'tvm_upload_queue_files{lane="incident"} 2',
        'tvm_upload_queue_files{lane="a\\"b\\\\c\\nd"} 0.5',
        '# HELP tvm_upload_failures_total Failures.',
        '# TYPE tvm_upload_failures_total counter',
        'tvm_upload_failures_total 7',
        '# HELP odd x',
        '# TYPE odd gauge',
        'odd NaN',
        'odd +Inf',
        'odd -Inf',
        '# HELP tvm_upload_never_measured Not yet.',
        '# TYPE tvm_upload_never_measured gauge',
        '',
      ].join('\n'),
    );
  });

  it('renders nothing for no families', () => {
    expect(renderExposition([])).toBe('');
  });

  it('throws a TypeError naming an invalid metric or label name', () => {
    expect(() => renderExposition([{ name: 'tvm-upload', type: 'gauge', help: '', samples: [] }])).toThrow(
      new TypeError('Expected `name` to be a Prometheus metric name, got "tvm-upload"'),
    );
    expect(() =>
      renderExposition([
        { name: 'a', type: 'gauge', help: '', samples: [{ labels: { 'le-x': '1' }, value: 1 }] },
      ]),
    ).toThrow(new TypeError('Expected `labels` to be Prometheus label names, got "le-x"'));
  });
});
