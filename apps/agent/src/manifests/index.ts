export { ManifestJournal, type ManifestJournalOptions } from './journal.js';
export {
  auditDay,
  manifestKey,
  manifestText,
  parseLines,
  type AuditReport,
  type DeletedLine,
  type ListedObject,
  type ManifestLine,
  type UploadedLine,
} from './lines.js';
export {
  auditManifest,
  listObjects,
  publishEndedDays,
  publishManifest,
  type PublishedManifest,
} from './publisher.js';
export { recordingDeliveries, recordUnsent, type UnsentDeletion } from './record.js';
