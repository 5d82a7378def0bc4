export { WeftError, type WeftErrorCode } from './weft-error.js';
export { ModelLoadError } from './model-load-error.js';
export { InvalidOptionsError } from './invalid-options-error.js';
export { ContextOverflowError } from './context-overflow-error.js';
export { PluginError } from './plugin-error.js';
export { AdapterResolutionError } from './adapter-resolution-error.js';
export { BackendError } from './backend-error.js';
export { ModelDisposedError } from './model-disposed-error.js';
export { RuntimeDisposedError } from './runtime-disposed-error.js';
