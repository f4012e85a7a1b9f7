/**
 * The S3 REST API subset the twin serves, path-style (`/<bucket>/<key>`): ListBuckets,
 * ListObjectsV2 (prefix, delimiter, start-after, continuation-token, max-keys, encoding-type),
 * GetObject (with a single byte range), HeadObject and PutObject (a plain body, or the SDK's
 * `aws-chunked` encoding with its trailing checksum), in S3's XML shapes and errors (NoSuchBucket,
 * NoSuchKey, EntityTooLarge; HEAD errors carry no body). Everything else is NotImplemented.
 */
import { TWIN_ACCOUNT_ID } from '../alb/ids.ts';
import { el, text } from './query.ts';
import type { S3ObjectInfo, S3Store } from './s3.ts';

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** An S3 answer. */
export interface S3Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function xml(status: number, body: string, requestId: string, extra: Record<string, string> = {}): S3Response {
  const buf = Buffer.from(XML_HEAD + body);
  return { status, headers: { 'content-type': 'application/xml', 'content-length': String(buf.length), 'x-amz-request-id': requestId, ...extra }, body: buf };
}

/** An S3 error; HEAD answers carry the status and no body, as S3's do. */
export function s3Error(method: string, status: number, code: string, message: string, requestId: string, extra: Record<string, string> = {}): S3Response {
  if (method === 'HEAD') return { status, headers: { 'x-amz-request-id': requestId }, body: Buffer.alloc(0) };
  return xml(status, el('Error', text('Code', code), text('Message', message), ...Object.entries(extra).map(([k, v]) => text(k, v)), text('RequestId', requestId)), requestId);
}

const isoMs = (ms: number) => new Date(ms).toISOString();
/** S3 ListObjects/LastModified precision is the millisecond; HTTP dates are whole seconds. */
const httpDate = (ms: number) => new Date(ms).toUTCString();

/** Keys in a `encoding-type=url` answer: URL-encoded, slashes kept. */
const encodeKey = (key: string, url: boolean) => (url ? encodeURIComponent(key).replace(/%2F/g, '/') : key);

function objectHeaders(info: S3ObjectInfo, requestId: string): Record<string, string> {
  return {
    etag: info.etag,
    'last-modified': httpDate(info.lastModified),
    'content-type': info.contentType,
    'accept-ranges': 'bytes',
    'x-amz-request-id': requestId,
  };
}

/** The largest object PutObject takes here (S3's own limit is 5 GiB; a run's files are far smaller). */
export const MAX_PUT_BYTES = 64 * 1024 * 1024;

/**
 * The payload of an `aws-chunked` body (`<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` … `0\r\n`
 * then trailers): what the AWS SDKs send for a streamed upload with a trailing checksum. Undefined when
 * the framing is broken.
 */
