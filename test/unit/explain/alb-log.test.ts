/** The ALB access-log parser: the user guide's own example entries, quoting, new fields, bad lines, gzip objects and keys. */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ALB_LOG_FIELDS, AlbLogError, albLogDayPrefix, parseAlbLogKey, parseAlbLogLine, parseAlbLogLines, parseAlbLogObject, splitFields } from '../../../harness/explain/alb-log.ts';

// The ALB user guide's example HTTP entry ("Access log entries" → "Example HTTP entry"), as printed there.
const GUIDE_HTTP =
  'http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90';
// The guide's newer HTTPS example, with the three fields added after conn_trace_id.
const GUIDE_HTTPS_TRANSFORM =
  'https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90 "m.example.com" "-" "TransformSuccess"';
// A 502 from a target that refused the connection: no target status, -1 for the times not taken.
const REFUSED =
  'http 2026-10-01T12:02:30.250000Z app/k8s-shop-web-1a2b3c/0123456789abcdef 127.0.0.1:51000 127.0.1.7:8080 0.000 -1 -1 502 - 120 272 "GET http://127.0.0.1:41234/api?x=1 HTTP/1.1" "rollout-harness/0.1.0 r1/rollout.r1" - - arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/k8s-shop-web/0123456789abcdef "Root=1-6547a1b2-000000000000000000000001" "-" "-" 0 2026-10-01T12:02:30.249000Z "forward" "-" "TargetConnectionErrorCode" "127.0.1.7:8080" "-" "-" "-" TID_0000000000000001';

describe('parseAlbLogLine', () => {
  it('reads the user guide\'s example HTTP entry field by field', () => {
    const e = parseAlbLogLine(GUIDE_HTTP);
    expect(e).toEqual({
      type: 'http',
      time: '2018-07-02T22:23:00.186641Z',
      timeMs: Date.UTC(2018, 6, 2, 22, 23, 0, 186) + 0.641,
      elb: 'app/my-loadbalancer/50dc6c495c0c9188',
      client: { ip: '192.168.131.39', port: 2817 },
      target: { ip: '10.0.0.1', port: 80 },
      requestProcessingTime: 0,
      targetProcessingTime: 0.001,
      responseProcessingTime: 0,
      elbStatusCode: 200,
      targetStatusCode: 200,
      receivedBytes: 34,
      sentBytes: 366,
      request: 'GET http://www.example.com:80/ HTTP/1.1',
      method: 'GET',
      url: 'http://www.example.com:80/',
      path: '/',
      userAgent: 'curl/7.46.0',
      sslCipher: null,
      sslProtocol: null,
      targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067',
      traceId: 'Root=1-58337262-36d228ad5d99923122bbe354',
      domainName: null,
      chosenCertArn: null,
      matchedRulePriority: 0,
      requestCreationTime: '2018-07-02T22:22:48.364000Z',
      requestCreationMs: Date.UTC(2018, 6, 2, 22, 22, 48, 364),
      actionsExecuted: ['forward'],
      redirectUrl: null,
      errorReason: null,
      targetPortList: ['10.0.0.1:80'],
      targetStatusCodeList: ['200'],
      classification: null,
      classificationReason: null,
      connTraceId: 'TID_1234abcd5678ef90',
      extra: [],
    });
  });

  it('keeps fields appended after the documented ones (AWS adds fields at the end)', () => {
    const e = parseAlbLogLine(GUIDE_HTTPS_TRANSFORM);
    expect(e.extra).toEqual(['m.example.com', '-', 'TransformSuccess']);
    expect(e).toMatchObject({ type: 'https', sslCipher: 'ECDHE-RSA-AES128-GCM-SHA256', sslProtocol: 'TLSv1.2', domainName: 'www.example.com', matchedRulePriority: 1, actionsExecuted: ['authenticate', 'forward'] });
  });

  it('turns - and -1 into null, and splits the request line', () => {
    const e = parseAlbLogLine(REFUSED);
    expect(e).toMatchObject({ elbStatusCode: 502, targetStatusCode: null, targetProcessingTime: null, responseProcessingTime: null, requestProcessingTime: 0, path: '/api?x=1', errorReason: 'TargetConnectionErrorCode', targetStatusCodeList: [] });
    expect(e.userAgent).toBe('rollout-harness/0.1.0 r1/rollout.r1');
  });

  it('unescapes quotes and backslashes inside quoted fields, and reads IPv6 clients', () => {
    const line = REFUSED.replace('"rollout-harness/0.1.0 r1/rollout.r1"', String.raw`"Mozilla/5.0 \"quoted\" C:\\dir \x41"`).replace('127.0.0.1:51000', '2001:db8::5:52000');
    const e = parseAlbLogLine(line);
    expect(e.userAgent).toBe('Mozilla/5.0 "quoted" C:\\dir A');
    expect(e.client).toEqual({ ip: '2001:db8::5', port: 52000 });
    expect(e.traceId).toBe('Root=1-6547a1b2-000000000000000000000001');
  });

  it('says which fields are missing', () => {
    const short = GUIDE_HTTP.split(' "10.0.0.1:80"')[0];
    expect(() => parseAlbLogLine(short)).toThrow(`expected ${ALB_LOG_FIELDS.length} fields (type … conn_trace_id), got 25: missing target:port_list, target_status_code_list, classification, classification_reason, conn_trace_id`);
    expect(() => parseAlbLogLine(`${GUIDE_HTTP} "cut off`)).toThrow('a quoted field starting at column 31 has no closing quote');
    expect(() => parseAlbLogLine(GUIDE_HTTP.replace(' 200 200 ', ' 2oo 200 '))).toThrow('elb_status_code: expected an integer or -, got "2oo"');
  });

  it('splits on spaces outside quotes only', () => {
    expect(splitFields('a "b c" - "d \\" e"')).toEqual([
      { value: 'a', quoted: false },
      { value: 'b c', quoted: true },
      { value: '-', quoted: false },
      { value: 'd " e', quoted: true },
    ]);
  });
});

