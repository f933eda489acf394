/**
 * GET /metrics: Prometheus text format (prom-client), computed from the tables at the head of the log
 * on every scrape, plus the process metrics prom-client collects by default. The output passes
 * `promtool check metrics` (test/api/metrics.promtool.test.ts):
 * - base units only: durations in seconds, instants as `_timestamp_seconds` (Unix seconds, like
 *   cert-manager's certmanager_certificate_expiration_timestamp_seconds), so alert rules compare them
 *   with `time()` (docs/alerts.md);
 * - `_total` only on counters (prom-client's `nodejs_active_*_total` gauges are left out; their
 *   per-type `nodejs_active_*` gauges stay);
 * - every counter has a sample from the first scrape on (0 for each outcome), so `rate()` and
 *   `increase()` see the first event;
 * - `rekey_group_ready_status{group, condition}` in the style of cert-manager's
 *   certmanager_certificate_ready_status: 1 for the group's condition (True, False, Unknown), 0 for
 *   the other two.
 * Labels are group and machine names.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Row } from '../../projections/index.js';
import type { ApiContext } from './context.js';
import { renewalStarts } from './renewals.js';

const STATUS_LABELS: Record<number, string> = { 1: 'Default', 2: 'PendingNewKey', 3: 'KeyExpired' };
const CONDITIONS = ['True', 'False', 'Unknown'] as const;
/** prom-client gauges whose names end in `_total`, which Prometheus keeps for counters. */
const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * Ready (True) while the group has a live key and every member can use it; not ready (False) once its
 * key expired (R16) or a member was left with KeyExpired and must rejoin (R15); Unknown before its
 * first key (no machine joined yet, R7).
 */
export function readyCondition(group: Row, memberStatuses: readonly number[]): (typeof CONDITIONS)[number] {
  if (group.statuscode === 4) return 'False';
  if (group.primarypublickey === null || group.primarypublickey === undefined) return 'Unknown';
  return memberStatuses.includes(3) ? 'False' : 'True';
}

export interface ApiMetrics {
  readonly registry: Registry;
  readonly webhookAttempts: Counter<'outcome'>;
  readonly webhookDeliveries: Counter<'outcome'>;
  /** Brings every gauge up to the head of the log, then renders the registry. */
  render(): Promise<string>;
}

const seconds = (value: unknown): number | null => (typeof value === 'string' ? Date.parse(value) / 1000 : null);

