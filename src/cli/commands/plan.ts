/** `rekey plan [--as-of T] [--json] [--ics FILE]`: the admin checklist as a plan (src/plan/plan.ts). */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RekeyError } from '../../kernel/errors.js';
import { planToIcs } from '../../plan/ics.js';
import { parseInstantArgument } from '../arguments.js';
import { openTarget, withTargetOptions, type TargetOptions } from '../adminOptions.js';
import { alignedTable, printJson, printLine } from '../output.js';

export function planCommand(program: Command): void {
  withTargetOptions(
    program
      .command('plan')
      .description("the seed's admin checklist as a plan: for each group's next renewal window, the machines to bring online and the connections to run, in order, with deadlines")
      .option('--as-of <instant>', 'plan as of this instant (default: the head of the log)')
      .option('--ics <file>', 'also write the plan as an iCalendar file (RFC 5545) to import into a calendar'),
  )
    .addHelpText('after', `
Examples:
  rekey plan --db /tmp/branch.db --as-of 2030-06-01T00:00:00Z
  rekey plan --ics renewals.ics
  rekey plan --json | jq '.groups[].steps[] | select(.kind == "bringOnline")'`)
    .action(async (options: TargetOptions & { asOf?: string; ics?: string }) => {
      const asOf = options.asOf === undefined ? undefined : parseInstantArgument('--as-of', options.asOf);
      const target = openTarget(options);
      try {
        const plan = await target.plan(asOf);
        if (options.ics !== undefined) {
          try {
            writeFileSync(options.ics, planToIcs(plan));
          } catch (error) {
            throw new RekeyError('ARGUMENT_INVALID', `--ics ${options.ics} cannot be written (${(error as NodeJS.ErrnoException).code ?? 'error'}); expected a path to a new or existing file`, { file: options.ics }, 'validation');
          }
        }
        if (options.json) {
          printJson(plan);
          return;
        }
        printLine(`plan as of ${plan.asOf ?? 'the start of the log'}${options.ics !== undefined ? ` (also written to ${options.ics})` : ''}`);
        for (const group of plan.groups) {
          printLine();
          printLine(`${group.name}: renewal of key version ${group.keyVersion}, window ${group.window.start} .. ${group.window.end}${group.window.underWay ? ' (under way)' : ''}`);
          printLine(alignedTable(['  #', 'from', 'by', 'rule', 'what'], group.steps.map((step) => [`  ${step.order}`, step.from, step.by, step.rule, step.what])));
        }
        for (const skipped of plan.skipped) printLine(`\n${skipped.name}: nothing to plan: ${skipped.reason}`);
      } finally {
        await target.close();
      }
    });
}
