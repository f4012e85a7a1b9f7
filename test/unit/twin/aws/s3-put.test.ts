/** The twin's S3 PutObject: a plain body and the SDKs' aws-chunked one are stored as sent; broken or unserved requests are refused in S3's shapes. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../harness/core/clock.ts';
import { decodeAwsChunked, handleS3 } from '../../../../harness/twin/aws/s3-api.ts';
import { S3Store } from '../../../../harness/twin/aws/s3.ts';

const store = () => new S3Store({ clock: new ManualClock(0), buckets: ['results'] });
const code = (body: Buffer) => /<Code>([^<]+)<\/Code>/.exec(body.toString())?.[1];

describe('PutObject on the twin', () => {
  it('stores a plain body under its key, answers its ETag, and GetObject gives it back', async () => {
    const s = store();
    const put = await handleS3(s, 'PUT', '/results/night/run.json?x-id=PutObject', { 'content-type': 'application/json' }, 'r1', Buffer.from('{"a":1}'));
    expect(put.status).toBe(200);
    expect(put.headers.etag).toBe(s.head('results', 'night/run.json')!.etag);
    const got = await handleS3(s, 'GET', '/results/night/run.json', {}, 'r2');
    expect(got.body.toString()).toBe('{"a":1}');
    expect(got.headers['content-type']).toBe('application/json');
  });

  it('decodes an aws-chunked body with a trailing checksum, and refuses a broken one or a length that differs', async () => {
    const chunked = Buffer.from('5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n');
    expect(decodeAwsChunked(chunked)?.toString()).toBe('hello world');
    const s = store();
    const headers = { 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': '11' };
    expect((await handleS3(s, 'PUT', '/results/k', headers, 'r1', chunked)).status).toBe(200);
    expect((await s.get('results', 'k'))!.body.toString()).toBe('hello world');
    const broken = await handleS3(s, 'PUT', '/results/k2', headers, 'r2', Buffer.from('5\r\nhel'));
    expect([broken.status, code(broken.body)]).toEqual([400, 'IncompleteBody']);
    const short = await handleS3(s, 'PUT', '/results/k3', { ...headers, 'x-amz-decoded-content-length': '12' }, 'r3', chunked);
    expect(short.body.toString()).toContain('Expected 12 bytes (x-amz-decoded-content-length), got 11');
    expect(s.head('results', 'k2')).toBeUndefined();
  });

  it('refuses a missing bucket, and a PUT that is not PutObject (CreateBucket, ?tagging), in S3\'s shapes', async () => {
    const s = store();
    const missing = await handleS3(s, 'PUT', '/nope/k', {}, 'r1', Buffer.from('x'));
    expect([missing.status, code(missing.body)]).toEqual([404, 'NoSuchBucket']);
    for (const url of ['/new-bucket', '/results/k?tagging']) {
      const other = await handleS3(s, 'PUT', url, {}, 'r2', Buffer.from('x'));
      expect([other.status, code(other.body)]).toEqual([501, 'NotImplemented']);
    }
  });
});
