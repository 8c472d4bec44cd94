export { createFakeClock, settle } from './fake-clock.js';
export type { Clock, FakeClock } from './fake-clock.js';
export { localClientConfig, S3RVER_CREDENTIALS, startLocalS3 } from './s3-server.js';
export type { LocalS3, LocalS3Options } from './s3-server.js';
export { s3ErrorXml, startHttpResponder } from './http-responder.js';
export type { HttpResponder, ScriptedResponse } from './http-responder.js';
export { runTypeScript } from './run-example.js';
export {
  CLOUDWATCH_TARGET_PREFIX,
  FAKE_CLOUDWATCH_CREDENTIALS,
  startFakeCloudWatch,
} from './fake-cloudwatch.js';
export type {
  FakeCloudWatch,
  FakeCloudWatchMode,
  FakeCloudWatchOptions,
  RecordedCloudWatchRequest,
  RecordedDatum,
} from './fake-cloudwatch.js';
export { startFaultProxy } from './fault-proxy.js';
export type { FaultMode, FaultProxy, FaultProxyOptions } from './fault-proxy.js';
export { startMultipartShim } from './s3-multipart-shim.js';
export type { MultipartShim, MultipartShimOptions } from './s3-multipart-shim.js';
export { generateTestCertificates, startTlsFront } from './tls-front.js';
export type { TestCertificates, TlsFront } from './tls-front.js';
export { fillFilesystem } from './fill-filesystem.js';
