/** deploy/ kept true: the generated files current, the image's inputs present, and what its pods run. */
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../harness/core/paths.ts';
import { twinWorldText } from '../../../harness/deploy/twin-world.ts';
import { shardFromJobIndex } from '../../../harness/cli/main.ts';
import { loadSpec } from '../../../harness/matrix/load.ts';
import { permissionKey, permissionsOf } from '../../../harness/preflight/permissions.ts';
import { renderRbac } from '../../../harness/preflight/render.ts';
import { expandVars } from '../../../harness/twin/controllers/kubelet/spec.ts';
import { rewritePaths } from '../../../harness/twin/controllers/kubelet/volumes.ts';

const read = (file: string) => readFileSync(path.join(projectRoot, file), 'utf8');

describe('deploy/', () => {
  it('rbac.yaml is what `permissions deploy/base/spec.yaml --format rbac` prints, covering both lanes', async () => {
    const { spec } = await loadSpec(path.join(projectRoot, 'deploy/base/spec.yaml'));
    expect(read('deploy/base/rbac.yaml')).toBe(renderRbac(permissionsOf(spec)));
    const roles = parseAllDocuments(read('deploy/base/rbac.yaml')).map((d) => d.toJS()).filter((o) => o.kind === 'Role');
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['shop', 'shop-2']);
  });

  it("the twin's spec needs no permission the base's rules do not grant", async () => {
    const base = new Set(permissionsOf((await loadSpec(path.join(projectRoot, 'deploy/base/spec.yaml'))).spec).map(permissionKey));
    const twin = permissionsOf((await loadSpec(path.join(projectRoot, 'deploy/twin/spec.yaml'))).spec).map(permissionKey);
    expect(twin.length).toBeGreaterThan(10);
    expect(new Set(twin).size).toBe(twin.length);
    expect(twin.filter((k) => !base.has(k))).toEqual([]);
  });

  it('deploy/twin/world.yaml is the default world with the second stack (npm run deploy:twin-world)', async () => {
    expect(read('deploy/twin/world.yaml')).toBe(await twinWorldText());
  });

  it('every file the Dockerfile copies exists, and every package the CLI imports is a runtime dependency (npm ci --omit=dev)', () => {
    const dockerfile = read('deploy/Dockerfile');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    for (const s of sources) expect(existsSync(path.join(projectRoot, s)), s).toBe(true);
    const deps = Object.keys(JSON.parse(read('package.json')).dependencies);
    const imported = new Set<string>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else if (/\.(ts|mjs|js)$/.test(name)) {
          for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'([^'.][^']*)'/g)) {
            if (m[1].startsWith('node:')) continue;
            imported.add(m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0]);
          }
        }
      }
    };
    for (const d of ['harness', 'bin', 'fixtures/app']) walk(path.join(projectRoot, d));
    // `import type` only: erased by tsx, nothing to install.
    const typeOnly = new Set(['k6']);
    expect([...imported].filter((p) => !deps.includes(p) && !typeOnly.has(p)).sort()).toEqual([]);
  });

  it('kustomize builds base and twin: the CronJob runs an Indexed Job of two shards with the spec ConfigMap mounted', async () => {
    for (const overlay of ['deploy/base', 'deploy/twin']) {
      const built = await execa('kubectl', ['kustomize', overlay], { cwd: projectRoot });
      const objects = parseAllDocuments(built.stdout).map((d) => d.toJS());
      const cron = objects.find((o) => o.kind === 'CronJob');
      const cm = objects.find((o) => o.kind === 'ConfigMap');
      expect(cron.spec.jobTemplate.spec).toMatchObject({ completionMode: 'Indexed', completions: 2, parallelism: 2 });
      const pod = cron.spec.jobTemplate.spec.template.spec;
      expect(pod.serviceAccountName).toBe('rollout-harness');
      expect(pod.containers[0].args).toEqual(expect.arrayContaining(['--shard-of', '2', '--then-merge', '--run-id', '$(JOB_NAME)']));
      expect(pod.volumes.find((v: { name: string }) => v.name === 'spec').configMap.name).toBe(cm.metadata.name);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(Object.keys(cm.data)).toEqual(['spec.yaml']);
    }
  });
});

describe('what the pods run', () => {
  it('--shard-of N takes JOB_COMPLETION_INDEX (0-based) as shard index + 1, and says what it expected otherwise', () => {
    expect(shardFromJobIndex(2, '0')).toEqual({ index: 1, count: 2 });
    expect(shardFromJobIndex(2, '1')).toEqual({ index: 2, count: 2 });
    expect(() => shardFromJobIndex(2, '2')).toThrow(/expected JOB_COMPLETION_INDEX \(set in an Indexed Job's pods\) to be 0…1, got "2"/);
    expect(() => shardFromJobIndex(2, undefined)).toThrow(/got none; outside an Indexed Job use --shard I\/N/);
  });

  it("the kubelet expands $(VAR) as Kubernetes does and rewrites paths under a volume's mount", () => {
    expect(expandVars('--run-id=$(JOB_NAME)', { JOB_NAME: 'nightly-1' })).toBe('--run-id=nightly-1');
    expect(expandVars('$$(JOB_NAME) $(UNSET)', { JOB_NAME: 'x' })).toBe('$(JOB_NAME) $(UNSET)');
    const mounts = [{ mountPath: '/etc/rollout-harness', hostPath: '/state/v/uid/spec' }];
    expect(rewritePaths('/etc/rollout-harness/spec.yaml', mounts)).toBe('/state/v/uid/spec/spec.yaml');
    expect(rewritePaths('--spec=/etc/rollout-harness', mounts)).toBe('--spec=/state/v/uid/spec');
    expect(rewritePaths('/etc/rollout-harness-other/x', mounts)).toBe('/etc/rollout-harness-other/x');
    expect(rewritePaths('run', mounts)).toBe('run');
  });
});
