/*
 * compat.h
 *		What differs between the PostgreSQL major versions csv_export_fdw
 *		builds against (15, 16, 17 and 18), in one place.  Each shim names
 *		the version that needs it; the code calls the shim, never the
 *		version-specific function.
 */
#ifndef CSV_EXPORT_COMPAT_H
#define CSV_EXPORT_COMPAT_H

/* 18: ExplainState and the ExplainProperty*() functions have headers of their own */
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif

/* 17 adds fdw_restrictinfo to create_foreignscan_path(), 18 disabled_nodes */
#if PG_VERSION_NUM >= 180000
#define compat_create_foreignscan_path(root, rel, rows, startup, total, required_outer) \
	create_foreignscan_path((root), (rel), NULL, (rows), 0, (startup), (total), NIL, \
							(required_outer), NULL, NIL, NIL)
#elif PG_VERSION_NUM >= 170000
#define compat_create_foreignscan_path(root, rel, rows, startup, total, required_outer) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), NIL, \
							(required_outer), NULL, NIL, NIL)
#else
#define compat_create_foreignscan_path(root, rel, rows, startup, total, required_outer) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), NIL, \
							(required_outer), NULL, NIL)
#endif

/* 18: vacuum_delay_point() is told whether it runs for ANALYZE */
#if PG_VERSION_NUM >= 180000
#define compat_analyze_delay_point() vacuum_delay_point(true)
#else
#define compat_analyze_delay_point() vacuum_delay_point()
#endif

/*
 * 18: index_beginscan() takes instrumentation (none here), and
 * RelationGetPrimaryKeyIndex() whether a deferrable key will do (it would
 * not before 18: rd_pkindex was the immediate key only)
 */
#if PG_VERSION_NUM >= 180000
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#define compat_primary_key_index(rel) RelationGetPrimaryKeyIndex((rel), false)
#else
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#define compat_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel)
#endif

/* 18: pg_b64_encode() takes bytes as uint8 */
#if PG_VERSION_NUM >= 180000
#define compat_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const uint8 *) (src), (len), (dst), (dstlen))
#else
#define compat_b64_encode(src, len, dst, dstlen) pg_b64_encode((src), (len), (dst), (dstlen))
#endif

/* 17: makeJsonLexContextCstringLen() fills a context it is given (NULL: a new one) */
#if PG_VERSION_NUM >= 170000
#define compat_json_lex_context(json, len, encoding) \
	makeJsonLexContextCstringLen(NULL, (json), (len), (encoding), false)
#else
#define compat_json_lex_context(json, len, encoding) \
	makeJsonLexContextCstringLen((json), (len), (encoding), false)
#endif

/*
 * 16: an input function can report a bad value without raising an ERROR
 * (InputFunctionCallSafe with an ErrorSaveContext); core types all do.
 * Before 16 a bad value raises, and only a subtransaction can catch it.
 */
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#define COMPAT_SOFT_INPUT_ERRORS true
#define compat_input_function_call_safe(flinfo, str, ioparam, typmod, result) \
	InputFunctionCallSafe((flinfo), (str), (ioparam), (typmod), \
						  (Node *) &(ErrorSaveContext) {T_ErrorSaveContext}, (result))
#else
#define COMPAT_SOFT_INPUT_ERRORS false
#define compat_input_function_call_safe(flinfo, str, ioparam, typmod, result) \
	(*(result) = InputFunctionCall((flinfo), (str), (ioparam), (typmod)), true)
#endif

#endif							/* CSV_EXPORT_COMPAT_H */
