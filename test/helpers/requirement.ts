/**
 * Tests that need something of the machine the project does not ship (a third-party CLI, Chromium,
 * per-pod loopback addresses, procfs): outside CI a missing one skips them, with a warning that says
 * how to get it; in CI (`CI` set, as `.ci/run` sets it) they run and fail, saying what is missing,
 * so that CI never passes by skipping.
 */

/** True when `CI` is set to anything but "", "0" or "false" (how CI services and `.ci/run` say it). */
export const inCi = !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());

/** What the machine must have for some tests. */
export interface Requirement {
  /** Whether the tests that need it run: it is there, or CI is set (then they fail in `check`). */
  readonly run: boolean;
  /** Throws, in a test or a hook, when it is missing: what was expected and how to get it. */
  check(): void;
}

/** A requirement of `what`, found or not by the caller's probe; `howToGet` names the install step. */
export function requirement(what: string, available: boolean, howToGet: string): Requirement {
  if (!available && !inCi) console.warn(`skipped: the tests that need ${what} (not found; ${howToGet}). With CI set they fail instead.`);
  return {
    run: available || inCi,
    check() {
      if (!available) throw new Error(`Expected ${what} on this machine, found none (CI is set, so the tests that need it fail rather than skip): ${howToGet}`);
    },
  };
}
