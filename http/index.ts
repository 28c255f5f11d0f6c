/** The HTTP API: health, readiness, status, tree, events, commands and operator actions. */
export { startHttpApi } from './server.js';
export type { HttpApi, HttpApiOptions } from './server.js';
export { assertNotExposed, isLoopback } from './auth.js';
export * from './errors.js';
export type { ComponentView, StatusView, TreeNodeView, TreeView, TransitionView } from './views.js';
