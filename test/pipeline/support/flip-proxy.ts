/**
 * TEST-ONLY: an HTTP proxy on 127.0.0.1 in front of an S3 endpoint that flips one byte in the body
 * of the first `flips` successful GETs whose object key matches `pattern`, then forwards everything
 * untouched (bounded: it stops corrupting by itself). The Host header is passed through unchanged,
 * so SigV4 signatures made for the proxy's address still verify at the server.
 *
 * The response's `x-amz-checksum-*` headers are dropped from a corrupted response, so the SDK's
 * own CRC validation cannot catch it: only the project's sha256 checks can.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FlipProxy {
  /** http://127.0.0.1:<port>: the S3 endpoint clients should use. */
  endpoint: string;
  /** Object keys (URL paths) of the corrupted responses, in order. */
  readonly flippedKeys: string[];
  /** GETs whose key matched `pattern`, corrupted or not. */
  matched(): number;
  close(): Promise<void>;
}

export interface FlipProxyOptions {
  pattern: RegExp;
  /** How many matching GETs are corrupted; later ones pass untouched. */
  flips: number;
}

export async function startFlipProxy(targetEndpoint: string, opts: FlipProxyOptions): Promise<FlipProxy> {
  const target = new URL(targetEndpoint);
  const flippedKeys: string[] = [];
  let matched = 0;
  let left = opts.flips;

  const server = http.createServer((req, res) => {
    const key = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const isMatch = req.method === 'GET' && opts.pattern.test(key);
    if (isMatch) matched++;
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const status = up.statusCode ?? 502;
        if (!(isMatch && left > 0 && status === 200)) {
          res.writeHead(status, up.headers);
          up.pipe(res);
          return;
        }
        left--;
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (body.length > 0) body[body.length >> 1]! ^= 0xff;
          flippedKeys.push(key);
          const headers = Object.fromEntries(
            Object.entries(up.headers).filter(([name]) => !name.startsWith('x-amz-checksum-') && name !== 'transfer-encoding' && name !== 'content-length'),
          );
          res.writeHead(status, { ...headers, 'content-length': String(body.length) });
          res.end(body);
        });
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    flippedKeys,
    matched: () => matched,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
