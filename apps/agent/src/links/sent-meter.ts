/**
 * Turns the uploader's progress (bytes S3 holds for the upload so far, resumed parts included) into the bytes this
 * attempt sent in request bodies. A multipart upload reports what S3 already held before it sends a part (0 for a
 * new one, the resumed parts otherwise): that first report is a baseline, not bytes sent. A single PUT reports once,
 * its whole size, when S3 acknowledged it. Returns the new bytes of each report.
 */
export function sentMeter(
  resuming: boolean,
): (progress: { bytesSent: number; totalBytes: number }) => number {
  let last: number | undefined;
  return ({ bytesSent, totalBytes }) => {
    if (last === undefined) {
      const baseline = resuming || bytesSent < totalBytes;
      last = baseline ? bytesSent : 0;
    }
    const delta = Math.max(0, bytesSent - last);
    last = Math.max(last, bytesSent);
    return delta;
  };
}
