import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, definePlugin, type WeftPlugin } from '@weft/core';
import { attentionRouters } from '../src/index.js';

export { collect, done } from '../../../core/test/events.js';

export const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));
export const storyModel = fileURLToPath(new URL('../../../../models/story', import.meta.url));
export const ATTENTIONS_GRAPH = 'onnx/model_with_attentions.onnx';

/** What the feed spy saw per forward pass. */
export interface FeedRecord {
  readonly step: number;
  readonly maskLength: number;
  readonly lastPosition: number;
}

/** Records the attention_mask length and the last position id of every forward pass. */
export function feedSpy(records: FeedRecord[]): WeftPlugin {
  return definePlugin({
    name: 'feed-spy',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.addHooks({
        beforeForward({ step, feeds }) {
          const p = feeds['position_ids']!.data as BigInt64Array;
          records.push({ step, maskLength: feeds['attention_mask']!.dims[1]!, lastPosition: Number(p[p.length - 1]) });
        },
      });
    },
  });
}

export function runtime(plugins: readonly WeftPlugin[] = [attentionRouters()]) {
  return createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), ...plugins] });
}

