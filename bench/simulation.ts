/**
 * Simulation speed on the reference fleet, with real RSA-2048 keys, against the crypto floor measured
 * in the same run: keys generated x time per key / 2 cores (keys come from a pool generating on both
 * cores) + RSA decryptions x time per decryption + password packages opened x time per open (both on
 * the simulation's one thread). The target: the whole run within 1.5x of that floor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createGroupCertificate, createPasswordPackage, decryptCredential, encryptCredential, generateKeyPair, openPasswordPackage, pooledKeyPairSource,
} from '../src/crypto/index.js';
import { simulate } from '../src/simulation/simulator.js';
import { openSqliteEventStore } from '../src/store/sqlite.js';
import { referenceFleet, type ReferenceFleetOptions } from './referenceFleet.js';

async function timePerOperation(count: number, operation: () => unknown | Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await operation();
  return (performance.now() - t0) / count;
}

export async function benchSimulation(options: ReferenceFleetOptions = {}) {
  const scenario = referenceFleet(options);
  // Crypto unit costs, measured now on this machine.
  const msPerKey = await timePerOperation(6, () => generateKeyPair());
  const pair = await generateKeyPair();
  const certificate = createGroupCertificate({ keyPair: pair, groupName: 'bench', version: 1, notBefore: '2026-01-01T00:00:00Z', notAfter: '2031-01-01T00:00:00Z' });
  const envelope = encryptCredential(certificate.pem, { username: 'u', password: 'p' });
  const msPerDecryption = await timePerOperation(300, () => decryptCredential(envelope, pair.privateKey));
  const pkcs12 = createPasswordPackage({ privateKey: pair.privateKey, certificatePem: certificate.pem, password: 'bench' });
  const msPerPackageOpen = await timePerOperation(20, () => openPasswordPackage(pkcs12, 'bench'));

  const dir = mkdtempSync(join(tmpdir(), 'rekey-bench-sim-'));
  const store = openSqliteEventStore({ file: join(dir, 'bench.db') });
  const keys = pooledKeyPairSource({ size: 16 });
  const result = await simulate(scenario, { store, keys });
  const wallSeconds = result.wallMilliseconds / 1000;
  const counts = result.engine.fleet.eventCounts;
  const count = (type: string) => counts.get(type) ?? 0;
  const events = await store.headPosition();
  await store.close();
  rmSync(dir, { recursive: true, force: true });

  const keysGenerated = count('KeyIssued') + count('MachineRegistered');
  const decryptions = count('ConnectionRun') + count('MachineKeyDelivered') + count('ConnectionReencrypted');
  const packagesOpened = count('MachineJoined') + count('MachineRejoined') - scenario.groups.length;
  const floorSeconds = (keysGenerated * msPerKey / 2 + decryptions * msPerDecryption + packagesOpened * msPerPackageOpen) / 1000;
  const machineYears = scenario.machines.length * (scenario.end - scenario.start) / (365 * 24 * 3600 * 1000);
  return {
    groups: scenario.groups.length,
    machines: scenario.machines.length,
    connections: scenario.connections.length,
    years: Math.round((scenario.end - scenario.start) / (365 * 24 * 3600 * 1000)),
    events,
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    machineYearsPerSecond: Math.round(machineYears / wallSeconds),
    eventsPerSecond: Math.round(events / wallSeconds),
    keysGenerated,
    decryptions,
    packagesOpened,
    msPerKey: Math.round(msPerKey * 10) / 10,
    msPerDecryption: Math.round(msPerDecryption * 100) / 100,
    msPerPackageOpen: Math.round(msPerPackageOpen * 10) / 10,
    cryptoFloorSeconds: Math.round(floorSeconds * 10) / 10,
    ratioToCryptoFloor: Math.round((wallSeconds / floorSeconds) * 100) / 100,
    target: 'ratioToCryptoFloor <= 1.5',
  };
}
