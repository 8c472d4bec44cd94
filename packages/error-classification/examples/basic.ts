import { classify, decide } from '@tvm/error-classification';

// An error as the AWS SDK throws it when throttled by S3.
const throttled = Object.assign(new Error('Please reduce your request rate.'), {
  name: 'SlowDown',
  $metadata: { httpStatusCode: 503 },
});

const classification = classify(throttled);
console.log(`${classification.kind} ${classification.category}: ${classification.message}`);
// temporary throttled: SlowDown: Please reduce your request rate.

const decision = decide(throttled, 3); // three retries were already made
if (decision.action === 'retry') {
  console.log(`Retry ${decision.retryNumber}/10 (next attempt in ${decision.delayMs / 1000}s)`);
  // Retry 4/10 (next attempt in 8s)
}

const missing = Object.assign(new Error("ENOENT: no such file or directory, open '/var/log/old.log'"), {
  code: 'ENOENT',
  path: '/var/log/old.log',
});
const gaveUp = decide(missing, 0);
if (gaveUp.action === 'give-up') console.log(`PERMANENT FAILURE: ${gaveUp.classification.message}`);
// PERMANENT FAILURE: File not found: /var/log/old.log
