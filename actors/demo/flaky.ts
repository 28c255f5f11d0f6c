/**
 * The demo tree's actor: counts ticks, and crashes, hangs or exits now and
 * then (as the demo asks), so a newcomer sees supervision at work.
 */
import { defineActor } from '../../runtime/actor-entry.js';
import type { ActorContext, ApiOf } from '../../runtime/actor-entry.js';

const flaky = defineActor((ctx: ActorContext<unknown>) => {
  let ticks = 0;
  return {
    handlers: {
      tick: () => (ticks += 1),
      crash: () => {
        setImmediate(() => {
          throw new Error(`demo crash after ${ticks} ticks`);
        });
      },
      hang: () => {
        setImmediate(() => {
          while (true);
        });
      },
      exitNormally: () => ctx.exit('normal'),
    },
  };
});

export default flaky;
export type FlakyApi = ApiOf<typeof flaky>;
export const FLAKY_MODULE = new URL('./flaky.js', import.meta.url).href;
