/*
 * sync_state.h
 *		The state and log of syncs (csv_export._run_start, _run_claim,
 *		_run_finish), and how long the log is kept.
 */
#ifndef CSV_EXPORT_SYNC_STATE_H
#define CSV_EXPORT_SYNC_STATE_H

extern void sync_state_define_gucs(void);

#endif							/* CSV_EXPORT_SYNC_STATE_H */
