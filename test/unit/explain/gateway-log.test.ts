/** The gateway access-log parser: ingress-nginx's upstreaminfo and Istio's Envoy TEXT format, on hand-written fixtures. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatewayLogError, lineEndMs, outcomeOf, parseGatewayLog, parseNginxLine } from '../../../harness/explain/gateway-log.ts';
import { projectRoot } from '../../../harness/core/paths.ts';

const fixture = (name: string) => readFileSync(path.join(projectRoot, 'fixtures/gateway-logs', name), 'utf8');
const at = (s: string) => Date.parse(s);

describe('parseGatewayLog (ingress-nginx upstreaminfo)', () => {
  const { lines, other } = parseGatewayLog(fixture('nginx-upstreaminfo.log'), 'nginx', 'pod ingress-nginx/gw-1');

  it('parses every access line and counts the controller\'s own lines', () => {
    expect(lines).toHaveLength(7);
    expect(other).toBe(6);
    expect(lines[0]).toMatchObject({
      format: 'nginx',
      line: 6,
      loggedMs: at('2026-10-01T12:00:03.004Z'),
      timeMs: at('2026-10-01T12:00:03Z'),
      method: 'GET',
      path: '/a?x=1',
      status: 200,
      userAgent: 'rollout-harness/0.1.0 run-1/cell-1',
      requestId: '5f1c0e9c1d2a4b3c8e7f6a5b4c3d2e1f',
      durationSeconds: 0.004,
      upstream: 'shop-web-80',
      tries: [{ addr: '10.0.0.4:8080', status: 200, responseTime: 0.004, responseLength: 2 }],
    });
  });

  it('splits the tries of "a, b" lists, one value per try in each list', () => {
    expect(lines[2].tries).toEqual([
      { addr: '10.0.0.1:8080', status: 502, responseTime: 0, responseLength: 0 },
      { addr: '10.0.0.4:8080', status: 200, responseTime: 0.004, responseLength: 2 },
    ]);
    expect(lines[3].tries.map((t) => t.addr)).toEqual(['10.0.0.1:8080', '10.0.0.5:8080', '10.0.0.1:8080']);
  });

  it('reads "-" as no upstream try', () => {
    expect(lines[5]).toMatchObject({ status: 503, tries: [] });
    expect(lines[6]).toMatchObject({ path: '/healthz', upstream: null, tries: [] });
  });

  it('says what each line\'s own record shows: retried, no upstream, unanswered, the upstream\'s 5xx', () => {
    expect(lines.map(outcomeOf)).toEqual(['ok', 'upstream-5xx', 'retried', 'upstream-unanswered', 'upstream-unanswered', 'no-upstream', 'ok']);
  });

  it('keeps the kubelet\'s time as the end of the request (to the ms), else nginx\'s whole second', () => {
    expect(lineEndMs(lines[3])).toBe(at('2026-10-01T12:00:11.502Z'));
    expect(lineEndMs({ ...lines[3], loggedMs: undefined })).toBe(at('2026-10-01T12:00:11Z'));
  });

  it('reads the " : " of an internal redirect as one more try, and nginx\'s escapes in quoted fields', () => {
    const l = parseNginxLine('10.0.1.10 - - [01/Oct/2026:12:00:03 +0100] "GET /q?a=\\x22b\\x22 HTTP/1.1" 200 2 "-" "ua \\"x\\"" 112 0.004 [shop-web-80] [] 10.0.0.1:8080 : 10.0.0.4:8080 0 : 2 0.000 : 0.004 502 : 200 abc');
    expect(l.timeMs).toBe(at('2026-10-01T11:00:03Z'));
    expect(l.path).toBe('/q?a="b"');
    expect(l.userAgent).toBe('ua "x"');
    expect(l.tries.map((t) => t.status)).toEqual([502, 200]);
  });

  it('names the source, the line and what was expected for a line that does not follow the format', () => {
    const text = [
      '2026-10-01T12:00:03.004000000Z 10.0.1.10 - - [01/Oct/2026:12:00:03 +0000] "GET / HTTP/1.1" 200 2 "-" "ua" 112 0.004 [shop-web-80] [] 10.0.0.4:8080 2 0.004 200 id1',
      '2026-10-01T12:00:03.005000000Z 10.0.1.10 - - [01/Oct/2026:12:00:03 +0000] "GET / HTTP/1.1" 200 2 "-" "ua" 112 0.004 [shop-web-80] 10.0.0.4:8080 2 0.004 200 id2',
    ].join('\n');
    expect(() => parseGatewayLog(text, 'nginx', 'pod ingress-nginx/gw-1')).toThrow(GatewayLogError);
    expect(() => parseGatewayLog(text, 'nginx', 'pod ingress-nginx/gw-1')).toThrow(/^pod ingress-nginx\/gw-1:2: expected ingress-nginx's upstreaminfo format/);
  });

  it('refuses lists of different lengths and a bad time, naming the field', () => {
    expect(() => parseNginxLine('1.2.3.4 - - [01/Oct/2026:12:00:03 +0000] "GET / HTTP/1.1" 502 2 "-" "ua" 1 0.004 [u] [] 10.0.0.1:8080, 10.0.0.4:8080 0 0.000, 0.004 502, 200 id')).toThrow(
      'expected one value per upstream try in each of $upstream_addr, $upstream_response_length, $upstream_response_time, $upstream_status, got $upstream_addr 2, $upstream_response_length 1',
    );
    expect(() => parseNginxLine('1.2.3.4 - - [01/Okt/2026:12:00:03 +0000] "GET / HTTP/1.1" 200 2 "-" "ua" 1 0.004 [u] [] - - - - id')).toThrow('$time_local: expected dd/Mon/yyyy:hh:mm:ss ±hhmm, got "01/Okt/2026:12:00:03 +0000"');
    expect(() => parseNginxLine('1.2.3.4 - - [01/Oct/2026:12:00:03 +0000] "GET / HTTP/1.1" 200 2 "-" "ua" 1 0.004 [u] [] 10.0.0.1:8080 0 0.000 abc id')).toThrow('$upstream_status: expected an integer ≥ 0 or -, got "abc"');
  });
});

describe('parseGatewayLog (Istio Envoy TEXT)', () => {
  const { lines, other } = parseGatewayLog(fixture('envoy-istio.log'), 'envoy', 'pod istio-system/ingressgateway-1');

  it('parses the default format: start, path, code, flags, duration, user agent, request id, the upstream host and cluster', () => {
    expect(other).toBe(0);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({
      format: 'envoy',
      timeMs: at('2026-10-01T12:00:03.001Z'),
      loggedMs: at('2026-10-01T12:00:03.005Z'),
      path: '/a?x=1',
      status: 200,
      flags: [],
      details: 'via_upstream',
      durationSeconds: 0.004,
      userAgent: 'rollout-harness/0.1.0 run-1/cell-1',
      requestId: '8c1f0e2a-6a77-4c1e-9c0b-6f2d7a1b2c3d',
      upstream: 'outbound|80||web.shop.svc.cluster.local',
      tries: [{ addr: '10.0.0.4:8080', status: null, responseTime: null, responseLength: null }],
    });
    expect(lines[1].flags).toEqual(['UF', 'URX']);
  });

  it('reads the outcome from the response flags: UF/URX no answer, UH no healthy upstream, none the upstream\'s own 5xx', () => {
    expect(lines.map(outcomeOf)).toEqual(['ok', 'upstream-unanswered', 'no-upstream', 'upstream-5xx']);
  });

  it('names the line and the format expected for a line that does not follow it', () => {
    const bad = '[2026-10-01T12:00:03.001Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 2 4 3 "10.0.1.10" "ua"';
    expect(() => parseGatewayLog(`${fixture('envoy-istio.log')}${bad}\n`, 'envoy', 'gw')).toThrow(/^gw:5: expected Istio's Envoy TEXT format/);
  });
});
