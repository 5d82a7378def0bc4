import type { OwnedHooks } from '../runtime/tokens.js';

/** A runtime's hook sets grouped by the stage they act in. */
export interface StageHooks {
  readonly beforeForward: readonly OwnedHooks[];
  readonly afterForward: readonly OwnedHooks[];
  readonly processLogits: readonly OwnedHooks[];
  readonly afterToken: readonly OwnedHooks[];
}

/** Per runtime hook list: its grouping and the list length it was made at (the list only grows). */
const grouped = new WeakMap<readonly OwnedHooks[], { readonly length: number; readonly stages: StageHooks }>();

/**
 * The hook sets of each stage, grouped once per runtime and again only after a plugin added
 * hooks: a request takes them without filtering (this runs on the path to the first token), and
 * the step loops run over short arrays. A run keeps the grouping it started with.
 */
export function stageHooks(hooks: readonly OwnedHooks[]): StageHooks {
  const cached = grouped.get(hooks);
  if (cached && cached.length === hooks.length) return cached.stages;
  const of = (stage: keyof StageHooks) => Object.freeze(hooks.filter((h) => h.hooks[stage] !== undefined));
  const stages: StageHooks = Object.freeze({
    beforeForward: of('beforeForward'),
    afterForward: of('afterForward'),
    processLogits: of('processLogits'),
    afterToken: of('afterToken'),
  });
  grouped.set(hooks, { length: hooks.length, stages });
  return stages;
}
