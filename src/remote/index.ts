/**
 * rekey over the network: the service's machine API (a fastify plugin), the agent process that talks
 * to it, the agent's key store file, and the test clock the service can run faster than real time.
 */
export { machineApi, machineView, MachineApiError, type MachineApiOptions, type MachineApiPlugin } from './machineApi.js';
export { engineAccess, type EngineAccess, type EngineAccessOptions } from './engineAccess.js';
export { RunQueue, type RunQueueOptions, type RunRequest } from './runQueue.js';
export { Admission, DEFAULT_ADMISSION_LIMITS, RateLimiter, RateLimitedError, addressKey, type AdmissionLimits, type RateLimit } from './rateLimit.js';
export { memoryNonceLedger, nonceLedgerFor, sqliteNonceLedger, type NonceLedger } from './nonceLedger.js';
export { CredentialRegistry, CREDENTIAL_EVENT, CREDENTIAL_STREAM_PREFIX, type MachineCredential } from './credentials.js';
export { fastClock, serviceClockFromOptions, systemServiceClock, MAX_CLOCK_SPEED, TEST_CLOCK_REFUSED, type FastClock, type FastClockOptions, type ServiceClock, type ServiceClockFlags } from './clock.js';
export { MachineClient, RemoteError, SERVER_UNREACHABLE, signedHeaders, type Signer } from './client.js';
export { Keystore, KEYSTORE_CORRUPT, KEYSTORE_PASSPHRASE_INCORRECT, type HeldGroupKey, type KeystoreContents } from './keystore.js';
export { RemoteAgent, runAgent, DEFAULT_AGENT_VERSION, AGENT_GROUP_REQUIRED, KEYSTORE_MISMATCH, type AgentEvent, type AgentProcessOptions } from './agentProcess.js';
export { generateSigningKey, signingKeyFrom, signingKeyThumbprint, signRequest, verifyRequest, canonicalRequest, type SigningKeyPair } from './signing.js';
export { secretFrom, SECRET_REQUIRED, type SecretSource } from './secretInput.js';
export * from './protocol.js';
