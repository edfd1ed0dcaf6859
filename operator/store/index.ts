/**
 * The operator's embedded store (libsql, in the data dir): `openStore(dataDir)` takes the data
 * dir's lock (STORE_LOCKED when a live operator holds it; a dead one's is taken over), migrates
 * the schema and offers the inventory per source, the sync history, the node registry,
 * cluster IP / node port allocations and the desired pod assignments. Synchronous API.
 */
export { acquireDataDirLock, type DataDirLock, LOCK_FILE_NAME } from './lock.js';
export { clusterIPCandidates, DEFAULT_NODE_PORT_RANGE, nodePortCandidates } from './ranges.js';
export { applyMigrations, MIGRATIONS, type Migration, schemaVersion } from './schema.js';
export {
  type Allocation,
  type AllocationKind,
  type AppliedObject,
  DATABASE_FILE_NAME,
  type InventoryEntry,
  type NodeRecord,
  type OpenStoreOptions,
  openStore,
  type PodAssignment,
  type Store,
  type SyncFinish,
  type SyncOutcome,
  type SyncRecord,
} from './store.js';
