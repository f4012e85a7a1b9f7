/** pods/log over raw HTTP: PodLogOptions, the API server's and kubelet's 400s, a followed log's chunked stream. */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { ManualClock } from '../../../harness/core/clock.ts';
import { createKubernetesAdapter } from '../../../harness/platform/kubernetes/adapter.ts';
import { ContainerLog, type LogRequest, type LogSource } from '../../../harness/twin/runtime/logs.ts';
import { runningPod, startApiFixture, T0, type ApiFixture } from './fixture.ts';

let fx: ApiFixture;
let clock: ManualClock;
/** The hook's answers: a log per `pod/container[/previous]`, or the kubelet's message. */
let kubelet: Map<string, LogSource | string>;
let asked: LogRequest[];
let followers: number;
const open: http.ClientRequest[] = [];

/** A log whose follow() counts its live followers, to see that a client that leaves is let go. */
function counted(log: ContainerLog): LogSource {
  return {
    lines: () => log.lines(),
    get ended() {
      return log.ended;
    },
    follow(onLine, onEnd) {
      followers++;
      let live = true;
      const stop = log.follow(onLine, () => {
        if (live) followers--;
        live = false;
        onEnd();
      });
      return () => {
        if (live) followers--;
        live = false;
        stop();
      };
    },
  };
}

function write(log: ContainerLog, text: string): void {
  log.append({ time: clock.now(), stream: 'stdout', text });
}

beforeEach(async () => {
  clock = new ManualClock(T0);
  kubelet = new Map();
  asked = [];
  followers = 0;
  fx = await startApiFixture({
    clock,
    logs: (req) => {
      asked.push(req);
      return kubelet.get(`${req.name}/${req.container}${req.previous ? '/previous' : ''}`) ?? `container "${req.container}" in pod "${req.name}" is not available`;
    },
  });
});
afterEach(async () => {
  for (const r of open.splice(0)) r.destroy();
  await fx.close();
});

async function get(path: string) {
  const res = await fetch(`${fx.api.url}${path}`);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, json: () => JSON.parse(text) };
}

