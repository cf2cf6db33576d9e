/*
 * csv_export_fdw.h
 *		What every part of csv_export_fdw shares: nothing but the PostgreSQL
 *		version shims.  Each part declares its own API in a header of its own:
 *
 *		option.h			options, resolved and checked
 *		url.h				URLs: checks, joining, origins, redaction
 *		http.h				libcurl transfers (knows nothing of CSV)
 *		pagination.h		a paged export's next page
 *		manifest.h			an export's files, listed by a JSON manifest
 *		decoder.h			streaming decompression (no PostgreSQL)
 *		archive.h			zip and tar members as they arrive (no PostgreSQL)
 *		csv_reader.h		the CSV record reader (no PostgreSQL)
 *		parse_thread.h		the parsing thread (no PostgreSQL)
 *		parse_thread_backend.h	the backend's parsing thread, lent to a stream
 *		record_stream.h		an export's records as the bytes arrive
 *		convert.h			field text into column values
 *		export_scan.h		a foreign table's rows from the records
 *		rejects.h			rows skipped by on_error 'skip'
 *		import.h			IMPORT FOREIGN SCHEMA
 *		privileged.h		statements run as the extension's owner
 *		fetch_check.h		a sync's validators for its next scan (skip_unchanged)
 *		sync_state.h		the state and log of syncs, and how long they are kept
 *		drift.c			an export's columns for a sync that follows them (no header)
 *
 * Calls go down that list's layers: the FDW callbacks (csv_export_fdw.c)
 * and the sync (sync*.c) use export_scan, which uses record_stream and
 * convert; record_stream uses http, pagination, csv_reader, the parsing
 * thread, and the check a sync left in fetch_check; http uses url and
 * option.
 */
#ifndef CSV_EXPORT_FDW_H
#define CSV_EXPORT_FDW_H

#include "compat.h"

#endif							/* CSV_EXPORT_FDW_H */