export function decodeAwsChunked(body: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = Number.parseInt(body.subarray(at, eol).toString('latin1').split(';')[0], 16);
    if (!Number.isInteger(size) || size < 0) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = eol + 2;
    if (start + size + 2 > body.length || body.toString('latin1', start + size, start + size + 2) !== '\r\n') return undefined;
    parts.push(body.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** PutObject: stores the body (decoded from aws-chunked when so sent) and answers with its ETag. */
function putObject(store: S3Store, bucket: string, key: string, headers: Record<string, string | string[] | undefined>, raw: Buffer, requestId: string): S3Response {
  const chunked = String(headers['content-encoding'] ?? '').includes('aws-chunked') || String(headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
  const body = chunked ? decodeAwsChunked(raw) : raw;
  if (!body) return s3Error('PUT', 400, 'IncompleteBody', 'Expected an aws-chunked body (<hex size>\\r\\n<bytes>\\r\\n … 0\\r\\n), got a broken one', requestId);
  const declared = headers['x-amz-decoded-content-length'];
  if (chunked && declared !== undefined && Number(declared) !== body.length) {
    return s3Error('PUT', 400, 'IncompleteBody', `Expected ${String(declared)} bytes (x-amz-decoded-content-length), got ${body.length}`, requestId);
  }
  if (body.length > MAX_PUT_BYTES) return s3Error('PUT', 400, 'EntityTooLarge', `Your proposed upload exceeds the maximum allowed size of the twin (${MAX_PUT_BYTES} bytes)`, requestId, { ProposedSize: String(body.length), MaxSizeAllowed: String(MAX_PUT_BYTES) });
  store.putObject(bucket, key, body, typeof headers['content-type'] === 'string' ? headers['content-type'] : 'binary/octet-stream');
  return { status: 200, headers: { etag: store.head(bucket, key)!.etag, 'x-amz-request-id': requestId, 'content-length': '0' }, body: Buffer.alloc(0) };
}

/** Answers one S3 request. `url` is the request path with its query string; `body` the request's (PutObject). */
export async function handleS3(store: S3Store, method: string, url: string, headers: Record<string, string | string[] | undefined>, requestId: string, body: Buffer = Buffer.alloc(0)): Promise<S3Response> {
  const parsed = new URL(url, 'http://twin.invalid');
  const segments = parsed.pathname.split('/').slice(1);
  const bucket = decodeURIComponent(segments[0] ?? '');
  const key = segments.slice(1).map(decodeURIComponent).join('/');
  const q = parsed.searchParams;

  const put = method === 'PUT' && bucket !== '' && key !== '' && [...q.keys()].every((k) => k.startsWith('x-id'));
  if (method !== 'GET' && method !== 'HEAD' && !put) {
    return s3Error(method, 501, 'NotImplemented', `The rollout-harness twin's S3 serves ListBuckets, ListObjectsV2, GetObject, HeadObject and PutObject only; got ${method} ${parsed.pathname}${parsed.search}`, requestId);
  }
  if (!bucket) {
    const buckets = store.buckets().map((b) => el('Bucket', text('Name', b), text('CreationDate', isoMs(0))));
    return xml(200, `<ListAllMyBucketsResult xmlns="${NS}">${el('Owner', text('ID', TWIN_ACCOUNT_ID), text('DisplayName', 'twin'))}${el('Buckets', ...buckets)}</ListAllMyBucketsResult>`, requestId);
  }
  if (!store.bucketExists(bucket)) return s3Error(method, 404, 'NoSuchBucket', 'The specified bucket does not exist', requestId, { BucketName: bucket });
  if (put) return putObject(store, bucket, key, headers, body, requestId);

  if (!key) {
    if (method === 'HEAD') return { status: 200, headers: { 'x-amz-request-id': requestId, 'x-amz-bucket-region': 'us-east-1' }, body: Buffer.alloc(0) };
    if (q.has('location')) return xml(200, `<LocationConstraint xmlns="${NS}"/>`, requestId);
    if (q.get('list-type') !== '2') {
      return s3Error(method, 501, 'NotImplemented', "The rollout-harness twin's S3 lists with ListObjectsV2 only (list-type=2)", requestId);
    }
    return listObjectsV2(store, bucket, q, requestId);
  }

  const info = store.head(bucket, key);
  if (!info) return s3Error(method, 404, 'NoSuchKey', 'The specified key does not exist.', requestId, { Key: key });
  if (method === 'HEAD') return { status: 200, headers: { ...objectHeaders(info, requestId), 'content-length': String(info.size) }, body: Buffer.alloc(0) };
  const got = await store.get(bucket, key);
  if (!got) return s3Error(method, 404, 'NoSuchKey', 'The specified key does not exist.', requestId, { Key: key });
  const range = typeof headers.range === 'string' ? /^bytes=(\d*)-(\d*)$/.exec(headers.range.trim()) : null;
  if (range && (range[1] || range[2])) {
    const size = got.body.length;
    let start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
    let end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (!range[1]) end = size - 1;
    if (start >= size || start > end) {
      return s3Error(method, 416, 'InvalidRange', 'The requested range is not satisfiable', requestId, { RangeRequested: String(headers.range), ActualObjectSize: String(size) });
    }
    start = Math.max(0, start);
    const part = got.body.subarray(start, end + 1);
    return { status: 206, headers: { ...objectHeaders(got.info, requestId), 'content-length': String(part.length), 'content-range': `bytes ${start}-${end}/${size}` }, body: part };
  }
  return { status: 200, headers: { ...objectHeaders(got.info, requestId), 'content-length': String(got.body.length) }, body: got.body };
}

function listObjectsV2(store: S3Store, bucket: string, q: URLSearchParams, requestId: string): S3Response {
  const maxKeysText = q.get('max-keys');
  const maxKeys = maxKeysText === null ? 1000 : Number(maxKeysText);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    return s3Error('GET', 400, 'InvalidArgument', `Expected max-keys to be an integer from 0 to 2147483647, got '${maxKeysText}'`, requestId, { ArgumentName: 'max-keys', ArgumentValue: maxKeysText ?? '' });
  }
  const token = q.get('continuation-token');
  let after = q.get('start-after') ?? undefined;
  if (token !== null) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (!decoded.startsWith('twin:')) return s3Error('GET', 400, 'InvalidArgument', 'The continuation token provided is incorrect', requestId, { ArgumentName: 'continuation-token' });
    after = decoded.slice(5);
  }
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const url = q.get('encoding-type') === 'url';
  const page = store.list(bucket, { prefix, after, delimiter: delimiter || undefined, maxKeys: Math.min(maxKeys, 1000) });
  const next = page.isTruncated && page.nextMarker !== undefined ? Buffer.from(`twin:${page.nextMarker}`).toString('base64url') : undefined;
  const body = [
    text('Name', bucket),
    text('Prefix', encodeKey(prefix, url)),
    q.has('start-after') ? text('StartAfter', encodeKey(q.get('start-after')!, url)) : '',
    token !== null ? text('ContinuationToken', token) : '',
    next ? text('NextContinuationToken', next) : '',
    text('KeyCount', page.contents.length + page.commonPrefixes.length),
    text('MaxKeys', maxKeys),
    delimiter ? text('Delimiter', encodeKey(delimiter, url)) : '',
    url ? text('EncodingType', 'url') : '',
    text('IsTruncated', page.isTruncated),
    ...page.contents.map((o) =>
      el('Contents', text('Key', encodeKey(o.key, url)), text('LastModified', isoMs(o.lastModified)), text('ETag', o.etag), text('Size', o.size), text('StorageClass', 'STANDARD')),
    ),
    ...page.commonPrefixes.map((p) => el('CommonPrefixes', text('Prefix', encodeKey(p, url)))),
  ].join('');
  return xml(200, `<ListBucketResult xmlns="${NS}">${body}</ListBucketResult>`, requestId);
}
