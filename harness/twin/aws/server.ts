/**
 * One HTTP server on 127.0.0.1 serving the twin's AWS API subsets, as the AWS SDK v3 and the aws
 * CLI send them (SigV4 is not checked, any credentials are accepted): requests signed for `s3`
 * go to the S3 REST subset (path-style), for `monitoring` to CloudWatch (JSON 1.0 or Query), for
 * `fis` to the FIS REST-JSON subset; the ELBv2, EC2 and STS Query APIs are told apart by the `Version`
 * form field.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvironmentError } from '../../core/errors.ts';
import type { AlbMetrics } from '../alb/metrics.ts';
import type { AlbControlPlane } from '../alb/types.ts';
import { CLOUDWATCH_TARGET_PREFIX, CLOUDWATCH_VERSION, handleCloudWatchJson, handleCloudWatchQuery } from './cloudwatch-api.ts';
import { EC2_VERSION, ec2Error, handleEc2 } from './ec2-api.ts';
import type { Ec2Provider } from './ec2.ts';
import type { FisApi } from './fis-api.ts';
import { ELBV2_VERSION, elbv2Error, handleElbv2 } from './elbv2-api.ts';
import { parseQuery, requestIds, type QueryResponse } from './query.ts';
import { STS_VERSION, accessKeyOf, handleSts } from './sts.ts';
import { handleS3, MAX_PUT_BYTES, s3Error } from './s3-api.ts';
import type { S3Store } from './s3.ts';

/** A running AWS API server. */
export interface AwsApiServer {
  /** e.g. http://127.0.0.1:41235 — the SDK's and the CLI's endpoint. */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

/** The signing names of the services the twin can serve (SigV4 credential scope); s3, monitoring and fis need theirs. */
const SERVED = new Set(['elasticloadbalancing', 'ec2', 's3', 'monitoring', 'fis', 'sts']);

/** An unsigned request (curl) for FIS: its REST paths. */
const FIS_PATH = /^\/(experimentTemplates|experiments|tags)(\/|\?|$)/;

/** The service a request is signed for, from `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
export function signedService(authorization: string | undefined): string | undefined {
  return /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization ?? '')?.[1];
}

/**
 * The answer to a request for a service the twin does not serve (the env file's catch-all
 * AWS_ENDPOINT_URL sends every service here, so nothing made with it leaves loopback): an error in
 * the service's own protocol — JSON, S3's REST XML or the Query XML — that names the service.
 */
export function unservedService(service: string, headers: http.IncomingHttpHeaders, url: string): QueryResponse & { contentType: string } {
  const target = String(headers['x-amz-target'] ?? '');
  const op = target ? ` (${target.split('.').pop()})` : '';
  const message = `The rollout-harness local twin serves ELBv2, EC2, S3 (ListObjectsV2, GetObject, HeadObject, PutObject), CloudWatch (GetMetricStatistics, GetMetricData), FIS (spot interruption experiments) and STS (GetCallerIdentity) only; this request is for "${service}"${op}, which it does not serve. Nothing was sent to AWS.`;
  const type = String(headers['content-type'] ?? '');
  if (type.includes('json')) return { status: 400, contentType: type.split(';')[0], body: JSON.stringify({ __type: 'UnsupportedService', message }) };
  const esc = message.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
  if (service === 's3') return { status: 400, contentType: 'application/xml', body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>UnsupportedService</Code><Message>${esc}</Message><Resource>${url.replace(/[<>&"]/g, '')}</Resource></Error>` };
  return { status: 400, contentType: 'text/xml', body: `<ErrorResponse><Error><Type>Sender</Type><Code>UnsupportedService</Code><Message>${esc}</Message></Error><RequestId>twin-unserved</RequestId></ErrorResponse>` };
}

/** What the server answers for. */
export interface AwsApiOptions {
  alb: AlbControlPlane;
  ec2: Ec2Provider;
  region: string;
  /** The S3 subset's store; without it S3 requests get UnsupportedService. */
  s3?: S3Store;
  /** CloudWatch's metrics; without them CloudWatch requests get UnsupportedService. */
  metrics?: AlbMetrics;
  /** The FIS subset (harness/twin/aws/fis-api.ts); without it FIS requests get UnsupportedService. */
  fis?: FisApi;
  port?: number;
}

/** Starts the AWS API server on 127.0.0.1 (`port` 0 or absent = a free port). */
export async function startAwsApiServer(options: AwsApiOptions): Promise<AwsApiServer> {
  const nextId = requestIds(0x7a1b);
  const answer = (body: string, authorization: string | undefined): QueryResponse => {
    const params = parseQuery(body);
    const version = params.get('Version');
    const requestId = nextId();
    if (version === STS_VERSION) return handleSts(params, requestId, accessKeyOf(authorization));
    if (version === ELBV2_VERSION) return handleElbv2(options.alb, params, requestId, options.region);
    if (version === EC2_VERSION) return handleEc2(options.ec2, params, requestId);
    if (version === CLOUDWATCH_VERSION && options.metrics) {
      const r = handleCloudWatchQuery(options.metrics, params, requestId);
      return { status: r.status, body: r.body };
    }
    if (params.get('Action')?.endsWith('Instances')) return ec2Error('InvalidParameterValue', `Expected Version ${EC2_VERSION}, got '${version ?? ''}'`, requestId);
    return elbv2Error('InvalidAction', `Expected Version ${ELBV2_VERSION} (ELBv2) or ${EC2_VERSION} (EC2), got '${version ?? ''}'`, requestId);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // An S3 PutObject carries a file (a run's results); every other request a small form or JSON.
    const limit = signedService(req.headers.authorization) === 's3' ? MAX_PUT_BYTES + (1 << 20) : MAX_BODY;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      const service = signedService(req.headers.authorization);
      const method = req.method ?? 'GET';
      if (service === 's3' && options.s3) {
        const requestId = nextId();
        const body = Buffer.concat(chunks);
        const answer = size > limit ? Promise.resolve(s3Error(method, 400, 'EntityTooLarge', `Your proposed upload exceeds the maximum allowed size of the twin (${MAX_PUT_BYTES} bytes)`, requestId)) : handleS3(options.s3, method, req.url ?? '/', req.headers, requestId, body);
        answer
          .catch((err: Error) => s3Error(method, 500, 'InternalError', `The twin failed: ${err.message}`, requestId))
          .then((reply) => {
            res.writeHead(reply.status, reply.headers);
            res.end(method === 'HEAD' ? undefined : reply.body);
          })
          .catch(() => res.destroy());
        return;
      }
      if (options.fis && (service === 'fis' || (service === undefined && FIS_PATH.test(req.url ?? '')))) {
        let reply;
        try {
          reply = options.fis.handle(method, req.url ?? '/', Buffer.concat(chunks).toString('utf8'), nextId());
        } catch (err) {
          reply = { status: 500, headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalServerException' }, body: JSON.stringify({ message: `The twin failed: ${(err as Error).message}` }) };
        }
        res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
        res.end(reply.body);
        return;
      }
      const target = String(req.headers['x-amz-target'] ?? '');
      if (options.metrics && (service === 'monitoring' || target.startsWith(`${CLOUDWATCH_TARGET_PREFIX}.`)) && target) {
        let reply;
        try {
          reply = handleCloudWatchJson(options.metrics, target.slice(target.indexOf('.') + 1), Buffer.concat(chunks).toString('utf8'), nextId());
        } catch (err) {
          reply = { status: 500, contentType: 'application/x-amz-json-1.0', headers: {}, body: JSON.stringify({ __type: 'InternalFailure', message: `The twin failed: ${(err as Error).message}` }) };
        }
        res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body), ...reply.headers });
        res.end(reply.body);
        return;
      }
      const served = service === undefined || (SERVED.has(service) && (service !== 's3' || options.s3) && (service !== 'monitoring' || options.metrics) && (service !== 'fis' || options.fis));
      if (service && !served) {
        const reply = unservedService(service, req.headers, req.url ?? '/');
        res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body), 'x-amzn-errortype': 'UnsupportedService' });
        res.end(reply.body);
        return;
      }
      let reply: QueryResponse;
      if (size > MAX_BODY) reply = elbv2Error('ValidationError', `Expected a request body of at most ${MAX_BODY} bytes, got ${size}`, 'too-large');
      else {
        // GET with a query string works too (handy with curl).
        const query = req.url?.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
        const body = Buffer.concat(chunks).toString('utf8');
        try {
          reply = answer(body || query, req.headers.authorization);
        } catch (err) {
          reply = elbv2Error('InternalFailure', `The twin failed: ${(err as Error).message}`, 'internal', 500);
        }
      }
      res.writeHead(reply.status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(reply.body) });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new EnvironmentError(`Expected to listen on 127.0.0.1:${options.port ?? 0} for the AWS API, got ${err.message}`, { cause: err })));
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
