import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from './helpers.js';
import type { FamilyFiles } from './tokenizer-family-fixtures.js';

/**
 * A temporary copy of the tiny ONNX fixture with a family's tokenizer files, generation config and
 * config.json token ids (every family id is below the fixture's vocabulary of 1024). The caller
 * removes the folder.
 */
export function tinyFolderWith(f: FamilyFiles, prefix = `weft-${f.name}-`): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(fixture('tiny'), dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...f.configIds }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(f.tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(f.tokenizerConfig));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(f.generationConfig));
  return dir;
}