export function createMetrics(ctx: ApiContext): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });

  const info = gauge('rekey_group_info', 'A machine group (1), with its id and renewal state (None, Renewing, Expired).', ['group', 'group_id', 'renewal_state']);
  const created = gauge('rekey_group_key_creation_timestamp_seconds', 'Creation of the group\'s primary key (keycreationdate).', ['group']);
  const expires = gauge('rekey_group_key_expiration_timestamp_seconds', 'Expiry (notAfter) of the group\'s primary key (rekey_keyexpirydate).', ['group']);
  const renewalStart = gauge('rekey_group_renewal_start_timestamp_seconds', 'Start of the group\'s next renewal (rekey_nextrenewaldate).', ['group']);
  const windowStart = gauge('rekey_group_renewal_window_start_timestamp_seconds', 'Start of the renewal window under way (only during a renewal).', ['group']);
  const windowEnd = gauge('rekey_group_renewal_end_timestamp_seconds', 'End of the renewal window under way, when the old key retires (rekey_renewalendsat; only during a renewal).', ['group']);
  const renewing = gauge('rekey_group_renewing', '1 while the group is in a renewal window.', ['group']);
  const expired = gauge('rekey_group_key_expired', '1 when the group\'s key expired because nobody renewed it (statuscode KeyExpired).', ['group']);
  const regenerate = gauge('rekey_group_password_regeneration_required', '1 while the portal shows the key icon: regenerate the group password before adding a machine.', ['group']);
  const validity = gauge('rekey_group_key_validity_period_seconds', 'keyvalidityperiod of the group, in seconds (the table holds minutes).', ['group']);
  const grace = gauge('rekey_group_key_expiry_grace_period_seconds', 'keyexpirygraceperiod of the group, in seconds (the table holds minutes).', ['group']);
  const ready = gauge('rekey_group_ready_status', 'Whether the group is ready (condition True: a live key every member holds; False: key expired or a member must rejoin; Unknown: no key yet), 1 for its condition and 0 for the others.', ['group', 'condition']);
  const members = gauge('rekey_group_members', 'Machines in the group.', ['group']);
  const byStatus = gauge('rekey_group_machines', 'Machines of the group per key delivery status (Default, PendingNewKey, KeyExpired).', ['group', 'keydeliverystatus']);
  const machineStatus = gauge('rekey_machine_key_delivery_status', 'Key delivery status of a member: 1 Default, 2 PendingNewKey, 3 KeyExpired.', ['group', 'machine']);
  const heartbeat = gauge('rekey_machine_last_heartbeat_timestamp_seconds', 'Last check-in of a machine (lastheartbeatdate).', ['group', 'machine']);
  const deadline = gauge('rekey_machine_renewal_deadline_timestamp_seconds', 'For a machine still PendingNewKey: the end of the window, by which it must have checked in.', ['group', 'machine']);
  const connections = gauge('rekey_connections', 'Desktop flow connections per target group (empty for a lone machine) and status (Connected, Fix connection).', ['group', 'status']);
  const position = gauge('rekey_log_position', 'Position of the last event in the log.', []);
  const logTime = gauge('rekey_log_time_seconds', 'Latest occurredAt in the log (the instant derived columns are evaluated at).', []);
  const webhookAttempts = new Counter({ name: 'rekey_webhook_attempts_total', help: 'Webhook POSTs by outcome (success, failure).', labelNames: ['outcome'] as const, registers: [registry] });
  const webhookDeliveries = new Counter({ name: 'rekey_webhook_deliveries_total', help: 'Webhook deliveries by final outcome (delivered, failed, dropped).', labelNames: ['outcome'] as const, registers: [registry] });
  for (const outcome of ['success', 'failure']) webhookAttempts.inc({ outcome }, 0);
  for (const outcome of ['delivered', 'failed', 'dropped']) webhookDeliveries.inc({ outcome }, 0);
  const perScrape = [info, created, expires, renewalStart, windowStart, windowEnd, renewing, expired, regenerate, validity, grace, ready, members, byStatus, machineStatus, heartbeat, deadline, connections];

  const update = async () => {
    const snapshot = await ctx.tables({});
    const starts = await renewalStarts(ctx.store, snapshot);
    for (const metric of perScrape) metric.reset();
    const groupById = new Map<string, Row>();
    for (const group of snapshot.tables.flowmachinegroups) {
      const name = String(group.name);
      groupById.set(String(group.flowmachinegroupid), group);
      info.set({ group: name, group_id: String(group.flowmachinegroupid), renewal_state: String(group.rekey_renewalstate) }, 1);
      const set = (metric: Gauge<'group'>, value: number | null) => {
        if (value !== null && Number.isFinite(value)) metric.set({ group: name }, value);
      };
      set(created, seconds(group.keycreationdate));
      set(expires, seconds(group.rekey_keyexpirydate));
      set(renewalStart, seconds(group.rekey_nextrenewaldate));
      set(windowEnd, seconds(group.rekey_renewalendsat));
      set(windowStart, seconds(starts.get(String(group.flowmachinegroupid))));
      set(renewing, group.rekey_renewalstate === 'Renewing' ? 1 : 0);
      set(expired, group.statuscode === 4 ? 1 : 0);
      set(regenerate, group.rekey_passwordregenerationrequired === true ? 1 : 0);
      set(validity, Number(group.keyvalidityperiod) * 60);
      set(grace, Number(group.keyexpirygraceperiod) * 60);
      set(members, 0);
      for (const label of Object.values(STATUS_LABELS)) byStatus.set({ group: name, keydeliverystatus: label }, 0);
    }
    const statusesOf = new Map<string, number[]>();
    const groupOfMachine = new Map<string, string>();
    for (const machine of snapshot.tables.flowmachines) {
      const group = groupById.get(String(machine._flowmachinegroupid_value));
      if (!group) continue;
      const labels = { group: String(group.name), machine: String(machine.name) };
      groupOfMachine.set(labels.machine, labels.group);
      members.inc({ group: labels.group });
      const status = typeof machine.keydeliverystatus === 'number' ? machine.keydeliverystatus : null;
      if (status !== null) {
        statusesOf.set(labels.group, [...(statusesOf.get(labels.group) ?? []), status]);
        machineStatus.set(labels, status);
        byStatus.inc({ group: labels.group, keydeliverystatus: STATUS_LABELS[status] ?? String(status) });
      }
      const beat = seconds(machine.lastheartbeatdate);
      if (beat !== null) heartbeat.set(labels, beat);
      const end = seconds(group.rekey_renewalendsat);
      if (status === 2 && end !== null) deadline.set(labels, end);
    }
    for (const group of snapshot.tables.flowmachinegroups) {
      const condition = readyCondition(group, statusesOf.get(String(group.name)) ?? []);
      for (const each of CONDITIONS) ready.set({ group: String(group.name), condition: each }, each === condition ? 1 : 0);
    }
    for (const connection of snapshot.tables.desktopflowconnections) {
      const group = connection.targettype === 'group' ? String(connection.targetname) : groupOfMachine.get(String(connection.targetname)) ?? '';
      connections.inc({ group, status: String(connection.status) });
    }
    position.set(snapshot.position);
    const instant = seconds(snapshot.instant);
    if (instant !== null) logTime.set(instant);
  };

  return {
    registry,
    webhookAttempts,
    webhookDeliveries,
    async render() {
      await update();
      return registry.metrics();
    },
  };
}
