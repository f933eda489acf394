import type { Command } from 'commander';
import type { RecordedEvent } from '../../store/port.js';
import { parseInstantArgument, parseInteger } from '../arguments.js';
import { printLine } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

/** One event as `rekey events --json` prints it: one JSON object per line. */
export function eventLine(event: RecordedEvent): Record<string, unknown> {
  return {
    position: event.position,
    stream: event.stream,
    revision: event.revision,
    type: event.type,
    occurredAt: event.metadata.occurredAt,
    recordedAt: event.recordedAt,
    data: event.data,
    metadata: event.metadata,
    hash: event.hash,
  };
}

function describe(event: RecordedEvent): string {
  const data = event.data as Record<string, unknown>;
  const subject = data.machine ?? data.name ?? (data.version !== undefined ? `v${String(data.version)}` : data.keyVersion !== undefined ? `key v${String(data.keyVersion)}` : '');
  return `${String(event.position).padStart(7)}  ${event.metadata.occurredAt}  ${event.type.padEnd(28)} ${String(subject).padEnd(16)} ${event.stream}`;
}

export function eventsCommand(program: Command): void {
  withStoreOptions(
    program
      .command('events')
      .description('the audit log: every event in log order')
      .option('--stream <name>', 'only the events of one stream (group-<id>, connection-<id>, machine-<id>)')
      .option('--from-position <n>', 'start at this log position (1 is the first event)')
      .option('--until <instant>', 'stop after the last event that occurred at or before this instant')
      .option('--json', 'JSON lines, one event each'),
  )
    .addHelpText('after', `
Examples:
  rekey events --db /tmp/healthy.db | head
  rekey events --json --until 2031-01-01T00:00:00Z | jq -c 'select(.type == "KeyIssued")'`)
    .action(async (options: { stream?: string; fromPosition?: string; until?: string; json?: boolean; db?: string; eventstore?: string }) => {
      const from = options.fromPosition === undefined ? 1 : parseInteger('--from-position', options.fromPosition, 1, Number.MAX_SAFE_INTEGER);
      const until = options.until === undefined ? Infinity : parseInstantArgument('--until', options.until);
      const store = await openStore(options, { mustExist: true });
      try {
        const print = (event: RecordedEvent) => printLine(options.json ? JSON.stringify(eventLine(event)) : describe(event));
        if (options.stream !== undefined) {
          for (const event of await store.readStream(options.stream)) {
            if (event.position < from) continue;
            if (Date.parse(event.metadata.occurredAt) > until) break;
            print(event);
          }
          return;
        }
        for (let position = from; ; ) {
          const page = await store.readAll(position, 2000);
          for (const event of page) {
            if (Date.parse(event.metadata.occurredAt) > until) return;
            print(event);
          }
          if (page.length < 2000) return;
          position = page[page.length - 1]!.position + 1;
        }
      } finally {
        await store.close();
      }
    });
}
