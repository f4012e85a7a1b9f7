// A twin's worker thread starts here: TypeScript sources load through tsx, as in bin/rollout-harness.js.
import { register } from 'tsx/esm/api';

register();
await import('./body.ts');
