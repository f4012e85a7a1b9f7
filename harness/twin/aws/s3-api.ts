/**
 * The S3 REST API subset the twin serves, path-style (`/<bucket>/<key>`): ListBuckets,
 * ListObjectsV2 (prefix, delimiter, start-after, continuation-token, max-keys, encoding-type),
 * GetObject (with a single byte range) and HeadObject, in S3's XML shapes and errors
 * (NoSuchBucket, NoSuchKey; HEAD errors carry no body). Everything else is NotImplemented.
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

/** Answers one S3 request. `url` is the request path with its query string. */
export async function handleS3(store: S3Store, method: string, url: string, headers: Record<string, string | string[] | undefined>, requestId: string): Promise<S3Response> {
  const parsed = new URL(url, 'http://twin.invalid');
  const segments = parsed.pathname.split('/').slice(1);
  const bucket = decodeURIComponent(segments[0] ?? '');
  const key = segments.slice(1).map(decodeURIComponent).join('/');
  const q = parsed.searchParams;

  if (method !== 'GET' && method !== 'HEAD') {
    return s3Error(method, 501, 'NotImplemented', `The rollout-harness twin's S3 serves ListBuckets, ListObjectsV2, GetObject and HeadObject only; got ${method} ${parsed.pathname}`, requestId);
  }
  if (!bucket) {
    const buckets = store.buckets().map((b) => el('Bucket', text('Name', b), text('CreationDate', isoMs(0))));
    return xml(200, `<ListAllMyBucketsResult xmlns="${NS}">${el('Owner', text('ID', TWIN_ACCOUNT_ID), text('DisplayName', 'twin'))}${el('Buckets', ...buckets)}</ListAllMyBucketsResult>`, requestId);
  }
  if (!store.bucketExists(bucket)) return s3Error(method, 404, 'NoSuchBucket', 'The specified bucket does not exist', requestId, { BucketName: bucket });

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
