export { nodeBackend, type NodeBackendOptions } from './node-backend-plugin.js';
export { NodeBackendAdapter, toOrtOptions } from './node-backend-adapter.js';
export { NodeSession } from './node-session.js';
