/**
 * @weft/plugin-kv — KV-cache compressors for Weft: `fp16`, `int8`, `int4`, `kivi` (2-bit, KIVI) and
 * `temporal` (precision falls with age), every one able to evict (`retain`) for attention routers.
 */
export { kvCompressors, kvQuant, KV_COMPRESSORS, KV_QUANT_ENTRY, VERSION, type KvCompressorsOptions, type KvQuantOptions } from './plugin.js';
export {
  Fp16KvStore,
  Int8KvStore,
  Int4KvStore,
  KiviKvStore,
  TemporalKvStore,
  type Fp16KvOptions,
  type IntKvOptions,
  type KiviKvOptions,
  type TemporalKvOptions,
} from './stores/stores.js';
export { LaneKvStore, type KvPart } from './stores/lane-kv-store.js';
export { validateOptions, describeOptions, type OptionRule, type OptionRules } from './options.js';
export type { Lane } from './lanes/lane.js';
export { Fp32Lane } from './lanes/fp32-lane.js';
export { Fp16Lane } from './lanes/fp16-lane.js';
export { GroupLane } from './lanes/group-lane.js';
export { ChannelBlockLane } from './lanes/channel-block-lane.js';
export { TieredLane, type Tier } from './lanes/tiered-lane.js';
export { PaddedLane } from './lanes/padded-lane.js';
export { toHalf, fromHalf, halfFloor, halfCeil, halfTable, encodeFp16, decodeFp16 } from './quant/fp16.js';
export { pack, unpack, packedBytes, packInt4, unpackInt4, packInt2, unpackInt2, type PackBits } from './quant/pack.js';
export {
  quantizeGroups,
  dequantize,
  quantizeRun,
  dequantizeRun,
  GroupParams,
  type QuantizedGroups,
  type QuantizeOptions,
  type QuantBits,
  type ParamPrecision,
  type GroupView,
} from './quant/groups.js';
