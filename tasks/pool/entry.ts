/** The pool worker module of the service: piscina loads it in each pool thread. */
import { BACKUP_JOBS } from './backup-jobs.js';
import { poolWorker } from './worker.js';

export default poolWorker(BACKUP_JOBS);
