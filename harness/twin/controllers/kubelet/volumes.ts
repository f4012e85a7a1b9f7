/**
 * Pod volumes on the twin, where a container is a host process and cannot see a mount: each
 * `configMap` and `emptyDir` volume is a directory of the kubelet's (`<volumesDir>/<pod uid>/<volume>`),
 * and every argument and env value of a container that names a path under one of its
 * `volumeMounts` (`/etc/spec/spec.yaml`, `--results-dir=/results`) is rewritten to that directory.
 * A configMap volume holds one file per key (or per `items` entry, at its `path`), as the kubelet
 * projects them; a ConfigMap that does not exist (and is not `optional`) holds the pod in
 * ContainerCreating with `FailedMount` events until it does, as on a node. Not modelled: subPath,
 * secrets, updates of a mounted ConfigMap after the pod started.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from '../../kube/store.ts';
import type { KubeObject } from '../../kube/types.ts';

/** mountPath → the host directory standing in for it, per container. */
export type Mounts = Array<{ mountPath: string; hostPath: string }>;

/** Prepares the pod's volumes: the directory per volume, or why it cannot yet (a missing ConfigMap). */
export async function prepareVolumes(store: ObjectStore, pod: KubeObject, root: string): Promise<{ dirs: Map<string, string> } | { waiting: string }> {
  const dirs = new Map<string, string>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (const v of (pod.spec?.volumes ?? []) as any[]) {
    const dir = path.join(root, pod.metadata.uid!, String(v.name));
    if (v.configMap) {
      const cm = store.get('configmaps', pod.metadata.namespace, String(v.configMap.name));
      if (!cm && !v.configMap.optional) return { waiting: `MountVolume.SetUp failed for volume "${v.name}" : configmap "${v.configMap.name}" not found` };
      await mkdir(dir, { recursive: true });
      const data = (cm?.data ?? {}) as Record<string, string>;
      const items: Array<{ key: string; path: string }> = v.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        if (!(item.key in data)) {
          if (v.configMap.optional) continue;
          return { waiting: `MountVolume.SetUp failed for volume "${v.name}" : configmap "${v.configMap.name}" has no key "${item.key}"` };
        }
        const file = path.join(dir, item.path);
        if (!file.startsWith(dir + path.sep)) return { waiting: `MountVolume.SetUp failed for volume "${v.name}" : item path "${item.path}" leaves the volume` };
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, data[item.key]);
      }
      dirs.set(String(v.name), dir);
    } else if (v.emptyDir) {
      await mkdir(dir, { recursive: true });
      dirs.set(String(v.name), dir);
    }
  }
  return { dirs };
}

/** A container's mounts that the twin backs with a directory. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function mountsOf(container: any, dirs: Map<string, string>): Mounts {
  const mounts: Mounts = [];
  for (const m of (container.volumeMounts ?? []) as Array<{ name: string; mountPath: string }>) {
    const hostPath = dirs.get(m.name);
    if (hostPath && m.mountPath) mounts.push({ mountPath: m.mountPath.replace(/\/+$/, '') || '/', hostPath });
  }
  // The longest mount path first: /data/x before /data.
  return mounts.sort((a, b) => b.mountPath.length - a.mountPath.length);
}

/** `text` with each path under a mount (whole, or after `=`) rewritten to the mount's directory. */
export function rewritePaths(text: string, mounts: Mounts): string {
  for (const { mountPath, hostPath } of mounts) {
    const escaped = mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const re = new RegExp(`(^|=)${escaped}(?=/|$)`);
    if (re.test(text)) return text.replace(re, (_, lead: string) => `${lead}${hostPath}`);
  }
  return text;
}

/** Removes the pod's volume directories. */
export async function removeVolumes(root: string, uid: string): Promise<void> {
  await rm(path.join(root, uid), { recursive: true, force: true });
}
