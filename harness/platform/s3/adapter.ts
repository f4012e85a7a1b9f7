/** AccessLogStore and ResultsStore over @aws-sdk/client-s3 (default credential chain; endpoint override, path-style, when configured). */
import { GetObjectCommand, PutObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { awsErrorText, withApiErrors } from '../api-errors.ts';
import type { AwsClientOptions } from '../elbv2/adapter.ts';
import type { ResultsStore, StoredObject } from '../ports.ts';

/** Where and how to reach S3. */
export interface S3ClientOptions extends AwsClientOptions {
  /** Path-style addressing (`endpoint/bucket/key`): default on whenever an endpoint is given, so no bucket host name is built. */
  forcePathStyle?: boolean;
}

/** Builds the S3 adapter. */
export function createS3Adapter(options: S3ClientOptions): ResultsStore {
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    credentials: options.credentials,
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    maxAttempts: 5,
  });
  const port: ResultsStore = {
    async listObjects(bucket, prefix, startAfter) {
      const out: StoredObject[] = [];
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) })) {
        for (const o of page.Contents ?? []) {
          if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, ...(o.LastModified ? { lastModified: o.LastModified.toISOString() } : {}) });
        }
      }
      return out;
    },
    async getObject(bucket, key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`GetObject ${bucket}/${key} returned no body`);
      return out.Body.transformToByteArray();
    },
    async putObject(bucket, key, body, contentType) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },
  };
  return withApiErrors('S3', options.endpoint, port, awsErrorText);
}
