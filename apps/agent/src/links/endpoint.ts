import { isIP } from 'node:net';

/** What decides the S3 host name: the config's `s3` keys as the agent resolved them. */
export interface EndpointSettings {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  force_path_style: boolean;
}

/**
 * The host the S3 client connects to, as the AWS SDK builds it: the endpoint URL's host (virtual-hosted style
 * `<bucket>.<host>` unless `force_path_style`, the host is an IP address, or the bucket name is not a DNS label),
 * else AWS's regional endpoint `s3.<region>.amazonaws.com` (`.amazonaws.com.cn` in China regions), again with the
 * bucket in front in virtual-hosted style. `literal` = an IP address, which needs no lookup.
 */
export function endpointHost(s3: EndpointSettings): { host: string; literal: boolean } {
  let host: string;
  if (s3.endpoint !== undefined) {
    host = new URL(s3.endpoint).hostname;
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (isIP(host) !== 0) return { host, literal: true };
  } else {
    host = `s3.${s3.region}.amazonaws.com${s3.region.startsWith('cn-') ? '.cn' : ''}`;
  }
  const virtual = !s3.force_path_style && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(s3.bucket);
  return { host: virtual ? `${s3.bucket}.${host}` : host, literal: false };
}
