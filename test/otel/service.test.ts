/**
 * Telemetry of the real service (four actors in worker threads) against the
 * simulator, exported over OTLP/HTTP (JSON) to a receiver inside the test:
 * every assertion is on what actually arrived.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { CommanderApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import { ATTR, EVENTS, METRICS, SPANS } from '../../otel/names.js';
import { withService } from '../e2e/harness.js';
import { OtlpReceiver, otelEnv } from './receiver.js';
import type { ReceivedPoint, ReceivedSpan } from './receiver.js';

const ATTEMPT_STEPS = [
  SPANS.discovery,
  SPANS.connect,
  SPANS.handshake,
  SPANS.syncSetClock,
  SPANS.syncLoadBlocks,
  SPANS.syncReadTrace,
  SPANS.syncSynchronize,
];

async function withReceiver(body: (receiver: OtlpReceiver) => Promise<void>): Promise<void> {
  const receiver = await OtlpReceiver.start();
  try {
    await body(receiver);
  } finally {
    await receiver.close();
  }
}

function point(receiver: OtlpReceiver, metric: string, match: (p: ReceivedPoint) => boolean = () => true) {
  return (): ReceivedPoint | undefined => receiver.points.find((p) => p.metric === metric && match(p));
}

describe('telemetry of the device service', () => {
  it('a run to Synchronized exports the attempt trace: its named spans under the root in order, made in workers with the same trace id, phase changes as events on the root', () =>
    withReceiver((receiver) =>
      withService(
        async ({ phases, logs }) => {
          await phases.waitFor('Synchronized');
          const root = await receiver.waitFor('an attempt reaching Synchronized', () =>
            receiver
              .spansNamed(SPANS.attempt)
              .find((s) => s.attributes[ATTR.attemptOutcome] === 'synchronized'),
          );
          const inTrace = (name: string): ReceivedSpan | undefined =>
            receiver.spans.find((s) => s.name === name && s.traceId === root.traceId);
          await receiver.waitFor('every span of the attempt', () =>
            ATTEMPT_STEPS.every((name) => inTrace(name) !== undefined) ? true : undefined,
          );
          const steps = ATTEMPT_STEPS.map((name) => inTrace(name) as ReceivedSpan);
          for (const step of steps) {
            assert.equal(step.parentSpanId, root.spanId, `${step.name} is a child of the attempt root`);
            assert.equal(step.traceId, root.traceId);
          }
          // Made in the connection and synchronization workers, exported by the main thread's exporter.
          assert.equal(inTrace(SPANS.connect)?.attributes[ATTR.actorId], 'connection');
          assert.equal(inTrace(SPANS.handshake)?.attributes[ATTR.actorId], 'synchronization');
          assert.equal(root.resource['service.name'], 'tether');
          assert.equal(inTrace(SPANS.connect)?.resource['service.name'], 'tether');
          // In order: each step starts after the one before it ended (a span's start is Date.now(),
          // to the millisecond, and its end is measured from there: allow that millisecond).
          for (let i = 1; i < steps.length; i += 1) {
            const before = steps[i - 1] as ReceivedSpan;
            const step = steps[i] as ReceivedSpan;
            assert.ok(
              step.startNs + 1_000_000n >= before.endNs,
              `${step.name} starts after ${before.name} ended`,
            );
          }
          assert.ok(root.endNs >= (steps.at(-1) as ReceivedSpan).startNs);
          const handshake = inTrace(SPANS.handshake) as ReceivedSpan;
          assert.equal(typeof handshake.attributes[ATTR.firmwareVersion], 'string');
          assert.equal(typeof handshake.attributes[ATTR.protocolVersion], 'string');
          assert.equal(handshake.attributes[ATTR.deviceId], root.attributes[ATTR.deviceId]);
          assert.equal(typeof handshake.attributes[ATTR.handshakeAttempts], 'number');
          assert.equal(inTrace(SPANS.connect)?.attributes[ATTR.transport], 'tcp');

          // Sync-step commands run in the commander worker, as children of the step (another worker).
          const setClock = inTrace(SPANS.syncSetClock) as ReceivedSpan;
          const command = receiver.spans.find(
            (s) => s.name === SPANS.command && s.parentSpanId === setClock.spanId,
          );
          assert.ok(command, 'the set-clock command is a child of its step');
          assert.equal(command.traceId, root.traceId);
          assert.equal(command.attributes[ATTR.opcode], 'BLOCK_WRITE');
          assert.equal(command.attributes[ATTR.result], 'ok');
          assert.equal(typeof command.attributes[ATTR.msgId], 'number');
          assert.equal(command.attributes[ATTR.actorId], 'commander');
          const write = await receiver.waitFor('the command write', () =>
            receiver.spans.find((s) => s.name === SPANS.write && s.parentSpanId === command.spanId),
          );
          assert.equal(write.attributes[ATTR.actorId], 'connection');
          assert.equal(write.traceId, root.traceId);

          const events = root.events.filter((e) => e.name === EVENTS.phase);
          assert.deepEqual(
            events.map(
              (e) => `${String(e.attributes[ATTR.phaseFrom])}->${String(e.attributes[ATTR.phaseTo])}`,
            ),
            ['Disconnected->Connected', 'Connected->Acknowledged', 'Acknowledged->Synchronized'],
          );
          for (const event of events) {
            assert.equal(event.attributes[ATTR.generation], 1);
            assert.equal(typeof event.attributes[ATTR.phaseReason], 'string');
            assert.equal(typeof event.attributes[ATTR.previousPhaseMs], 'number');
          }

          // An actor's log line made inside the attempt carries its trace id.
          const connected = logs.find((l) => l['actor'] === 'connection' && l['msg'] === 'connected');
          assert.equal(connected?.['trace_id'], root.traceId);
          assert.equal(typeof connected?.['span_id'], 'string');
        },
        // With write spans (off by default), a step's command reaches a third worker in its trace.
        { telemetryEnv: otelEnv(receiver.endpoint), config: { telemetry: { writeSpans: true } } },
      ),
    ));

  it('a command asked from the main thread is a span in its trace carrying what the connection wrote (no write span by default), and the metrics arrive with their names and attributes', () =>
    withReceiver((receiver) =>
      withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
          const asker = trace.getTracer('test');
          const askerSpan = await asker.startActiveSpan('test.api.request', async (span) => {
            await commander.call('request', 'BLOCK_LIST', undefined);
            span.end();
            return span.spanContext();
          });
          const command = await receiver.waitFor('the BLOCK_LIST command span', () =>
            receiver.spans.find(
              (s) => s.name === SPANS.command && s.attributes[ATTR.opcode] === 'BLOCK_LIST',
            ),
          );
          assert.equal(command.traceId, askerSpan.traceId);
          assert.equal(command.parentSpanId, askerSpan.spanId);
          assert.equal(command.attributes[ATTR.result], 'ok');
          assert.equal(typeof command.attributes[ATTR.latencyMs], 'number');
          assert.equal(typeof command.attributes[ATTR.frameBytes], 'number');

          const expectations: Array<[string, (p: ReceivedPoint) => boolean]> = [
            [METRICS.phase, (p) => p.attributes[ATTR.phase] === 'Synchronized' && p.value === 1],
            [METRICS.phase, (p) => p.attributes[ATTR.phase] === 'Disconnected' && p.value === 0],
            [METRICS.timeToSynchronized, (p) => p.value >= 1 && p.unit === 's'],
            [
              METRICS.commandDuration,
              (p) =>
                p.attributes[ATTR.opcode] === 'BLOCK_LIST' &&
                p.attributes[ATTR.result] === 'ok' &&
                p.unit === 'ms',
            ],
            [METRICS.framesIn, (p) => p.value >= 3],
            [METRICS.framesOut, (p) => p.value >= 3],
            [METRICS.badFrames, (p) => p.attributes[ATTR.frameError] === 'crc'],
            [METRICS.heartbeat, (p) => p.attributes[ATTR.actorId] === 'commander' && p.value >= 1],
          ];
          for (const [metric, match] of expectations) {
            await receiver.waitFor(`metric ${metric}`, point(receiver, metric, match));
          }
          assert.equal(
            receiver.points.find((p) => p.metric === METRICS.phase)?.resource['service.name'],
            'tether',
          );
          // By now (several metric exports later) the connection has handed over what it had.
          assert.equal(
            receiver.spans.filter((s) => s.name === SPANS.write).length,
            0,
            'no write spans unless telemetry.writeSpans',
          );
        },
        {
          telemetryEnv: otelEnv(receiver.endpoint),
          config: {
            supervision: { children: { commander: { heartbeat: { intervalMs: 200, timeoutMs: 2000 } } } },
          },
        },
      ),
    ));

  it('over OTLP/protobuf (the default) the spans made in workers arrive in the trace of those of the main thread, tagged with their actor, under the service resource', () =>
    withReceiver((receiver) =>
      withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          const root = await receiver.waitFor('an attempt reaching Synchronized', () =>
            receiver
              .spansNamed(SPANS.attempt)
              .find((s) => s.attributes[ATTR.attemptOutcome] === 'synchronized'),
          );
          const connect = await receiver.waitFor('the connect span', () =>
            receiver.spans.find((s) => s.name === SPANS.connect && s.traceId === root.traceId),
          );
          assert.equal(connect.parentSpanId, root.spanId);
          assert.equal(connect.attributes[ATTR.actorId], 'connection');
          assert.equal(connect.attributes[ATTR.transport], 'tcp');
          assert.equal(connect.resource['service.name'], 'tether');
          assert.equal(connect.scope, 'tether');
          assert.ok(connect.endNs >= connect.startNs && connect.startNs >= root.startNs);

          const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
          const askerSpan = await trace
            .getTracer('test')
            .startActiveSpan('test.api.request', async (span) => {
              await commander.call('request', 'BLOCK_LIST', undefined);
              span.end();
              return span.spanContext();
            });
          const command = await receiver.waitFor('the BLOCK_LIST command span', () =>
            receiver.spans.find(
              (s) => s.name === SPANS.command && s.attributes[ATTR.opcode] === 'BLOCK_LIST',
            ),
          );
          assert.equal(command.traceId, askerSpan.traceId);
          assert.equal(command.parentSpanId, askerSpan.spanId);
          assert.equal(command.kind, 3, 'CLIENT, as OTLP numbers it');
          assert.equal(command.attributes[ATTR.actorId], 'commander');
          assert.equal(command.attributes[ATTR.result], 'ok');
          assert.equal(typeof command.attributes[ATTR.msgId], 'number');
          assert.equal(typeof command.attributes[ATTR.latencyMs], 'number');
          const write = await receiver.waitFor('its write in the connection worker', () =>
            receiver.spans.find((s) => s.name === SPANS.write && s.parentSpanId === command.spanId),
          );
          assert.equal(write.traceId, askerSpan.traceId);
          assert.equal(write.attributes[ATTR.actorId], 'connection');
          assert.equal(typeof write.attributes[ATTR.frameBytes], 'number');
        },
        {
          telemetryEnv: otelEnv(receiver.endpoint, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }),
          config: { telemetry: { writeSpans: true } },
        },
      ),
    ));

  it('a crashed actor gives a restart span with status ERROR and the exception; a silent controller gives a disconnect span with its reason, linked to the attempt it ended', () =>
    withReceiver((receiver) =>
      withService(
        async ({ phases, service, sim }) => {
          await phases.waitFor('Synchronized');
          assert.equal(service.system.injectFault(ACTOR_IDS.commander, 'crash'), true);
          const restart = await receiver.waitFor('the restart span', () =>
            receiver.spans.find(
              (s) => s.name === SPANS.restart && s.attributes[ATTR.childId] === 'commander',
            ),
          );
          assert.equal(restart.status.code, SpanStatusCode.ERROR);
          assert.equal(restart.attributes[ATTR.exitReason], 'crash');
          assert.equal(restart.attributes[ATTR.supervisor], 'device');
          assert.equal(restart.attributes[ATTR.strategy], 'rest_for_one');
          assert.deepEqual(restart.attributes[ATTR.restartedChildren], ['commander', 'synchronization']);
          const exception = restart.events.find((e) => e.name === 'exception');
          assert.ok(exception, 'the exception is recorded');
          assert.match(String(exception.attributes['exception.message']), /injected crash/);
          await receiver.waitFor('restarts by child and reason', () =>
            receiver.points.find(
              (p) =>
                p.metric === METRICS.restarts &&
                p.attributes[ATTR.childId] === 'commander' &&
                p.attributes[ATTR.exitReason] === 'crash',
            ),
          );

          await phases.waitFor('Synchronized', 15_000, phases.changes.length - 1);
          const mark = phases.mark();
          sim.faults.silent = true;
          const down = await phases.waitFor('Disconnected', 10_000, mark);
          const disconnect = await receiver.waitFor('the disconnect span', () =>
            receiver.spans.find(
              (s) => s.name === SPANS.disconnect && s.attributes[ATTR.disconnectReason] === down.reason,
            ),
          );
          assert.equal(disconnect.attributes[ATTR.disconnectCategory], 'controller_silent');
          assert.equal(disconnect.attributes[ATTR.phaseFrom], 'Synchronized');
          assert.equal(disconnect.status.code, SpanStatusCode.ERROR);
          assert.equal(typeof disconnect.attributes[ATTR.failedCommands], 'number');
          const synchronizedAttempts = receiver
            .spansNamed(SPANS.attempt)
            .filter((s) => s.attributes[ATTR.attemptOutcome] === 'synchronized');
          const ended = synchronizedAttempts.at(-1) as ReceivedSpan;
          assert.deepEqual(
            disconnect.links.map((l) => l.spanId),
            [ended.spanId],
          );
          // It opens the next attempt's trace, which explains why that attempt began.
          const next = await receiver.waitFor('the attempt after the disconnect', () => {
            sim.faults.silent = false;
            return receiver.spans.find(
              (s) => s.name === SPANS.attempt && s.spanId === disconnect.parentSpanId,
            );
          });
          assert.equal(next.traceId, disconnect.traceId);
          await receiver.waitFor('disconnects by category', () =>
            receiver.points.find(
              (p) =>
                p.metric === METRICS.disconnects &&
                p.attributes[ATTR.disconnectCategory] === 'controller_silent',
            ),
          );
        },
        {
          telemetryEnv: otelEnv(receiver.endpoint),
          config: {
            supervision: { children: { commander: { heartbeat: { intervalMs: 200, timeoutMs: 600 } } } },
          },
        },
      ),
    ));

  it('with the receiver down the service keeps running, and the export failures are logged once', async () => {
    const receiver = await OtlpReceiver.start();
    const endpoint = receiver.endpoint;
    await receiver.close();
    await withService(
      async ({ phases, service, logs }) => {
        await phases.waitFor('Synchronized');
        const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
        for (let i = 0; i < 20; i += 1) await commander.call('request', 'BLOCK_LIST', undefined);
        // Failures keep coming (a span batch every 100 ms, metrics every 500 ms); only the first is logged.
        const deadline = Date.now() + 5000;
        while (!logs.some((l) => l['event'] === 'telemetry-export-failed') && Date.now() < deadline) {
          await commander.call('request', 'BLOCK_LIST', undefined);
        }
        await commander.call('request', 'BLOCK_LIST', undefined);
        assert.equal(logs.filter((l) => l['event'] === 'telemetry-export-failed').length, 1);
        assert.equal(service.kernel.state.phase.name, 'Synchronized');
      },
      { telemetryEnv: otelEnv(endpoint) },
    );
  });
});
