/**
 * The package's main-thread entry, `tether/runtime`: the actor runtime and
 * the supervisors in one import, for a project that builds its own tree.
 * (runtime/ may not import supervisors/, so the two meet here, above both.)
 * Actor modules import `tether/actor` instead (runtime/actor-entry.ts),
 * which loads nothing a worker does not use.
 */
export * from '../runtime/index.js';
export * from '../supervisors/index.js';
