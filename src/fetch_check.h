/*
 * fetch_check.h
 *		What a sync knows of its export's last version (ETag, Last-Modified,
 *		a hash of the body), handed to the next scan of the export, and what
 *		that scan found; and the columns a sync lets the export lack.
 */
#ifndef CSV_EXPORT_FETCH_CHECK_H
#define CSV_EXPORT_FETCH_CHECK_H

#define FETCH_CHECK_HASH_LENGTH 32	/* SHA-256 */

typedef struct FetchCheck
{
	Oid			relid;			/* the foreign table whose scan it is for */

	/* what the sync knew: sent as If-None-Match and If-Modified-Since */
	char	   *if_none_match;
	char	   *if_modified_since;

	/* what the scan found, once it read the whole export */
	bool		done;
	bool		not_modified;	/* 304: no body */
	char	   *etag;
	char	   *last_modified;
	uint8		body_hash[FETCH_CHECK_HASH_LENGTH];
} FetchCheck;

extern FetchCheck *fetch_check_for(Oid relid);
extern bool fetch_check_missing_allowed(Oid relid, const char *header_name);

#endif							/* CSV_EXPORT_FETCH_CHECK_H */
