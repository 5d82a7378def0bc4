import type { AttentionRouter } from '../../spec/attention-router.js';
import type { BackendTensor, InferenceSession } from '../../spec/backend.js';
import type { KvCacheStore, KvLayout } from '../../spec/kv-cache.js';
import { float16ToFloat32, float32ToFloat16 } from '../float16.js';
import type { Owned } from '../resolve-components.js';
import { FullPrecisionKvStore } from './full-precision-kv-store.js';
import { runStage } from '../stage-runner.js';

/**
 * Runs a graph whose cache is float16 (fp16 exports) with stores and routers that work in
 * float32: the store's past feeds are converted to float16 for the graph (after any key
 * re-rotation, which works in float32 too), and each step's presents to float32 for the store.
 * Stores and routers see a float32 layout. Both conversions cover the whole cache every step
 * (docs/kv-cache.md has the cost).
 */
export class HalfCacheBridge {
  /** The layout stores and routers are given: the graph's, with a float32 cache. */
  readonly layout: KvLayout;
  private readonly pastNames: readonly string[];

  constructor(graphLayout: KvLayout) {
    const { pastType: _graphType, ...rest } = graphLayout;
    this.layout = rest;
    this.pastNames = [...graphLayout.pastKeyNames, ...graphLayout.pastValueNames];
  }

  /**
   * Replaces the float32 past tensors in `feeds` by float16 copies, and returns the copies (the
   * caller disposes them after the run). A past tensor a store already gives as float16 is fed as it is.
   */
  toGraph(session: Pick<InferenceSession, 'createTensor'>, feeds: Record<string, BackendTensor>): BackendTensor[] {
    const made: BackendTensor[] = [];
    try {
      for (const name of this.pastNames) {
        const tensor = feeds[name];
        if (tensor === undefined || tensor.type !== 'float32') continue;
        const half = session.createTensor('float16', float32ToFloat16(tensor.data as Float32Array), tensor.dims);
        feeds[name] = half;
        made.push(half);
      }
    } catch (error) {
      // The copies made so far would otherwise never be released.
      for (const t of made) t.dispose();
      throw error;
    }
    return made;
  }

  /** Replaces each float16 tensor in `presents` by a float32 copy, disposing the original when `dispose`. */
  fromGraph(session: Pick<InferenceSession, 'createTensor'>, presents: Record<string, BackendTensor>, dispose: boolean): void {
    for (const name in presents) {
      const tensor = presents[name]!;
      if (tensor.type !== 'float16') continue;
      presents[name] = session.createTensor('float32', float16ToFloat32(tensor.data as ArrayLike<number>, 0, tensor.data.length), tensor.dims);
      if (dispose) tensor.dispose();
    }
  }
}

/**
 * Once per run: the bridge a float16 cache needs, or undefined. None for core's default store
 * without a router (it keeps the presents as the graph returns them and never reads them), nor for
 * a store that declares `float16Cache`, unless keys are re-rotated (which works in float32).
 */
export function halfCacheBridge(
  layout: KvLayout,
  kv: Owned<KvCacheStore>,
  router: Owned<AttentionRouter> | undefined,
  rerotates: boolean,
): HalfCacheBridge | undefined {
  if (layout.pastType !== 'float16') return undefined;
  const store = kv.value;
  if (store instanceof FullPrecisionKvStore) return router === undefined ? undefined : new HalfCacheBridge(layout);
  if (!rerotates && servesFloat16(kv)) return undefined;
  return new HalfCacheBridge(layout);
}

/** A store's `float16Cache` flag; a getter that throws is the store's failure, named. */
function servesFloat16(kv: Owned<KvCacheStore>): boolean {
  return runStage(kv.owner, 'kv float16Cache', () => kv.value.float16Cache === true);
}
