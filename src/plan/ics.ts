/**
 * A plan as an iCalendar file (RFC 5545) admins can import: one event per group's renewal window and
 * one per step, lasting from the earliest instant the step can be done to its deadline, with an
 * alarm a day before the deadline. Lines end in CRLF and are folded at 75 octets (never inside a
 * UTF-8 character); times are UTC (`...Z`); UIDs are stable, so importing a newer plan updates the
 * same events; DTSTAMP is the plan's instant (the same plan gives the same file).
 */
import type { Plan, PlanStep } from './plan.js';

/** RFC 5545 3.3.5: a UTC DATE-TIME, 19970714T173000Z. */
export function icsDateTime(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** RFC 5545 3.3.11: backslash, semicolon, comma and newlines escaped. */
export function icsText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

/** RFC 5545 3.1: lines longer than 75 octets are folded (CRLF and one space), between characters. */
export function foldLine(line: string): string {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const char of line) {
    const size = Buffer.byteLength(char, 'utf8');
    const limit = out.length === 0 ? 75 : 74; // a continuation line starts with the space
    if (octets + size > limit) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += char;
    octets += size;
  }
  out.push(current);
  return out.join('\r\n ');
}

function event(lines: string[], uid: string, stamp: string, start: string, end: string, summary: string, description: string, alarm: boolean): void {
  const endAt = Date.parse(end) > Date.parse(start) ? end : new Date(Date.parse(start) + 3_600_000).toISOString();
  lines.push('BEGIN:VEVENT', `UID:${uid}`, `DTSTAMP:${stamp}`, `DTSTART:${icsDateTime(start)}`, `DTEND:${icsDateTime(endAt)}`, `SUMMARY:${icsText(summary)}`, `DESCRIPTION:${icsText(description)}`, 'TRANSP:TRANSPARENT');
  if (alarm) lines.push('BEGIN:VALARM', 'ACTION:DISPLAY', `DESCRIPTION:${icsText(`due: ${summary}`)}`, 'TRIGGER;RELATED=END:-P1D', 'END:VALARM');
  lines.push('END:VEVENT');
}

const uidPart = (text: string) => text.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

export function planToIcs(plan: Plan): string {
  const stamp = icsDateTime(plan.asOf ?? new Date(0).toISOString());
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//rekey//renewal plan//EN', 'CALSCALE:GREGORIAN', 'METHOD:PUBLISH', 'X-WR-CALNAME:rekey renewal plan'];
  for (const group of plan.groups) {
    const next = group.keyVersion + 1;
    const base = `${uidPart(group.name)}-key${group.keyVersion}`;
    const checklist = group.steps.map((step: PlanStep) => `${step.order}. by ${step.by}: ${step.what} (${step.rule})`).join('\n');
    event(lines, `${base}-window@rekey`, stamp, group.window.start, group.window.end, `${group.name}: certificate renewal window (key ${group.keyVersion} to ${next})`, `Machine group ${group.name} renews its certificate between ${group.window.start} and ${group.window.end}.\n${checklist}`, false);
    for (const step of group.steps) {
      event(lines, `${base}-${step.order}-${step.kind}@rekey`, stamp, step.from, step.by, `${group.name} ${step.order}/${group.steps.length}: ${step.what}`, `${step.what}\nfrom ${step.from}, by ${step.by} (${step.rule}).`, true);
    }
  }
  lines.push('END:VCALENDAR');
  return `${lines.map(foldLine).join('\r\n')}\r\n`;
}
