import type { BackendTensor } from '../../spec/backend.js';
import type { KvCacheInit, KvCacheStore, KvLayout } from '../../spec/kv-cache.js';

/**
 * Default store: keeps each step's `present.*` tensors exactly as the backend returned them and
 * feeds them back as the next `past_key_values.*`, with no copy through JavaScript arrays.
 */
export class FullPrecisionKvStore implements KvCacheStore {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'fp32';
  private layout: KvLayout | undefined;
  private past: Record<string, BackendTensor> = {};
  private cached = 0;

  get length(): number {
    return this.cached;
  }

  begin(init: KvCacheInit): void {
    this.dispose();
    this.layout = init.layout;
    const dims = [init.batchSize, init.layout.numKvHeads, 0, init.layout.headDim];
    for (const name of [...init.layout.pastKeyNames, ...init.layout.pastValueNames]) {
      this.past[name] = init.session.createTensor('float32', new Float32Array(0), dims);
    }
  }

  materialize(): Readonly<Record<string, BackendTensor>> {
    return this.past;
  }

  append(presents: Readonly<Record<string, BackendTensor>>): void {
    const layout = this.layout;
    if (!layout) throw new Error('FullPrecisionKvStore.append called before begin');
    const next: Record<string, BackendTensor> = {};
    const take = (pastNames: readonly string[], presentNames: readonly string[]): void => {
      pastNames.forEach((pastName, i) => {
        const tensor = presents[presentNames[i]!];
        if (!tensor) throw new Error(`The step did not return ${presentNames[i]}`);
        next[pastName] = tensor;
      });
    };
    take(layout.pastKeyNames, layout.presentKeyNames);
    take(layout.pastValueNames, layout.presentValueNames);
    for (const t of Object.values(this.past)) t.dispose();
    this.past = next;
    this.cached = next[layout.pastKeyNames[0]!]?.dims[2] ?? 0;
  }

  bytes(): number {
    let total = 0;
    for (const t of Object.values(this.past)) total += t.data.byteLength;
    return total;
  }

  dispose(): void {
    for (const t of Object.values(this.past)) t.dispose();
    this.past = {};
    this.cached = 0;
  }
}