/** A streaming GET: its headers, the text so far, and when it ends. */
function stream(path: string): Promise<{ headers: http.IncomingHttpHeaders; status: number; text: () => string; ended: Promise<void>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${fx.api.url}${path}`, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      resolve({ headers: res.headers, status: res.statusCode ?? 0, text: () => text, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    open.push(req);
  });
}

const LOG = '/api/v1/namespaces/default/pods/web-1/log';

describe('pods/log', () => {
  let log: ContainerLog;
  beforeEach(async () => {
    log = new ContainerLog();
    kubelet.set('web-1/app', counted(log));
    write(log, 'one');
    await clock.advance(1000);
    write(log, 'two');
    await clock.advance(1000);
    write(log, 'three');
  });

  it('answers the only container’s lines as plain text', async () => {
    const r = await get(LOG);
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('text/plain');
    expect(r.text).toBe('one\ntwo\nthree\n');
    expect(asked).toEqual([{ namespace: 'default', name: 'web-1', uid: fx.store.get('pods', 'default', 'web-1')!.metadata.uid, container: 'app', previous: false }]);
  });

  it('prefixes model-clock timestamps in RFC 3339 with nanoseconds', async () => {
    expect((await get(`${LOG}?timestamps=true`)).text).toBe(
      '2024-06-01T12:00:00.000000000Z one\n2024-06-01T12:00:01.000000000Z two\n2024-06-01T12:00:02.000000000Z three\n',
    );
  });

  it('selects with tailLines, sinceSeconds (model time), sinceTime and limitBytes', async () => {
    expect((await get(`${LOG}?tailLines=2`)).text).toBe('two\nthree\n');
    expect((await get(`${LOG}?tailLines=0`)).text).toBe('');
    await clock.advance(500);
    // now = T0 + 2.5 s: the last 2 s hold "two" (T0+1 s) and "three" (T0+2 s).
    expect((await get(`${LOG}?sinceSeconds=2`)).text).toBe('two\nthree\n');
    expect((await get(`${LOG}?sinceSeconds=1`)).text).toBe('three\n');
    expect((await get(`${LOG}?sinceTime=2024-06-01T12:00:01Z`)).text).toBe('two\nthree\n');
    expect((await get(`${LOG}?limitBytes=6`)).text).toBe('one\ntw');
  });

  it('refuses invalid PodLogOptions with 422 Invalid, and what does not parse with 400', async () => {
    const negative = await get(`${LOG}?tailLines=-1`);
    expect(negative.status).toBe(422);
    expect(negative.json()).toMatchObject({ kind: 'Status', reason: 'Invalid', message: 'PodLogOptions "web-1" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0' });
    const both = await get(`${LOG}?sinceSeconds=5&sinceTime=2024-06-01T12:00:01Z`);
    expect(both.status).toBe(422);
    expect(both.json().message).toContain('at most one of `sinceTime` or `sinceSeconds` may be specified');
    expect((await get(`${LOG}?limitBytes=0`)).status).toBe(422);
    const garbled = await get(`${LOG}?sinceTime=yesterday`);
    expect(garbled.status).toBe(400);
    expect(garbled.json().message).toBe('expected sinceTime in RFC 3339 (2006-01-02T15:04:05Z), got "yesterday"');
    expect((await get(`${LOG}?tailLines=ten`)).status).toBe(400);
  });

  it('asks for the container of a pod with several, and refuses an unknown one', async () => {
    const pod = runningPod('multi', 'node-a1');
    pod.spec.containers.push({ name: 'sidecar', image: 'fixtures/app' });
    fx.store.create('pods', pod);
    const none = await get('/api/v1/namespaces/default/pods/multi/log');
    expect(none.status).toBe(400);
    expect(none.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400, message: 'a container name must be specified for pod multi, choose one of: [app sidecar]' });
    const unknown = await get(`${LOG}?container=nope`);
    expect(unknown.status).toBe(400);
    expect(unknown.json().message).toBe('container nope is not valid for pod web-1');
    kubelet.set('multi/sidecar', log);
    expect((await get('/api/v1/namespaces/default/pods/multi/log?container=sidecar')).text).toBe('one\ntwo\nthree\n');
  });

  it('passes the kubelet’s reason on as a 400, and 404s for a missing pod', async () => {
    kubelet.set('web-2/app', 'container "app" in pod "web-2" is waiting to start: ContainerCreating');
    const waiting = await get('/api/v1/namespaces/default/pods/web-2/log');
    expect(waiting.status).toBe(400);
    expect(waiting.json()).toMatchObject({ reason: 'BadRequest', message: 'container "app" in pod "web-2" is waiting to start: ContainerCreating' });
    const previous = await get(`${LOG}?previous=true`);
    expect(previous.status).toBe(400);
    expect(asked.at(-1)).toMatchObject({ previous: true });
    expect((await get('/api/v1/namespaces/default/pods/gone/log')).status).toBe(404);
    expect((await fetch(`${fx.api.url}${LOG}`, { method: 'POST' })).status).toBe(405);
  });

  it('is read by the harness\'s Kubernetes port: timestamps, sinceSeconds, previous, and a gone pod as a 404', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(fx.kubeconfig);
    const k8s = createKubernetesAdapter(kc, clock);
    const before = new ContainerLog();
    kubelet.set('web-1/app/previous', before);
    write(before, 'zero');
    await clock.advance(500);
    // Whole seconds, at least 1 (the API refuses 0): the last second holds "three".
    expect(await k8s.readPodLog('default', 'web-1', { timestamps: true, sinceSeconds: 0.4 })).toBe('2024-06-01T12:00:02.000000000Z three\n');
    expect(await k8s.readPodLog('default', 'web-1', { container: 'app', previous: true })).toBe('zero\n');
    expect(asked.at(-1)).toMatchObject({ container: 'app', previous: true });
    await expect(k8s.readPodLog('default', 'gone', { timestamps: true })).rejects.toMatchObject({ status: 404 });
  });

  it('answers nothing for a pod no node has yet', async () => {
    const pod = runningPod('pending', 'node-a1');
    delete pod.spec.nodeName;
    fx.store.create('pods', pod);
    const r = await get('/api/v1/namespaces/default/pods/pending/log');
    expect([r.status, r.text]).toEqual([200, '']);
  });

  it('follows: chunked, the tail first, then new lines, until the container ends', async () => {
    const s = await stream(`${LOG}?follow=true&tailLines=1`);
    expect(s.status).toBe(200);
    expect(s.headers['transfer-encoding']).toBe('chunked');
    expect(s.headers['content-type']).toBe('text/plain');
    await vi.waitFor(() => expect(s.text()).toBe('three\n'));
    write(log, 'four');
    await vi.waitFor(() => expect(s.text()).toBe('three\nfour\n'));
    expect(followers).toBe(1);
    log.end();
    await s.ended;
    expect(s.text()).toBe('three\nfour\n');
    expect(followers).toBe(0);
  });

  it('lets go of a follower whose client went away, and ends a follow at limitBytes', async () => {
    const s = await stream(`${LOG}?follow=true`);
    await vi.waitFor(() => expect(followers).toBe(1));
    s.close();
    await vi.waitFor(() => expect(followers).toBe(0));
    const limited = await stream(`${LOG}?follow=true&limitBytes=16`);
    write(log, 'four');
    write(log, 'five');
    await limited.ended;
    expect(limited.text()).toBe('one\ntwo\nthree\nfo');
    expect(followers).toBe(0);
  });

  it('ends every follow when the server closes', async () => {
    const s = await stream(`${LOG}?follow=true`);
    await vi.waitFor(() => expect(followers).toBe(1));
    await fx.api.close();
    await s.ended;
    expect(followers).toBe(0);
  });
});