describe('parseAlbLogLines / parseAlbLogObject', () => {
  it('streams a gzip object and names the object and line of a bad entry', async () => {
    const ok = Buffer.from(`${GUIDE_HTTP}\n\n${REFUSED}\n`);
    const entries = [];
    for await (const e of parseAlbLogObject(gzipSync(ok), 'k.log.gz')) entries.push(e);
    expect(entries.map((e) => e.elbStatusCode)).toEqual([200, 502]);

    const bad = gzipSync(Buffer.from(`${GUIDE_HTTP}\nhttp 2018-07-02T22:23:00Z app/x/y\n`));
    const read = async () => {
      for await (const _ of parseAlbLogObject(bad, 'bucket/key.log.gz')) void _;
    };
    await expect(read()).rejects.toThrow(AlbLogError);
    await expect(read()).rejects.toThrow(/^bucket\/key\.log\.gz:2: expected 30 fields .* got 3: missing client:port/);
  });

  it('refuses an object that is not gzip', async () => {
    const read = async () => {
      for await (const _ of parseAlbLogObject(Buffer.from(GUIDE_HTTP), 'plain.log.gz')) void _;
    };
    await expect(read()).rejects.toThrow(/^plain\.log\.gz:0: expected a gzip file of log lines/);
  });

  it('refuses a truncated object rather than reading fewer entries from it', async () => {
    const whole = gzipSync(Buffer.from(Array.from({ length: 200 }, () => `${REFUSED}\n`).join('')));
    const truncated = whole.subarray(0, Math.floor(whole.length * 0.6));
    let read = 0;
    const all = async () => {
      for await (const _ of parseAlbLogObject(truncated, 'cut.log.gz')) read++;
    };
    await expect(all()).rejects.toThrow(/^cut\.log\.gz:0: expected a gzip file of log lines, got: unexpected end of file/);
    expect(read).toBeLessThan(200);
  });

  it('parses lines from any iterable', async () => {
    const out = [];
    for await (const e of parseAlbLogLines([GUIDE_HTTP], 'x')) out.push(e.traceId);
    expect(out).toEqual(['Root=1-58337262-36d228ad5d99923122bbe354']);
  });
});

describe('log object keys', () => {
  it('reads the user guide\'s example file name', () => {
    const key = 'my-prefix/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2016/05/01/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20140215T2340Z_172.160.001.192_20sg8hgm.log.gz';
    expect(parseAlbLogKey(key)).toEqual({
      prefix: 'my-prefix',
      account: '123456789012',
      region: 'us-east-2',
      loadBalancerName: 'my-loadbalancer',
      loadBalancerId: '1234567890abcdef',
      endTimeMs: Date.UTC(2014, 1, 15, 23, 40),
      nodeIp: '172.160.001.192',
      random: '20sg8hgm',
    });
    expect(parseAlbLogKey('AWSLogs/123456789012/ELBAccessLogTestFile')).toBeUndefined();
    expect(parseAlbLogKey(key.replace('_us-east-2_app', '_eu-west-1_app'))).toBeUndefined();
  });

  it('builds the prefix of one day', () => {
    expect(albLogDayPrefix('logs/', '123456789012', 'us-east-1', Date.UTC(2026, 0, 9, 23))).toBe('logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/01/09/');
    expect(albLogDayPrefix('', '1', 'r', 0)).toBe('AWSLogs/1/elasticloadbalancing/r/1970/01/01/');
  });
});
