import { InvalidOptionsError } from '../../errors/invalid-options-error.js';
import type { AttentionRouter } from '../../spec/attention-router.js';
import type { KvCacheStore, KvLayout } from '../../spec/kv-cache.js';
import type { Owned } from '../resolve-components.js';
import { FullPrecisionKvStore } from './full-precision-kv-store.js';

/**
 * Once per run: a graph whose cache is float16 runs only with core's default store, which keeps
 * the presents as the graph returns them and never reads them. Other stores and attention routers
 * read keys and values as float32 and would misread float16 bits, so they are refused up front.
 */
export function checkCacheType(layout: KvLayout, kv: Owned<KvCacheStore>, router: Owned<AttentionRouter> | undefined): void {
  if (layout.pastType !== 'float16') return;
  if (!(kv.value instanceof FullPrecisionKvStore)) {
    throw new InvalidOptionsError(
      `This model's graph caches keys and values as float16, which only the built-in store "fp32" runs (it feeds back the presents as the graph returns them); ` +
        `the kv store "${kv.value.name}" reads them as float32. Pass kv: 'fp32', or use the model's fp32 export to compress its cache.`,
      { option: 'kv' },
    );
  }
  if (router !== undefined) {
    throw new InvalidOptionsError(
      `This model's graph caches keys and values as float16; attention routers (here "${router.value.name}") read them as float32. Run it without a router, or use the model's fp32 export.`,
      { option: 'router' },
    );
  }
}
