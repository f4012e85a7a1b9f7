// Types of bin/load.mjs (plain JavaScript: it runs before any TypeScript loader).
export const root: string;
export const ENTRIES: string[];
export const EXTERNAL: string[];
export function fingerprint(projectRoot?: string, bundler?: string): string;
export function cacheDirOf(projectRoot?: string): string;
export function bundle(projectRoot?: string, cacheDir?: string, entries?: string[]): Promise<string | undefined>;
export function loadEntry(relative: string, options?: { projectRoot?: string; tsx?: boolean }): Promise<Record<string, unknown>>;
