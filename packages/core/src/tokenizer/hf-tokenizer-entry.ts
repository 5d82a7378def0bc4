import { ModelLoadError } from '../errors/model-load-error.js';
import type { AdapterEntry } from '../spec/registry.js';
import type { Tokenizer, TokenizerFiles } from '../spec/tokenizer.js';
import { HfTokenizer } from './hf-tokenizer.js';

/** Registry name of core's tokenizer (`tokenizer.json` + Jinja chat template). */
export const DEFAULT_TOKENIZER = 'huggingface';

/** The `tokenizer` entry core registers in every runtime (priority 0). */
export const hfTokenizerEntry: AdapterEntry<Tokenizer, TokenizerFiles> = {
  name: DEFAULT_TOKENIZER,
  priority: 0,
  description: 'Hugging Face tokenizer.json with the chat template of chat_template.jinja or tokenizer_config.json',
  create(files?: TokenizerFiles): Tokenizer {
    if (files === undefined) throw new ModelLoadError('The huggingface tokenizer needs the model folder\'s files: create it with a TokenizerFiles object.');
    const path = files.resolve('tokenizer.json');
    if (files.tokenizerJson === undefined) throw new ModelLoadError(`Cannot read ${path}: the model folder needs tokenizer.json.`, { path });
    const chatTemplate = files.chatTemplate === undefined ? undefined : { source: files.chatTemplate, path: files.resolve('chat_template.jinja') };
    return new HfTokenizer(files.tokenizerJson, files.tokenizerConfig, path, files.resolve('tokenizer_config.json'), chatTemplate);
  },
};
