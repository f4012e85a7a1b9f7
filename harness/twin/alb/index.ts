/** The ALB twin's public surface: the twin itself, its access-log writer and its types. */
export { createAlbTwin, type AlbTwin, type AlbTwinDeps, type RoutePreview } from './twin.ts';
export { createAccessLogWriter, type AccessLogWriter } from './access-log.ts';
export { AlbError, type AlbErrorCode } from './errors.ts';
export { LB_NODE_HEADER } from './data-plane.ts';
export type * from './types.ts';
