import { describe, expect, it } from 'vitest';
import { parseAlbLogLine } from '../../../../harness/explain/alb-log.ts';
import { albLogObjectKey, endTimeStamp, formatAlbLogLine, isoMicros, loadBalancerResourceId, targetGroupResourceId, type AlbLogEntry } from '../../../../harness/twin/alb/alb-log.ts';

// The HTTP example of the ALB user guide ("Access log entries", Examples), with the fields added
// since (quoted target lists, classification, conn_trace_id) as current ALBs write them.
const GUIDE_LINE =
  'http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 ' +
  '192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 ' +
  '"GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - ' +
  'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 ' +
  '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" ' +
  '0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234567890abcdef1234567890abcdef';

const guideEntry: AlbLogEntry = {
  time: Date.parse('2018-07-02T22:23:00.186Z') + 0.641,
  elb: 'app/my-loadbalancer/50dc6c495c0c9188',
  client: '192.168.131.39:2817',
  target: '10.0.0.1:80',
  requestProcessingTime: 0,
  targetProcessingTime: 0.001,
  responseProcessingTime: 0,
  elbStatusCode: 200,
  targetStatusCode: 200,
  receivedBytes: 34,
  sentBytes: 366,
  request: 'GET http://www.example.com:80/ HTTP/1.1',
  userAgent: 'curl/7.46.0',
  targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067',
  traceId: 'Root=1-58337262-36d228ad5d99923122bbe354',
  requestCreationTime: Date.parse('2018-07-02T22:22:48.364Z'),
  connTraceId: 'TID_1234567890abcdef1234567890abcdef',
};

describe('ALB access-log entries', () => {
  it("renders the user guide's HTTP example byte for byte", () => {
    expect(formatAlbLogLine(guideEntry)).toBe(GUIDE_LINE);
  });

  it('writes an HTTPS request matched by a rule, and a load-balancer answer, as the explain parser reads them', () => {
    const https = parseAlbLogLine(
      formatAlbLogLine({ ...guideEntry, type: 'https', tls: { domainName: 'shop.example.com', cipher: 'TLS_AES_128_GCM_SHA256', protocol: 'TLSv1.3' }, matchedRulePriority: 3 }),
    );
    expect([https.type, https.domainName, https.sslCipher, https.sslProtocol, https.matchedRulePriority, https.actionsExecuted]).toEqual([
      'https',
      'shop.example.com',
      'TLS_AES_128_GCM_SHA256',
      'TLSv1.3',
      3,
      ['forward'],
    ]);
    const redirect = parseAlbLogLine(formatAlbLogLine({ ...guideEntry, target: '-', targetStatusCode: null, elbStatusCode: 301, targetGroupArn: '', actionExecuted: 'redirect' }));
    expect([redirect.elbStatusCode, redirect.actionsExecuted, redirect.matchedRulePriority]).toEqual([301, ['redirect'], 0]);
  });

  it('writes -1 for the processing times and - for the target status when no target answered', () => {
    const line = formatAlbLogLine({ ...guideEntry, requestProcessingTime: -1, targetProcessingTime: -1, responseProcessingTime: -1, elbStatusCode: 502, targetStatusCode: null });
    expect(line).toContain(' 10.0.0.1:80 -1 -1 -1 502 - 34 366 ');
    expect(line).toContain(' "10.0.0.1:80" "-" "-" "-" TID_');
  });

  it('quotes what the guide quotes, escapes a double quote inside a quoted field and cuts the user agent at 8 KB', () => {
    const line = formatAlbLogLine({ ...guideEntry, userAgent: 'a "quoted" agent' });
    expect(line).toContain(' "a \\"quoted\\" agent" ');
    const long = formatAlbLogLine({ ...guideEntry, userAgent: 'x'.repeat(9000) });
    expect(long).toContain(` "${'x'.repeat(8192)}" `);
    expect(long).not.toContain('x'.repeat(8193));
  });

  it('renders model ms with microseconds', () => {
    expect(isoMicros(Date.parse('2024-05-28T13:34:14.804Z') + 0.475)).toBe('2024-05-28T13:34:14.804475Z');
    expect(isoMicros(Date.parse('2024-05-28T13:34:14Z'))).toBe('2024-05-28T13:34:14.000000Z');
  });
});

describe('ALB access-log file keys', () => {
  it("match the user guide's example file name", () => {
    const key = albLogObjectKey({
      prefix: 'prefix',
      account: '123456789012',
      region: 'us-east-2',
      elb: 'app/my-loadbalancer/1234567890abcdef',
      endTime: Date.parse('2014-02-15T23:40:00Z'),
      deliveredAt: Date.parse('2016-05-01T00:03:00Z'),
      nodeIp: '172.160.001.192',
      random: '20sg8hgm',
    });
    expect(key).toBe(
      'prefix/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2016/05/01/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20140215T2340Z_172.160.001.192_20sg8hgm.log.gz',
    );
  });

  it('start at AWSLogs without a prefix, and the end-time is minutes in UTC', () => {
    const key = albLogObjectKey({ prefix: '', account: '1', region: 'r', elb: 'app/a/b', endTime: 0, deliveredAt: 0, nodeIp: '10.0.0.1', random: 'x' });
    expect(key).toBe('AWSLogs/1/elasticloadbalancing/r/1970/01/01/1_elasticloadbalancing_r_app.a.b_19700101T0000Z_10.0.0.1_x.log.gz');
    expect(endTimeStamp(Date.parse('2024-12-31T23:59:59.999Z'))).toBe('20241231T2359Z');
  });

  it('stamp an interval shorter than a minute with the minute it ends by, never one before its entries', () => {
    const at = (endTime: number) => albLogObjectKey({ prefix: '', account: '1', region: 'r', elb: 'app/a/b', endTime, deliveredAt: endTime, nodeIp: '10.0.0.1', random: 'x' }).match(/_(\d{8}T\d{4}Z)_/)?.[1];
    expect(at(Date.parse('2024-12-31T23:40:20Z'))).toBe('20241231T2341Z');
    expect(at(Date.parse('2024-12-31T23:40:00Z'))).toBe('20241231T2340Z');
  });

  it('take the resource ids of the dimensions from the ARNs', () => {
    expect(loadBalancerResourceId('arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188')).toBe('app/web/50dc6c495c0c9188');
    expect(targetGroupResourceId('arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/73e2d6bc24d8a067')).toBe('targetgroup/tg/73e2d6bc24d8a067');
  });
});
