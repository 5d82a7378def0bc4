import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export { collect, done } from '../../../core/test/events.js';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export const tinyModel = here('../../../core/test/fixtures/tiny');
export const storyModel = here('../../../../models/story');
export const stories260k = here('../../../../../shared/models/stories260k');

const isModelFolder = (dir: string): boolean => existsSync(`${dir}/config.json`) && existsSync(`${dir}/tokenizer.json`) && existsSync(`${dir}/onnx/model.onnx`);

/**
 * Model folders to run the parity checks on: the project's model (`models/story`) when it has
 * been made, the tiny fixture always, and the third-party stories260k when `shared/` has it.
 */
export function modelFolders(): { readonly name: string; readonly dir: string }[] {
  const folders = [{ name: 'tiny fixture', dir: tinyModel }];
  if (isModelFolder(storyModel)) folders.unshift({ name: 'models/story', dir: storyModel });
  else console.warn(`[web tests] ${storyModel} is not a complete model folder yet: parity runs on the tiny fixture${isModelFolder(stories260k) ? ' and stories260k' : ''}.`);
  if (isModelFolder(stories260k)) folders.push({ name: 'stories260k', dir: stories260k });
  else console.warn(`[web tests] ${stories260k} is absent: third-party model parity is skipped.`);
  return folders;
}

/** Largest |a[i] - b[i]|; throws when the lengths differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
