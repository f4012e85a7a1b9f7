/**
 * One backend sync of a gateway pod, as ingress-nginx's `syncIngress` decides it: a conf that
 * changed (a new server, location or backend name: an Ingress change) is written and nginx is
 * reloaded ("Configuration changes detected, backend reload required"); endpoints that changed
 * are only posted to nginx's configuration server ("Dynamic reconfiguration succeeded"), with no
 * reload. ingress-nginx internal/ingress/controller/controller.go (syncIngress,
 * IsDynamicConfigurationEnough) and nginx.go (OnUpdate, configureDynamically).
 */

/** What a sync does to one pod's nginx. */
export interface NginxControl {
  /** Writes `conf`, checks it (`nginx -t`) and reloads gracefully: undefined, or nginx's complaint. */
  reload(conf: string): Promise<string | undefined>;
  /** POSTs the backends JSON to `/configuration/backends`: undefined, or what failed. */
  postBackends(json: string): Promise<string | undefined>;
}

/** The controller's klog lines: level, source, message, key-values. */
export type SyncLog = (level: 'I' | 'W' | 'E', source: string, message: string, kv?: Record<string, string | number>) => void;

/** What one sync did: nothing, a post without reload, a reload (and a post when endpoints changed too), or failed (try again later). */
export type SyncOutcome = 'unchanged' | 'dynamic' | 'reloaded' | 'failed';

/** The state nginx was last brought to (its conf, the backends it holds), and the sync that moves it on. */
export class Reconciler {
  readonly #nginx: NginxControl;
  readonly #log: SyncLog;
  #conf: string;
  #backends: string | undefined;

  /** `conf` is what nginx was started with; no backends are posted yet. */
  constructor(nginx: NginxControl, log: SyncLog, conf: string) {
    this.#nginx = nginx;
    this.#log = log;
    this.#conf = conf;
  }

  /** True once nginx holds backends (ingress-nginx's `/is-dynamic-lb-initialized`: its readiness waits for it). */
  get initialized(): boolean {
    return this.#backends !== undefined;
  }

  /** Brings nginx to `conf` and `backends` (`summary` names them in the log): a reload only when the conf differs. */
  async apply(conf: string, backends: string, summary: string): Promise<SyncOutcome> {
    let reloaded = false;
    if (conf !== this.#conf) {
      this.#log('I', 'controller.go:190', 'Configuration changes detected, backend reload required');
      const complaint = await this.#nginx.reload(conf);
      if (complaint !== undefined) {
        // The conf kept is the running one: the next sync tries again.
        this.#log('E', 'controller.go:205', 'Unexpected failure reloading the backend', { err: complaint });
        return 'failed';
      }
      this.#conf = conf;
      reloaded = true;
      this.#log('I', 'controller.go:213', 'Backend successfully reloaded');
    }
    if (backends !== this.#backends) {
      const failure = await this.#nginx.postBackends(backends);
      if (failure !== undefined) {
        this.#log('W', 'controller.go:247', 'Dynamic reconfiguration failed', { err: failure });
        return 'failed';
      }
      this.#backends = backends;
      this.#log('I', 'controller.go:240', 'Dynamic reconfiguration succeeded', { upstreams: summary });
      return reloaded ? 'reloaded' : 'dynamic';
    }
    return reloaded ? 'reloaded' : 'unchanged';
  }
}
