import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, type CreateWeftOptions, type GenerationEvent, type WeftPlugin } from '../src/index.js';

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
export const storyModel = fileURLToPath(new URL('../../../models/story', import.meta.url));
export const stories260k = fileURLToPath(new URL('../../../../shared/models/stories260k', import.meta.url));
export const hasStories260k = existsSync(stories260k);
if (!hasStories260k) console.warn(`[weft tests] ${stories260k} is absent: third-party model tests are skipped.`);

/** A runtime with the node backend plus `plugins`. */
export function runtime(plugins: readonly WeftPlugin[] = [], options: Omit<CreateWeftOptions, 'plugins'> = {}) {
  return createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), ...plugins], ...options });
}

export function collect(events: Observable<GenerationEvent>): Promise<GenerationEvent[]> {
  return lastValueFrom(events.pipe(toArray()));
}

export function done(events: readonly GenerationEvent[]) {
  const last = events.at(-1);
  if (last?.type !== 'done') throw new Error(`expected a done event last, got ${last?.type}`);
  return last;
}
